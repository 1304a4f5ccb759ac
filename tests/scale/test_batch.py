"""`Workspace.batch`: rows through the Message Batches API — split under the limits, polled with
the virtual clock, collected by custom_id at the batch discount, and picked up after a restart."""

from __future__ import annotations

import json

import pytest

from clawdbot_nb import sim
from clawdbot_nb.api.batches import split_requests
from clawdbot_nb.api.pricing import compute_cost
from clawdbot_nb.api.workspace import Workspace
from tests.scale.conftest import INSTRUCTIONS

ROWS = [f"Ticket {n}: where is my parcel?" for n in range(25)]


def creates(simulator: sim.Simulator) -> int:
    return len(simulator.requests.filter(method="POST", path="/v1/messages/batches", status=200))


def test_requests_are_split_under_both_limits() -> None:
    requests = [{"custom_id": f"r{n}", "params": {"text": "x" * 100}} for n in range(7)]
    chunks, too_large = split_requests(requests, max_requests=3)
    assert [len(c) for c in chunks] == [3, 3, 1] and too_large == []
    size = len(json.dumps(requests[0], separators=(",", ":"))) + 1
    chunks, _ = split_requests(requests, max_bytes=16 + 2 * size)
    assert [len(c) for c in chunks] == [2, 2, 2, 1]
    huge = {"custom_id": "big", "params": {"text": "y" * 5000}}
    chunks, too_large = split_requests([*requests[:2], huge], max_bytes=1000)
    assert too_large == [huge] and [len(c) for c in chunks] == [2]


@pytest.fixture
def slow_batches(agent) -> sim.Simulator:
    return sim.Simulator(batch_processing_seconds=600)


def test_a_batch_job_is_split_polled_and_collected_at_half_price(make_workspace, slow_batches) -> None:
    workspace = make_workspace(simulator=slow_batches)
    started = slow_batches.clock.now()
    frame = workspace.batch(
        ROWS, "Sort: {item}", system=INSTRUCTIONS, max_requests=10, poll_every="1m", progress=False
    )
    assert list(frame["status"]) == ["succeeded"] * len(ROWS)
    assert creates(slow_batches) == 3  # 24 rows after the warm-up: 10 + 10 + 4
    assert frame["batch_id"].nunique() == 3 and frame["batch_id"].isna().sum() == 1
    assert slow_batches.clock.now() - started >= 600  # polled until the batches ended
    # Results came back out of order; each row still got its own reply.
    for prompt, text in zip(ROWS, frame["text"]):
        assert text.startswith(f'Simulated reply to: "Sort: {prompt}"')
    # The warm-up wrote the prefix at 1h; every batch row read it, billed at the batch discount.
    warm_up, batched = frame.iloc[0], frame.iloc[1:]
    assert warm_up["verdict"] == "write" and warm_up["cache_write_1h_tokens"] > 512
    assert (batched["verdict"] == "hit").all()
    assert (batched["cache_read_tokens"] == warm_up["cache_write_1h_tokens"]).all()
    row = workspace.ledger.rows(job=frame.attrs["job"])[-1]
    standard = compute_cost(row.model, row.usage).cost_usd
    assert row.batch_id is not None and row.cost_usd == pytest.approx(standard / 2)
    submitted = slow_batches.requests.filter(method="POST", path="/v1/messages/batches")[0]
    assert submitted.status == 200
    report = frame.attrs["report"]
    assert report.batches == 3 and report.succeeded == 25 and report.calls == 1


def test_a_restarted_kernel_picks_the_batch_up_from_the_ledger(make_workspace, slow_batches, agent) -> None:
    workspace = make_workspace(simulator=slow_batches)
    frame = workspace.batch(ROWS, "Sort: {item}", system=INSTRUCTIONS, wait=False, progress=False)
    job = frame.attrs["job"]
    assert list(frame["status"]).count("processing") == 24 and creates(slow_batches) == 1
    workspace.close()

    # A new kernel: a new workspace on the same state dir.
    restarted = Workspace.simulated(slow_batches, agent=agent, virtual_time=True)
    try:
        again = restarted.batch(ROWS, "Sort: {item}", system=INSTRUCTIONS, wait=False, progress=False)
        assert creates(slow_batches) == 1, "nothing submitted twice"
        assert again.attrs["job"] == job and list(again["status"]).count("processing") == 24
        collected = restarted.batch_results(job, poll_every="5m", progress=False)
        assert list(collected["status"]) == ["succeeded"] * len(ROWS)
        assert list(collected.index) == list(range(len(ROWS)))
        assert collected["text"].iloc[3].startswith(f'Simulated reply to: "Sort: {ROWS[3]}"')
        # Collecting again records nothing twice.
        restarted.batch_results(job, progress=False)
        calls = restarted.ledger.rows(job=job)
        assert len(calls) == len(ROWS) and len({c.row_key for c in calls}) == len(ROWS)
    finally:
        restarted.close()


def test_canceled_and_expired_rows_are_reported_and_sent_again_next_time(
    make_workspace, slow_batches
) -> None:
    workspace = make_workspace(simulator=slow_batches)
    frame = workspace.batch(ROWS[:6], system=INSTRUCTIONS, warm=False, wait=False, progress=False)
    [batch_id] = set(frame["batch_id"])
    client = workspace.clients.get(workspace.candidates(workspace.request("x"))[0])
    client.messages.batches.cancel(batch_id)
    canceled = workspace.batch_results(frame.attrs["job"], progress=False)
    assert set(canceled["status"]) == {"canceled"} and canceled["error"].str.contains("canceled").all()

    slow_batches.batches.processing_seconds = 30 * 3600  # not processed within its 24 hours
    expired_job = workspace.batch(ROWS[6:9], system=INSTRUCTIONS, warm=False, wait=False, progress=False)
    slow_batches.clock.advance("25h")
    slow_batches.batches.processing_seconds = 600
    expired = workspace.batch_results(expired_job.attrs["job"], progress=False)
    assert set(expired["status"]) == {"expired"}

    retried = workspace.batch(ROWS[:6], system=INSTRUCTIONS, warm=False, poll_every="10m", progress=False)
    assert set(retried["status"]) == {"succeeded"} and creates(slow_batches) == 3
    assert retried["batch_id"].nunique() == 1 and batch_id not in set(retried["batch_id"])


def test_errored_requests_are_reported_per_row(make_workspace, simulator) -> None:
    workspace = make_workspace()
    frame = workspace.batch(ROWS[:3], system=INSTRUCTIONS, temperature=0.2, progress=False)
    assert set(frame["status"]) == {"errored"}
    assert frame["error"].str.contains("temperature: Extra inputs are not permitted").all()
    assert frame.attrs["report"].failed == 3


def test_batch_results_of_an_unknown_job_says_so(make_workspace) -> None:
    from clawdbot_nb.errors import UsageError

    with pytest.raises(UsageError, match="There is no job 'batch-nope'"):
        make_workspace().batch_results("batch-nope")
