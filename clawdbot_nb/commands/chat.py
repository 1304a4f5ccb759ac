"""`chat list|show|reset`: the agent's conversations (`Workspace.chat`, `%%clawdbot --chat`), kept
with the usage ledger, from the command line and the `%clawdbot` magic."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from typing import Any

from clawdbot_nb.errors import command

DEFAULT_NAME = "default"  # as api/conversation.py (not imported here: `--help` stays cheap)


def _local(time_ms: int) -> str:
    return datetime.fromtimestamp(time_ms / 1000).strftime("%Y-%m-%d %H:%M") if time_ms else ""


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@contextmanager
def _opened(agent_id: str | None) -> Iterator[tuple[Any, Any, Any] | None]:
    """(agent, ledger, conversation store) for the agent's ledger file, closed on leaving; None
    (after saying so) when nothing was recorded yet."""
    from clawdbot_nb.api.conversation_store import ConversationStore
    from clawdbot_nb.api.ledger import Ledger, ledger_path
    from clawdbot_nb.state.agent import AgentState

    agent = AgentState.resolve(agent_id)
    path = ledger_path(agent.state_dir)
    if not path.exists():
        print(f"No conversations yet for agent {agent.agent_id} (they will be kept in {path}).")
        yield None
        return
    with ExitStack() as stack:
        ledger = Ledger(path)
        stack.callback(ledger.close)
        store = ConversationStore(path)
        stack.callback(store.close)
        yield agent, ledger, store


def _costs(ledger: Any, agent: str, started: dict[str, int]) -> dict[str, float]:
    """What each conversation's calls cost since it began or was reset (NaN when unpriced)."""
    totals: dict[str, float] = {}
    if not started:
        return totals
    for row in ledger.rows(since=min(started.values()) / 1000, agent=agent):
        name = row.conversation
        if name in started and row.time_ms >= started[name]:
            totals[name] = totals.get(name, 0.0) + (row.cost_usd if row.error is None else 0.0)
    return totals


def conversations_text(summaries: list[Any], costs: dict[str, float], agent: str) -> str:
    """The `chat list` table, at most 80 columns wide."""
    from clawdbot_nb.rendering import money

    if not summaries:
        return f"No conversations yet for agent {agent}: %%clawdbot --chat, or ws.chat() in Python."
    width = max(12, *(len(s.name) for s in summaries))
    width = min(width, 28)
    lines = [f"{'conversation':<{width}}  {'turns':>5}  {'started':<16}  {'last turn':<16}  {'cost':>8}"]
    for s in summaries:
        lines.append(
            f"{_clip(s.name, width):<{width}}  {s.turns:>5}  {_local(s.started_ms):<16}  "
            f"{_local(s.updated_ms) if s.turns else '':<16}  {money(costs.get(s.name, 0.0)):>8}"
        )
    return "\n".join(lines)


def turns_text(name: str, agent: str, turns: tuple[Any, ...], cost: float) -> str:
    """The `chat show` listing: one block per turn, at most 80 columns wide."""
    from clawdbot_nb.api.conversation import preview
    from clawdbot_nb.rendering import money

    if not turns:
        return f'chat "{name}" (agent {agent}) has no turns.'
    count = f"{len(turns)} turn{'s' if len(turns) != 1 else ''}"
    lines = [f'chat "{name}" (agent {agent}): {count}, cost {money(cost)}']
    for turn in turns:
        where = f"{turn.label or 'python'}, {_local(turn.time_ms)}"
        lines.append(f"{turn.number:>3}  you ({where}): ")
        lines.append("     " + _clip(preview(turn.prompt, 400), 75))
        lines.append("     claude: " + _clip(preview(turn.reply, 400), 67))
    return "\n".join(lines)


def run_list(args: argparse.Namespace) -> int:
    with _opened(args.agent) as opened:
        if opened is None:
            return 0
        agent, ledger, store = opened
        summaries = store.summaries(agent.agent_id)
        costs = _costs(ledger, agent.agent_id, {s.name: s.started_ms for s in summaries})
        if args.json:
            records = [
                {"agent": s.agent, "name": s.name, "turns": s.turns, "started_ms": s.started_ms,
                 "updated_ms": s.updated_ms, "cost_usd": costs.get(s.name, 0.0)}
                for s in summaries
            ]  # fmt: skip
            print(json.dumps(records, indent=2))
        else:
            print(conversations_text(summaries, costs, agent.agent_id))
    return 0


def run_show(args: argparse.Namespace) -> int:
    from clawdbot_nb.api.conversation import check_name

    name = check_name(args.name)
    with _opened(args.agent) as opened:
        if opened is None:
            return 0
        agent, ledger, store = opened
        state = store.load(agent.agent_id, name)
        cost = _costs(ledger, agent.agent_id, {name: state.started_ms}).get(name, 0.0) if state.turns else 0.0
        if args.json:
            turns = [
                {"number": t.number, "cell": t.cell, "label": t.label, "time_ms": t.time_ms, "model": t.model,
                 "request_id": t.request_id, "prompt": t.prompt, "reply": t.reply}
                for t in state.turns
            ]  # fmt: skip
            document = {"agent": agent.agent_id, "name": name, "cost_usd": cost, "turns": turns}
            print(json.dumps(document, indent=2, ensure_ascii=False))
        else:
            print(turns_text(name, agent.agent_id, state.turns, cost))
    return 0


def run_reset(args: argparse.Namespace) -> int:
    from clawdbot_nb.api.conversation import check_name

    name = check_name(args.name)
    with _opened(args.agent) as opened:
        if opened is None:
            return 0
        agent, _, store = opened
        turns = len(store.load(agent.agent_id, name).turns)
        if store.reset(agent.agent_id, name):
            count = f"{turns} turn{'s' if turns != 1 else ''}"
            print(f'chat "{name}" reset: {count} forgotten; the next one starts afresh.')
        else:
            print(f'No conversation "{name}" for agent {agent.agent_id}; see {command("chat list")}.')
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    chat = subparsers.add_parser(
        "chat",
        help="conversations continued from cell to cell (%%clawdbot --chat): list, show, reset",
        description="The agent's conversations, kept with the usage ledger so they survive a kernel "
        "restart. Each turn sends the earlier ones, cached; re-running a notebook cell replaces its turn.",
    )
    actions = chat.add_subparsers(dest="chat_command", metavar="ACTION")
    listing = actions.add_parser("list", help="every conversation: turns, when, what it cost")
    show = actions.add_parser("show", help="the turns of one conversation")
    show.add_argument("name", nargs="?", default=DEFAULT_NAME, metavar="NAME", help="default: 'default'")
    reset = actions.add_parser("reset", help="forget a conversation's turns (its calls stay in the ledger)")
    reset.add_argument("name", nargs="?", default=DEFAULT_NAME, metavar="NAME", help="default: 'default'")
    for parser, handler in ((listing, run_list), (show, run_show), (reset, run_reset)):
        parser.add_argument("--agent", metavar="ID", help="agent id (default: main)")
        if parser is not reset:
            parser.add_argument("--json", action="store_true")
        parser.set_defaults(handler=handler)
    chat.set_defaults(handler=lambda args: chat.print_help())
