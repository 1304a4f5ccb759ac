"""`ask` and `usage`: cached prompts and the usage ledger from the command line.

The usage tables fit an 80-column terminal (`--wide` shows every column); errors a user can
cause (an empty prompt, a bad file) are one line with a fix in the words of the surface in use.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from clawdbot_nb.errors import UsageError, fix_for

SUMMARY_KEYS = (
    "model",
    "profile_id",
    "ttl_applied",
    "cell",
    "conversation",
    "agent",
    "session",
    "credential_type",
)


def read_system(args: argparse.Namespace) -> str | None:
    if args.system_file is None:
        return args.system
    path = Path(args.system_file)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(
            f"Cannot read --system-file {path}: {error.strerror or error}.",
            fix="pass a readable UTF-8 text file",
        ) from None
    except UnicodeDecodeError:
        raise UsageError(f"--system-file {path} is not UTF-8 text.", fix="save it as UTF-8") from None
    return f"{args.system}\n\n{text}" if args.system else text


def empty_prompt_error() -> UsageError:
    return UsageError(
        "The prompt is empty.",
        fix=fix_for(
            python="pass some text, e.g. ws.ask('Hello')",
            cli="give the prompt as an argument, e.g. clawdbot-nb ask 'Hello' (or - to read stdin)",
            magic="write the prompt under %%clawdbot in the cell, or %clawdbot ask 'Hello'",
        ),
    )


def check_prompt(prompt: str) -> str:
    if not prompt.strip():
        raise empty_prompt_error()
    return prompt


def _run_ask(args: argparse.Namespace) -> int:
    from clawdbot_nb.api.workspace import Workspace

    prompt = check_prompt(sys.stdin.read() if args.prompt == "-" else args.prompt)
    options = {
        "model": args.model,
        "ttl": args.ttl,
        "system": read_system(args),
        "profile": args.profile,
        "cache": not args.no_cache,
    }
    if args.max_tokens is not None:
        options["max_tokens"] = args.max_tokens
    with Workspace(args.agent) as workspace:
        if args.stream:
            stream = workspace.stream(prompt, **options)
            for chunk in stream:
                sys.stdout.write(chunk)
                sys.stdout.flush()
            reply = stream.reply
            print()
        else:
            reply = workspace.ask(prompt, **options)
            print(reply.text)
    assert reply is not None
    for note in reply.notes():
        print(f"note: {note}", file=sys.stderr)
    footer = reply.footer()
    if sys.stderr.isatty():  # on a screen, wrapped between its parts; piped, one line to parse
        import shutil

        from clawdbot_nb.rendering import wrap_parts

        footer = wrap_parts(footer, shutil.get_terminal_size().columns)
    print(footer, file=sys.stderr)
    return 0


def _run_usage(args: argparse.Namespace) -> int:
    from clawdbot_nb import tables
    from clawdbot_nb.api import ledger as ledger_module
    from clawdbot_nb.state.agent import AgentState

    agent = AgentState.resolve(args.agent)
    path = ledger_module.ledger_path(agent.state_dir)
    if not path.exists():
        print(f"No calls recorded yet for agent {agent.agent_id} (the ledger will be {path}).")
        return 0
    agent_filter = None if args.all_agents else agent.agent_id
    with ledger_module.Ledger(path) as ledger:
        if args.summary:
            frame = ledger.summary(by=tuple(args.by), agent=agent_filter)
            if args.json:
                print(frame.reset_index().to_json(orient="records", indent=2))
            elif args.csv:
                print(frame.to_csv(), end="")
            else:
                print(tables.summary_table(frame, agent=agent.agent_id).text(wide=args.wide))
            return 0
        rows = ledger.rows(agent=agent_filter, limit=args.limit)
        if args.json:
            print(ledger_module.rows_to_json(rows))
        elif args.csv:
            print(ledger_module.rows_to_csv(rows), end="")
        else:
            frame = ledger.dataframe(agent=agent_filter)
            if args.limit:
                frame = frame.tail(args.limit)
            print(tables.usage_table(frame, agent=agent.agent_id).text(wide=args.wide))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    ask = subparsers.add_parser(
        "ask",
        help="send a prompt with prompt caching; prints the reply, then a usage line on stderr",
        description="Send PROMPT (or '-' to read it from stdin) through the agent's auth profiles, with "
        "a cache breakpoint on the system prompt (a one-shot prompt is not cached). The reply goes to "
        "stdout; the usage line (tokens, cache read/write, hit %, cost, TTL) to stderr.",
    )
    ask.add_argument("prompt", metavar="PROMPT")
    ask.add_argument(
        "--model", metavar="M", help="model id (default: the config's primary, else claude-sonnet-5-5)"
    )
    ask.add_argument(
        "--ttl",
        choices=["5m", "1h", "auto", "none"],
        help="cache TTL; auto picks 5m or 1h from your pauses; none sends no cache breakpoints "
        "(default: clawdbot-nb's own setting, else the config's cacheControlTtl, else 5m)",
    )
    ask.add_argument("--system", metavar="TEXT", help="system prompt")
    ask.add_argument("--system-file", metavar="F", help="read the system prompt from a file")
    ask.add_argument("--profile", metavar="ID", help="use this auth profile only (no failover)")
    ask.add_argument("--agent", metavar="ID", help="agent id (default: main)")
    ask.add_argument("--max-tokens", type=int, metavar="N")
    ask.add_argument("--no-cache", action="store_true", help="send no cache breakpoints")
    ask.add_argument("--stream", action="store_true", help="print the reply as it arrives")
    ask.set_defaults(handler=_run_ask)

    usage = subparsers.add_parser(
        "usage",
        help="the usage ledger: calls, cache hits, cost and savings",
        description="One row per recorded call, or --summary totals grouped --by a column.",
    )
    usage.add_argument("--summary", action="store_true", help="totals per group")
    usage.add_argument(
        "--by", nargs="+", default=["model"], choices=SUMMARY_KEYS, metavar="COLUMN",
        help=f"with --summary: group by these ({', '.join(SUMMARY_KEYS)}); default model",
    )  # fmt: skip
    shape = usage.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true")
    shape.add_argument("--csv", action="store_true")
    usage.add_argument("--limit", type=int, metavar="N", help="only the last N calls")
    usage.add_argument("--wide", action="store_true", help="every column (the default fits 80 columns)")
    usage.add_argument("--agent", metavar="ID", help="agent id (default: main)")
    usage.add_argument("--all-agents", action="store_true", help="calls of every agent")
    usage.set_defaults(handler=_run_usage)
