"""`clawdbot-nb sim serve`: run the simulator on loopback until Ctrl-C.

Prints the base URL and the demo credentials it accepts, masked (the full values are the
constants of `clawdbot_nb.sim`), so `ANTHROPIC_BASE_URL=<url>` plus a demo key is all a client
needs.
"""

from __future__ import annotations

import argparse
import sys

from clawdbot_nb.errors import UsageError

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `sim` command group to the top-level parser."""
    group = subparsers.add_parser("sim", help="the offline Anthropic API simulator")
    commands = group.add_subparsers(dest="sim_command", metavar="COMMAND")
    group.set_defaults(handler=lambda args: (group.print_help(), 2)[1])

    serve = commands.add_parser("serve", help="serve the simulator on loopback until Ctrl-C")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default)")
    serve.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="KEY",
        help="also accept this API key (repeatable)",
    )
    serve.add_argument(
        "--credentials", metavar="FILE", help="JSON file of extra API keys, setup-tokens, OAuth logins"
    )
    serve.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="SCALE",
        help="simulate latency: 1 = realistic, 0.1 = ten times faster, 0 = none (default)",
    )
    serve.add_argument(
        "--reply-tokens",
        type=int,
        default=24,
        metavar="N",
        help="length of a default reply in tokens (default 24)",
    )
    serve.add_argument("--no-demo", action="store_true", help="do not accept the built-in demo credentials")
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from clawdbot_nb.sim.clock import VirtualClock
    from clawdbot_nb.sim.core import Simulator
    from clawdbot_nb.sim.credentials import mask_secret
    from clawdbot_nb.sim.server import SimServer

    if args.latency < 0:
        raise UsageError("--latency must be 0 or more.", fix="use e.g. --latency 1 for realistic timing")
    if args.reply_tokens < 1:
        raise UsageError("--reply-tokens must be at least 1.", fix="use e.g. --reply-tokens 24")
    # A server a person talks to runs on a flowing clock: tokens and cache entries expire in real time.
    simulator = Simulator(
        demo=not args.no_demo,
        clock=VirtualClock(flowing=True),
        reply_tokens=args.reply_tokens,
        latency=args.latency or None,
    )
    for key in args.api_key:
        simulator.add_api_key(key)
    if args.credentials:
        simulator.load_credentials(args.credentials)
    try:
        server = SimServer(simulator, args.host, args.port)
    except OSError as error:
        raise UsageError(
            f"cannot listen on {args.host}:{args.port}: {error.strerror or error}.",
            fix="choose another --port, or --port 0 for a free one",
        ) from error

    out = sys.stdout
    print(f"Anthropic API simulator listening on {server.base_url}", file=out)
    print(f"  export ANTHROPIC_BASE_URL={server.base_url}", file=out)
    if not args.no_demo:
        from clawdbot_nb.sim import demo

        print("Demo credentials accepted (masked):", file=out)
        print(f"  API key:       {mask_secret(demo.DEMO_API_KEY)}", file=out)
        print(f"  setup-token:   {mask_secret(demo.DEMO_SETUP_TOKEN)}", file=out)
        print(f"  OAuth access:  {mask_secret(demo.DEMO_OAUTH_ACCESS_TOKEN)}", file=out)
        print(f"  OAuth refresh: {mask_secret(demo.DEMO_OAUTH_REFRESH_TOKEN)}", file=out)
        print(
            "  Full values: clawdbot_nb.sim.DEMO_API_KEY, DEMO_SETUP_TOKEN, "
            "DEMO_OAUTH_ACCESS_TOKEN, DEMO_OAUTH_REFRESH_TOKEN",
            file=out,
        )
    configured = len(simulator.credentials) - (0 if args.no_demo else 3)
    if configured:
        print(f"Also accepting {configured} configured credential(s).", file=out)
    print("Press Ctrl-C to stop.", file=out, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("Simulator stopped.", file=out)
    return 0
