"""Fixtures of the simulator suite: a fresh simulator per test, SDK clients in-process or over loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from clawdbot_nb import sim
from tests.sim.sim_support import IN_PROCESS_BASE_URL, Api


@pytest.fixture
def simulator() -> sim.Simulator:
    return sim.Simulator()


@pytest.fixture
def inproc(simulator: sim.Simulator) -> Iterator[Api]:
    """SDK clients wired to the simulator through the in-process httpx2 transport."""
    api = Api(simulator, "inprocess", IN_PROCESS_BASE_URL)
    yield api
    api.close()


@pytest.fixture
def loopback(simulator: sim.Simulator) -> Iterator[Api]:
    """SDK clients talking HTTP to the simulator on 127.0.0.1."""
    with sim.serve(simulator) as server:
        api = Api(simulator, "loopback", server.base_url)
        yield api
        api.close()


@pytest.fixture(params=["inprocess", "loopback"])
def api(request: pytest.FixtureRequest, simulator: sim.Simulator) -> Iterator[Api]:
    """Both front-ends: a test using it runs once in-process and once over loopback HTTP."""
    if request.param == "inprocess":
        client_api = Api(simulator, "inprocess", IN_PROCESS_BASE_URL)
        yield client_api
        client_api.close()
        return
    with sim.serve(simulator) as server:
        client_api = Api(simulator, "loopback", server.base_url)
        yield client_api
        client_api.close()
