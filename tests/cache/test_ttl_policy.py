"""`ttl="auto"`: the decision, its one-sentence reason, and the use history it reads."""

from __future__ import annotations

import math

import pytest

from clawdbot_nb.api import ttl_policy
from clawdbot_nb.api.ttl_policy import Evidence, PriceRatios, UseHistory, choose_ttl

STANDARD = PriceRatios(1.25, 2.0, 0.1)
MIN = 60.0


def _choose(evidence: Evidence, shared: int = 20_000, one_shot: int = 50, **kw) -> ttl_policy.TtlChoice:
    return choose_ttl(evidence, shared_tokens=shared, one_shot_tokens=one_shot, ratios=STANDARD, **kw)


def test_pauses_of_14_to_31_minutes_choose_1h_and_say_so() -> None:
    choice = _choose(Evidence(gaps=(40.0, 14 * MIN, 22 * MIN, 31 * MIN)))
    assert choice.ttl == "1h"
    assert choice.reason == "1h: your last 4 uses came 14–31 min apart"


def test_quick_iteration_chooses_5m_and_says_so() -> None:
    agent = (math.inf,) * 6  # earlier work always ended without a 5-60 min pause
    choice = _choose(Evidence(gaps=(20.0, 41.0, 55.0), agent_pauses=agent))
    assert choice.ttl == "5m" and choice.reason == "5m: your last 4 uses came 20–55 s apart"


def test_pauses_over_an_hour_choose_5m() -> None:
    choice = _choose(Evidence(gaps=(90 * MIN, 30.0, 120 * MIN), agent_pauses=(math.inf,) * 4))
    assert choice.ttl == "5m"
    assert (
        choice.reason
        == "5m: 6 of your last 6 breaks lasted over an hour, which even a 1h entry does not survive"
    )


def test_the_agents_rhythm_decides_before_this_prefix_has_one() -> None:
    choice = _choose(Evidence(agent_pauses=(8 * MIN, 12 * MIN, 40 * MIN, 25 * MIN, math.inf)))
    assert choice.ttl == "1h" and choice.reason.startswith("1h: 4 of your last 5 pauses on this agent")


def test_a_call_that_reads_the_prefix_writes_its_turn_at_5m() -> None:
    evidence = Evidence(gaps=(14 * MIN, 22 * MIN))
    choice = _choose(evidence, shared=0, cached_ttl="1h", cached_until="11:32")
    assert choice.ttl == "5m"
    assert choice.reason == "5m: the prefix is cached (1h, until 11:32); only the new turn is written"


def test_oauth_credentials_ignore_ttls_and_auto_says_so() -> None:
    choice = _choose(Evidence(gaps=(14 * MIN, 22 * MIN)), oauth=True)
    assert choice.ttl == "5m" and "ignored for OAuth/setup-token" in choice.reason


def test_the_rule_is_the_ski_rental_break_even() -> None:
    """1h when p (w5 - r) S > (1 - p)(w1 - w5) S + (w1 - w5) U; p from the counts and the prior."""
    mid, long = 3, 2
    evidence = Evidence(agent_pauses=(10 * MIN,) * mid + (math.inf,) * long)
    p = (mid + ttl_policy.PRIOR_MID) / (mid + long + ttl_policy.PRIOR_MID + ttl_policy.PRIOR_LONG)
    assert evidence.mid_pause_chance == pytest.approx(p)
    shared = 10_000
    # The one-shot tokens at which both TTLs cost the same.
    even = (p * (1.25 - 0.1) * shared - (1 - p) * 0.75 * shared) / 0.75
    assert _choose(evidence, shared=shared, one_shot=int(even) - 1).ttl == "1h"
    heavy = _choose(evidence, shared=shared, one_shot=int(even) + 1)
    assert heavy.ttl == "5m" and "new turn" in heavy.reason


def test_cheaper_reads_make_1h_pay_sooner() -> None:
    """With 0.025x reads (Fable 5.1) a rewrite costs more against a read, so a smaller chance of
    a 5-60 min pause already favours 1h: the break-even is (w1 - w5) / (w1 - r)."""
    cheap_reads = PriceRatios.for_model("claude-fable-5-1")
    assert cheap_reads == PriceRatios(1.25, 2.0, 0.025)
    evidence = Evidence(agent_pauses=(10 * MIN,) * 3 + (math.inf,) * 6)  # p = 5/13 = 0.385
    assert 0.75 / (2.0 - 0.025) < evidence.mid_pause_chance < 0.75 / (2.0 - 0.1)
    assert choose_ttl(evidence, shared_tokens=20_000, one_shot_tokens=0, ratios=STANDARD).ttl == "5m"
    assert choose_ttl(evidence, shared_tokens=20_000, one_shot_tokens=0, ratios=cheap_reads).ttl == "1h"


def test_use_history_gaps_pauses_and_ends() -> None:
    history = UseHistory()
    for at in (0.0, 30.0, 60.0, 60.0 + 20 * MIN):
        history.record("doc-a", at)
    history.record("doc-b", 5 * 3600.0)
    history.record("doc-b", 5 * 3600.0 + 40.0)
    evidence = history.evidence("doc-b", 5 * 3600.0 + 60.0)
    assert evidence.gaps == (40.0,)
    # doc-a: one 20 min pause, then it was left unused for over an hour (an end).
    assert evidence.agent_pauses == (20 * MIN, math.inf)
    own = history.evidence("doc-a", 5 * 3600.0 + 60.0)
    assert own.gaps == (30.0, 30.0, 20 * MIN) and own.agent_pauses == ()  # doc-b has not ended


def test_use_history_is_bounded() -> None:
    history = UseHistory()
    for index in range(2000):
        history.record(f"prefix-{index}", index * 4000.0)
        history.record(f"prefix-{index}", index * 4000.0 + 600.0)
    evidence = history.evidence("prefix-1999", 2000 * 4000.0)
    assert len(evidence.agent_pauses) == ttl_policy.AGENT_EVENTS
    assert len(history.uses("prefix-1999")) == 2 and history.uses("prefix-0") == ()
