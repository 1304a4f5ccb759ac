"""The cache watch on disk: what one agent's calls cached, kept across kernel restarts and shared
by every kernel of the agent, in a SQLite file beside the usage ledger
(`<stateDir>/clawdbot-nb/cache-watch.sqlite`, mode 0600).

It holds digests, token counts, times and block locations — never prompt text: request prints
are stored without their excerpts (`RequestPrint.without_marks`). A watch syncs before each
decision: when another process committed since its last look (`PRAGMA data_version`), it reloads
the agent's state, which is bounded (entries, the last calls, uses, timeline events).

A file that cannot be opened or has a newer schema never stops a prompt: `CacheWatchStore.open`
warns once, naming the file and the fix, and the watch carries on in memory.
"""

from __future__ import annotations

import atexit
import json
import os
import sqlite3
import threading
import time
import warnings
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clawdbot_nb.api.cache_prints import BlockPrint, BreakpointPrint, RequestPrint, TextPrint
from clawdbot_nb.api.pricing import UsageCounts

FILENAME = "cache-watch.sqlite"
_BUSY_TIMEOUT_MS = 30_000
#: Old rows are trimmed once every this many writes (trimming scans the agent's rows).
_TRIM_EVERY = 64
#: How long the writer waits for more changes before committing what it has.
WRITE_LINGER_S = 0.05
#: What is kept per agent (older rows are deleted as new ones arrive).
KEEP_CALLS = 64
KEEP_REPLAY_CALLS = 20_000
KEEP_USES = 4096
KEEP_EVENTS = 5000
KEEP_ENTRIES = 2048
KEEP_TEXTS = 2048

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE agents (agent TEXT PRIMARY KEY, key BLOB NOT NULL)",
        """CREATE TABLE entries (
            uid TEXT PRIMARY KEY,
            agent TEXT NOT NULL, model TEXT NOT NULL, credential TEXT NOT NULL,
            organization TEXT, workspace TEXT, prefix BLOB NOT NULL,
            position INTEGER NOT NULL, area TEXT NOT NULL, location TEXT NOT NULL,
            tokens INTEGER NOT NULL, ttl TEXT NOT NULL, written_at REAL NOT NULL,
            last_used REAL NOT NULL, began_at REAL, hits INTEGER NOT NULL DEFAULT 0,
            saved_usd REAL NOT NULL DEFAULT 0, turn INTEGER NOT NULL DEFAULT 0,
            retired INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX entries_agent ON entries (agent, retired, last_used)",
        # `shape`: a call's print without its blocks' text prints (prefix hashes, token counts,
        # breakpoints, settings), which `texts` holds once per block digest.
        """CREATE TABLE calls (
            id INTEGER PRIMARY KEY,
            agent TEXT NOT NULL, sent_at REAL NOT NULL, model TEXT NOT NULL,
            credential TEXT NOT NULL, organization TEXT, workspace TEXT,
            shape TEXT NOT NULL, written TEXT NOT NULL, hit INTEGER NOT NULL,
            ttl_requested TEXT, ttl_applied TEXT, request_id TEXT,
            input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0,
            cache_read_tokens INTEGER NOT NULL DEFAULT 0,
            cache_write_5m_tokens INTEGER NOT NULL DEFAULT 0,
            cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0, cost_usd REAL
        )""",
        "CREATE INDEX calls_agent ON calls (agent, sent_at)",
        """CREATE TABLE texts (
            agent TEXT NOT NULL, digest BLOB NOT NULL, text TEXT NOT NULL, used REAL NOT NULL,
            PRIMARY KEY (agent, digest)
        )""",
        """CREATE TABLE uses (
            id INTEGER PRIMARY KEY, agent TEXT NOT NULL, prefix BLOB NOT NULL, at REAL NOT NULL
        )""",
        "CREATE INDEX uses_agent ON uses (agent, at)",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY, agent TEXT NOT NULL, at REAL NOT NULL, kind TEXT NOT NULL,
            area TEXT NOT NULL, location TEXT NOT NULL, tokens INTEGER NOT NULL, ttl TEXT NOT NULL,
            model TEXT NOT NULL, entry BLOB NOT NULL
        )""",
        "CREATE INDEX events_agent ON events (agent, at)",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)


def store_path(state_dir: str | os.PathLike[str]) -> Path:
    return Path(state_dir) / "clawdbot-nb" / FILENAME


# ---------------------------------------------------------------------------------------------
# Prints as JSON (digests in hex; no text)


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def shape_to_json(printed: RequestPrint) -> str:
    """A call's print without the text prints of its blocks (those are stored once per block,
    see `text_to_json`): per position its location, hashes and token counts, the breakpoints,
    the settings, where the last user turn starts, the total. A replay needs no more."""
    blocks = [
        [
            b.position,
            b.section,
            list(b.path),
            b.kind,
            b.location,
            b.area,
            b.digest.hex(),
            b.prefix.hex(),
            b.tokens,
            b.cumulative_tokens,
        ]
        for b in printed.blocks
    ]
    return json.dumps(
        {
            "model": printed.model,
            "blocks": blocks,
            "breakpoints": [[p.position, p.ttl, p.automatic] for p in printed.breakpoints],
            "system_settings": printed.system_settings,
            "message_settings": printed.message_settings,
            "last_turn_start": printed.last_turn_start,
            "total_tokens": printed.total_tokens,
        },
        separators=(",", ":"),
    )


def usage_of(row: Any) -> UsageCounts:
    """The usage a stored call row records."""
    return UsageCounts(
        row["input_tokens"],
        row["output_tokens"],
        row["cache_read_tokens"],
        row["cache_write_5m_tokens"],
        row["cache_write_1h_tokens"],
    )


def text_to_json(text: TextPrint) -> str:
    """A block's text print without its excerpts: chunk and tail digests."""
    chunks = [c.hex() for c in text.chunks]
    return json.dumps([text.length, text.chunk, chunks, [[k, d.hex()] for k, d in text.tails]])


def text_from_json(text: str) -> TextPrint:
    length, chunk, chunks, tails = json.loads(text)
    return TextPrint(
        length, chunk, tuple(bytes.fromhex(c) for c in chunks), tuple((k, bytes.fromhex(d)) for k, d in tails)
    )


#: What a block whose text print is gone compares as: nothing in common.
_UNKNOWN_TEXT = TextPrint(0, 16, (), ())


def print_from_json(shape: str, texts: Mapping[bytes, TextPrint]) -> RequestPrint:
    data = json.loads(shape)
    blocks = []
    for position, section, path, kind, location, area, digest, prefix, tokens, cumulative in data["blocks"]:
        block_digest = bytes.fromhex(digest)
        blocks.append(
            BlockPrint(
                position,
                section,
                tuple(path),
                kind,
                location,
                area,
                block_digest,
                bytes.fromhex(prefix),
                tokens,
                cumulative,
                texts.get(block_digest, _UNKNOWN_TEXT),
            )
        )
    return RequestPrint(
        data["model"],
        tuple(blocks),
        tuple(BreakpointPrint(p, ttl, bool(auto)) for p, ttl, auto in data["breakpoints"]),
        _tuples(data["system_settings"]),
        _tuples(data["message_settings"]),
        data["last_turn_start"],
        data["total_tokens"],
    )


# ---------------------------------------------------------------------------------------------


@dataclass
class _Batch:
    entries: list[dict[str, Any]]
    call: dict[str, Any] | None
    uses: list[tuple[bytes, float]]
    events: list[dict[str, Any]]
    texts: list[tuple[bytes, str, float]]


#: Stores whose queued writes are committed when the process exits.
_open_stores: weakref.WeakSet[CacheWatchStore] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    for store in list(_open_stores):
        try:
            store.close()
        except Exception:  # exiting: nothing left to tell
            pass


@dataclass
class StoredState:
    """Everything of one agent the store holds, as rows (the watch turns them into objects)."""

    entries: list[sqlite3.Row]
    calls: list[sqlite3.Row]
    texts: dict[bytes, TextPrint]
    uses: list[sqlite3.Row]
    events: list[sqlite3.Row]


class CacheWatchStore:
    """One agent's slice of the cache-watch file. Thread-safe; a connection per process."""

    def __init__(self, path: str | os.PathLike[str], agent: str) -> None:
        self.path = Path(path)
        self.agent = agent
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._seen_version: int | None = None
        self._writes = 0
        self._written = threading.Condition()
        self._pending: list[_Batch] = []
        self._writing = False
        self._idle = False
        self._hurry = False
        self._stopping = False
        self._failure: Exception | None = None
        self._writer: threading.Thread | None = None
        self.key = self._load_key()
        _open_stores.add(self)

    @classmethod
    def open(cls, path: str | os.PathLike[str], agent: str) -> CacheWatchStore | None:
        """The store, or None after one warning when the file cannot be used."""
        try:
            return cls(path, agent)
        except (sqlite3.DatabaseError, OSError, ValueError) as error:
            warnings.warn(
                f"clawdbot_nb: the cache watch file {path} cannot be used ({error}); cache entries "
                "are followed in memory only. Fix: move the file aside; a new one is created.",
                stacklevel=2,
            )
            return None

    # -- connection ---------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.path.is_dir():
            raise ValueError("it is a directory")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        if self.path.stat().st_mode & 0o077:
            os.chmod(self.path, 0o600)
        conn = sqlite3.connect(
            self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ValueError(
                    f"schema version {version} is newer than this clawdbot_nb's {SCHEMA_VERSION}"
                )
            if version < SCHEMA_VERSION:
                conn.execute("PRAGMA journal_mode = WAL")
                self._migrate(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            conn.close()
            raise
        self._conn, self._pid = conn, os.getpid()
        return conn

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")  # two kernels creating the file: one does it
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for step in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[step]:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():  # never across a fork
            return self._connect()
        return self._conn

    def close(self) -> None:
        """Commit what is queued, stop the writer, close the connection."""
        try:
            self.flush()
        finally:
            with self._written:
                self._stopping = True
                self._written.notify_all()
            if self._writer is not None and self._writer is not threading.current_thread():
                self._writer.join(timeout=10)
            self._writer = None
            with self._lock:
                if self._conn is not None and self._pid == os.getpid():
                    self._conn.close()
                self._conn = None
            _open_stores.discard(self)

    def _load_key(self) -> bytes:
        with self._lock:
            conn = self.connection()
            row = conn.execute("SELECT key FROM agents WHERE agent = ?", (self.agent,)).fetchone()
            if row is not None:
                return bytes(row["key"])
            conn.execute(
                "INSERT OR IGNORE INTO agents (agent, key) VALUES (?, ?)", (self.agent, os.urandom(16))
            )
            return bytes(
                conn.execute("SELECT key FROM agents WHERE agent = ?", (self.agent,)).fetchone()["key"]
            )

    # -- reading ------------------------------------------------------------------------------------

    def changed(self) -> bool:
        """Whether another process committed since the last `load` (always True at first)."""
        with self._lock:
            version = self.connection().execute("PRAGMA data_version").fetchone()[0]
            return version != self._seen_version

    def load(self) -> StoredState:
        self.flush()  # what this process queued is part of the state
        with self._lock:
            conn = self.connection()
            self._seen_version = conn.execute("PRAGMA data_version").fetchone()[0]
            agent = (self.agent,)
            return StoredState(
                entries=conn.execute(
                    "SELECT * FROM entries WHERE agent = ? ORDER BY rowid", agent
                ).fetchall(),
                calls=conn.execute(
                    "SELECT * FROM (SELECT * FROM calls WHERE agent = ? ORDER BY id DESC LIMIT ?) "
                    "ORDER BY id",
                    (self.agent, KEEP_CALLS),
                ).fetchall(),
                texts={
                    bytes(row["digest"]): text_from_json(row["text"])
                    for row in conn.execute("SELECT digest, text FROM texts WHERE agent = ?", agent)
                },
                uses=conn.execute(
                    "SELECT prefix, at FROM uses WHERE agent = ? ORDER BY at, id", agent
                ).fetchall(),
                events=conn.execute("SELECT * FROM events WHERE agent = ? ORDER BY at, id", agent).fetchall(),
            )

    def calls(self, since: float | None = None) -> list[sqlite3.Row]:
        """Every stored call of the agent (oldest first), for replays."""
        self.flush()
        with self._lock:
            return (
                self.connection()
                .execute(
                    "SELECT * FROM calls WHERE agent = ? AND sent_at >= ? ORDER BY sent_at, id",
                    (self.agent, since if since is not None else float("-inf")),
                )
                .fetchall()
            )

    # -- writing ------------------------------------------------------------------------------------

    def write(
        self,
        *,
        entries: Iterable[dict[str, Any]],
        call: dict[str, Any] | None,
        uses: Iterable[tuple[bytes, float]],
        events: Iterable[dict[str, Any]],
        texts: Iterable[tuple[bytes, str, float]] = (),
    ) -> None:
        """Queue one call's changes: entries upserted by uid, the call, uses, events and new block
        texts (digest, JSON, time). A background thread commits what is queued in one
        transaction, so a call does not wait for the disk; `flush` waits for it. A failure of
        an earlier write is raised here."""
        batch = _Batch(list(entries), call, list(uses), list(events), list(texts))
        with self._written:
            self._raise_failure()
            self._pending.append(batch)
            idle = self._idle
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_loop, name="clawdbot-nb-cache-watch", daemon=True
                )
                self._writer.start()
            elif idle:  # a lingering writer picks this up without being woken
                self._written.notify_all()

    def flush(self) -> None:
        """Wait until every queued change is committed (raises a write's failure)."""
        with self._written:
            self._hurry = True
            self._written.notify_all()
            while self._pending or self._writing:
                if self._writer is None or not self._writer.is_alive():
                    self._commit(self._pending)  # no writer (closed, or after a fork): here
                    self._pending = []
                    break
                self._written.wait(timeout=1)
            self._raise_failure()

    def _raise_failure(self) -> None:
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def _write_loop(self) -> None:
        while True:
            with self._written:
                while not self._pending and not self._stopping:
                    self._idle = True
                    self._written.wait()
                self._idle = False
                if not self._pending and self._stopping:
                    return
                # Calls in quick succession share one transaction; a flush does not wait.
                deadline = time.monotonic() + WRITE_LINGER_S
                while not (self._hurry or self._stopping) and time.monotonic() < deadline:
                    self._written.wait(timeout=max(0.0, deadline - time.monotonic()))
                batches, self._pending = self._pending, []
                self._writing, self._hurry = True, False
            try:
                self._commit(batches)
            except Exception as error:
                self._failure = error
            finally:
                with self._written:
                    self._writing = False
                    self._written.notify_all()

    def _commit(self, batches: list[_Batch]) -> None:
        if not batches:
            return
        with self._lock:
            conn = self.connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                for batch in batches:
                    self._insert(conn, batch)
                self._trim(conn)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            # Our own commit does not count as someone else's change.
            self._seen_version = conn.execute("PRAGMA data_version").fetchone()[0]

    def _insert(self, conn: sqlite3.Connection, batch: _Batch) -> None:
        agent = self.agent
        if batch.entries:
            columns = list(batch.entries[0])
            updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "uid")
            conn.executemany(
                f"INSERT INTO entries (agent, {', '.join(columns)}) VALUES (?{', ?' * len(columns)}) "
                f"ON CONFLICT (uid) DO UPDATE SET {updates}",
                [(agent, *(entry[c] for c in columns)) for entry in batch.entries],
            )
        if batch.call is not None:
            columns = list(batch.call)
            conn.execute(
                f"INSERT INTO calls (agent, {', '.join(columns)}) VALUES (?{', ?' * len(columns)})",
                (agent, *batch.call.values()),
            )
        if batch.uses:
            conn.executemany(
                "INSERT INTO uses (agent, prefix, at) VALUES (?, ?, ?)",
                [(agent, prefix, at) for prefix, at in batch.uses],
            )
        if batch.texts:
            conn.executemany(
                "INSERT INTO texts (agent, digest, text, used) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (agent, digest) DO UPDATE SET used = excluded.used",
                [(agent, digest, text, used) for digest, text, used in batch.texts],
            )
        if batch.events:
            columns = list(batch.events[0])
            conn.executemany(
                f"INSERT INTO events (agent, {', '.join(columns)}) VALUES (?{', ?' * len(columns)})",
                [(agent, *event.values()) for event in batch.events],
            )

    def _trim(self, conn: sqlite3.Connection) -> None:
        self._writes += 1
        if self._writes % _TRIM_EVERY != 1:
            return
        for table, keep, order in (
            ("calls", KEEP_REPLAY_CALLS, "id"),
            ("uses", KEEP_USES, "at"),
            ("events", KEEP_EVENTS, "at"),
            ("entries", KEEP_ENTRIES, "last_used"),
            ("texts", KEEP_TEXTS, "used"),
        ):
            conn.execute(
                f"DELETE FROM {table} WHERE agent = ? AND rowid NOT IN "
                f"(SELECT rowid FROM {table} WHERE agent = ? ORDER BY {order} DESC LIMIT ?)",
                (self.agent, self.agent, keep),
            )
