"""The same scripted outcomes through all four drivers (sync/async × whole/stream) give the
same effects in the same order: one failover policy, four thin drivers."""

from __future__ import annotations

import asyncio
import re

import pytest

from clawdbot_nb import sim
from clawdbot_nb.api.call import MarkFailure, MarkSuccess, Record
from clawdbot_nb.errors import ClawdbotError
from tests.send.conftest import LONG_SYSTEM, set_order, store_api_key

KEY_A = "sk-ant-api03-" + "A" * 80 + "KEYA"
KEY_B = "sk-ant-api03-" + "B" * 80 + "KEYB"

#: name → faults to script, as (status, credential or None for everyone, times)
SCRIPTS = {
    "success": [],
    "429 then other profile": [(429, KEY_A, 1)],
    "529 then other profile": [(529, KEY_A, 1)],
    "402 billing": [(402, KEY_A, 1)],
    "401 auth": [(401, KEY_A, 1)],
    "403 auth": [(403, KEY_A, 1)],
    "500 unknown": [(500, KEY_A, 1)],
    "every profile rate limited": [(429, None, 10)],
    "bad request": [(400, KEY_A, 1)],
    "unknown model": [(404, KEY_A, 1)],
}
DRIVERS = ("ask", "aask", "stream", "astream")


def _call(workspace, driver: str):
    options = {"system": LONG_SYSTEM, "max_tokens": 32}
    if driver == "ask":
        return workspace.ask("parity", **options)
    if driver == "aask":
        return asyncio.run(workspace.aask("parity", **options))
    if driver == "stream":
        stream = workspace.stream("parity", **options)
        return stream.until_done()

    async def consume():
        stream = workspace.astream("parity", **options)
        return await stream.until_done()

    return asyncio.run(consume())


def _normal(effect) -> tuple:
    if isinstance(effect, MarkFailure):
        return ("mark failure", effect.profile_id, effect.reason)
    if isinstance(effect, MarkSuccess):
        return ("mark success", effect.profile_id)
    assert isinstance(effect, Record)
    row = effect.row
    return (
        "row",
        row.profile_id,
        re.sub(r" \(request req_\w+\)", "", row.error.split(" Fix:")[0]) if row.error else None,
        row.attempts,
        row.profiles_tried,
        row.input_tokens + row.cache_read_tokens + row.cache_write_5m_tokens > 0,
    )


def _run(make_workspace, agent, simulator, driver: str, script: list) -> tuple[list, str]:
    for status, credential, times in script:
        simulator.faults.next(status, credential=credential, times=times, retry_after=0)
    workspace = make_workspace(agent)
    seen: list = []
    apply = workspace.bookkeeper.apply

    def recording(effects):
        effects = list(effects)
        seen.extend(_normal(e) for e in effects)
        apply(effects)

    workspace.bookkeeper.apply = recording
    try:
        outcome = f"reply from {_call(workspace, driver).profile}"
    except ClawdbotError as error:
        outcome = f"error: {str(error).split(' (request')[0]}"
    simulator.faults.clear()
    return seen, outcome


# Every script in-process; over loopback (real sockets, one event loop per asyncio.run) two.
CASES = [(name, "inprocess") for name in SCRIPTS] + [
    ("success", "loopback"),
    ("429 then other profile", "loopback"),
]


@pytest.mark.parametrize(("name", "transport_kind"), CASES, indirect=["transport_kind"])
def test_four_drivers_emit_identical_effects(name, make_workspace, agent, simulator) -> None:
    simulator.add_api_key(KEY_A)
    simulator.add_api_key(KEY_B)
    results = {}
    for driver in DRIVERS:
        # A fresh store each time: the same starting state for every driver.
        agent.store_file.path.unlink(missing_ok=True)
        store_api_key(agent, KEY_A, "anthropic:a")
        store_api_key(agent, KEY_B, "anthropic:b")
        set_order(agent, "anthropic:a", "anthropic:b")
        results[driver] = _run(make_workspace, agent, simulator, driver, SCRIPTS[name])
    reference = results["ask"]
    assert reference[0], "every call emits at least its ledger row"
    for driver in DRIVERS[1:]:
        assert results[driver] == reference, f"{driver} differs from ask"


def test_parity_covers_failover_and_give_up(make_workspace, agent, simulator) -> None:
    """The scripts above are not vacuous: they reach failover, cooldown and a final error."""
    simulator.add_api_key(KEY_A)
    simulator.add_api_key(KEY_B)
    store_api_key(agent, KEY_A, "anthropic:a")
    store_api_key(agent, KEY_B, "anthropic:b")
    set_order(agent, "anthropic:a", "anthropic:b")
    effects, outcome = _run(make_workspace, agent, simulator, "stream", SCRIPTS["429 then other profile"])
    assert effects[0] == ("mark failure", "anthropic:a", "rate_limit")
    assert effects[1] == ("mark success", "anthropic:b")
    assert outcome == "reply from anthropic:b"
    assert sim.DEMO_API_KEY not in repr(effects)
