"""The cache watch on disk: it survives a kernel restart, is shared by the kernels of an agent,
holds no prompt text, and a bad file never stops a call."""

from __future__ import annotations

import sqlite3
import warnings

import pytest

from clawdbot_nb.api import cache_watch
from clawdbot_nb.api.cache_store import CacheWatchStore, store_path
from tests.cache.conftest import LONG_SYSTEM, watch_of

PROMPT_WORDS = ("meticulous", "research", "assistant", "Which sources")


@pytest.fixture
def path(agent):
    return store_path(agent.state_dir)


def _entries(workspace) -> set:
    return {(e.area, e.hits, e.ttl, round(e.saved_usd, 9)) for e in watch_of(workspace).entries()}


def test_the_watch_survives_a_kernel_restart(make_workspace, simulator) -> None:
    first = make_workspace()
    first.ask("Which sources?", system=LONG_SYSTEM)
    simulator.clock.advance("1m")
    first.ask("Which sources?", system=LONG_SYSTEM)
    before = _entries(first)
    first.close()

    restarted = make_workspace()
    # One entry: the system prompt (a one-shot question is not marked, planner.py).
    assert _entries(restarted) == before and len(before) == 1
    assert [e.kind for e in watch_of(restarted).timeline()].count("write") == 1
    simulator.clock.advance("7m")
    reply = restarted.ask("Which sources?", system=LONG_SYSTEM)
    assert reply.verdict == "write" and reply.why_miss.code == cache_watch.EXPIRED
    # A changed prompt is still located after the restart (from the stored digests).
    reply = restarted.ask("Which sources?", system=LONG_SYSTEM.replace("cites", "quotes", 1))
    assert reply.why_miss.code == cache_watch.PREFIX_CHANGED
    assert reply.why_miss.location == "system block 0"


def test_two_kernels_of_an_agent_share_what_they_cached(make_workspace, simulator) -> None:
    one, two = make_workspace(), make_workspace()
    one.ask("Which sources?", system=LONG_SYSTEM)
    assert [e.area for e in watch_of(two).entries()] == ["system"]
    reply = two.ask("Which sources?", system=LONG_SYSTEM)
    assert reply.verdict == "hit" and reply.why_miss is None
    assert {e.area: e.hits for e in watch_of(one).entries()} == {"system": 1}
    simulator.clock.advance("6m")
    reply = one.ask("Which sources?", system=LONG_SYSTEM)
    assert reply.why_miss.code == cache_watch.EXPIRED  # last used by the other kernel


def test_the_file_holds_no_prompt_text(workspace, path) -> None:
    workspace.ask("Which sources?", system=LONG_SYSTEM)
    reply = workspace.ask("Which sources?", system="Now: 2026-11-30 10:41:07. " + LONG_SYSTEM)
    assert reply.why_miss.code == cache_watch.PREFIX_CHANGED
    workspace.close()
    stored = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert stored
    for word in (*PROMPT_WORDS, "10:41:07"):
        assert word.encode() not in stored
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_broken_file_never_stops_a_call(make_workspace, path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    workspace = make_workspace()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = workspace.ask("q", system=LONG_SYSTEM)
    assert first.verdict == "write"
    message = next(str(w.message) for w in caught if "cannot be used" in str(w.message))
    assert str(path) in message and "move the file aside" in message
    assert path.read_bytes() == b"this is not a database" * 100
    # The watch carries on in memory.
    assert workspace.ask("q", system=LONG_SYSTEM).verdict == "hit"
    assert len(workspace.cache_status()) == 1


def test_a_newer_schema_is_refused_and_left_alone(agent, path) -> None:
    CacheWatchStore(path, agent.agent_id).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    before = path.read_bytes()
    with pytest.warns(UserWarning, match="schema version 99"):
        assert CacheWatchStore.open(path, agent.agent_id) is None
    assert path.read_bytes() == before


def test_agents_have_their_own_slice(workspace, path) -> None:
    workspace.ask("q", system=LONG_SYSTEM)
    store = CacheWatchStore(path, "research")
    assert store.key != watch_of(workspace).key
    assert cache_watch.CacheWatch(store=store).entries() == []
    store.close()


CHILD = """
import sys
from clawdbot_nb.api.workspace import Workspace
with Workspace(base_url=sys.argv[1]) as workspace:
    reply = workspace.ask("Which sources?", system=sys.argv[2])
    print(reply.verdict)
"""


@pytest.mark.slow
def test_kernels_in_other_processes_share_the_file(simulator, agent) -> None:
    """Another process (another kernel) writes; this one sees its entries and reads them."""
    import subprocess
    import sys

    from clawdbot_nb import sim
    from clawdbot_nb.api.workspace import Workspace

    with sim.serve(simulator) as server:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, server.base_url, LONG_SYSTEM],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "write"
        with Workspace(base_url=server.base_url) as workspace:
            assert [e.area for e in watch_of(workspace).entries()] == ["system"]
            reply = workspace.ask("Which sources?", system=LONG_SYSTEM)
            assert reply.verdict == "hit" and reply.why_miss is None
            assert {e.area: e.hits for e in watch_of(workspace).entries()} == {"system": 1}
