"""`onboard` and `models status | auth ...`: the Clawdbot auth commands over state/."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

from clawdbot_nb.errors import UsageError


def _agent_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agent", metavar="ID", help="agent id (default: the config's default agent, main)")


def _agent(args: argparse.Namespace):
    from clawdbot_nb.state.agent import AgentState

    return AgentState.resolve(args.agent)


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


# -- onboard --------------------------------------------------------------------------------------


def run_onboard(args: argparse.Namespace) -> int:
    from clawdbot_nb.state import onboarding, wizard

    agent = _agent(args)
    flags_given = any(
        value is not None
        for value in (args.auth_choice, args.anthropic_api_key, args.token, args.token_provider)
    )
    if args.non_interactive or (flags_given and not _interactive()):
        choice = args.auth_choice or ("token" if args.token else "apiKey")
        result = onboarding.onboard_non_interactive(
            agent,
            choice,
            anthropic_api_key=args.anthropic_api_key,
            token=args.token,
            token_provider=args.token_provider or ("anthropic" if args.token else None),
            token_profile_id=args.token_profile_id,
            token_expires_in=args.token_expires_in,
        )
    elif not _interactive():
        raise UsageError(
            "onboard without flags runs a wizard and needs a terminal.",
            fix=(
                "run it in a terminal, or use --non-interactive --auth-choice apiKey|token|claude-cli "
                "(see clawdbot-nb onboard --help)"
            ),
        )
    else:
        prompter = wizard.TerminalPrompter()
        if args.anthropic_api_key:
            result = onboarding.save_api_key(agent, args.anthropic_api_key)
        elif args.auth_choice == "apiKey":
            result = wizard.ask_api_key(agent, prompter, os.environ)
        elif args.auth_choice in ("token", "setup-token", "oauth"):
            result = wizard.ask_setup_token(agent, prompter, profile_id=args.token_profile_id)
        elif args.auth_choice == "claude-cli":
            result = onboarding.import_claude_cli(agent)
        elif args.auth_choice == "skip":
            result = None
        else:
            result = wizard.run_wizard(agent, prompter)
    print(result if result is not None else "Skipped: no credentials saved.")
    return 0


def _register_onboard(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "onboard",
        help="save Anthropic credentials as an auth profile (wizard, or --non-interactive)",
        description=(
            "Save Anthropic credentials as a Clawdbot auth profile. With no flags on a terminal, a wizard "
            "offers: Anthropic API key, Anthropic token (paste setup-token), Claude Code CLI (reuse "
            "existing login)."
        ),
    )
    _agent_argument(parser)
    parser.add_argument(
        "--non-interactive", action="store_true", help="never prompt; take everything from flags"
    )
    parser.add_argument("--accept-risk", action="store_true", help="accepted for compatibility with clawdbot")
    parser.add_argument(
        "--auth-choice",
        choices=["apiKey", "token", "setup-token", "oauth", "claude-cli", "skip"],
        help="apiKey, token (a pasted setup-token), claude-cli (reuse the Claude Code login), skip",
    )
    parser.add_argument(
        "--anthropic-api-key", metavar="KEY", help="API key (else ANTHROPIC_API_KEY from the environment)"
    )
    parser.add_argument("--token-provider", metavar="ID", help="with --auth-choice token: anthropic")
    parser.add_argument("--token", metavar="TOKEN", help="with --auth-choice token: the setup-token")
    parser.add_argument(
        "--token-profile-id", metavar="ID", help="profile id for the token (anthropic:default)"
    )
    parser.add_argument("--token-expires-in", metavar="DURATION", help="e.g. 365d; default: no expiry")
    parser.set_defaults(handler=run_onboard)


# -- models status --------------------------------------------------------------------------------


def _positive_number(value: str | None, flag: str, default: int) -> int:
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not math.isfinite(number) or number <= 0:
        raise UsageError(f"{flag} must be a positive number, got {value!r}.", fix=f"e.g. {flag} {default}")
    return max(1, round(number))


def _run_status(args: argparse.Namespace) -> int:
    from clawdbot_nb.state.status import models_status

    if args.plain and args.probe:
        raise UsageError(
            "--probe cannot be used with --plain output.", fix="use --probe alone or with --json"
        )
    options = None
    if args.probe:
        from clawdbot_nb.api import probe
        from clawdbot_nb.state import ids

        options = probe.ProbeOptions(
            provider=ids.provider_id(args.probe_provider, argument="--probe-provider")
            if args.probe_provider is not None
            else None,
            profile_ids=tuple(
                ids.profile_id(pid, argument="--probe-profile")
                for raw in args.probe_profile or []
                for pid in raw.split(",")
                if pid.strip()
            ),
            timeout_ms=_positive_number(args.probe_timeout, "--probe-timeout", probe.DEFAULT_TIMEOUT_MS),
            concurrency=_positive_number(
                args.probe_concurrency, "--probe-concurrency", probe.DEFAULT_CONCURRENCY
            ),
            max_tokens=_positive_number(
                args.probe_max_tokens, "--probe-max-tokens", probe.DEFAULT_MAX_TOKENS
            ),
        )
    agent = _agent(args)
    report = models_status(agent)
    if options is not None:
        probe.run_probes(agent, report, options)
    if args.json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    elif args.plain:
        print(report.resolved_default)
    else:
        print(report.render())
    return report.check_exit_code() if args.check else 0


# -- models auth ----------------------------------------------------------------------------------


def run_token_command(args: argparse.Namespace, *, stdin_is_tty: bool | None = None) -> int:
    """`models auth paste-token` and `models auth setup-token` (a hidden prompt, or stdin)."""
    from clawdbot_nb.state import ids, wizard

    flow = wizard.paste_token_flow if args.auth_command == "paste-token" else wizard.setup_token_flow
    provider = ids.provider_id(args.provider)  # before it is shown in the prompt
    if args.profile_id is not None:
        ids.profile_id(args.profile_id, provider)
    if args.expires_in is not None:
        from clawdbot_nb.state.durations import parse_duration_ms

        parse_duration_ms(args.expires_in, argument="--expires-in")
    result = flow(
        _agent(args),
        wizard.TerminalPrompter(),
        provider=provider,
        profile_id=args.profile_id,
        expires_in=args.expires_in,
        stdin_is_tty=stdin_is_tty,
    )
    print(result)
    return 0


def _run_order(args: argparse.Namespace) -> int:
    from clawdbot_nb.state import ids, onboarding
    from clawdbot_nb.state.paths import display_path

    agent = _agent(args)
    provider = ids.provider_id(args.provider)
    if args.action == "set":
        order = onboarding.set_order(agent, provider, args.profile_ids)
    elif args.action == "clear":
        onboarding.clear_order(agent, provider)
        order = None
    else:
        order = onboarding.get_order(agent, provider)
    store_path = display_path(agent.agent_dir / "auth-profiles.json")
    if args.json:
        document = {
            "agentId": agent.agent_id,
            "agentDir": os.path.abspath(agent.agent_dir),
            "provider": provider,
            "authStorePath": store_path,
            "order": order or None,
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return 0
    print(f"Agent: {agent.agent_id}")
    print(f"Provider: {provider}")
    if args.action == "clear":
        print("Cleared per-agent order override.")
        return 0
    if args.action == "get":
        print(f"Auth file: {store_path}")
    print(f"Order override: {', '.join(order)}" if order else "Order override: (none)")
    if not order:
        print("Without one, profiles go round robin: oauth, token, then api_key; least recently used first.")
    return 0


def _register_models(subparsers: argparse._SubParsersAction) -> None:
    models = subparsers.add_parser("models", help="model and auth status, auth profile commands")
    groups = models.add_subparsers(dest="models_command", metavar="SUBCOMMAND")

    status = groups.add_parser(
        "status",
        help="models and auth profiles, with expiry and cooldown verdicts",
        description="The default model and each auth profile with its verdict (as `clawdbot models status`).",
    )
    _agent_argument(status)
    shape = status.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="machine-readable report (clawdbot's schema)")
    shape.add_argument("--plain", action="store_true", help="print only the resolved provider/model")
    status.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if a token/OAuth profile is expired or missing (or a provider in use has no auth), "
        "2 if one expires within 24 h, else 0",
    )
    status.add_argument(
        "--probe", action="store_true", help="send one minimal request per profile and report the outcome"
    )
    status.add_argument("--probe-provider", metavar="NAME", help="probe only this provider")
    status.add_argument(
        "--probe-profile",
        metavar="ID",
        action="append",
        help="probe only these profiles (repeat or comma-separate)",
    )
    status.add_argument("--probe-timeout", metavar="MS", help="per-probe timeout in ms (8000)")
    status.add_argument("--probe-concurrency", metavar="N", help="probes at once (2)")
    status.add_argument("--probe-max-tokens", metavar="N", help="max tokens per probe (8)")
    status.set_defaults(handler=_run_status)

    auth = groups.add_parser("auth", help="paste-token, setup-token, order")
    auth_groups = auth.add_subparsers(dest="auth_command", metavar="SUBCOMMAND")

    paste = auth_groups.add_parser(
        "paste-token",
        help="store a token read from a hidden prompt or stdin (never the command line)",
        description="Store a token (e.g. from `claude setup-token` on another machine). It is read from a "
        "hidden prompt, or from standard input when piped: never from the command line.",
    )
    paste.add_argument("--provider", required=True, help="provider id, e.g. anthropic")
    paste.add_argument("--profile-id", metavar="ID", help="default <provider>:manual")
    paste.add_argument("--expires-in", metavar="DURATION", help="e.g. 365d; default: no expiry")
    _agent_argument(paste)
    paste.set_defaults(handler=run_token_command)

    setup = auth_groups.add_parser(
        "setup-token",
        help="run `claude setup-token` (or explain how) and store the pasted token",
    )
    setup.add_argument("--provider", required=True, choices=["anthropic"])
    setup.add_argument("--profile-id", metavar="ID", help="default anthropic:manual")
    setup.add_argument("--expires-in", metavar="DURATION", help="e.g. 365d; default: no expiry")
    _agent_argument(setup)
    setup.set_defaults(handler=run_token_command)

    order = auth_groups.add_parser(
        "order",
        help="get, set or clear the explicit profile order of a provider",
        description="An explicit order is tried first to last; without one, profiles go round robin "
        "(oauth, token, api_key; least recently used first).",
    )
    order_actions = order.add_subparsers(dest="action", metavar="ACTION")
    for action, help_text in (
        ("get", "show the explicit order"),
        ("set", "set the order: profile ids, first tried first"),
        ("clear", "remove the explicit order (back to round robin)"),
    ):
        sub = order_actions.add_parser(action, help=help_text)
        if action == "set":
            sub.add_argument("profile_ids", nargs="+", metavar="PROFILE_ID")
        sub.add_argument("--provider", required=True, help="provider id, e.g. anthropic")
        sub.add_argument("--json", action="store_true")
        _agent_argument(sub)
        sub.set_defaults(handler=_run_order)

    for parser in (models, auth, order):
        parser.set_defaults(handler=lambda args, parser=parser: parser.print_help() or 2)


def register(subparsers: argparse._SubParsersAction) -> None:
    _register_onboard(subparsers)
    _register_models(subparsers)
