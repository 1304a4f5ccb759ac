"""`clawdbot-nb sim serve` runs the simulator on loopback until Ctrl-C; `clawdbot-nb sim env`
prints the `export` lines that point a terminal's SDK clients at it.

`serve` prints the base URL and the demo credentials it accepts, masked (the full values are the
constants of `clawdbot_nb.sim`). `env` prints those public demo values in full, because they are
fake (marked `simDEMO`), accepted only by the simulator, and needed verbatim by a shell:
`eval "$(clawdbot-nb sim env --port 8765)"` after `clawdbot-nb sim serve --port 8765`.
"""

from __future__ import annotations

import argparse
import shlex
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
    serve.add_argument(
        "--log-size",
        type=int,
        default=None,
        metavar="N",
        help="requests kept in the in-memory request log, newest first out of a ring (default 10000)",
    )
    serve.add_argument("--no-demo", action="store_true", help="do not accept the built-in demo credentials")
    serve.set_defaults(handler=_serve)

    env = commands.add_parser(
        "env", help="print export lines: the simulator's URL and its public demo credentials"
    )
    env.add_argument("--host", default="127.0.0.1", help="the simulator's address (default 127.0.0.1)")
    env.add_argument(
        "--port",
        type=int,
        default=DEFAULT_ENV_PORT,
        help=f"the port of sim serve --port (default {DEFAULT_ENV_PORT})",
    )
    env.add_argument(
        "--setup-token",
        action="store_true",
        help="authenticate with the demo setup-token (ANTHROPIC_AUTH_TOKEN) instead of the demo API key",
    )
    env.set_defaults(handler=_env)


#: The port `sim env` assumes unless told: start the server with the same `--port`.
DEFAULT_ENV_PORT = 8765


def env_lines(host: str, port: int, *, setup_token: bool = False) -> list[str]:
    """The shell lines of `clawdbot-nb sim env` (pure: printed by the handler, tested as is)."""
    from clawdbot_nb.sim import demo
    from clawdbot_nb.sim.credentials import OAUTH_BETA

    url = f"http://{host}:{port}"
    lines = [
        "# Simulator demo credentials: public fakes, accepted only by the simulator.",
        f"# Start it first: clawdbot-nb sim serve --port {port}",
        f"export ANTHROPIC_BASE_URL={shlex.quote(url)}",
    ]
    if setup_token:
        lines += [
            "unset ANTHROPIC_API_KEY",
            f"export ANTHROPIC_AUTH_TOKEN={shlex.quote(demo.DEMO_SETUP_TOKEN)}",
            # A setup-token needs the OAuth beta header; the SDK adds ANTHROPIC_CUSTOM_HEADERS.
            f"export ANTHROPIC_CUSTOM_HEADERS={shlex.quote('anthropic-beta: ' + OAUTH_BETA)}",
        ]
    else:
        lines += ["unset ANTHROPIC_AUTH_TOKEN", f"export ANTHROPIC_API_KEY={shlex.quote(demo.DEMO_API_KEY)}"]
    return lines


def _env(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port} is not a TCP port.", fix="use e.g. --port 8765")
    print("\n".join(env_lines(args.host, args.port, setup_token=args.setup_token)), file=sys.stdout)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from clawdbot_nb.sim.clock import VirtualClock
    from clawdbot_nb.sim.core import Simulator
    from clawdbot_nb.sim.credentials import mask_secret
    from clawdbot_nb.sim.server import SimServer

    if args.latency < 0:
        raise UsageError("--latency must be 0 or more.", fix="use e.g. --latency 1 for realistic timing")
    if args.reply_tokens < 1:
        raise UsageError("--reply-tokens must be at least 1.", fix="use e.g. --reply-tokens 24")
    if args.log_size is not None and args.log_size < 1:
        raise UsageError("--log-size must be at least 1.", fix="use e.g. --log-size 10000")
    # A server a person talks to runs on a flowing clock: tokens and cache entries expire in real time.
    simulator = Simulator(
        demo=not args.no_demo,
        clock=VirtualClock(flowing=True),
        reply_tokens=args.reply_tokens,
        latency=args.latency or None,
        **({"request_log_size": args.log_size} if args.log_size is not None else {}),
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
        port = server.base_url.rsplit(":", 1)[-1]
        print(f'  In another shell: eval "$(clawdbot-nb sim env --port {port})"', file=out)
    configured = len(simulator.credentials) - (0 if args.no_demo else 3)
    if configured:
        print(f"Also accepting {configured} configured credential(s).", file=out)
    print("Press Ctrl-C to stop.", file=out, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("Simulator stopped.", file=out)
    return 0
