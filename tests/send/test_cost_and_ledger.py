"""Costs equal hand-computed values; the ledger keeps every call, from several processes too."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from clawdbot_nb import sim
from clawdbot_nb.api.ledger import Ledger, ledger_path
from tests.send.conftest import LONG_SYSTEM, store_api_key


@pytest.fixture(autouse=True)
def keyed(agent) -> None:
    store_api_key(agent, sim.DEMO_API_KEY)


def test_costs_match_hand_computation_on_sonnet_5_5(workspace) -> None:
    # claude-sonnet-5-5: input $2/MTok, output $10/MTok, 5m write 1.25x, 1h write 2x, read 0.05x.
    write = workspace.ask("price me", system=LONG_SYSTEM)
    u = write.usage
    expected = (u.input_tokens * 2 + u.cache_write_5m_tokens * 2 * 1.25 + u.output_tokens * 10) / 1e6
    assert write.cost.cost_usd == pytest.approx(expected, rel=1e-12)
    uncached = ((u.input_tokens + u.cache_write_5m_tokens) * 2 + u.output_tokens * 10) / 1e6
    assert write.cost.cost_without_cache_usd == pytest.approx(uncached, rel=1e-12)
    assert write.cost.savings_usd == pytest.approx(uncached - expected, rel=1e-12)

    hit = workspace.ask("price me", system=LONG_SYSTEM)
    h = hit.usage
    expected_hit = (h.input_tokens * 2 + h.cache_read_tokens * 2 * 0.05 + h.output_tokens * 10) / 1e6
    assert hit.cost.cost_usd == pytest.approx(expected_hit, rel=1e-12)

    one_hour = workspace.ask("price me at 1h", system=LONG_SYSTEM + " Extra.", ttl="1h")
    o = one_hour.usage
    expected_1h = (o.input_tokens * 2 + o.cache_write_1h_tokens * 2 * 2 + o.output_tokens * 10) / 1e6
    assert one_hour.cost.cost_usd == pytest.approx(expected_1h, rel=1e-12)

    frame = workspace.usage()
    assert frame["cost_usd"].tolist() == pytest.approx([expected, expected_hit, expected_1h], rel=1e-9)
    summary = workspace.usage_summary("ttl_applied")
    assert summary.loc["5m", "calls"] == 2 and summary.loc["1h", "calls"] == 1


def test_costs_on_haiku_4_5_with_its_0_1_read_multiplier(workspace) -> None:
    system = LONG_SYSTEM * 6  # above Haiku 4.5's 4,096-token minimum (about 5,000 tokens)
    workspace.ask("q", system=system, model="claude-haiku-4-5")
    hit = workspace.ask("q", system=system, model="claude-haiku-4-5")
    h = hit.usage
    assert h.cache_read_tokens > 4096
    assert hit.cost.cost_usd == pytest.approx(
        (h.input_tokens * 1 + h.cache_read_tokens * 0.1 + h.output_tokens * 5) / 1e6
    )


def test_usage_views(workspace) -> None:
    workspace.ask("a", system=LONG_SYSTEM, cell="3")
    workspace.ask("a", system=LONG_SYSTEM, cell="4")
    frame = workspace.usage(session_only=True)
    assert frame["cell"].tolist() == ["3", "4"]
    assert frame["hit"].tolist() == [False, True]
    by_profile = workspace.usage_summary("profile_id")
    assert by_profile.loc["anthropic:default", "calls"] == 2
    totals = workspace.totals()
    assert totals.calls == 2 and 0.4 < totals.hit_ratio < 0.6


def test_cell_provider_tags_rows(make_workspace) -> None:
    counter = iter(["7", "8"])
    workspace = make_workspace(cell=lambda: next(counter))
    workspace.ask("a")
    workspace.ask("b")
    assert workspace.usage()["cell"].tolist() == ["7", "8"]


LEDGER_WORKER = textwrap.dedent(
    """
    import sys
    from clawdbot_nb import sim
    from clawdbot_nb.api.workspace import Workspace
    with Workspace.simulated(agent="main") as workspace:
        for i in range(int(sys.argv[1])):
            workspace.ask(f"call {i} from {sys.argv[2]}")
    """
)


@pytest.mark.slow
def test_ledger_rows_from_two_processes_at_once(agent) -> None:
    """Each process runs its own in-process simulator; both append to the one ledger at once."""
    calls = 60
    children = [
        subprocess.Popen([sys.executable, "-c", LEDGER_WORKER, str(calls), name]) for name in ("a", "b")
    ]
    assert [child.wait(timeout=120) for child in children] == [0, 0]
    with Ledger(ledger_path(agent.state_dir)) as ledger:
        rows = ledger.rows()
    assert len(rows) == 2 * calls
    assert len({row.session for row in rows}) == 2
    assert all(row.error is None for row in rows)


def test_batch_results_are_priced_at_the_batch_discount(simulator) -> None:
    import anthropic
    import httpx2

    from clawdbot_nb.api.pricing import compute_cost

    client = anthropic.Anthropic(
        api_key=sim.DEMO_API_KEY,
        base_url="http://sim",
        http_client=httpx2.Client(transport=simulator.transport()),
    )
    params = {
        "model": "claude-sonnet-5-5",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "batch me"}],
    }
    batch = client.messages.batches.create(requests=[{"custom_id": "one", "params": params}])
    (result,) = list(client.messages.batches.results(batch.id))
    usage = result.result.message.usage
    assert usage.service_tier == "batch"
    standard = compute_cost("claude-sonnet-5-5", {**usage.model_dump(), "service_tier": "standard"})
    assert compute_cost("claude-sonnet-5-5", usage).cost_usd == pytest.approx(standard.cost_usd * 0.5)
