"""Where conversations are kept: two tables of the usage ledger's SQLite file (`conversations`,
`conversation_turns`, created by the ledger's migrations), so they survive a kernel restart and
the agent's kernels share them. Without a ledger (`ledger=False`, or a file that is not ours)
they are kept in memory for the life of the workspace.

What is stored: each turn's prompt (JSON) and reply text, its model, request id, time, and the
cell that sent it. Never a credential; anything shaped like a key or token in a prompt or reply
is masked before it is written (`state/redaction.py`), so the next turn sends the masked text.
Every change is one short transaction; a writer waits for another instead of failing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clawdbot_nb.api.conversation import Turn
from clawdbot_nb.errors import ClawdbotError, fix_for
from clawdbot_nb.state.redaction import redact


@dataclass(frozen=True)
class ConversationState:
    turns: tuple[Turn, ...] = ()
    #: When it began or was last reset (epoch ms); 0 when it never had a turn.
    started_ms: int = 0
    #: Bumped by every change, so a turn sent with an older view can say so.
    version: int = 0


@dataclass(frozen=True)
class ConversationSummary:
    agent: str
    name: str
    turns: int
    started_ms: int
    updated_ms: int


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def masked(content: Any) -> Any:
    """`content` (a prompt or reply: text, or content blocks) with secrets masked in its text."""
    if isinstance(content, str):
        return redact(content)
    if isinstance(content, list):
        return [masked(block) for block in content]
    if isinstance(content, dict):
        out = dict(content)
        if isinstance(out.get("text"), str):
            out["text"] = redact(out["text"])
        if isinstance(out.get("content"), (str, list)):  # tool results
            out["content"] = masked(out["content"])
        return out
    return content


class MemoryConversationStore:
    """Conversations of a workspace without a ledger: gone when it closes."""

    def __init__(self) -> None:
        self._states: dict[tuple[str, str], ConversationState] = {}
        self._updated: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def load(self, agent: str, name: str) -> ConversationState:
        with self._lock:
            return self._states.get((agent, name), ConversationState())

    def put_turn(
        self, agent: str, name: str, turn: Turn, base: tuple[Turn, ...], *, expected_version: int
    ) -> bool:
        """Keep `turn` after `base` (the turns it was sent with); True when the conversation had
        changed since that view was loaded (its later turns, or another writer's, are replaced)."""
        with self._lock:
            state = self._states.get((agent, name), ConversationState())
            changed = state.version != expected_version
            kept = masked_turn(turn)
            started = state.started_ms or turn.time_ms
            self._states[(agent, name)] = ConversationState((*base, kept), started, state.version + 1)
            self._updated[(agent, name)] = turn.time_ms
            return changed

    def reset(self, agent: str, name: str) -> bool:
        with self._lock:
            state = self._states.get((agent, name))
            if state is None:
                return False
            self._states[(agent, name)] = ConversationState((), _now_ms(), state.version + 1)
            return True

    def summaries(self, agent: str | None = None) -> list[ConversationSummary]:
        with self._lock:
            items = sorted(self._states.items(), key=lambda item: self._updated.get(item[0], 0))
            return [
                ConversationSummary(a, n, len(s.turns), s.started_ms, self._updated.get((a, n), s.started_ms))
                for (a, n), s in items
                if agent is None or a == agent
            ]

    def close(self) -> None:
        pass


def masked_turn(turn: Turn) -> Turn:
    from dataclasses import replace

    return replace(turn, prompt=masked(turn.prompt), reply=masked(turn.reply))


class ConversationStore:
    """Conversations in the ledger file at `path` (opened, checked and migrated as the ledger is:
    a file that is not ours raises `LedgerUnavailable` and is left untouched)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._connection()

    def __repr__(self) -> str:
        return f"ConversationStore({str(self.path)!r})"

    def _connection(self) -> sqlite3.Connection:
        from clawdbot_nb.api.ledger.schema import open_ledger_file

        # A connection must not cross a fork; a child process opens its own.
        if self._conn is None or self._pid != os.getpid():
            self._conn, self._pid = open_ledger_file(self.path), os.getpid()
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __enter__(self) -> ConversationStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reads ---------------------------------------------------------------------------------

    def _unreadable(self, name: str, problem: str) -> ClawdbotError:
        return ClawdbotError(
            f"Conversation {name!r} in {self.path} cannot be read ({problem}).",
            fix=fix_for(
                python=f"start it again with ws.chat({name!r}).reset()",
                cli=f"clawdbot-nb chat reset {name!r}",
                magic=f"%clawdbot chat reset {name!r}",
            ),
        )

    def load(self, agent: str, name: str) -> ConversationState:
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN")
            try:
                head = conn.execute(
                    "SELECT id, started_ms, version FROM conversations WHERE agent = ? AND name = ?",
                    (agent, name),
                ).fetchone()
                rows = []
                if head is not None:
                    rows = conn.execute(
                        "SELECT position, prompt, reply, time_ms, model, request_id, cell, run, label "
                        "FROM conversation_turns WHERE conversation_id = ? ORDER BY position",
                        (head[0],),
                    ).fetchall()
            finally:
                conn.execute("COMMIT")
        if head is None:
            return ConversationState()
        turns = []
        for number, row in enumerate(rows, start=1):
            position, prompt, reply, time_ms, model, request_id, cell, run, label = row
            try:
                content = json.loads(prompt)
            except (TypeError, ValueError):
                raise self._unreadable(name, f"turn {number}'s prompt is not JSON") from None
            if position != number - 1 or not isinstance(content, (str, list)) or not isinstance(reply, str):
                raise self._unreadable(name, f"turn {number} is damaged")
            turns.append(Turn(number, content, reply, int(time_ms or 0), model, request_id, cell, run, label))
        return ConversationState(tuple(turns), int(head[1] or 0), int(head[2] or 0))

    def summaries(self, agent: str | None = None) -> list[ConversationSummary]:
        """Every conversation (of `agent`), the least recently used first."""
        where, params = ("WHERE c.agent = ?", (agent,)) if agent is not None else ("", ())
        with self._lock:
            rows = (
                self._connection()
                .execute(
                    "SELECT c.agent, c.name, "
                    "(SELECT COUNT(*) FROM conversation_turns t WHERE t.conversation_id = c.id), "
                    f"c.started_ms, c.updated_ms FROM conversations c {where} ORDER BY c.updated_ms, c.id",
                    params,
                )
                .fetchall()
            )
        return [
            ConversationSummary(str(a), str(n), int(k), int(s or 0), int(u or 0)) for a, n, k, s, u in rows
        ]

    # -- writes --------------------------------------------------------------------------------

    def _write(self, work: Any) -> Any:
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return result

    def put_turn(
        self, agent: str, name: str, turn: Turn, base: tuple[Turn, ...], *, expected_version: int
    ) -> bool:
        """Keep `turn` after `base` (the turns it was sent with), dropping what followed them;
        True when the conversation had changed since that view was loaded (then it is written
        back as `base` + `turn`: the history this reply answered)."""
        kept = masked_turn(turn)

        def work(conn: sqlite3.Connection) -> bool:
            head = conn.execute(
                "SELECT id, version FROM conversations WHERE agent = ? AND name = ?", (agent, name)
            ).fetchone()
            if head is None:
                cursor = conn.execute(
                    "INSERT INTO conversations (agent, name, started_ms, updated_ms, version) "
                    "VALUES (?, ?, ?, ?, 0)",
                    (agent, name, turn.time_ms, turn.time_ms),
                )
                head = (cursor.lastrowid, 0)
            conversation_id, version = head
            changed = int(version) != expected_version
            first = 0 if changed else len(base)
            conn.execute(
                "DELETE FROM conversation_turns WHERE conversation_id = ? AND position >= ?",
                (conversation_id, first),
            )
            records = [
                (
                    conversation_id,
                    position,
                    json.dumps(t.prompt, ensure_ascii=False),
                    t.reply,
                    t.time_ms,
                    t.model,
                    t.request_id,
                    t.cell,
                    t.run,
                    t.label,
                )
                for position, t in enumerate((*base, kept))
                if position >= first
            ]
            conn.executemany(
                "INSERT INTO conversation_turns (conversation_id, position, prompt, reply, time_ms, model, "
                "request_id, cell, run, label) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                records,
            )
            conn.execute(
                "UPDATE conversations SET version = version + 1, updated_ms = ? WHERE id = ?",
                (turn.time_ms, conversation_id),
            )
            return changed

        return self._write(work)

    def reset(self, agent: str, name: str) -> bool:
        """Forget the turns of a conversation; False when there is no such conversation.

        It starts again one millisecond after now, and returns once that time has come: ledger
        rows are stamped to the millisecond, so a call that finished in this very millisecond
        stays before the reset and every later one is after it."""
        started = _now_ms() + 1

        def work(conn: sqlite3.Connection) -> bool:
            head = conn.execute(
                "SELECT id FROM conversations WHERE agent = ? AND name = ?", (agent, name)
            ).fetchone()
            if head is None:
                return False
            conn.execute("DELETE FROM conversation_turns WHERE conversation_id = ?", (head[0],))
            conn.execute(
                "UPDATE conversations SET version = version + 1, started_ms = ?, updated_ms = ? WHERE id = ?",
                (started, started, head[0]),
            )
            return True

        done = self._write(work)
        while _now_ms() < started:
            time.sleep(0.0002)
        return done
