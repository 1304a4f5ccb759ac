"""The ledger file's schema, its migrations, and how a file is checked and opened.

A file is inspected read-only before anything is written to it: a directory, a FIFO, a file
that is not SQLite, another program's database or a ledger from a newer clawdbot_nb is refused
with `LedgerUnavailable` (the file is left exactly as it was: no WAL switch, no migration).
Only our own files, or a new one, are opened for writing, switched to WAL and migrated.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import time
from pathlib import Path

from clawdbot_nb.api.ledger.rows import LABEL_FIELDS, ROW_FIELDS, TOKEN_FIELDS
from clawdbot_nb.errors import ClawdbotError

LEDGER_DIRNAME = "clawdbot-nb"
LEDGER_FILENAME = "usage.sqlite"
BUSY_TIMEOUT_MS = 30_000

MOVE_ASIDE = "move the file aside (a new ledger is created on the next call), or pass ledger=<another path>"


class LedgerUnavailable(ClawdbotError):
    """The ledger file cannot be used; it was not modified."""


def ledger_path(state_dir: str | os.PathLike[str]) -> Path:
    """Where the ledger lives under a Clawdbot state dir: `<stateDir>/clawdbot-nb/usage.sqlite`."""
    return Path(state_dir) / LEDGER_DIRNAME / LEDGER_FILENAME


def column(name: str) -> str:
    """The `calls` column that stores a row field (label fields store a label id)."""
    return f"{name}_label" if name in LABEL_FIELDS else name


def _view_sql() -> str:
    parts = ["c.id", "strftime('%Y-%m-%dT%H:%M:%fZ', c.time_ms / 1000.0, 'unixepoch') AS time"]
    for name in ROW_FIELDS:
        if name in LABEL_FIELDS:
            parts.append(f"(SELECT text FROM labels WHERE id = c.{column(name)}) AS {name}")
        else:
            parts.append(f"c.{name}")
    return f"CREATE VIEW calls_view AS SELECT {', '.join(parts)} FROM calls AS c"


_FIRST_REAL_FIELDS = ("cost_usd", "cost_without_cache_usd", "savings_usd", "latency_s", "ttft_s")
# Version 1's columns, frozen: a migration is history, it must not follow later row fields.
_FIRST_LABEL_FIELDS = (
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

# Migrations, in order: MIGRATIONS[i] takes a file from user_version i to i + 1, in one
# transaction. The `calls_view` convenience view is rebuilt after every migration run.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE labels (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE)",
        f"""CREATE TABLE calls (
            id INTEGER PRIMARY KEY,
            time_ms INTEGER NOT NULL,
            {", ".join(f"{column(f)} INTEGER REFERENCES labels (id)" for f in _FIRST_LABEL_FIELDS)},
            breakpoints INTEGER NOT NULL DEFAULT 0,
            {", ".join(f"{t} INTEGER NOT NULL DEFAULT 0" for t in TOKEN_FIELDS)},
            stream INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 1,
            {", ".join(f"{r} REAL" for r in _FIRST_REAL_FIELDS)},
            request_id TEXT
        )""",
        "CREATE INDEX calls_time ON calls (time_ms)",
        "CREATE INDEX calls_session ON calls (session_label, time_ms)",
    ),
    # 2: timings split into setup, failed attempts and the successful exchange.
    ("ALTER TABLE calls ADD COLUMN setup_s REAL", "ALTER TABLE calls ADD COLUMN attempts_s REAL"),
    # 3: why a call missed the cache (the cache watch's short cause).
    ("ALTER TABLE calls ADD COLUMN why_miss_label INTEGER REFERENCES labels (id)",),
    # 4: map and batch jobs (`ledger/jobs.py`): a call's job, row and Message Batch; the job's
    # rows (position, index label, outcome, reply text) and the batches it submitted.
    (
        "ALTER TABLE calls ADD COLUMN job_label INTEGER REFERENCES labels (id)",
        "ALTER TABLE calls ADD COLUMN batch_id_label INTEGER REFERENCES labels (id)",
        "ALTER TABLE calls ADD COLUMN row_key TEXT",
        "CREATE INDEX calls_job ON calls (job_label, row_key)",
        """CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            agent TEXT,
            model TEXT,
            created_ms INTEGER NOT NULL,
            rows INTEGER NOT NULL
        )""",
        """CREATE TABLE job_rows (
            job TEXT NOT NULL REFERENCES jobs (id),
            row_key TEXT NOT NULL,
            position INTEGER NOT NULL,
            label TEXT,
            status TEXT,
            text TEXT,
            error TEXT,
            PRIMARY KEY (job, row_key)
        )""",
        """CREATE TABLE job_batches (
            batch_id TEXT PRIMARY KEY,
            job TEXT NOT NULL REFERENCES jobs (id),
            profile_id TEXT,
            created_ms INTEGER NOT NULL,
            row_keys TEXT NOT NULL,
            collected INTEGER NOT NULL DEFAULT 0
        )""",
    ),
    # 5: conversations (`Workspace.chat`): the calls of one carry its name; its turns are kept
    # here so it survives a kernel restart (api/conversation_store.py).
    (
        "ALTER TABLE calls ADD COLUMN conversation_label INTEGER REFERENCES labels (id)",
        """CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            agent TEXT NOT NULL,
            name TEXT NOT NULL,
            started_ms INTEGER NOT NULL,
            updated_ms INTEGER NOT NULL,
            version INTEGER NOT NULL DEFAULT 0,
            UNIQUE (agent, name)
        )""",
        """CREATE TABLE conversation_turns (
            conversation_id INTEGER NOT NULL REFERENCES conversations (id),
            position INTEGER NOT NULL,
            prompt TEXT NOT NULL,
            reply TEXT NOT NULL,
            time_ms INTEGER NOT NULL,
            model TEXT,
            request_id TEXT,
            cell TEXT,
            run TEXT,
            label TEXT,
            PRIMARY KEY (conversation_id, position)
        )""",
    ),
)
#: `PRAGMA user_version` of the schema this code writes; older files are migrated on open.
SCHEMA_VERSION = len(MIGRATIONS)
#: Columns of version 1, which every later version keeps: a file without them is not one of ours.
_CORE_COLUMNS = {
    "id",
    "time_ms",
    "breakpoints",
    *TOKEN_FIELDS,
    "stream",
    "attempts",
    *_FIRST_REAL_FIELDS,
    *(column(f) for f in _FIRST_LABEL_FIELDS),
    "request_id",
}


def _refuse(path: Path, problem: str, fix: str = MOVE_ASIDE) -> LedgerUnavailable:
    return LedgerUnavailable(f"The usage ledger {problem}; no call is recorded in it.", fix=fix, path=path)


def inspect(path: Path) -> None:
    """Raise `LedgerUnavailable` unless `path` is absent, empty, or a ledger this code can use.
    Reads only; never changes the file."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as error:
        raise _refuse(path, f"cannot be read ({error.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise _refuse(path, f"is {kind}")
    if info.st_size == 0:
        return
    # A read-only connection to a WAL file creates its -wal/-shm files; a file we refuse must be
    # left as it was, so those are removed again (only the ones this inspection made).
    companions = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
    existed = {companion for companion in companions if companion.exists()}
    try:
        _check_contents(path)
    except LedgerUnavailable:
        for companion in companions:
            if companion not in existed:
                with contextlib.suppress(OSError):
                    companion.unlink()
        raise


def _check_contents(path: Path) -> None:
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as error:
        raise _refuse(path, f"cannot be opened ({error})") from None
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        columns = {row[1] for row in conn.execute("PRAGMA table_info(calls)")} if "calls" in tables else set()
    except sqlite3.DatabaseError as error:
        raise _refuse(path, f"is not a SQLite database clawdbot_nb can read ({error})") from None
    finally:
        conn.close()
    if version > SCHEMA_VERSION:
        raise _refuse(
            path,
            f"has schema version {version}; this clawdbot_nb reads up to {SCHEMA_VERSION}",
            fix="upgrade clawdbot_nb, or pass ledger=<another path>",
        )
    if version == 0 and tables:
        raise _refuse(path, f"is another program's database (tables: {', '.join(sorted(tables))})")
    if version > 0 and ({"calls", "labels"} - tables or _CORE_COLUMNS - columns):
        raise _refuse(path, "is missing tables or columns of the ledger schema (a damaged or foreign file)")


def make_private_dirs(directory: Path) -> None:
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
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    # IMMEDIATE takes the write lock first, so two kernels opening a new file do not both
    # create the tables; the version is re-read under the lock.
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise _refuse(
                path,
                f"has schema version {version}; this clawdbot_nb reads up to {SCHEMA_VERSION}",
                fix="upgrade clawdbot_nb, or pass ledger=<another path>",
            )
        if version < SCHEMA_VERSION:
            for step in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[step]:
                    conn.execute(statement)
            # For people reading the file with the sqlite3 shell: the calls with their text.
            conn.execute("DROP VIEW IF EXISTS calls_view")
            conn.execute(_view_sql())
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def open_ledger_file(path: Path) -> sqlite3.Connection:
    """A connection to our ledger at `path` (created 0600 if absent), in WAL mode and migrated."""
    inspect(path)
    make_private_dirs(path.parent)
    # Create the file 0600 ourselves: SQLite would use 0644, and it gives the -wal and -shm
    # files the database file's mode.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _enable_wal(conn)
        # WAL + NORMAL survives a killed process (the OS has every committed page); only a power
        # cut can lose the last appends.
        conn.execute("PRAGMA synchronous = NORMAL")
        _migrate(conn, path)
    except BaseException as exc:
        conn.close()
        if isinstance(exc, ClawdbotError) or not isinstance(exc, sqlite3.DatabaseError):
            raise
        busy = isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)
        raise LedgerUnavailable(
            f"The usage ledger cannot be opened: {exc}.",
            fix="another process holds it locked; try again" if busy else MOVE_ASIDE,
            path=path,
        ) from exc
    return conn
