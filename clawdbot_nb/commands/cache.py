"""`cache`: what the prompt cache holds for the agent's calls now and until when, its timeline,
and clawdbot-nb's own TTL setting (which may be "auto"); and `usage --what-if`, the agent's
calls replayed under always-5m, always-1h and auto beside what they cost."""

from __future__ import annotations

import argparse
from typing import Any

from clawdbot_nb.errors import UsageError, command

TTL_VALUES = ("auto", "5m", "1h")


def _watched_workspace(agent_id: str | None) -> Any:
    """The agent's workspace, or None (after saying so) when no call was ever watched."""
    from clawdbot_nb.api.cache_store import store_path
    from clawdbot_nb.api.workspace import Workspace
    from clawdbot_nb.state.agent import AgentState

    agent = AgentState.resolve(agent_id)
    path = store_path(agent.state_dir)
    if not path.exists():
        print(f"No calls watched yet for agent {agent.agent_id} (the cache watch will be {path}).")
        return None
    return Workspace(agent)


def run_cache(args: argparse.Namespace) -> int:
    from clawdbot_nb import cache_tables

    workspace = _watched_workspace(args.agent)
    if workspace is None:
        return 0
    with workspace:
        agent = workspace.agent.agent_id
        if args.timeline:
            table = cache_tables.timeline_table(workspace.cache_timeline(), agent=agent, wide=args.wide)
        else:
            table = cache_tables.cache_table(workspace.cache_status(), agent=agent, wide=args.wide)
        if args.json:
            print(table.frame.to_json(orient="records", indent=2, date_format="iso"))
        else:
            print(table.text())
    return 0


def run_ttl(args: argparse.Namespace) -> int:
    """Show, set or clear clawdbot-nb's own cache TTL (never written to the gateway's config)."""
    from clawdbot_nb.state import nb_settings
    from clawdbot_nb.state.agent import AgentState

    agent = AgentState.resolve(args.agent)
    scope_agent = agent.agent_id if args.for_agent else None
    if args.clear or args.value is not None:
        if args.clear and args.value is not None:
            raise UsageError("Give a TTL or --clear, not both.", fix=command("cache ttl auto"))
        path = nb_settings.set_cache_ttl(
            agent.state_dir, None if args.clear else args.value, model=args.model, agent_id=scope_agent
        )
        what = (
            f"model {args.model}" if args.model else f"agent {scope_agent}" if scope_agent else "every call"
        )
        done = "cleared" if args.clear else f"set to {args.value}"
        print(f"Cache TTL for {what} {done} in {path} (the gateway's config is not changed).")
        return 0
    model = args.model or agent.config().primary_model or "claude-sonnet-5-5"
    model = model.partition("/")[2] if "/" in model else model
    setting = nb_settings.cache_ttl(agent.state_dir, model, agent.agent_id)
    if setting is None:
        configured = agent.config().cache_ttl(model, agent.agent_id)
        where = f"the gateway config's {configured.source}" if configured else "the default"
        ttl = configured.ttl if configured else "5m"
        hint = command("cache ttl auto")
        print(f"{model}: {ttl}, from {where} (no clawdbot-nb setting; set one with {hint}).")
    else:
        print(f"{model}: {setting.ttl}, from {setting.source}.")
    return 0


def run_what_if(args: argparse.Namespace) -> int:
    from clawdbot_nb import cache_tables

    workspace = _watched_workspace(args.agent)
    if workspace is None:
        return 0
    with workspace:
        table = cache_tables.what_if_table(
            workspace.what_if(), agent=workspace.agent.agent_id, wide=args.wide
        )
        if args.json:
            print(table.frame.reset_index().to_json(orient="records", indent=2))
        elif args.csv:
            print(table.frame.to_csv(), end="")
        else:
            print(table.text())
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    cache = subparsers.add_parser(
        "cache",
        help="what is cached now for this agent's calls, and until when",
        description="The live prompt-cache entries this agent's calls wrote or refreshed: model, "
        "breakpoint, tokens, TTL, time left, hits and savings so far. Shared by the agent's kernels.",
    )
    cache.add_argument("--timeline", action="store_true", help="writes, hits and expiries over time")
    cache.add_argument("--agent", metavar="ID", help="agent id (default: main)")
    cache.add_argument("--wide", action="store_true", help="every column")
    cache.add_argument("--json", action="store_true")
    cache.set_defaults(handler=run_cache)
    actions = cache.add_subparsers(dest="cache_command", metavar="ACTION")
    ttl = actions.add_parser(
        "ttl",
        help="show or set clawdbot-nb's own cache TTL: auto, 5m or 1h",
        description="clawdbot-nb's own TTL setting (<stateDir>/clawdbot-nb/settings.json), for every "
        "call, one --model, or this agent (--for-agent). It wins over the gateway config's "
        "cacheControlTtl and is never written there. auto picks 5m or 1h per call from your pauses.",
    )
    ttl.add_argument("value", nargs="?", choices=TTL_VALUES, metavar="TTL", help="auto, 5m or 1h")
    ttl.add_argument("--clear", action="store_true", help="remove the setting")
    ttl.add_argument("--model", metavar="M", help="only for this model")
    ttl.add_argument("--agent", metavar="ID", help="agent id (default: main)")
    ttl.add_argument("--for-agent", action="store_true", help="only for this agent")
    ttl.set_defaults(handler=run_ttl)

    usage = subparsers.choices.get("usage")
    if usage is not None:
        usage.add_argument(
            "--what-if",
            action="store_true",
            help="your calls replayed under always-5m, always-1h and auto, beside what you paid",
        )
        plain = usage.get_default("handler")
        usage.set_defaults(handler=lambda args: run_what_if(args) if args.what_if else plain(args))
