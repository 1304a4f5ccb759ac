"""The TTL bench's cost model and oracle (bench/cache_cost_model.py), which other benches reuse:
the oracle is optimal, and the model's per-call usage and cost are the simulator's and the
ledger's."""

from __future__ import annotations

import importlib
import itertools
import sys
from pathlib import Path

import pytest

from clawdbot_nb.api.pricing import UsageCounts, compute_cost

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def cost_model():
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    return importlib.import_module("cache_cost_model")


@pytest.fixture(scope="module")
def bench_ttl(cost_model):
    return importlib.import_module("bench_ttl")


def _short_sessions(cost_model, calls: int):
    for family in (*cost_model.FAMILIES, "any"):
        for session in cost_model.sessions(family, 5_000, 6, seed=3):
            yield cost_model.Session(family, session.index, 5_000, session.calls[:calls])


@pytest.mark.parametrize("last_turn_mark", [True, False])
def test_the_oracle_is_the_cheapest_of_every_ttl_sequence(cost_model, last_turn_mark) -> None:
    model = cost_model.CostModel(last_turn_mark=last_turn_mark)
    for session in _short_sessions(cost_model, calls=8):
        best, choices = model.oracle(session)
        brute = min(
            model.replay(session, list(ttls))[0]
            for ttls in itertools.product(cost_model.TTLS, repeat=len(session.calls))
        )
        assert best == pytest.approx(brute, rel=1e-12)
        assert model.replay(session, choices)[0] == pytest.approx(best, rel=1e-12)


def test_the_oracle_never_costs_more_than_a_fixed_ttl(cost_model) -> None:
    model = cost_model.CostModel()
    for family in cost_model.FAMILIES:
        for session in cost_model.sessions(family, 20_000, 10):
            best = model.oracle(session)[0]
            for ttl in cost_model.TTLS:
                assert best <= model.replay(session, [ttl] * len(session.calls))[0] + 1e-12


@pytest.mark.parametrize("model_id", ["claude-sonnet-5-5", "claude-haiku-5-5", "claude-fable-5-1"])
def test_the_models_prices_are_the_ledgers(cost_model, model_id) -> None:
    model = cost_model.CostModel(model_id)
    for usage in (
        UsageCounts(4, 300, 100_000, 0, 80),  # over Haiku 5.5's 100K band
        UsageCounts(60, 250, 0, 5_000, 0),
        UsageCounts(4, 10, 0, 0, 20_000),
    ):
        assert model.cost(usage) == pytest.approx(compute_cost(model_id, usage).cost_usd, rel=1e-12)


def test_the_model_is_what_the_simulator_and_the_ledger_say(cost_model, bench_ttl, agent, tmp_path) -> None:
    """Gaps around 5 min and 1 h, re-runs, and both TTLs, sent through a real Workspace."""
    Call = cost_model.Call
    calls = (
        Call(0, 30, 40, False),
        Call(200, 30, 25, True),  # a re-run within 5 min: its whole prompt is read
        Call(299, 50, 30, False),
        Call(301, 50, 30, True),  # just past 5 min: a 1h turn entry, a 5m system one
        Call(1500, 8, 9, False),
        Call(3599, 8, 12, True),
        Call(3600, 15, 10, False),  # exactly at the hour: gone
        Call(40, 15, 7, False),
    )
    session = cost_model.Session("crafted", 0, 5_000, calls)
    model = cost_model.CostModel()
    ttls = ["5m", "1h", "1h", "5m", "5m", "1h", "1h", "5m"]
    predicted, _ = model.replay(session, ttls)
    ledger, matched, applied = bench_ttl.replay_through_workspace(model, session, ttls, tmp_path / "crafted")
    assert matched == len(calls) and applied == ttls
    assert ledger == pytest.approx(predicted, rel=1e-9)


def test_the_workspaces_auto_is_the_policy_the_bench_measures(cost_model, bench_ttl, agent, tmp_path) -> None:
    """ttl="auto" through the workspace's cache watch picks what the bench's copy picks."""
    model = cost_model.CostModel()
    for family, index in (("mixed", 1), ("bursts", 2), ("sparse", 0)):
        session = cost_model.sessions(family, 5_000, index + 1)[index]
        expected = cost_model.run_policy(
            model, session, bench_ttl.auto_policy(model, bench_ttl.UseHistory())
        )[1]
        ledger, matched, applied = bench_ttl.replay_through_workspace(model, session, None, tmp_path / family)
        assert applied == expected and matched == len(session.calls)
        assert ledger == pytest.approx(model.replay(session, expected)[0], rel=1e-9)


@pytest.mark.parametrize("model_id", ["claude-sonnet-4-6", "claude-sonnet-5-5"])
def test_the_models_sizes_are_the_simulators_tokens(cost_model, model_id) -> None:
    """A session's sizes are the simulator's counts of the texts its replay sends."""
    from clawdbot_nb.sim import model_facts
    from clawdbot_nb.sim.bpe import count_text
    from clawdbot_nb.sim.positions import request_positions

    model = cost_model.CostModel(model_id)
    factor = model_facts.lookup(model_id).tokenizer_factor
    session = cost_model.sessions("mixed", 20_000, 2)[1]
    system, users = model.counts(session)
    questions = model.question_texts(session)
    assert abs(system - 20_000) <= factor  # the prefix is 20,000 tokens as the simulator counts it
    for call, question, user in zip(session.calls, questions, users, strict=True):
        assert count_text(question) == call.question_tokens
        sent = model.request(model.system_text(session), question, call.output_tokens)
        assert [p.tokens for p in request_positions(sent, factor)] == [system, user]
