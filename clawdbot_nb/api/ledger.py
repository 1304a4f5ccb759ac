"""The usage ledger: one SQLite row per API call (tokens per cache kind, cost, timings, who and
where), shared safely by several kernels, with DataFrame views, summaries and exports."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clawdbot_nb.api.pricing import Cost, UsageCounts, compute_cost, usage_counts
from clawdbot_nb.errors import ClawdbotError, UsageError
from clawdbot_nb.state.redaction import redact

if TYPE_CHECKING:
    import pandas as pd

LEDGER_DIRNAME = "clawdbot-nb"
LEDGER_FILENAME = "usage.sqlite"

_BUSY_TIMEOUT_MS = 30_000
_UNIT_SEPARATOR = "\x1f"
_ERROR_MAX_CHARS = 500
_NAN = float("nan")


def ledger_path(state_dir: str | os.PathLike[str]) -> Path:
    """Where the ledger lives under a Clawdbot state dir: `<stateDir>/clawdbot-nb/usage.sqlite`."""
    return Path(state_dir) / LEDGER_DIRNAME / LEDGER_FILENAME


_session_id: tuple[int, str] | None = None


def current_session() -> str:
    """An id for this process (kernel), so a notebook can filter its own calls.

    Regenerated in a forked child, whose calls belong to a different process.
    """
    global _session_id
    pid = os.getpid()
    if _session_id is None or _session_id[0] != pid:
        _session_id = (pid, uuid.uuid4().hex[:12])
    return _session_id[1]


def _one_line(message: str) -> str:
    # Masked before shortening, so a secret cut in half is still recognised.
    line = redact(" ".join(message.split()))
    if len(line) > _ERROR_MAX_CHARS:
        line = line[: _ERROR_MAX_CHARS - 1] + "…"
    return line


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """One API call as the ledger records it.

    Money is NaN when the model has no price (stored as NULL). `ttl_requested` is "5m", "1h",
    "none" or None; `ttl_applied` is what the usage shows was written. `credential_type` is
    "api_key", "token" or "oauth". `profiles_tried` lists every profile attempted, in order.
    """

    time_ms: int
    model: str
    agent: str | None = None
    profile_id: str | None = None
    credential_type: str | None = None
    ttl_requested: str | None = None
    ttl_applied: str | None = None
    ttl_note: str | None = None
    breakpoints: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cost_usd: float = _NAN
    cost_without_cache_usd: float = _NAN
    savings_usd: float = _NAN
    latency_s: float | None = None
    ttft_s: float | None = None
    stop_reason: str | None = None
    request_id: str | None = None
    error: str | None = None
    cell: str | None = None
    session: str | None = None
    stream: bool = False
    attempts: int = 1
    profiles_tried: tuple[str, ...] = ()
    #: The ledger's row id, set when read back.
    id: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.error is not None:
            object.__setattr__(self, "error", _one_line(self.error))

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.time_ms / 1000, tz=UTC)

    @property
    def usage(self) -> UsageCounts:
        """The token counts, with pricing's derived totals and hit ratio."""
        return UsageCounts(
            self.input_tokens,
            self.output_tokens,
            self.cache_read_tokens,
            self.cache_write_5m_tokens,
            self.cache_write_1h_tokens,
        )

    @property
    def cache_write_tokens(self) -> int:
        return self.usage.cache_write_tokens

    @property
    def prompt_tokens(self) -> int:
        return self.usage.prompt_tokens

    @property
    def hit(self) -> bool:
        """Whether anything was read from the cache."""
        return self.cache_read_tokens > 0

    @property
    def hit_ratio(self) -> float:
        """cache_read / (cache_read + cache writes + input); NaN when the call had no input."""
        return self.usage.hit_ratio

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ISO time, derived hit columns, None for missing money."""
        out: dict[str, Any] = {"id": self.id, "time": _iso(self.time_ms)}
        for f in _ROW_FIELDS:
            value = getattr(self, f)
            if isinstance(value, float) and math.isnan(value):
                value = None
            elif f == "profiles_tried":
                value = list(value)
            out[f] = value
        ratio = self.hit_ratio
        out["hit"] = self.hit
        out["hit_ratio"] = None if math.isnan(ratio) else ratio
        return out


def _iso(time_ms: int) -> str:
    return datetime.fromtimestamp(time_ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def build_row(
    *,
    model: str,
    usage: Any = None,
    cost: Cost | None = None,
    agent: str | None = None,
    profile_id: str | None = None,
    credential_type: str | None = None,
    ttl_requested: str | None = None,
    ttl_applied: str | None = None,
    ttl_note: str | None = None,
    breakpoints: int = 0,
    latency_s: float | None = None,
    ttft_s: float | None = None,
    stop_reason: str | None = None,
    request_id: str | None = None,
    error: str | BaseException | None = None,
    cell: int | str | None = None,
    session: str | None = None,
    stream: bool = False,
    attempts: int = 1,
    profiles_tried: Sequence[str] = (),
    time_ms: int | None = None,
) -> LedgerRow:
    """A ledger row for one call from its SDK usage (any shape `pricing.usage_counts` takes; None
    for a call that failed before usage) and its `Cost` (computed here when not given).

    `ttl_applied`, when not given, is read off the usage: "1h" or "5m" for what was written
    ("5m+1h" for both), None when nothing was written. `session` defaults to this process's.
    """
    counts = usage_counts(usage)
    if cost is None:
        cost = compute_cost(model, counts)
    if ttl_applied is None:
        written = [
            ttl
            for ttl, n in (("5m", counts.cache_write_5m_tokens), ("1h", counts.cache_write_1h_tokens))
            if n
        ]
        ttl_applied = "+".join(written) or None
    if isinstance(error, BaseException):
        error = f"{type(error).__name__}: {error}"
    return LedgerRow(
        time_ms=_now_ms() if time_ms is None else int(time_ms),
        model=model,
        agent=agent,
        profile_id=profile_id,
        credential_type=credential_type,
        ttl_requested=ttl_requested,
        ttl_applied=ttl_applied,
        ttl_note=ttl_note,
        breakpoints=breakpoints,
        input_tokens=counts.input_tokens,
        output_tokens=counts.output_tokens,
        cache_read_tokens=counts.cache_read_tokens,
        cache_write_5m_tokens=counts.cache_write_5m_tokens,
        cache_write_1h_tokens=counts.cache_write_1h_tokens,
        cost_usd=cost.cost_usd,
        cost_without_cache_usd=cost.cost_without_cache_usd,
        savings_usd=cost.savings_usd,
        latency_s=latency_s,
        ttft_s=ttft_s,
        stop_reason=stop_reason,
        request_id=request_id,
        error=error,
        cell=None if cell is None else str(cell),
        session=current_session() if session is None else session,
        stream=stream,
        attempts=attempts,
        profiles_tried=tuple(profiles_tried),
    )


_MONEY = ("cost_usd", "cost_without_cache_usd", "savings_usd")
_TOKENS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
)
# Repeated text (model, profile, session, cell, error ...) is stored once in `labels` and the
# calls refer to it by id. Rows stay small, and the DataFrame is built from integer columns that
# SQLite concatenates in C, which is what loads 100,000 calls in a fraction of a second.
_LABEL_FIELDS = (
    "agent",
    "profile_id",
    "credential_type",
    "model",
    "ttl_requested",
    "ttl_applied",
    "ttl_note",
    "stop_reason",
    "error",
    "cell",
    "session",
    "profiles_tried",
)
_INT_FIELDS = ("time_ms", "breakpoints", *_TOKENS, "stream", "attempts")
_REAL_FIELDS = (*_MONEY, "latency_s", "ttft_s")
_ROW_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(LedgerRow) if f.name != "id")
_STORED_FIELDS = (*_INT_FIELDS, *_LABEL_FIELDS, *_REAL_FIELDS, "request_id")
assert sorted(_STORED_FIELDS) == sorted(_ROW_FIELDS)


def _column(name: str) -> str:
    return f"{name}_label" if name in _LABEL_FIELDS else name


#: Columns `summary(by=...)` can group on.
GROUP_COLUMNS = (
    "agent",
    "profile_id",
    "credential_type",
    "model",
    "ttl_requested",
    "ttl_applied",
    "cell",
    "session",
    "stop_reason",
    "stream",
)


def _view_sql() -> str:
    parts = ["c.id", "strftime('%Y-%m-%dT%H:%M:%fZ', c.time_ms / 1000.0, 'unixepoch') AS time"]
    for name in _ROW_FIELDS:
        if name in _LABEL_FIELDS:
            parts.append(f"(SELECT text FROM labels WHERE id = c.{_column(name)}) AS {name}")
        else:
            parts.append(f"c.{name}")
    return f"CREATE VIEW calls_view AS SELECT {', '.join(parts)} FROM calls AS c"


# Migrations, in order: _MIGRATIONS[i] takes a file from user_version i to i + 1. Each is a list
# of statements run in one transaction.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE labels (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE)",
        f"""CREATE TABLE calls (
            id INTEGER PRIMARY KEY,
            time_ms INTEGER NOT NULL,
            {", ".join(f"{_column(f)} INTEGER REFERENCES labels (id)" for f in _LABEL_FIELDS)},
            breakpoints INTEGER NOT NULL DEFAULT 0,
            {", ".join(f"{t} INTEGER NOT NULL DEFAULT 0" for t in _TOKENS)},
            stream INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 1,
            {", ".join(f"{r} REAL" for r in _REAL_FIELDS)},
            request_id TEXT
        )""",
        "CREATE INDEX calls_time ON calls (time_ms)",
        "CREATE INDEX calls_session ON calls (session_label, time_ms)",
        # For people reading the file with the sqlite3 shell: the calls with their text.
        _view_sql(),
    ),
)
#: `PRAGMA user_version` of the schema this code writes; older files are migrated on open.
SCHEMA_VERSION = len(_MIGRATIONS)

_INSERT = (
    f"INSERT INTO calls ({', '.join(_column(f) for f in _STORED_FIELDS)}) "
    f"VALUES ({', '.join('?' * len(_STORED_FIELDS))})"
)
_SELECT = f"SELECT id, {', '.join(_column(f) for f in _STORED_FIELDS)} FROM calls"


def _label_text(row: LedgerRow, name: str) -> str | None:
    value = getattr(row, name)
    if name == "profiles_tried":
        return ",".join(value) or None
    return value


@dataclass(frozen=True)
class LedgerTotals:
    """Calls, tokens per kind, pooled hit ratio and money over a set of ledger rows.

    `hit_ratio` is sum(read) / sum(read + writes + input), not a mean of per-call ratios. Money is
    NaN when any call in the set is unpriced (`unpriced` says how many), never a partial sum.
    """

    calls: int
    hits: int
    errors: int
    unpriced: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_5m_tokens: int
    cache_write_1h_tokens: int
    hit_ratio: float
    cost_usd: float
    cost_without_cache_usd: float
    savings_usd: float


def _aggregates_sql() -> str:
    counts = ", ".join(
        f"COALESCE(SUM({condition}), 0)"
        for condition in ("cache_read_tokens > 0", "error_label IS NOT NULL", "cost_usd IS NULL")
    )
    counts = f"COUNT(*), {counts}"
    tokens = ", ".join(f"COALESCE(SUM({t}), 0)" for t in _TOKENS)
    # SQL's SUM skips NULLs; an unpriced call must make the money unknown, not smaller.
    money = ", ".join(
        f"CASE WHEN COUNT({m}) < COUNT(*) THEN NULL ELSE COALESCE(SUM({m}), 0.0) END" for m in _MONEY
    )
    return f"{counts}, {tokens}, {money}"


def _totals_from(record: Sequence[Any]) -> LedgerTotals:
    calls, hits, errors, unpriced, inp, out, read, w5, w1h, cost, without, savings = record
    prompt = inp + read + w5 + w1h
    return LedgerTotals(
        calls=calls,
        hits=hits,
        errors=errors,
        unpriced=unpriced,
        input_tokens=inp,
        output_tokens=out,
        cache_read_tokens=read,
        cache_write_5m_tokens=w5,
        cache_write_1h_tokens=w1h,
        hit_ratio=read / prompt if prompt else _NAN,
        cost_usd=_NAN if cost is None else cost,
        cost_without_cache_usd=_NAN if without is None else without,
        savings_usd=_NAN if savings is None else savings,
    )


Since = datetime | timedelta | float | int | None


def _since_ms(since: Since) -> int | None:
    if since is None:
        return None
    if isinstance(since, timedelta):
        return _now_ms() - int(since.total_seconds() * 1000)
    if isinstance(since, datetime):
        # A naive datetime means local time, as everywhere else in Python.
        return int(since.timestamp() * 1000)
    return int(float(since) * 1000)


def _make_private_dirs(directory: Path) -> None:
    missing: list[Path] = []
    probe = directory
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            continue  # another process made it first
        os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask


def _enable_wal(conn: sqlite3.Connection) -> None:
    # Switching a new file to WAL needs it to itself, and SQLite reports "locked" at once instead
    # of waiting when another process is opening the same new file: retry until the busy timeout.
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


class Ledger:
    """The usage ledger in one SQLite file (WAL mode), safe to share between kernels/processes.

    Every append is one short transaction; a writer waits up to 30 s for another one rather
    than failing, so concurrent appends are never lost. Usable as a context manager.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        # Labels are never changed or deleted, so a text's id, once committed, is final.
        self._label_ids: dict[str, int] = {}
        self._label_texts: dict[int, str] = {}
        self._connect()

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r})"

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    # ---- connection and schema

    def _connect(self) -> sqlite3.Connection:
        _make_private_dirs(self.path.parent)
        # Create the file 0600 ourselves: SQLite would use 0644, and it gives the -wal and -shm
        # files the database file's mode.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        if self.path.stat().st_mode & 0o077:
            os.chmod(self.path, 0o600)
        conn = sqlite3.connect(
            self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            _enable_wal(conn)
            # WAL + NORMAL survives a crashed kernel; only a power cut can lose the last appends.
            conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate(conn)
        except BaseException as exc:
            conn.close()
            if not isinstance(exc, sqlite3.DatabaseError):
                raise
            busy = isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)
            raise ClawdbotError(
                f"The usage ledger cannot be opened: {exc}.",
                fix="another process holds it locked; try again"
                if busy
                else "move the file aside; a new ledger is created on the next call",
                path=self.path,
            ) from exc
        self._conn, self._pid = conn, os.getpid()
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        # IMMEDIATE takes the write lock first, so two kernels opening a new file do not both
        # create the tables; the version is re-read under the lock.
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ClawdbotError(
                    f"The usage ledger has schema version {version}; this clawdbot_nb reads up to "
                    f"{SCHEMA_VERSION}.",
                    fix="upgrade clawdbot_nb, or point it at another ledger file",
                    path=self.path,
                )
            for step in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[step]:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _connection(self) -> sqlite3.Connection:
        # A connection must not cross a fork; a child process opens its own.
        if self._conn is None or self._pid != os.getpid():
            self._label_ids.clear()
            self._label_texts.clear()
            return self._connect()
        return self._conn

    def _write(self, rows: Iterable[LedgerRow]) -> tuple[int, int]:
        """Insert rows in one transaction; (rows inserted, last row id)."""
        with self._lock:
            conn = self._connection()
            new_labels: dict[str, int] = {}

            def label_id(text: str | None) -> int | None:
                if text is None:
                    return None
                known = self._label_ids.get(text) or new_labels.get(text)
                if known is not None:
                    return known
                conn.execute("INSERT OR IGNORE INTO labels (text) VALUES (?)", (text,))
                new_labels[text] = conn.execute("SELECT id FROM labels WHERE text = ?", (text,)).fetchone()[0]
                return new_labels[text]

            def values(row: LedgerRow) -> tuple[Any, ...]:
                out: list[Any] = [getattr(row, f) for f in _INT_FIELDS]
                out[_INT_FIELDS.index("stream")] = int(bool(row.stream))
                out.extend(label_id(_label_text(row, f)) for f in _LABEL_FIELDS)
                for f in _REAL_FIELDS:
                    value = getattr(row, f)
                    out.append(None if value is None or math.isnan(value) else float(value))
                out.append(row.request_id or None)
                return tuple(out)

            conn.execute("BEGIN IMMEDIATE")
            try:
                records = [values(row) for row in rows]
                cursor = conn.executemany(_INSERT, records)
                last_id = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            # Only now: a rolled-back transaction's label ids may be reused by another writer.
            self._label_ids.update(new_labels)
            return cursor.rowcount, int(last_id)

    def _labels(self, conn: sqlite3.Connection, needed: Iterable[int] = ()) -> dict[int, str]:
        """id → text for every label, reading only those added since the last call."""
        since = max(self._label_texts, default=0)
        for label_id, text in conn.execute("SELECT id, text FROM labels WHERE id > ?", (since,)):
            self._label_texts[label_id] = text
        if any(i not in self._label_texts for i in needed):
            self._label_texts = dict(conn.execute("SELECT id, text FROM labels"))
        return self._label_texts

    # ---- writes

    def append(self, row: LedgerRow) -> int:
        """Record one call (one short transaction); returns its row id."""
        return self._write([row])[1]

    def append_many(self, rows: Iterable[LedgerRow]) -> int:
        """Record many calls in one transaction (imports, benchmarks); returns how many."""
        return self._write(rows)[0]

    # ---- reads

    def _where(
        self, since: Since, session: str | None, agent: str | None, limit: int | None
    ) -> tuple[str, list[Any]]:
        clauses, params = [], []
        since_ms = _since_ms(since)
        if since_ms is not None:
            clauses.append("time_ms >= ?")
            params.append(since_ms)
        for name, value in (("session", session), ("agent", agent)):
            if value is not None:
                clauses.append(f"{_column(name)} = (SELECT id FROM labels WHERE text = ?)")
                params.append(value)
        where = " AND ".join(clauses) if clauses else "1"
        if limit is not None:
            # The latest `limit` calls; callers still order them oldest first.
            where = f"id IN (SELECT id FROM calls WHERE {where} ORDER BY time_ms DESC, id DESC LIMIT ?)"
            params.append(int(limit))
        return f" WHERE {where}", params

    def rows(
        self,
        since: Since = None,
        session: str | None = None,
        agent: str | None = None,
        limit: int | None = None,
    ) -> list[LedgerRow]:
        """Recorded calls, oldest first. `since` is a datetime, a timedelta back from now, or epoch
        seconds; `limit` keeps the latest N calls."""
        where, params = self._where(since, session, agent, limit)
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN")
            try:
                records = conn.execute(f"{_SELECT}{where} ORDER BY time_ms, id", params).fetchall()
                labels = self._labels(conn, (r[i] for r in records for i in _LABEL_SLOTS if r[i] is not None))
            finally:
                conn.execute("COMMIT")
        return [_row_from(record, labels) for record in records]

    def __iter__(self) -> Iterator[LedgerRow]:
        return iter(self.rows())

    def __len__(self) -> int:
        with self._lock:
            return int(self._connection().execute("SELECT COUNT(*) FROM calls").fetchone()[0])

    def dataframe(
        self,
        since: Since = None,
        session: str | None = None,
        agent: str | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """The calls as a pandas DataFrame indexed by row id, oldest first (filters as `rows`).

        dtypes: `time` datetime64[ns, UTC]; counts Int64; money, ratios and timings float64 (NaN
        when unknown); `hit` and `stream` bool; names, ids and messages category; `request_id`
        string.
        """
        where, params = self._where(since, session, agent, limit)
        integer_columns = ("id", *_INT_FIELDS, *(_column(f) for f in _LABEL_FIELDS))
        # NULL label → -1, so every integer column concatenates to exactly one value per row.
        concat = ", ".join(f"group_concat(IFNULL({c}, -1))" for c in integer_columns)
        request_ids = f"group_concat(IFNULL(request_id, ''), '{_UNIT_SEPARATOR}')"
        with self._lock:
            conn = self._connection()
            # One read transaction: every query and the labels see the same snapshot even while
            # other kernels append.
            conn.execute("BEGIN")
            try:
                count, joined_ids, *joined = conn.execute(
                    f"SELECT COUNT(*), {request_ids}, {concat} FROM calls{where}", params
                ).fetchone()
                reals = conn.execute(
                    f"SELECT id, {', '.join(_REAL_FIELDS)} FROM calls{where}", params
                ).fetchall()
                ids = joined_ids.split(_UNIT_SEPARATOR) if count else []
                if len(ids) != count:
                    # A request id holding the separator itself: take the slow, exact path.
                    by_id = dict(conn.execute(f"SELECT id, request_id FROM calls{where}", params).fetchall())
                    ids = [by_id[int(i)] or "" for i in (joined[0] or "").split(",") if i]
                labels = self._labels(conn)
            finally:
                conn.execute("COMMIT")
        return _frame(count, dict(zip(integer_columns, joined)), ids, reals, labels)

    def totals(
        self, since: Since = None, session: str | None = None, agent: str | None = None
    ) -> LedgerTotals:
        """Everything (or the filtered calls) added up; works without pandas."""
        where, params = self._where(since, session, agent, None)
        with self._lock:
            record = (
                self._connection().execute(f"SELECT {_aggregates_sql()} FROM calls{where}", params).fetchone()
            )
        return _totals_from(record)

    def summary(
        self,
        by: str | Sequence[str] = "model",
        since: Since = None,
        session: str | None = None,
        agent: str | None = None,
    ) -> pd.DataFrame:
        """One row per group (in order of first appearance): calls, errors, unpriced calls, tokens
        per kind, pooled hit ratio, cost, cost without cache and savings (see `LedgerTotals`)."""
        import pandas as pd

        keys = [by] if isinstance(by, str) else list(by)
        unknown = [k for k in keys if k not in GROUP_COLUMNS]
        if not keys or unknown:
            raise UsageError(
                f"Cannot group the ledger by {', '.join(unknown or keys) or 'nothing'}.",
                fix=f"group by one or more of: {', '.join(GROUP_COLUMNS)}",
            )
        where, params = self._where(since, session, agent, None)
        group = ", ".join(_column(k) for k in keys)
        sql = (
            f"SELECT {group}, {_aggregates_sql()} FROM calls{where} "
            f"GROUP BY {group} ORDER BY MIN(time_ms), MIN(id)"
        )
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN")
            try:
                records = conn.execute(sql, params).fetchall()
                labels = self._labels(conn)
            finally:
                conn.execute("COMMIT")
        n = len(keys)
        totals = [_totals_from(record[n:]) for record in records]
        frame = pd.DataFrame({f.name: [getattr(t, f.name) for t in totals] for f in fields(LedgerTotals)})
        for c in ("calls", "hits", "errors", "unpriced", *_TOKENS):
            frame[c] = frame[c].astype("Int64")
        for c in ("hit_ratio", *_MONEY):
            frame[c] = frame[c].astype("float64")

        def key_values(i: int, key: str) -> list[Any]:
            if key == "stream":
                return [bool(r[i]) for r in records]
            return [None if r[i] is None else labels[r[i]] for r in records]

        arrays = [key_values(i, k) for i, k in enumerate(keys)]
        if n == 1:
            frame.index = pd.Index(arrays[0], name=keys[0], dtype=object)
        else:
            frame.index = pd.MultiIndex.from_arrays(arrays, names=keys)
        return frame


_SELECT_NAMES = ("id", *_STORED_FIELDS)
_LABEL_SLOTS = tuple(_SELECT_NAMES.index(f) for f in _LABEL_FIELDS)


def _row_from(record: Sequence[Any], labels: dict[int, str]) -> LedgerRow:
    values = dict(zip(_SELECT_NAMES, record))
    for name in _LABEL_FIELDS:
        label_id = values[name]
        values[name] = None if label_id is None else labels[label_id]
    for name in _MONEY:
        if values[name] is None:
            values[name] = _NAN
    values["stream"] = bool(values["stream"])
    tried = values["profiles_tried"]
    values["profiles_tried"] = tuple(tried.split(",")) if tried else ()
    return LedgerRow(**values)


# ---- DataFrame construction, column-wise for speed

#: Column order of `Ledger.dataframe()`: what the cache did and cost first, so a notebook that
#: shows only the first and last columns of a wide frame still shows those.
FRAME_COLUMNS = (
    "time",
    "model",
    "profile_id",
    "ttl_applied",
    *_TOKENS,
    "hit",
    "hit_ratio",
    *_MONEY,
    "latency_s",
    "ttft_s",
    "cell",
    "error",
    "agent",
    "credential_type",
    "ttl_requested",
    "ttl_note",
    "breakpoints",
    "stop_reason",
    "request_id",
    "session",
    "stream",
    "attempts",
    "profiles_tried",
)


def _frame(
    count: int,
    joined: dict[str, str | None],
    request_ids: list[str],
    reals: list[tuple[Any, ...]],
    labels: dict[int, str],
) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    def parse(name: str) -> np.ndarray:
        text = joined[name]
        return np.fromstring(text, dtype=np.int64, sep=",") if text else np.empty(0, dtype=np.int64)

    ints = {name: parse(name) for name in joined}
    # numpy turns SQL NULL (None) into NaN in a float field.
    real_type = np.dtype([("id", np.int64), *((name, np.float64) for name in _REAL_FIELDS)])
    floats = np.fromiter(reals, dtype=real_type, count=count)
    # SQLite does not promise the order of group_concat, so both queries are put in id order and
    # checked against each other, then sorted by time.
    by_id = np.argsort(ints["id"], kind="stable")
    floats_by_id = np.argsort(floats["id"], kind="stable")
    if not np.array_equal(ints["id"][by_id], floats["id"][floats_by_id]):
        raise ClawdbotError("The usage ledger changed while it was being read.", fix="read it again")
    order = by_id[np.lexsort((ints["id"][by_id], ints["time_ms"][by_id]))]
    ints = {name: values[order] for name, values in ints.items()}
    floats = floats[floats_by_id[np.argsort(by_id)][order]]

    data: dict[str, Any] = {
        "time": pd.DatetimeIndex(pd.to_datetime(ints["time_ms"], unit="ms", utc=True)).as_unit("ns"),
        "stream": ints["stream"].astype(bool),
    }
    for name in ("breakpoints", *_TOKENS, "attempts"):
        data[name] = pd.array(ints[name], dtype="Int64")
    read = ints["cache_read_tokens"]
    prompt = read + ints["input_tokens"] + ints["cache_write_5m_tokens"] + ints["cache_write_1h_tokens"]
    data["hit"] = read > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        data["hit_ratio"] = np.where(prompt > 0, read / np.maximum(prompt, 1), np.nan)
    for name in _REAL_FIELDS:
        data[name] = np.ascontiguousarray(floats[name])
    request_id = pd.array(np.array(request_ids, dtype=object)[order] if count else [], dtype="string")
    request_id[request_id == ""] = pd.NA  # stored NULL
    data["request_id"] = request_id
    for name in _LABEL_FIELDS:
        data[name] = _categorical(ints[_column(name)], labels)
    return pd.DataFrame({c: data[c] for c in FRAME_COLUMNS}, index=pd.Index(ints["id"], name="id"))


def _categorical(label_ids: Any, labels: dict[int, str]) -> Any:
    """A Categorical from label ids (-1 for missing), categories in label order (first use)."""
    import numpy as np
    import pandas as pd

    shifted = label_ids + 1  # 0 is missing
    present = np.zeros(int(shifted.max(initial=0)) + 1, dtype=bool)
    present[shifted] = True
    present[0] = False
    used = np.flatnonzero(present)
    # Map each used label id to its position among the used ones; missing stays -1.
    position = np.full(present.size, -1, dtype=np.int64)
    position[used] = np.arange(used.size)
    categories = pd.Index([labels[int(i) - 1] for i in used], dtype=object)
    return pd.Categorical.from_codes(position[shifted], categories=categories)


# ---- exports for the CLI

EXPORT_COLUMNS = ("id", "time", *_ROW_FIELDS, "hit", "hit_ratio")


def rows_to_json(rows: Iterable[LedgerRow], *, indent: int | None = 2) -> str:
    """The rows as a JSON list of objects (ISO times; null for unknown money and ratios)."""
    return json.dumps([row.to_dict() for row in rows], indent=indent, ensure_ascii=False)


def rows_to_csv(rows: Iterable[LedgerRow]) -> str:
    """The rows as CSV text with a header; unknown values are empty cells."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(EXPORT_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        record = row.to_dict()
        record["profiles_tried"] = ",".join(record["profiles_tried"])
        writer.writerow(record)
    return buffer.getvalue()
