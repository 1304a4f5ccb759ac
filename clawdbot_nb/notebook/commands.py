"""The `%clawdbot` line magic's commands: the CLI's parser, adapted to a notebook.

The magic parses its line with the very parser of `clawdbot-nb` (same subcommands, same
options, same help), then swaps in notebook handlers where a notebook does better: `onboard`
shows a form (or hidden prompts), `ask` streams Markdown, `usage` and `profiles` return
DataFrames, `paste-token` asks through a hidden prompt, and `sim start|stop|advance` replaces
the terminal's blocking `sim serve`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from clawdbot_nb import cli
from clawdbot_nb.errors import UsageError

if TYPE_CHECKING:
    from clawdbot_nb.notebook.magics import ClawdbotMagics

CHECK_MEANINGS = {
    0: "ok",
    1: "a token or OAuth profile is expired or missing, or a provider in use has no auth",
    2: "a token or OAuth profile expires within 24 h",
}


def _subparser(parser: argparse.ArgumentParser, *path: str) -> argparse.ArgumentParser:
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


def build_magic_parser(magics: ClawdbotMagics) -> argparse.ArgumentParser:
    def register(subparsers: argparse._SubParsersAction) -> None:
        _adapt_shared(magics, subparsers)
        _add_notebook_commands(magics, subparsers)

    return cli.build_parser(prog="%clawdbot", registrars=[*cli.shared_registrars(), register])


def _adapt_shared(magics: ClawdbotMagics, subparsers: argparse._SubParsersAction) -> None:
    from clawdbot_nb.commands import auth as auth_commands

    onboard = subparsers.choices["onboard"]
    onboard.add_argument("--no-widget", action="store_true", help="hidden prompts instead of the form")
    onboard.set_defaults(handler=lambda args: _onboard(magics, args))

    models = subparsers.choices["models"]
    status = _subparser(models, "status")
    cli_status = status.get_default("handler")
    status.set_defaults(handler=lambda args: _status(cli_status, args))
    # A kernel has no terminal: the hidden prompt is the front-end's password box (getpass).
    for name in ("paste-token", "setup-token"):
        _subparser(models, "auth", name).set_defaults(
            handler=lambda args: auth_commands.run_token_command(args, stdin_is_tty=True)
        )

    from clawdbot_nb.notebook.display import STREAM_MODES

    ask = subparsers.choices["ask"]
    ask.add_argument("-o", "--out", metavar="NAME", help="also store the Reply in this notebook variable")
    ask.add_argument(
        "--stream-mode", choices=list(STREAM_MODES), help="as %%clawdbot: update, append or final"
    )
    ask.add_argument("--raw", action="store_true", help="send PROMPT as written: no {name} or $NAME filling")
    ask.set_defaults(handler=lambda args: _ask(magics, args))

    subparsers.choices["cache"].set_defaults(handler=lambda args: _cache(magics, args))

    usage = subparsers.choices["usage"]
    usage.add_argument(
        "--plot",
        action="store_true",
        help="hit ratio and cost per call, coloured by TTL (in a terminal: saved as a PNG)",
    )
    usage.set_defaults(handler=lambda args: _usage(magics, args))


def _add_notebook_commands(magics: ClawdbotMagics, subparsers: argparse._SubParsersAction) -> None:
    profiles = subparsers.add_parser(
        "profiles",
        help="the agent's auth profiles as a table; .frame is the DataFrame (--manage: with actions)",
    )
    profiles.add_argument("--agent", metavar="ID")
    profiles.add_argument("--manage", action="store_true", help="set order, clear cooldowns, remove profiles")
    profiles.add_argument("--wide", action="store_true", help="every column")
    profiles.set_defaults(handler=lambda args: _profiles(magics, args))

    simulator = subparsers.add_parser("sim", help="run the built-in Anthropic API simulator for this kernel")
    actions = simulator.add_subparsers(dest="sim_command", metavar="ACTION")
    start = actions.add_parser(
        "start",
        help="start it on loopback and point this kernel at it (sandboxed state dir by default)",
    )
    start.add_argument("--port", type=int, default=0)
    start.add_argument("--latency", type=float, metavar="SCALE", help="simulate API latency (e.g. 0.1)")
    start.add_argument(
        "--keep-state-dir",
        action="store_true",
        help="use the real Clawdbot state dir instead of a throwaway sandbox",
    )
    start.set_defaults(
        handler=lambda args: magics.start_simulator(args.port, args.latency, not args.keep_state_dir)
    )
    stop = actions.add_parser("stop", help="stop it and restore the environment")
    stop.set_defaults(handler=lambda args: magics.stop_simulator())
    advance = actions.add_parser(
        "advance", help="move its clock forward (e.g. 6m, 1h) to expire cache entries"
    )
    advance.add_argument("duration")
    advance.set_defaults(handler=lambda args: magics.advance_simulator(args.duration))
    simulator.set_defaults(handler=lambda args: simulator.print_help())


def _agent(magics: ClawdbotMagics, args: argparse.Namespace):
    from clawdbot_nb.state.agent import AgentState

    return AgentState.resolve(getattr(args, "agent", None) or magics.agent or None)


def _onboard(magics: ClawdbotMagics, args: argparse.Namespace) -> Any:
    from clawdbot_nb.commands import auth as auth_commands

    flags = (args.auth_choice, args.anthropic_api_key, args.token, args.token_provider)
    if args.non_interactive or any(flag is not None for flag in flags):
        return auth_commands.run_onboard(args)
    agent = _agent(magics, args)
    if not args.no_widget and magics.can_show_widgets():
        from clawdbot_nb.notebook.widgets import OnboardingForm

        print(
            "Fill in the form below; it keeps no secret in the notebook. "
            "(No form shown? %clawdbot onboard --no-widget)"
        )
        return OnboardingForm(agent, on_saved=lambda result: magics.forget_workspaces())
    from clawdbot_nb.notebook.widgets import onboard_without_widgets

    result = onboard_without_widgets(agent)
    magics.forget_workspaces()
    print(result if result is not None else "Nothing saved.")
    return None


def _status(cli_handler: Any, args: argparse.Namespace) -> None:
    code = cli_handler(args)
    if args.check:
        print(f"check: exit code {code} — {CHECK_MEANINGS.get(code, 'unknown')}")


def _ask(magics: ClawdbotMagics, args: argparse.Namespace) -> None:
    if args.prompt == "-":
        raise UsageError(
            "`ask -` reads stdin, which a notebook does not have.", fix="use the %%clawdbot cell magic"
        )
    mode = args.stream_mode or (None if args.stream else "final")
    magics.send_from_args(args.prompt, args, stream_mode=mode)


def _usage(magics: ClawdbotMagics, args: argparse.Namespace) -> Any:
    from clawdbot_nb import tables

    workspace = magics.workspace(args.agent)
    agent = workspace.agent.agent_id
    if args.what_if:
        from clawdbot_nb.cache_tables import what_if_table

        return what_if_table(workspace.what_if(), agent=agent, wide=args.wide)
    if args.plot and args.summary:
        raise UsageError("--plot draws one bar per call.", fix="drop --summary")
    if args.summary:
        frame = workspace.usage_summary(tuple(args.by))
        table = tables.summary_table(frame, agent=agent, wide=args.wide)
    else:
        frame = workspace.usage(all_agents=args.all_agents)
        if args.limit:
            frame = frame.tail(args.limit)
        table = tables.usage_table(frame, agent=agent, wide=args.wide)
    if args.json:
        print(frame.reset_index().to_json(orient="records", indent=2, date_format="iso"))
        return None
    if args.csv:
        print(frame.to_csv(), end="")
        return None
    if args.plot:
        from clawdbot_nb.notebook.views import show_figure, usage_figure

        if frame.empty:
            print(f"Nothing to plot: no calls recorded yet for agent {agent}.")
        else:
            show_figure(usage_figure(frame))
    # Shown as a compact table; `.frame` is the DataFrame with every column.
    return table


def _cache(magics: ClawdbotMagics, args: argparse.Namespace) -> Any:
    """`%clawdbot cache`: the live entries with a countdown (`--timeline`: the plot and events)."""
    from clawdbot_nb import cache_tables

    if args.cache_command == "ttl":
        from clawdbot_nb.commands.cache import run_ttl

        run_ttl(args)
        return None
    workspace = magics.workspace(args.agent)
    agent = workspace.agent.agent_id
    if args.timeline:
        events = workspace.cache_timeline()
        if len(events):
            from clawdbot_nb.notebook.cache_views import timeline_figure
            from clawdbot_nb.notebook.views import show_figure

            show_figure(timeline_figure(events))
        return cache_tables.timeline_table(events, agent=agent, wide=args.wide)
    from clawdbot_nb.notebook.cache_views import CacheView

    return CacheView(cache_tables.cache_table(workspace.cache_status(), agent=agent, wide=args.wide))


def _profiles(magics: ClawdbotMagics, args: argparse.Namespace) -> Any:
    agent = _agent(magics, args)
    if args.manage:
        if not magics.can_show_widgets():
            raise UsageError(
                "--manage needs a notebook front-end that shows widgets.",
                fix="use %clawdbot models auth order set|clear, or clawdbot_nb.state.onboarding in Python",
            )
        from clawdbot_nb.notebook.widgets import ProfilesTable

        return ProfilesTable(agent)
    from clawdbot_nb import tables
    from clawdbot_nb.state.status import models_status

    frame = models_status(agent).profiles_frame()
    return tables.profiles_table(
        frame, agent=agent.agent_id, empty_fix="add one with %clawdbot onboard", wide=args.wide
    )
