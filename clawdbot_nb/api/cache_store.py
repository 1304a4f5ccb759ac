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

import json
import os
import sqlite3
import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clawdbot_nb.api.cache_prints import BlockPrint, BreakpointPrint, RequestPrint, TextPrint

FILENAME = "cache-watch.sqlite"
_BUSY_TIMEOUT_MS = 30_000
#: Old rows are trimmed once every this many writes (trimming scans the agent's rows).
_TRIM_EVERY = 64
#: What is kept per agent (older rows are deleted as new ones arrive).
KEEP_CALLS = 64
KEEP_REPLAY_CALLS = 20_000
KEEP_USES = 4096
KEEP_EVENTS = 5000
KEEP_ENTRIES = 2048

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE agents (agent TEXT PRIMARY KEY, key BLOB NOT NULL)",
        """CREATE TABLE entries (
            id INTEGER PRIMARY KEY,
            agent TEXT NOT NULL, model TEXT NOT NULL, credential TEXT NOT NULL,
            organization TEXT, workspace TEXT, prefix BLOB NOT NULL,
            position INTEGER NOT NULL, area TEXT NOT NULL, location TEXT NOT NULL,
            tokens INTEGER NOT NULL, ttl TEXT NOT NULL, written_at REAL NOT NULL,
            last_used REAL NOT NULL, began_at REAL, hits INTEGER NOT NULL DEFAULT 0,
            saved_usd REAL NOT NULL DEFAULT 0, turn INTEGER NOT NULL DEFAULT 0,
            retired INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX entries_agent ON entries (agent, retired, last_used)",
        # `print` (digests for explaining) is kept for the last calls only; `shape` (prefix
        # hashes, token counts, breakpoints: what a replay needs) for all of them.
        """CREATE TABLE calls (
            id INTEGER PRIMARY KEY,
            agent TEXT NOT NULL, sent_at REAL NOT NULL, model TEXT NOT NULL,
            credential TEXT NOT NULL, organization TEXT, workspace TEXT,
            print TEXT, shape TEXT NOT NULL, written TEXT NOT NULL, hit INTEGER NOT NULL,
            ttl_requested TEXT, ttl_applied TEXT, request_id TEXT,
            input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0,
            cache_read_tokens INTEGER NOT NULL DEFAULT 0,
            cache_write_5m_tokens INTEGER NOT NULL DEFAULT 0,
            cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0, cost_usd REAL
        )""",
        "CREATE INDEX calls_agent ON calls (agent, sent_at)",
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


def print_to_json(printed: RequestPrint) -> str:
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
            [
                b.text.length,
                b.text.chunk,
                [c.hex() for c in b.text.chunks],
                [[k, d.hex()] for k, d in b.text.tails],
            ],
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


def shape_to_json(printed: RequestPrint) -> str:
    """What a replay needs of a call: per position its prefix hash, cumulative tokens and area,
    the breakpoints, where the last user turn starts, the total."""
    return json.dumps(
        {
            "model": printed.model,
            "prefixes": [b.prefix.hex() for b in printed.blocks],
            "cumulative": [b.cumulative_tokens for b in printed.blocks],
            "areas": [b.area for b in printed.blocks],
            "breakpoints": [[p.position, p.ttl] for p in printed.breakpoints],
            "last_turn_start": printed.last_turn_start,
            "total_tokens": printed.total_tokens,
        },
        separators=(",", ":"),
    )


def print_from_json(text: str) -> RequestPrint:
    data = json.loads(text)
    blocks = []
    for position, section, path, kind, location, area, digest, prefix, tokens, cumulative, tp in data[
        "blocks"
    ]:
        length, chunk, chunks, tails = tp
        text_print = TextPrint(
            length,
            chunk,
            tuple(bytes.fromhex(c) for c in chunks),
            tuple((k, bytes.fromhex(d)) for k, d in tails),
        )
        blocks.append(
            BlockPrint(
                position,
                section,
                tuple(path),
                kind,
                location,
                area,
                bytes.fromhex(digest),
                bytes.fromhex(prefix),
                tokens,
                cumulative,
                text_print,
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
class StoredState:
    """Everything of one agent the store holds, as rows (the watch turns them into objects)."""

    entries: list[sqlite3.Row]
    calls: list[sqlite3.Row]
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
        self.key = self._load_key()

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
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

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
        with self._lock:
            conn = self.connection()
            self._seen_version = conn.execute("PRAGMA data_version").fetchone()[0]
            agent = (self.agent,)
            return StoredState(
                entries=conn.execute("SELECT * FROM entries WHERE agent = ? ORDER BY id", agent).fetchall(),
                calls=conn.execute(
                    "SELECT * FROM (SELECT * FROM calls WHERE agent = ? AND print IS NOT NULL "
                    "ORDER BY id DESC LIMIT ?) ORDER BY id",
                    (self.agent, KEEP_CALLS),
                ).fetchall(),
                uses=conn.execute(
                    "SELECT prefix, at FROM uses WHERE agent = ? ORDER BY at, id", agent
                ).fetchall(),
                events=conn.execute("SELECT * FROM events WHERE agent = ? ORDER BY at, id", agent).fetchall(),
            )

    def calls(self, since: float | None = None) -> list[sqlite3.Row]:
        """Every stored call of the agent (oldest first), for replays."""
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
    ) -> None:
        """One transaction: upsert entries (by id when known), append the call, uses and events,
        and drop what is beyond the limits. Entry dicts without "id" get one (set in place)."""
        with self._lock:
            conn = self.connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                for entry in entries:
                    columns = [c for c in entry if c != "id"]
                    values = [entry[c] for c in columns]
                    if entry.get("id") is None:
                        names = ", ".join(columns)
                        cursor = conn.execute(
                            f"INSERT INTO entries (agent, {names}) VALUES (?{', ?' * len(columns)})",
                            (self.agent, *values),
                        )
                        entry["id"] = cursor.lastrowid
                    else:
                        assignments = ", ".join(f"{c} = ?" for c in columns)
                        conn.execute(f"UPDATE entries SET {assignments} WHERE id = ?", (*values, entry["id"]))
                if call is not None:
                    columns = list(call)
                    conn.execute(
                        f"INSERT INTO calls (agent, {', '.join(columns)}) VALUES (?{', ?' * len(columns)})",
                        (self.agent, *call.values()),
                    )
                conn.executemany(
                    "INSERT INTO uses (agent, prefix, at) VALUES (?, ?, ?)",
                    [(self.agent, p, a) for p, a in uses],
                )
                for event in events:
                    columns = list(event)
                    conn.execute(
                        f"INSERT INTO events (agent, {', '.join(columns)}) VALUES (?{', ?' * len(columns)})",
                        (self.agent, *event.values()),
                    )
                self._trim(conn)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            # Our own commit does not count as someone else's change.
            self._seen_version = conn.execute("PRAGMA data_version").fetchone()[0]

    def _trim(self, conn: sqlite3.Connection) -> None:
        self._writes += 1
        if self._writes % _TRIM_EVERY != 1:
            return
        conn.execute(
            "UPDATE calls SET print = NULL WHERE agent = ? AND print IS NOT NULL AND id NOT IN "
            "(SELECT id FROM calls WHERE agent = ? ORDER BY id DESC LIMIT ?)",
            (self.agent, self.agent, KEEP_CALLS),
        )
        for table, keep, order in (
            ("calls", KEEP_REPLAY_CALLS, "id"),
            ("uses", KEEP_USES, "at"),
            ("events", KEEP_EVENTS, "at"),
            ("entries", KEEP_ENTRIES, "last_used"),
        ):
            conn.execute(
                f"DELETE FROM {table} WHERE agent = ? AND id NOT IN "
                f"(SELECT id FROM {table} WHERE agent = ? ORDER BY {order} DESC LIMIT ?)",
                (self.agent, self.agent, keep),
            )
