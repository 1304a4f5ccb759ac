"""Conversations kept with the ledger: across a kernel restart, between two kernels, with no
secret written, in memory without a ledger, and a damaged or foreign file handled clearly."""

from __future__ import annotations

import sqlite3
import warnings

import pytest

from clawdbot_nb.api.conversation_store import ConversationStore
from clawdbot_nb.api.ledger import SCHEMA_VERSION, Ledger, ledger_path
from clawdbot_nb.api.ledger.schema import MIGRATIONS
from clawdbot_nb.errors import ClawdbotError
from tests.chat.conftest import DOCUMENT, sent_texts


def test_a_conversation_survives_a_kernel_restart(make_workspace, simulator) -> None:
    before = make_workspace()
    chat = before.chat("review", system=DOCUMENT)
    first = chat.ask("Which clauses limit liability?", cell="cell-1")
    second = chat.ask("Which are unusual?", cell="cell-2")
    before.close()

    after = make_workspace()  # a new kernel: same state dir, same ledger file
    chat = after.chat("review", system=DOCUMENT)
    assert [(t.number, t.prompt, t.reply, t.cell) for t in chat.turns] == [
        (1, "Which clauses limit liability?", first.text, "cell-1"),
        (2, "Which are unusual?", second.text, "cell-2"),
    ]
    third = chat.ask("Summarise.", cell="cell-3")
    assert third.chat.number == 3 and len(sent_texts(third)) == 5
    # The simulator still holds the entries: the whole history is read back.
    assert third.usage.cache_read_tokens == second.usage.cache_read_tokens + second.usage.cache_write_tokens
    # A cell of the earlier kernel, run again in this one, replaces its turn.
    again = chat.ask("Which are unusual, and why?", cell="cell-2")
    assert again.chat.replaced == (2, 3) and len(chat.turns) == 2


def test_two_kernels_share_it_and_the_later_turn_says_it_changed_meanwhile(make_workspace) -> None:
    one, two = make_workspace(), make_workspace()
    one.chat("shared").ask("From kernel one")
    assert [t.prompt for t in two.chat("shared").turns] == ["From kernel one"]
    two.chat("shared").ask("From kernel two")
    assert [t.prompt for t in one.chat("shared").turns] == ["From kernel one", "From kernel two"]

    # Both send a turn after the same view: the later one answered a history without the other's.
    chat_one, chat_two = one.chat("shared"), two.chat("shared")
    call, pending = chat_two._prepare("Kernel two again", None, {})
    chat_one.ask("Kernel one again")
    reply = chat_two._finish(two.ask("Kernel two again", **call), pending)
    assert reply.chat.changed_meanwhile and "changed meanwhile by another kernel" in reply.footer()
    assert [t.prompt for t in one.chat("shared").turns] == [
        "From kernel one",
        "From kernel two",
        "Kernel two again",
    ]


def test_no_secret_is_written_and_the_next_turn_sends_it_masked(workspace, agent) -> None:
    key = "sk-ant-api03-" + "S3CR3T" * 14 + "WXYZ"
    chat = workspace.chat("review", system=DOCUMENT)
    reply = chat.ask(f"Is {key} a valid key?")
    assert key in reply.plan.params["messages"][-1]["content"][0]["text"]  # sent as typed, once
    workspace.close()
    path = ledger_path(agent.state_dir)
    stored = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert b"S3CR3TS3CR3T" not in stored
    with ConversationStore(path) as store:
        (turn,) = store.load(agent.agent_id, "review").turns
    assert turn.prompt == "Is sk-ant-api03-…WXYZ a valid key?"


def test_without_a_ledger_conversations_live_in_memory(make_workspace) -> None:
    workspace = make_workspace(ledger=False)
    chat = workspace.chat("review", system=DOCUMENT)
    chat.ask("One?")
    assert chat.ask("Two?").chat.number == 2
    assert make_workspace(ledger=False).chat("review").turns == ()


def test_a_foreign_ledger_file_keeps_conversations_in_memory_and_is_left_alone(make_workspace, agent) -> None:
    path = ledger_path(agent.state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a database at all " * 50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        workspace = make_workspace()
        chat = workspace.chat("review", system=DOCUMENT)
        assert chat.ask("One?").chat.number == 1 and chat.ask("Two?").chat.number == 2
    assert path.read_bytes() == b"not a database at all " * 50


def test_a_damaged_turn_is_named_with_the_fix(workspace, agent) -> None:
    workspace.chat("review", system=DOCUMENT).ask("One?")
    path = ledger_path(agent.state_dir)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE conversation_turns SET prompt = '{not json'")
    conn.close()
    with pytest.raises(ClawdbotError) as caught:
        workspace.chat("review").ask("Two?")
    message = str(caught.value)
    assert "Conversation 'review'" in message and str(path) in message and "prompt is not JSON" in message
    assert "reset()" in message  # the fix, in Python's words


def test_an_older_ledger_is_migrated_and_keeps_its_calls(agent) -> None:
    path = ledger_path(agent.state_dir)
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as conn:
        for step in MIGRATIONS[: SCHEMA_VERSION - 1]:
            for statement in step:
                conn.execute(statement)
        conn.execute("INSERT INTO calls (time_ms) VALUES (1000)")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    conn.close()
    with Ledger(path) as ledger:
        assert len(ledger) == 1 and ledger.rows()[0].conversation is None
    with ConversationStore(path) as store:
        assert store.summaries() == []
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()
