"""Conversations from Python against the simulator: turns, history, cache hits, re-runs, the
ledger's names, async and streamed twins, bad input."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from clawdbot_nb.errors import UsageError
from tests.chat.conftest import DOCUMENT, sent_texts


def test_each_turn_sends_the_earlier_ones_and_reads_them_from_the_cache(workspace) -> None:
    chat = workspace.chat("review", system=DOCUMENT)
    replies = [chat.ask(q) for q in ("Which clauses limit liability?", "Which are unusual?", "Summarise.")]
    assert [r.verdict for r in replies] == ["write", "hit+write", "hit+write"]
    # The cookbook's identity: each turn reads what the previous read and wrote.
    for before, after in itertools.pairwise(replies):
        assert (
            after.usage.cache_read_tokens == before.usage.cache_read_tokens + before.usage.cache_write_tokens
        )
    assert sent_texts(replies[2])[:4] == [
        ("user", "Which clauses limit liability?"),
        ("assistant", replies[0].text),
        ("user", "Which are unusual?"),
        ("assistant", replies[1].text),
    ]
    assert [b.where for b in replies[2].plan.breakpoints] == ["system", "last user turn"]
    assert 'marked system + turn (conversation) · chat "review" turn 3' in replies[2].footer()
    assert 'turn (kept for next turn) · chat "review" turn 1' in replies[0].footer()
    assert [t.number for t in chat.turns] == [1, 2, 3]
    assert chat.history[-1] == {"role": "assistant", "content": replies[2].text}


def test_the_ledger_rows_of_its_turns_carry_its_name(workspace) -> None:
    chat = workspace.chat("review", system=DOCUMENT)
    chat.ask("One?")
    workspace.ask("A one-shot question", system=DOCUMENT)
    chat.ask("Two?")
    frame = workspace.usage()
    assert [None if c != c else c for c in frame["conversation"]] == ["review", None, "review"]
    assert len(chat.usage()) == 2 and chat.usage()["cost_usd"].sum() > 0
    summary = workspace.usage_summary("conversation")
    assert summary.loc["review", "calls"] == 2


def test_a_cell_run_again_replaces_its_turn_and_drops_the_later_ones(workspace) -> None:
    chat = workspace.chat("review", system=DOCUMENT)
    first = chat.ask("Question A", cell="cell-a")
    chat.ask("Question B", cell="cell-b")
    chat.ask("Question C", cell="cell-c")
    again = chat.ask("Question B, edited", cell="cell-b")
    assert [t.prompt for t in chat.turns] == ["Question A", "Question B, edited"]
    assert sent_texts(again) == [
        ("user", "Question A"),
        ("assistant", first.text),
        ("user", "Question B, edited"),
    ]
    # The turns before it are a cached prefix: everything up to turn 1 is read.
    assert again.verdict == "hit+write"
    assert again.usage.cache_read_tokens == first.usage.cache_write_tokens
    assert 'chat "review" turn 2 re-run, turn 3 dropped' in again.footer()
    assert again.chat.replaced == (2, 3)
    # The last turn run again: nothing after it to drop.
    last = chat.ask("Question B, once more", cell="cell-b")
    assert str(last.chat) == 'chat "review" turn 2 re-run' and len(chat.turns) == 2
    # Running the first cell again starts over from it.
    restart = chat.ask("Question A again", cell="cell-a")
    assert len(chat.turns) == 1 and "turn 1 re-run, turn 2 dropped" in restart.footer()


def test_a_failed_turn_changes_nothing_and_is_in_the_ledger(workspace, simulator) -> None:
    chat = workspace.chat("review", system=DOCUMENT)
    chat.ask("One?")
    simulator.faults.next(status=400, times=1)
    with pytest.raises(Exception, match="400"):
        chat.ask("Two?")
    assert [t.prompt for t in chat.turns] == ["One?"]
    row = workspace.usage().iloc[-1]
    assert row["conversation"] == "review" and "400" in row["error"]
    assert chat.ask("Two, again?").chat.number == 2


def test_reset_starts_over_and_usage_counts_from_there(workspace) -> None:
    chat = workspace.chat("review", system=DOCUMENT)
    chat.ask("One?")
    chat.ask("Two?")
    chat.reset()
    assert chat.turns == () and chat.history == []
    reply = chat.ask("A fresh start")
    assert reply.chat.number == 1 and sent_texts(reply) == [("user", "A fresh start")]
    assert len(chat.usage()) == 1


def test_a_reset_in_the_millisecond_of_the_last_call_leaves_that_call_out(workspace, monkeypatch) -> None:
    """Ledger rows are stamped to the millisecond: a reset within the one that stamped the last
    call (a fast machine does it) must not count that call as after it."""
    from clawdbot_nb.api import conversation_store

    chat = workspace.chat("review", system=DOCUMENT)
    chat.ask("One?")
    stamped = workspace.ledger.rows()[-1].time_ms
    real = conversation_store._now_ms
    ticks = iter([stamped])
    monkeypatch.setattr(conversation_store, "_now_ms", lambda: next(ticks, None) or real())
    chat.reset()
    chat.ask("After the reset")
    assert len(chat.usage()) == 1


def test_the_default_name_and_options_for_every_turn(workspace) -> None:
    chat = workspace.chat(system=DOCUMENT, ttl="1h", max_tokens=50)
    reply = chat.ask("Hello")
    assert chat.name == "default" and reply.plan.ttl_applied == "1h"
    assert reply.usage.cache_write_1h_tokens > 1000 and reply.plan.params["max_tokens"] == 50
    # A turn's own option wins over the conversation's.
    assert chat.ask("Quick", ttl="5m").plan.ttl_applied == "5m"
    assert workspace.chat("default").turns == chat.turns  # the same conversation


def test_conversations_of_one_agent_are_apart_by_name(workspace) -> None:
    workspace.chat("one").ask("In one")
    workspace.chat("two").ask("In two")
    assert [t.prompt for t in workspace.chat("one").turns] == ["In one"]
    assert [t.prompt for t in workspace.chat("two").turns] == ["In two"]


def test_stream_and_the_async_twins_keep_their_turns(workspace) -> None:
    chat = workspace.chat("review", system=DOCUMENT)
    stream = chat.stream("Streamed?")
    text = "".join(stream)
    assert stream.reply.text == text and stream.reply.chat.number == 1

    async def scenario():
        first = await chat.aask("Async?")
        streamed = chat.astream("Async streamed?")
        chunks = "".join([chunk async for chunk in streamed])
        return first, streamed, chunks

    first, streamed, chunks = asyncio.run(scenario())
    assert first.chat.number == 2 and first.verdict == "hit+write"
    assert streamed.reply.chat.number == 3 and streamed.reply.text == chunks
    assert [t.prompt for t in chat.turns] == ["Streamed?", "Async?", "Async streamed?"]


def test_long_turns_keep_reading_past_the_20_block_lookback(workspace) -> None:
    chat = workspace.chat("notes", system=DOCUMENT)
    reads = []
    for turn in range(3):
        blocks = [{"type": "text", "text": f"Turn {turn}, note {i} on the experiment."} for i in range(24)]
        reply = chat.ask([*blocks, {"type": "text", "text": f"Question {turn}?"}])
        reads.append(reply.usage.cache_read_tokens)
        if turn:
            assert "previous turn" in [b.where for b in reply.plan.breakpoints]
            assert "(long turn)" in reply.footer()
    assert reads[0] == 0 and reads[0] < reads[1] < reads[2]


def test_bad_names_and_options_are_one_clear_line(workspace) -> None:
    for name in ("", "two\nlines", "x" * 81, 42):
        with pytest.raises(UsageError, match="conversation name"):
            workspace.chat(name)
    with pytest.raises(UsageError, match="keeps its own history"):
        workspace.chat("x", history=[])
    with pytest.raises(UsageError, match="keeps its own history"):
        workspace.chat("x").ask("q", history=[])
    with pytest.raises(UsageError, match="cache_last_turn must be True, False or None"):
        workspace.ask("q", cache_last_turn="yes")


def test_repr_shows_the_turns(workspace) -> None:
    chat = workspace.chat("review", system=DOCUMENT)
    chat.ask("What does it cost, in $?")
    assert repr(chat) == "Conversation('review', agent='main', turns=1)"
    markdown = chat._repr_markdown_()
    assert markdown.startswith('**chat "review"** — 1 turn') and "<details>" in markdown
    assert "in \\\\$?" in markdown  # a dollar shows as a dollar, not LaTeX
