"""The conversation bench's model (bench/conversation_cost_model.py): its oracle is the cheapest
TTL sequence, and its per-turn usage is what the simulator charges through `Workspace.chat` (the
planner's placement) and through the SDK (claudette's)."""

from __future__ import annotations

import importlib
import itertools
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def chat_model():
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    return importlib.import_module("conversation_cost_model")


@pytest.fixture(scope="module")
def bench_chat(chat_model):
    return importlib.import_module("bench_chat")


def _short(chat_model, family: str, turns: int, index: int = 1):
    session = chat_model.make_session(family, index, 5_000, seed=3)
    return chat_model.ChatSession(family, index, 5_000, session.turns[:turns])


@pytest.mark.parametrize("family", ["quick", "paced", "sparse", "long turns", "restarts"])
def test_the_oracle_is_the_cheapest_of_every_ttl_sequence(chat_model, family) -> None:
    model = chat_model.ConversationModel(chat_model.Planner())
    session = _short(chat_model, family, turns=7)
    layouts = model.placement.layouts(session)
    every = min(
        model.replay(session, list(c), layouts)[0] for c in itertools.product(chat_model.TTLS, repeat=7)
    )
    oracle, choices = model.oracle(session, layouts)
    assert oracle == pytest.approx(every, rel=1e-12)
    assert model.replay(session, choices, layouts)[0] == pytest.approx(oracle, rel=1e-12)


def test_the_planners_turns_are_what_the_simulator_charges(chat_model, bench_chat, tmp_path) -> None:
    """Long turns (past the lookback), pauses around 5 min and 1 h, both TTLs and a new chat."""
    Turn = chat_model.ChatTurn
    turns = (
        Turn(0, 30, 40),
        Turn(40, 12, 30, note_blocks=24),  # the previous turn is marked too
        Turn(299, 20, 25),
        Turn(301, 8, 20),  # just past 5 min
        Turn(1500, 50, 15, note_blocks=24),
        Turn(3600, 10, 12),  # exactly at the hour: gone
        Turn(60, 10, 12, new_chat=True),  # the same document, a new conversation
        Turn(30, 10, 12),
    )
    session = chat_model.ChatSession("crafted", 0, 5_000, turns)
    model = chat_model.ConversationModel(chat_model.Planner())
    ttls = ["5m", "1h", "5m", "1h", "1h", "5m", "5m", "1h"]
    measured, matched = bench_chat.replay_chat(model, session, ttls, tmp_path / "ledger.sqlite")
    assert matched == len(turns)
    assert measured == pytest.approx(model.replay(session, ttls)[0], rel=1e-9)


def test_claudettes_requests_are_what_the_simulator_charges(chat_model, bench_chat) -> None:
    session = _short(chat_model, "long turns", turns=6)
    model = chat_model.ConversationModel(chat_model.Claudette())
    measured, matched = bench_chat.replay_claudette(model, session)
    assert matched == 6
    assert measured == pytest.approx(model.replay(session, ["5m"] * 6)[0], rel=1e-9)
