"""`Ledger`: the usage ledger in one SQLite file, shared by kernels and processes.

Every append is one short committed transaction, so a row is on disk when `append` returns (a
killed process loses nothing); a writer waits up to 30 s for another one rather than failing.
Reads never trust the stored types: a value of the wrong type (another tool's write, a hand
edit) reads as missing instead of breaking `usage()`.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clawdbot_nb.api.ledger.rows import (
    INT_FIELDS,
    LABEL_FIELDS,
    MONEY_FIELDS,
    NAN,
    REAL_FIELDS,
    STORED_FIELDS,
    TEXT_FIELDS,
    TOKEN_FIELDS,
    LedgerRow,
    now_ms,
)
from clawdbot_nb.api.ledger.schema import column, open_ledger_file
from clawdbot_nb.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

#: Columns `summary(by=...)` can group on: the names (not free text) and the stream flag.
GROUP_COLUMNS = (*(f for f in LABEL_FIELDS if f not in ("ttl_note", "error", "profiles_tried")), "stream")


def integer_sql(name: str) -> str:
    """The column as an integer, NULL when what is stored is not a number."""
    col = column(name)
    return f"(CASE WHEN typeof({col}) IN ('integer', 'real') THEN CAST({col} AS INTEGER) END)"


def real_sql(name: str) -> str:
    return f"(CASE WHEN typeof({name}) IN ('integer', 'real') THEN {name} END)"


def text_sql(name: str) -> str:
    return f"(CASE WHEN typeof({name}) = 'text' THEN {name} END)"


_INSERT = (
    f"INSERT INTO calls ({', '.join(column(f) for f in STORED_FIELDS)}) "
    f"VALUES ({', '.join('?' * len(STORED_FIELDS))})"
)
_SELECT_NAMES = ("id", *STORED_FIELDS)
_SELECT = (
    "SELECT id, "
    + ", ".join(
        integer_sql(f)
        if f in INT_FIELDS or f in LABEL_FIELDS
        else real_sql(f)
        if f in REAL_FIELDS
        else text_sql(f)
        for f in STORED_FIELDS
    )
    + " FROM calls"
)
_LABEL_SLOTS = tuple(_SELECT_NAMES.index(f) for f in LABEL_FIELDS)


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
        for condition in (
            f"{integer_sql('cache_read_tokens')} > 0",
            "error_label IS NOT NULL",
            f"{real_sql('cost_usd')} IS NULL",
        )
    )
    tokens = ", ".join(f"COALESCE(SUM({integer_sql(t)}), 0)" for t in TOKEN_FIELDS)
    # SQL's SUM skips NULLs; an unpriced call must make the money unknown, not smaller.
    money = ", ".join(
        f"CASE WHEN COUNT({real_sql(m)}) < COUNT(*) THEN NULL ELSE COALESCE(SUM({real_sql(m)}), 0.0) END"
        for m in MONEY_FIELDS
    )
    return f"COUNT(*), {counts}, {tokens}, {money}"


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
        hit_ratio=read / prompt if prompt else NAN,
        cost_usd=NAN if cost is None else cost,
        cost_without_cache_usd=NAN if without is None else without,
        savings_usd=NAN if savings is None else savings,
    )


Since = datetime | timedelta | float | int | None


def _since_ms(since: Since) -> int | None:
    if since is None:
        return None
    if isinstance(since, timedelta):
        return now_ms() - int(since.total_seconds() * 1000)
    if isinstance(since, datetime):
        # A naive datetime means local time, as everywhere else in Python.
        return int(since.timestamp() * 1000)
    return int(float(since) * 1000)


class Ledger:
    """The usage ledger in one SQLite file (WAL mode), safe to share between kernels/processes.

    Opening refuses a file that is not one of ours (`schema.LedgerUnavailable`) without
    touching it. Usable as a context manager.
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

    def _connect(self) -> sqlite3.Connection:
        self._conn, self._pid = open_ledger_file(self.path), os.getpid()
        return self._conn

    def _connection(self) -> sqlite3.Connection:
        # A connection must not cross a fork; a child process opens its own.
        if self._conn is None or self._pid != os.getpid():
            self._label_ids.clear()
            self._label_texts.clear()
            return self._connect()
        return self._conn

    # ---- writes

    def _values(
        self, conn: sqlite3.Connection, row: LedgerRow, new_labels: dict[str, int]
    ) -> tuple[Any, ...]:
        def label_id(text: str | None) -> int | None:
            if text is None:
                return None
            known = self._label_ids.get(text) or new_labels.get(text)
            if known is not None:
                return known
            conn.execute("INSERT OR IGNORE INTO labels (text) VALUES (?)", (text,))
            new_labels[text] = conn.execute("SELECT id FROM labels WHERE text = ?", (text,)).fetchone()[0]
            return new_labels[text]

        out: list[Any] = [int(getattr(row, f)) for f in INT_FIELDS]
        out.extend(label_id(_label_text(row, f)) for f in LABEL_FIELDS)
        for f in REAL_FIELDS:
            value = getattr(row, f)
            out.append(None if value is None or math.isnan(value) else float(value))
        out.extend(getattr(row, f) or None for f in TEXT_FIELDS)
        return tuple(out)

    def _write(self, rows: Iterable[LedgerRow]) -> tuple[int, int]:
        """Insert rows in one committed transaction; (rows inserted, last row id)."""
        rows = list(rows)
        with self._lock:
            conn = self._connection()
            if len(rows) == 1 and all(
                text is None or text in self._label_ids
                for text in (_label_text(rows[0], f) for f in LABEL_FIELDS)
            ):
                # The common case (a notebook's calls repeat their labels): one INSERT, which
                # SQLite commits atomically on its own.
                cursor = conn.execute(_INSERT, self._values(conn, rows[0], {}))
                return 1, int(cursor.lastrowid or 0)
            new_labels: dict[str, int] = {}
            conn.execute("BEGIN IMMEDIATE")
            try:
                records = [self._values(conn, row, new_labels) for row in rows]
                cursor = conn.executemany(_INSERT, records)
                last_id = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            # Only now: a rolled-back transaction's label ids may be reused by another writer.
            self._label_ids.update(new_labels)
            return cursor.rowcount, int(last_id)

    def append(self, row: LedgerRow) -> int:
        """Record one call (committed when this returns); returns its row id."""
        return self._write([row])[1]

    def append_many(self, rows: Iterable[LedgerRow]) -> int:
        """Record many calls in one transaction (imports, benchmarks); returns how many."""
        return self._write(rows)[0]

    def execute(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Run write statements on the ledger's other tables (`jobs.py`) in one transaction."""
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in statements:
                    conn.execute(sql, params)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    # ---- reads

    def _labels(self, conn: sqlite3.Connection, needed: Iterable[int] = ()) -> dict[int, str]:
        """id → text for every label, reading only those added since the last call."""
        since = max(self._label_texts, default=0)
        for label_id, text in conn.execute("SELECT id, text FROM labels WHERE id > ?", (since,)):
            self._label_texts[label_id] = str(text)
        if any(i not in self._label_texts for i in needed):
            self._label_texts = {i: str(t) for i, t in conn.execute("SELECT id, text FROM labels")}
        return self._label_texts

    def where(
        self,
        since: Since,
        session: str | None,
        agent: str | None,
        limit: int | None,
        job: str | None = None,
    ) -> tuple[str, list[Any]]:
        """The WHERE clause (and its parameters) for the read filters."""
        clauses, params = [], []
        since_ms = _since_ms(since)
        if since_ms is not None:
            clauses.append("time_ms >= ?")
            params.append(since_ms)
        for name, value in (("session", session), ("agent", agent), ("job", job)):
            if value is not None:
                clauses.append(f"{column(name)} = (SELECT id FROM labels WHERE text = ?)")
                params.append(value)
        where = " AND ".join(clauses) if clauses else "1"
        if limit is not None:
            # The latest `limit` calls; callers still order them oldest first.
            where = f"id IN (SELECT id FROM calls WHERE {where} ORDER BY time_ms DESC, id DESC LIMIT ?)"
            params.append(int(limit))
        return f" WHERE {where}", params

    def read(self, queries: Sequence[tuple[str, Sequence[Any]]]) -> tuple[list[list[Any]], dict[int, str]]:
        """Run SELECTs in one read transaction (one snapshot even while others append); their rows
        and the labels."""
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN")
            try:
                results = [conn.execute(sql, params).fetchall() for sql, params in queries]
                labels = self._labels(conn)
            finally:
                conn.execute("COMMIT")
        return results, labels

    def rows(
        self,
        since: Since = None,
        session: str | None = None,
        agent: str | None = None,
        limit: int | None = None,
        job: str | None = None,
    ) -> list[LedgerRow]:
        """Recorded calls, oldest first. `since` is a datetime, a timedelta back from now, or epoch
        seconds; `limit` keeps the latest N calls; `job` those of one map or batch job."""
        where, params = self.where(since, session, agent, limit, job)
        (records,), labels = self.read([(f"{_SELECT}{where} ORDER BY time_ms, id", params)])
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
        job: str | None = None,
    ) -> pd.DataFrame:
        """The calls as a pandas DataFrame indexed by row id, oldest first (filters as `rows`);
        see `frames.calls_frame` for the columns and dtypes."""
        from clawdbot_nb.api.ledger.frames import calls_frame

        return calls_frame(self, self.where(since, session, agent, limit, job))

    def totals(
        self, since: Since = None, session: str | None = None, agent: str | None = None
    ) -> LedgerTotals:
        """Everything (or the filtered calls) added up; works without pandas."""
        where, params = self.where(since, session, agent, None)
        (records,), _ = self.read([(f"SELECT {_aggregates_sql()} FROM calls{where}", params)])
        return _totals_from(records[0])

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
        where, params = self.where(since, session, agent, None)
        group = ", ".join(integer_sql(k) for k in keys)
        sql = (
            f"SELECT {group}, {_aggregates_sql()} FROM calls{where} "
            f"GROUP BY {group} ORDER BY MIN(time_ms), MIN(id)"
        )
        (records,), labels = self.read([(sql, params)])
        n = len(keys)
        totals = [_totals_from(record[n:]) for record in records]
        frame = pd.DataFrame({f.name: [getattr(t, f.name) for t in totals] for f in fields(LedgerTotals)})
        for c in ("calls", "hits", "errors", "unpriced", *TOKEN_FIELDS):
            frame[c] = frame[c].astype("Int64")
        for c in ("hit_ratio", *MONEY_FIELDS):
            frame[c] = frame[c].astype("float64")

        def key_values(i: int, key: str) -> list[Any]:
            if key == "stream":
                return [bool(r[i]) for r in records]
            return [None if r[i] is None else labels.get(r[i]) for r in records]

        arrays = [key_values(i, k) for i, k in enumerate(keys)]
        if n == 1:
            frame.index = pd.Index(arrays[0], name=keys[0], dtype=object)
        else:
            frame.index = pd.MultiIndex.from_arrays(arrays, names=keys)
        return frame


def _row_from(record: Sequence[Any], labels: dict[int, str]) -> LedgerRow:
    values = dict(zip(_SELECT_NAMES, record))
    for name in LABEL_FIELDS:
        label_id = values[name]
        values[name] = None if label_id is None else labels.get(label_id)
    for name in INT_FIELDS:
        if values[name] is None:
            values[name] = 0
    for name in MONEY_FIELDS:
        if values[name] is None:
            values[name] = NAN
    values["stream"] = bool(values["stream"])
    tried = values["profiles_tried"]
    values["profiles_tried"] = tuple(tried.split(",")) if tried else ()
    values["model"] = values["model"] or ""
    return LedgerRow(**values)
