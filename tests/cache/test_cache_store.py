"""The cache watch on disk: it survives a kernel restart, is shared by the kernels of an agent,
holds no prompt text, and a bad file never stops a call."""

from __future__ import annotations

import sqlite3
import warnings

import pytest

from clawdbot_nb.api import cache_watch
from clawdbot_nb.api.cache_store import CacheWatchStore, store_path
from clawdbot_nb.api.workspace import Workspace
from tests.cache.conftest import LONG_SYSTEM, Watched

SECRET_WORDS = ("meticulous", "research", "assistant", "Which sources")


@pytest.fixture
def path(agent):
    return store_path(agent.state_dir)


def _kernel(simulator, agent, path) -> Watched:
    """A new kernel of the same agent: its own workspace and watch, the same watch file."""
    store = CacheWatchStore.open(path, agent.agent_id)
    workspace = Workspace.simulated(simulator, agent=agent)
    return Watched(workspace, simulator, cache_watch.CacheWatch(clock=simulator.clock.now, store=store))


def _close(*kernels: Watched) -> None:
    for kernel in kernels:
        kernel.workspace.close()
        kernel.watch.close()


def test_the_watch_survives_a_kernel_restart(simulator, agent, path) -> None:
    first = _kernel(simulator, agent, path)
    first.ask("Which sources?", system=LONG_SYSTEM)
    simulator.clock.advance("1m")
    first.ask("Which sources?", system=LONG_SYSTEM)
    before = {(e.area, e.hits, e.ttl, round(e.saved_usd, 9)) for e in first.watch.entries()}
    _close(first)

    restarted = _kernel(simulator, agent, path)
    assert {(e.area, e.hits, e.ttl, round(e.saved_usd, 9)) for e in restarted.watch.entries()} == before
    assert [e.kind for e in restarted.watch.timeline()].count("write") == 2
    simulator.clock.advance("7m")
    reply, report = restarted.ask("Which sources?", system=LONG_SYSTEM)
    assert reply.verdict == "write" and report.why_miss.code == cache_watch.EXPIRED
    # A changed prompt is still located after the restart (from the stored digests).
    _, report = restarted.ask("Which sources?", system=LONG_SYSTEM.replace("cites", "quotes", 1))
    assert report.why_miss.code == cache_watch.PREFIX_CHANGED
    assert report.why_miss.location == "system block 0"
    _close(restarted)


def test_two_kernels_of_an_agent_share_what_they_cached(simulator, agent, path) -> None:
    one, two = _kernel(simulator, agent, path), _kernel(simulator, agent, path)
    one.ask("Which sources?", system=LONG_SYSTEM)
    assert [e.area for e in two.watch.entries()] == ["system", "message 0"]
    reply, report = two.ask("Which sources?", system=LONG_SYSTEM)
    assert reply.verdict == "hit" and report.why_miss is None
    assert {e.area: e.hits for e in one.watch.entries()} == {"system": 1, "message 0": 1}
    simulator.clock.advance("6m")
    _, report = one.ask("Which sources?", system=LONG_SYSTEM)
    assert report.why_miss.code == cache_watch.EXPIRED  # last used by the other kernel
    _close(one, two)


def test_the_file_holds_no_prompt_text(simulator, agent, path) -> None:
    kernel = _kernel(simulator, agent, path)
    kernel.ask("Which sources?", system=LONG_SYSTEM)
    kernel.ask("Which sources?", system="Now: 2026-11-30 10:41:07. " + LONG_SYSTEM)
    _close(kernel)
    stored = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    for word in (*SECRET_WORDS, "10:41:07"):
        assert word.encode() not in stored
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_broken_file_never_stops_a_call(simulator, agent, path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store = CacheWatchStore.open(path, agent.agent_id)
    assert store is None and "cannot be used" in str(caught[0].message) and str(path) in str(caught[0].message)
    assert path.read_bytes() == b"this is not a database" * 100
    watched = Watched(
        Workspace.simulated(simulator, agent=agent), simulator, cache_watch.CacheWatch(clock=simulator.clock.now)
    )
    watched.ask("q", system=LONG_SYSTEM)
    assert watched.ask("q", system=LONG_SYSTEM)[0].verdict == "hit"
    watched.workspace.close()


def test_a_newer_schema_is_refused_and_left_alone(agent, path) -> None:
    CacheWatchStore(path, agent.agent_id).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    before = path.read_bytes()
    with pytest.warns(UserWarning, match="schema version 99"):
        assert CacheWatchStore.open(path, agent.agent_id) is None
    assert path.read_bytes() == before


def test_agents_have_their_own_slice(simulator, agent, path) -> None:
    kernel = _kernel(simulator, agent, path)
    kernel.ask("q", system=LONG_SYSTEM)
    store = CacheWatchStore(path, "research")
    assert store.key != kernel.watch.key
    assert cache_watch.CacheWatch(store=store).entries() == []
    store.close()
    _close(kernel)
