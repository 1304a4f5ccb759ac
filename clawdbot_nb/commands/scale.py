"""`map` and `batch`: one prompt per row of a CSV or JSONL file, through `Workspace.map` (many
calls at once, the cache warmed first) or `Workspace.batch` (the Message Batches API, half price).
The rows come back with the reply and its usage, as CSV or JSONL; the job's report goes to stderr."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from clawdbot_nb.commands.ask import read_system
from clawdbot_nb.errors import UsageError, command

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def _format_of(path: Path, what: str) -> str:
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise UsageError(
            f"{what} {path} is neither .csv nor .jsonl.", fix="name the file .csv, .jsonl or .ndjson"
        )
    return kind


def read_rows(path_text: str) -> Any:
    """The rows of a CSV (a header line, one row per line) or JSONL (one JSON object per line) file."""
    import pandas as pd

    path = Path(path_text)
    kind = _format_of(path, "The input file")
    if not path.is_file():
        raise UsageError(
            f"Cannot read the input file {path}: it does not exist.", fix="pass a CSV or JSONL file"
        )
    try:
        if kind == "csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        else:
            frame = pd.read_json(path, lines=True, dtype=False)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        fix = "one JSON object per line" if kind == "jsonl" else "a header line, then one row per line"
        raise UsageError(
            f"Cannot read {path} as {kind.upper()}: {detail}.", fix=f"write it as {fix}", path=None
        ) from None
    if frame.empty:
        raise UsageError(f"The input file {path} has no rows.", fix="add at least one row under the header")
    return frame


def _prompt_for(frame: Any, template: str | None) -> str:
    if template is not None:
        return template
    if "prompt" in frame.columns:
        return "{prompt}"
    if len(frame.columns) == 1:
        return "{" + str(frame.columns[0]) + "}"
    raise UsageError(
        f"Which column is the prompt? The file has {', '.join(map(str, frame.columns))}.",
        fix="pass --prompt 'Classify: {text}' (a template over the columns), or name a column 'prompt'",
    )


def _joined(rows: Any, results: Any) -> Any:
    """The input's columns, then the results (`text` is the reply: `reply`; a clash gets `_result`)."""
    results = results.rename(columns={"text": "reply"})
    clashes = {c: f"{c}_result" for c in results.columns if c in rows.columns}
    return rows.join(results.rename(columns=clashes))


def _write(frame: Any, output: str | None) -> None:
    if output is None:
        sys.stdout.write(frame.to_csv(index=False))
        return
    path = Path(output)
    kind = _format_of(path, "--output")
    try:
        if kind == "csv":
            frame.to_csv(path, index=False)
        else:
            frame.to_json(path, orient="records", lines=True, force_ascii=False)
    except OSError as error:
        raise UsageError(
            f"Cannot write --output {path}: {error.strerror or error}.", fix="pass a writable path"
        ) from None


def _options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {"system": read_system(args), "model": args.model, "job": args.job}
    if args.ttl is not None:
        options["ttl"] = args.ttl
    if args.max_tokens is not None:
        options["max_tokens"] = args.max_tokens
    if args.no_warm:
        options["warm"] = False
    return options


def _finish(frame: Any, rows: Any, args: argparse.Namespace) -> int:
    _write(_joined(rows, frame.drop(columns=["row_key"])), args.output)
    report = frame.attrs["report"]
    print(report, file=sys.stderr)
    not_done = int((frame["status"] != "succeeded").sum())
    if not_done:
        print(
            f"{not_done} rows not answered; run the same command again to send only those "
            f"(job {frame.attrs['job']}).",
            file=sys.stderr,
        )
    return 1 if not_done else 0


def _run_map(args: argparse.Namespace) -> int:
    from clawdbot_nb.api.workspace import Workspace

    rows = read_rows(args.file)
    prompt = _prompt_for(rows, args.prompt)
    options = _options(args)
    with Workspace(args.agent) as workspace:
        frame = workspace.map(
            rows,
            prompt,
            concurrency=args.concurrency,
            max_wait=args.max_wait,
            progress=not args.quiet,
            **options,
        )
    return _finish(frame, rows, args)


def _run_batch(args: argparse.Namespace) -> int:
    from clawdbot_nb.api.workspace import Workspace

    if args.results is not None:
        if args.file is not None:
            raise UsageError(
                "Pass either a FILE to submit or --results JOB, not both.", fix="drop one of them"
            )
        with Workspace(args.agent) as workspace:
            frame = workspace.batch_results(
                args.results, wait=not args.no_wait, poll_every=args.poll_every, progress=not args.quiet
            )
        _write(frame.drop(columns=["row_key"]).rename(columns={"text": "reply"}), args.output)
        print(frame.attrs["report"], file=sys.stderr)
        return 0 if (frame["status"] == "succeeded").all() else 1
    if args.file is None:
        raise UsageError(
            "Nothing to send: pass a CSV or JSONL FILE.", fix=f"e.g. `{command('batch tickets.csv')}`"
        )
    rows = read_rows(args.file)
    prompt = _prompt_for(rows, args.prompt)
    with Workspace(args.agent) as workspace:
        frame = workspace.batch(
            rows,
            prompt,
            wait=not args.no_wait,
            poll_every=args.poll_every,
            progress=not args.quiet,
            **_options(args),
        )
    if args.no_wait:
        later = command("batch --results " + frame.attrs["job"])
        print(f"Submitted job {frame.attrs['job']}; collect it with `{later}`.", file=sys.stderr)
    return _finish(frame, rows, args)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--prompt",
        metavar="TEMPLATE",
        help="a template over the columns, e.g. 'Classify: {text}' (default: the column 'prompt', "
        "or the only column)",
    )
    parser.add_argument(
        "--system", metavar="TEXT", help="the shared instructions (cached once for every row)"
    )
    parser.add_argument("--system-file", metavar="F", help="read the shared instructions from a file")
    parser.add_argument(
        "--model", metavar="M", help="model id (default: the config's primary, else claude-sonnet-5-5)"
    )
    parser.add_argument("--max-tokens", type=int, metavar="N")
    parser.add_argument(
        "--job", metavar="ID", help="the job id to resume under (default: a hash of the inputs)"
    )
    parser.add_argument(
        "--no-warm", action="store_true", help="do not send the first row alone to warm the cache"
    )
    parser.add_argument(
        "--output",
        "-o",
        metavar="OUT",
        help="write the rows with their replies here (.csv or .jsonl; default: CSV on stdout)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--agent", metavar="ID", help="agent id (default: main)")


def register(subparsers: argparse._SubParsersAction) -> None:
    mapping = subparsers.add_parser(
        "map",
        help="one prompt per row of a CSV/JSONL file, many at once, the shared prefix cached once",
        description="Send one prompt per row of FILE (CSV with a header, or JSONL) through the "
        "agent's profiles, concurrently, after warming the cache with the first row: N rows over "
        "shared instructions cost one cache write and N-1 reads. When every profile cools down it "
        "waits for the first back. Interrupted, the same command again sends only the rows not answered.",
    )
    mapping.add_argument("file", metavar="FILE")
    _common(mapping)
    mapping.add_argument("--ttl", choices=["5m", "1h"], help="cache TTL (default: the config's, else 5m)")
    mapping.add_argument("--concurrency", type=int, default=8, metavar="N", help="calls at once (default 8)")
    mapping.add_argument("--max-wait", default="1h", metavar="D", help="the longest wait for a cooling-down "
                         "profile (default 1h; e.g. 10m)")  # fmt: skip
    mapping.set_defaults(handler=_run_map)

    batch = subparsers.add_parser(
        "batch",
        help="one prompt per row of a CSV/JSONL file through the Message Batches API (half price)",
        description="Submit one prompt per row of FILE as Message Batches (split under 100,000 "
        "requests / 256 MB), the shared prefix cached at 1h by a first ordinary call, then poll and "
        "collect the results. The batch ids are kept in the usage ledger: after an interruption, the "
        "same command or --results JOB collects them.",
    )
    batch.add_argument("file", metavar="FILE", nargs="?")
    _common(batch)
    batch.add_argument(
        "--ttl", choices=["5m", "1h"], default="1h", help="cache TTL of the shared prefix (default 1h)"
    )
    batch.add_argument(
        "--no-wait", action="store_true", help="submit and return; collect later with --results"
    )
    batch.add_argument(
        "--poll-every", default="30s", metavar="D", help="how often to look at the batches (default 30s)"
    )
    batch.add_argument(
        "--results", metavar="JOB", help="collect (and wait for) the batches of an earlier job"
    )
    batch.set_defaults(handler=_run_batch)
