"""Prefix sizes as the API counts them (api/token_counts.py): the cache watch, its table and the
what-if replays use the simulator's own counts where a reply stated them, not the client's
estimate (which the simulator's BPE vocabulary puts a few percent, on code up to a third, off)."""

from __future__ import annotations

import pytest

from clawdbot_nb import sim
from clawdbot_nb.api.cache_prints import fingerprint
from clawdbot_nb.api.pricing import UsageCounts
from clawdbot_nb.api.token_counts import anchored, locate, usage_points
from clawdbot_nb.api.what_if import RecordedCall, replay
from clawdbot_nb.api.workspace import Workspace
from tests.cache.conftest import watch_of

# -- the pure rules ---------------------------------------------------------------------------


def test_exact_points_hold_and_the_estimate_shares_the_gaps_between_them() -> None:
    estimates = [100, 200, 300, 400]
    counts, total = anchored(estimates, {1: 150}, estimated_total=500, total=650)
    assert counts[1] == 150 and total == 650
    assert counts[0] == 75  # half of the way to the first exact point, as the estimate says
    assert counts[2] == 150 + round((300 - 200) / (500 - 200) * (650 - 150))
    assert counts == sorted(counts)


def test_past_the_last_exact_point_the_estimate_grows_at_its_ratio() -> None:
    counts, total = anchored([100, 200, 300], {1: 300}, estimated_total=400)
    assert counts == [150, 300, 450] and total == 600
    assert anchored([100, 200], {}, estimated_total=250) == ([100, 200], 250)


def test_points_that_contradict_the_prefix_order_are_dropped() -> None:
    counts, _ = anchored([100, 200, 300], {0: 500, 2: 400}, estimated_total=300)
    assert counts[0] == 500 and counts == sorted(counts)  # 400 after 500 cannot be
    counts, _ = anchored([100, 200], {1: 900}, estimated_total=300, total=450)
    assert counts[1] <= 450  # more than the whole prompt cannot be


def test_a_sum_ends_where_a_known_prefix_holds_exactly_that_many() -> None:
    counts = [100, 210, 290, 400]
    assert locate(300, [1, 2, 3], counts, {}) == 2
    assert locate(300, [1, 2, 3], counts, {1: 300}) == 1  # known exactly beats nearest
    assert locate(250, [1, 2], [100, 200, 300], {}) == 2  # a tie: the deeper one
    assert locate(0, [1, 2], counts, {}) == -1 and locate(5, [], counts, {}) == -1


def test_what_a_replys_usage_states() -> None:
    assert usage_points(-1, [], UsageCounts(10, 5, 0, 0, 0)) == {}
    assert usage_points(2, [], UsageCounts(10, 5, 900, 0, 0)) == {2: 900}
    assert usage_points(2, [(4, "5m")], UsageCounts(10, 5, 900, 60, 0)) == {2: 900, 4: 960}
    mixed = usage_points(-1, [(1, "1h"), (3, "5m")], UsageCounts(10, 5, 0, 200, 1200))
    assert mixed == {1: 1200, 3: 1400}


# -- through the simulator ------------------------------------------------------------------------

#: Code estimates worst of all (the tokenizer's own bound says so): a system prompt of it.
CODE_SYSTEM = "".join(
    f"def handler_{i}(request, *, retries={i % 5}):\n    return dispatch(request.path, retries)  # {i}\n"
    for i in range(120)
)


def test_the_cache_table_shows_the_apis_sizes(workspace, simulator) -> None:
    first = workspace.ask("What does handler_3 do?", system=CODE_SYSTEM, max_tokens=20)
    simulator.clock.advance("30s")
    second = workspace.ask("And handler_4?", system=CODE_SYSTEM, max_tokens=20)
    written = first.usage.cache_write_tokens
    assert written > 0 and second.usage.cache_read_tokens == written
    [entry] = watch_of(workspace).entries()
    assert entry.tokens == written  # the simulator's count, not the estimate
    assert watch_of(workspace).history()[0].print.cumulative(entry.position) == written
    estimate = fingerprint(first.plan.params, b"key").cumulative(entry.position)
    assert estimate != written  # what the table would show from the estimate alone


def test_a_conversations_turn_entries_have_the_apis_sizes(workspace, simulator) -> None:
    chat = workspace.chat("sizes", system=CODE_SYSTEM)
    replies = []
    for question in ("Which handlers retry?", "And which do not?", "Sum up in a line."):
        replies.append(chat.ask(question, max_tokens=30))
        simulator.clock.advance("20s")
    last = replies[-1]
    assert last.usage.cache_read_tokens > 0 and last.usage.cache_write_tokens > 0
    deepest = max(watch_of(workspace).entries(), key=lambda e: e.position)
    assert deepest.tokens == last.usage.cache_read_tokens + last.usage.cache_write_tokens
    for reply, before in zip(replies[1:], replies, strict=False):
        # Each turn reads what the turn before it wrote, to the token.
        assert (
            reply.usage.cache_read_tokens == before.usage.cache_read_tokens + before.usage.cache_write_tokens
        )


#: A conversation with pauses around 5 min and an hour.
GAPS = ("0s", "1m", "6m", "2m", "40m", "30s", "3m", "70m", "1m")


def _converse(workspace: Workspace, simulator: sim.Simulator, ttls: list[str]) -> list:
    chat = workspace.chat("replayed", system=CODE_SYSTEM)
    replies = []
    for number, (gap, ttl) in enumerate(zip(GAPS, ttls, strict=True)):
        simulator.clock.advance(gap)
        replies.append(
            chat.ask(f"Question {number}: what does handler_{number} return?", ttl=ttl, max_tokens=25)
        )
    return replies


def test_a_conversation_replayed_as_sent_costs_what_was_paid(workspace, simulator) -> None:
    paid = sum(r.cost.cost_usd for r in _converse(workspace, simulator, ["5m"] * len(GAPS)))
    calls = [RecordedCall.from_row(row) for row in watch_of(workspace).recorded_calls()]
    assert sum(r.cost_usd for r in replay(calls, "as sent")) == pytest.approx(paid, rel=1e-12)
    assert sum(r.cost_usd for r in replay(calls, "always-5m")) == pytest.approx(paid, rel=1e-12)


@pytest.mark.parametrize("policy", ["always-1h", "auto"])
def test_a_conversation_replayed_under_another_policy_costs_what_the_simulator_charges(
    workspace, simulator, agent, policy
) -> None:
    _converse(workspace, simulator, ["5m"] * len(GAPS))
    calls = [RecordedCall.from_row(row) for row in watch_of(workspace).recorded_calls()]
    replayed = replay(calls, policy)
    fresh = sim.Simulator()
    with Workspace.simulated(fresh, agent=agent, ledger=False) as again:
        truth = sum(r.cost.cost_usd for r in _converse(again, fresh, [r.ttl for r in replayed]))
    # Every size this replay needs (the system prompt, each turn's end) was stated by some
    # reply, so the replay is exact; with the estimate scaled to each prompt it was 0.07 % off.
    assert sum(r.cost_usd for r in replayed) == pytest.approx(truth, rel=1e-12)
