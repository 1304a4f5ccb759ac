"""`Workspace.map`: the cache warmed before the fan-out, a frame aligned with the input, rows
that cannot succeed reported while the rest go on, and an interrupted map resumed."""

from __future__ import annotations

import _thread

import pandas as pd
import pytest

from clawdbot_nb import sim
from clawdbot_nb.api.pricing import UsageCounts, compute_cost
from clawdbot_nb.errors import UsageError
from tests.scale.conftest import INSTRUCTIONS, answered, writes

TICKETS = [f"Ticket {n}: I was charged twice for order {1000 + n}." for n in range(24)]


def test_warming_makes_n_rows_cost_one_write_and_n_minus_one_reads(make_workspace, simulator) -> None:
    workspace = make_workspace()
    frame = workspace.map(
        TICKETS, "Sort this ticket: {item}", system=INSTRUCTIONS, concurrency=8, progress=False
    )
    assert list(frame["status"]) == ["succeeded"] * 24
    assert writes(simulator) == 1 and answered(simulator) == 24
    assert list(frame["verdict"]).count("write") == 1 and list(frame["verdict"]).count("hit") == 23
    prefix = int(frame["cache_write_5m_tokens"].max())
    assert prefix > 512 and (frame["cache_read_tokens"].fillna(0) == prefix).sum() == 23
    # Only the shared prefix is marked: no row writes its own (never re-read) question.
    assert int(frame["cache_write_5m_tokens"].sum()) == prefix
    # The bill is exactly one write and 23 reads of the prefix, plus each row's own tokens.
    expected = sum(
        compute_cost(
            "claude-sonnet-5-5",
            UsageCounts(
                row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_5m_tokens, 0
            ),
        ).cost_usd
        for row in frame.itertuples()
    )
    assert frame["cost_usd"].sum() == pytest.approx(expected)
    report = frame.attrs["report"]
    assert report.succeeded == 24 and report.calls == 24 and report.extra_cost_from_faults_usd == 0


def test_without_warming_the_first_wave_writes_the_prefix_again_and_again(agent, make_workspace) -> None:
    # With latency, parallel first requests overlap: none sees another's write (reference §3.3).
    slow = sim.Simulator(latency=sim.LatencyModel(scale=0.2))
    first = make_workspace(simulator=slow)
    naive = first.map(
        TICKETS[:16], "Sort: {item}", system=INSTRUCTIONS, concurrency=8, warm=False, progress=False
    )
    assert writes(slow) >= 2  # the first wave overlapped (8 at once; how many depends on the machine)
    warmed_sim = sim.Simulator(latency=sim.LatencyModel(scale=0.2))
    warmed_sim.add_api_key(first.keys[0])
    warmed = make_workspace(profiles=0, simulator=warmed_sim).map(
        TICKETS[:16], "Sort again: {item}", system=INSTRUCTIONS, concurrency=8, progress=False
    )
    assert writes(warmed_sim) == 1
    assert warmed["cost_usd"].sum() < naive["cost_usd"].sum() / 2


def test_the_frame_is_aligned_with_a_dataframe_and_its_template(make_workspace, simulator) -> None:
    tickets = pd.DataFrame(
        {"customer": ["ana", "bo", "cy"], "text": ["refund please", "app crashes", "how do I export?"]},
        index=pd.Index(["t-7", "t-3", "t-9"], name="ticket"),
    )
    frame = make_workspace().map(tickets, "{customer} writes: {text}", system=INSTRUCTIONS, progress=False)
    assert list(frame.index) == ["t-7", "t-3", "t-9"] and frame.index.name == "ticket"
    assert frame.loc["t-3", "text"].startswith('Simulated reply to: "bo writes: app crashes"')
    assert set(frame["profile"]) == {"anthropic:p0"}
    assert (frame["cost_usd"] > 0).all() and frame["error"].isna().all()
    by_function = make_workspace(profiles=0).map(
        tickets, lambda row: f"Customer {row['customer'].upper()}", system=INSTRUCTIONS, progress=False
    )
    assert by_function.loc["t-7", "text"].startswith('Simulated reply to: "Customer ANA"')


def test_a_template_field_the_rows_lack_stops_before_anything_is_sent(make_workspace, simulator) -> None:
    with pytest.raises(UsageError, match=r"uses \{body\}.*they have: customer, text"):
        make_workspace().map(pd.DataFrame({"customer": ["a"], "text": ["b"]}), "{body}", progress=False)
    assert len(simulator.requests) == 0


def test_rows_that_retrying_cannot_fix_are_reported_and_the_rest_go_on(make_workspace, simulator) -> None:
    workspace = make_workspace()
    simulator.faults.next(400, message="messages.0.content: this row is malformed")
    frame = workspace.map(["first", "   ", *TICKETS[:6]], system=INSTRUCTIONS, progress=False)
    assert list(frame["status"]).count("succeeded") == 6
    errors = frame.loc[frame["status"] == "errored", "error"].tolist()
    assert any("this row is malformed" in e for e in errors)
    assert any("the prompt of this row is empty" in e for e in errors)
    assert answered(simulator) == 6 and len(simulator.requests.messages()) == 7  # the blank row is never sent


def test_an_unknown_model_fails_every_row_after_one_request(make_workspace, simulator) -> None:
    frame = make_workspace().map(
        TICKETS[:5], model="claude-nonexistent-9", system=INSTRUCTIONS, progress=False
    )
    assert set(frame["status"]) == {"errored"} and frame["error"].str.contains("Unknown model").all()
    assert len(simulator.requests.messages()) == 1


class InterruptAfter:
    """A transport that interrupts the main thread (like Ctrl-C in a kernel) when the n-th
    Messages request arrives."""

    def __init__(self, simulator: sim.Simulator, n: int) -> None:
        self.inner, self.n, self.seen = simulator.transport(), n, 0

    def handle_request(self, request):
        if request.url.path == "/v1/messages":
            self.seen += 1
            if self.seen == self.n:
                _thread.interrupt_main()
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_an_interrupted_map_keeps_what_finished_and_sends_only_the_rest(make_workspace, simulator) -> None:
    from clawdbot_nb.api.workspace import Workspace

    first = make_workspace()
    interrupted = Workspace(first.agent, transport=InterruptAfter(simulator, 10), clock=first.clock)
    with pytest.raises(KeyboardInterrupt):
        interrupted.map(TICKETS, "Sort: {item}", system=INSTRUCTIONS, concurrency=4, progress=False)
    interrupted.close()
    sent_before = answered(simulator)
    assert 10 <= sent_before < len(TICKETS)
    job_rows = first.ledger.rows()
    assert {r.job for r in job_rows} == {job_rows[0].job} and len(
        {r.row_key for r in job_rows}
    ) == sent_before

    frame = first.map(TICKETS, "Sort: {item}", system=INSTRUCTIONS, concurrency=4, progress=False)
    assert list(frame["status"]) == ["succeeded"] * len(TICKETS)
    assert answered(simulator) == len(TICKETS), "no row was sent twice"
    report = frame.attrs["report"]
    assert report.resumed == sent_before and report.calls == len(TICKETS) - sent_before
    assert frame["text"].str.startswith('Simulated reply to: "Sort: Ticket').all()
    assert frame.attrs["job"] == job_rows[0].job

    again = first.map(TICKETS, "Sort: {item}", system=INSTRUCTIONS, progress=False)
    assert answered(simulator) == len(TICKETS) and again.attrs["report"].resumed == len(TICKETS)
    assert again["cost_usd"].tolist() == frame["cost_usd"].tolist()
