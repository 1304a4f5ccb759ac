"""Reproductions from the call-engine issue: each failed on the old workspace and passes now."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from clawdbot_nb import sim
from clawdbot_nb.api.bookkeeping import Bookkeeper
from clawdbot_nb.api.call import MarkSuccess
from clawdbot_nb.api.ledger import Ledger, ledger_path
from clawdbot_nb.api.workspace import Workspace
from clawdbot_nb.state.agent import AgentState
from clawdbot_nb.state.cooldown import record_failure
from tests.send.conftest import LONG_SYSTEM, set_order, store_api_key

KEY_A = "sk-ant-api03-" + "A" * 80 + "KEYA"
KEY_B = "sk-ant-api03-" + "B" * 80 + "KEYB"
MIN = 60_000


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def two_keys(agent, simulator) -> None:
    simulator.add_api_key(KEY_A)
    simulator.add_api_key(KEY_B)
    store_api_key(agent, KEY_A, "anthropic:a")
    store_api_key(agent, KEY_B, "anthropic:b")


def test_round_robin_alternates_on_back_to_back_calls(workspace, agent, two_keys) -> None:
    """Two keys, no explicit order: four asks in a row used to all go to the same key."""
    used = [workspace.ask(f"call {i}").profile for i in range(4)]
    assert used in (["anthropic:a", "anthropic:b"] * 2, ["anthropic:b", "anthropic:a"] * 2)


def test_round_robin_is_shared_by_workspaces_of_one_agent(make_workspace, agent, two_keys) -> None:
    first, second = make_workspace(agent), make_workspace(agent)
    used = [first.ask("one").profile, second.ask("two").profile, first.ask("three").profile]
    assert used[0] != used[1] and used[1] != used[2]


def test_a_cooldown_is_kept_after_an_earlier_success(workspace, agent, simulator, two_keys) -> None:
    """Call 1 succeeds on A; call 2 is rate limited on A and fails over to B; call 3 must not go
    back to A (A's earlier success used to be written late and wipe the new cooldown)."""
    set_order(agent, "anthropic:a", "anthropic:b")
    assert workspace.ask("one").profile == "anthropic:a"
    simulator.faults.next(429, credential=KEY_A, retry_after=0)
    assert workspace.ask("two").profile == "anthropic:b"
    assert workspace.ask("three").profile == "anthropic:b"
    stats = agent.store_file.load().stats("anthropic:a")
    assert stats.error_count == 1 and stats.cooldown_until > now_ms() + MIN // 2


def test_a_success_never_clears_a_newer_failure_written_by_someone_else(agent, two_keys) -> None:
    """A success applied after a failure that happened later (here written as a gateway or
    another kernel would, straight into the store) leaves that failure's cooldown alone."""
    success_at = now_ms()
    failure_at = success_at + 5

    def gateway_failure(store) -> None:
        store.set_stats(
            "anthropic:a",
            record_failure(store.stats("anthropic:a"), "rate_limit", failure_at, provider="anthropic"),
        )

    agent.store_file.update(gateway_failure)
    Bookkeeper(agent, None).apply([MarkSuccess("anthropic:a", success_at)])
    stats = agent.store_file.load().stats("anthropic:a")
    assert stats.error_count == 1 and stats.cooldown_until == failure_at + MIN
    # A success that is newer than the failure does clear it.
    Bookkeeper(agent, None).apply([MarkSuccess("anthropic:a", failure_at + 1)])
    assert agent.store_file.load().stats("anthropic:a").cooldown_until is None


def test_a_plain_success_writes_nothing_to_the_store(workspace, agent, two_keys) -> None:
    """A success that only moves lastUsed stays in memory (the store is not rewritten per call)."""
    workspace.ask("warm up A")  # each profile's first use writes its lastUsed: it was never set
    workspace.ask("warm up B")
    before = agent.store_file.path.stat().st_mtime_ns
    for i in range(6):
        workspace.ask(f"call {i}")
    assert agent.store_file.path.stat().st_mtime_ns == before
    assert workspace.bookkeeper.success_writes == 2


def test_concurrent_successes_write_a_stale_last_used_once(agent, two_keys, monkeypatch) -> None:
    """A map's first wave: eight calls on one profile finish before the first lastUsed write
    lands. One of them writes it; the others used to queue on the store's lock to write it too
    (under load, long enough for a "waiting for auth-profiles.json" notice)."""
    import threading

    keeper = Bookkeeper(agent, None)
    real_update = agent.store_file.update

    def slow_update(change):
        time.sleep(0.05)  # the lock, the read and the fsync of a loaded machine
        return real_update(change)

    monkeypatch.setattr(agent.store_file, "update", slow_update)
    start = threading.Barrier(8)

    def succeed(n: int) -> None:
        start.wait()
        keeper.apply([MarkSuccess("anthropic:a", now_ms() + n)])

    threads = [threading.Thread(target=succeed, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert keeper.success_writes == 1
    assert agent.store_file.load().stats("anthropic:a").last_used is not None


KILLED_AFTER_RETURN = textwrap.dedent(
    """
    import os, signal, sys
    from clawdbot_nb import sim
    from clawdbot_nb.api.workspace import Workspace
    simulator = sim.Simulator()
    simulator.add_api_key(sys.argv[1])
    ws = Workspace.simulated(simulator, agent="main")
    reply = ws.ask("the last words")
    print(reply.request_id, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no atexit, no flush, no close
    """
)


@pytest.mark.slow
def test_a_process_killed_right_after_a_reply_loses_nothing(agent) -> None:
    store_api_key(agent, KEY_A, "anthropic:a")

    def earlier_failure(store) -> None:  # an expired cooldown the success must clear
        store.set_stats(
            "anthropic:a",
            record_failure(
                store.stats("anthropic:a"), "rate_limit", now_ms() - 2 * MIN, provider="anthropic"
            ),
        )

    agent.store_file.update(earlier_failure)
    child = subprocess.run(
        [sys.executable, "-c", KILLED_AFTER_RETURN, KEY_A], capture_output=True, text=True, timeout=120
    )
    assert child.returncode == -9, child.stderr
    request_id = child.stdout.strip()
    with Ledger(ledger_path(agent.state_dir)) as ledger:
        rows = ledger.rows()
    assert [row.request_id for row in rows] == [request_id]
    stats = agent.store_file.load().stats("anthropic:a")
    assert stats.error_count == 0 and stats.last_used is not None
    assert agent.store_file.load().last_good("anthropic") == "anthropic:a"


def test_a_stream_cut_before_the_first_text_fails_over(workspace, agent, simulator, two_keys) -> None:
    set_order(agent, "anthropic:a", "anthropic:b")
    # message_start and content_block_start arrive, then the connection drops: no text yet.
    simulator.faults.drop_stream(after_events=2, credential=KEY_A)
    stream = workspace.stream("tell me", system=LONG_SYSTEM)
    text = "".join(stream)
    assert text and stream.reply.profile == "anthropic:b"
    assert [(a.profile, a.reason) for a in stream.reply.attempts] == [("anthropic:a", "unknown")]
    stats = agent.store_file.load().stats("anthropic:a")
    assert stats.failure_counts == {"unknown": 1} and stats.cooldown_until > now_ms()


def test_a_stream_cut_on_the_only_profile_is_sent_again(workspace, agent, simulator) -> None:
    simulator.add_api_key(KEY_A)
    store_api_key(agent, KEY_A, "anthropic:a")
    simulator.faults.drop_stream(after_events=2, credential=KEY_A)
    stream = workspace.stream("tell me", system=LONG_SYSTEM)
    assert "".join(stream) and stream.reply.profile == "anthropic:a"
    assert len(stream.reply.attempts) == 1
    assert agent.store_file.load().stats("anthropic:a").error_count in (None, 0)


def test_an_overloaded_event_inside_a_stream_is_a_rate_limit_by_its_status(
    workspace, agent, simulator, two_keys
) -> None:
    """529 is classified by status: the event's text need not say "overloaded"."""
    set_order(agent, "anthropic:a", "anthropic:b")
    simulator.faults.sse_error(
        "overloaded_error", message="Please slow down", after_events=2, credential=KEY_A
    )
    reply = workspace.stream("tell me").until_done()
    assert reply.profile == "anthropic:b"
    assert [(a.reason, a.status) for a in reply.attempts] == [("rate_limit", 529)]


def test_two_asyncio_runs_reuse_nothing_from_a_closed_loop(
    make_workspace, agent, two_keys, transport_kind
) -> None:
    workspace = make_workspace(agent)
    first = asyncio.run(workspace.aask("first"))
    second = asyncio.run(workspace.aask("second"))
    assert first.text and second.text


def test_clients_are_keyed_by_profile_and_fingerprint_and_closed(agent, simulator, two_keys) -> None:
    with sim.serve(simulator) as server:
        workspace = Workspace(agent, base_url=server.base_url)
        workspace.ask("one")
        workspace.ask("two")
        keys = list(workspace.clients._sync.clients)
        assert {label for label, _, _ in keys} == {"anthropic:a", "anthropic:b"}
        assert not any(KEY_A in repr(key) or KEY_B in repr(key) for key in keys)
        http = workspace.clients._sync.http_client
        workspace.close()
        assert http.is_closed and workspace.clients._sync is None


def test_a_re_onboarded_profile_gets_a_new_client(workspace, agent, simulator, two_keys) -> None:
    set_order(agent, "anthropic:a")
    workspace.ask("one")
    replacement = "sk-ant-api03-" + "C" * 80 + "KEYC"
    simulator.add_api_key(replacement)
    store_api_key(agent, replacement, "anthropic:a")
    workspace.ask("two")
    assert len({key[:2] for key in workspace.clients._sync.clients}) == 2
    assert simulator.requests.last(path="/v1/messages").credential_fingerprint == sim.fingerprint(replacement)


FIRST_CALL = textwrap.dedent(
    """
    import json, sys
    from clawdbot_nb.api.workspace import Workspace
    with Workspace.simulated() as ws:
        reply = ws.ask("hello")
        row = ws.usage().iloc[-1]
        print(json.dumps({
            "latency": reply.latency_s, "setup": reply.setup_s, "attempts": reply.attempts_s,
            "row_latency": float(row["latency_s"]), "row_setup": float(row["setup_s"]),
        }))
    """
)


@pytest.mark.slow
def test_the_first_call_of_a_process_reports_imports_and_setup_apart_from_the_exchange(isolated_home) -> None:
    """A fresh process imports the SDK and builds a client on its first call: that is setup,
    not the simulator's exchange (which used to be reported as a 2-9 s latency)."""
    child = subprocess.run([sys.executable, "-c", FIRST_CALL], capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    figures = json.loads(child.stdout)
    assert figures["setup"] > figures["latency"] > 0
    assert figures["attempts"] == 0
    assert figures["row_latency"] == pytest.approx(figures["latency"])
    assert figures["row_setup"] == pytest.approx(figures["setup"])


def test_simulated_alone_never_sends_or_touches_a_real_credential(agent, monkeypatch) -> None:
    real = "sk-ant-api03-" + "R" * 80 + "REAL"
    store_api_key(agent, real, "anthropic:default")
    monkeypatch.setenv("ANTHROPIC_API_KEY", real)
    before = agent.store_file.path.read_bytes()
    with Workspace.simulated() as workspace:
        reply = workspace.ask("hello")
        sandbox = workspace.agent.state_dir
        assert reply.profile == "anthropic:sim-demo"
        fingerprints = {r.credential_fingerprint for r in workspace.simulator.requests.messages()}
        assert fingerprints == {sim.fingerprint(sim.DEMO_API_KEY)}
    assert agent.store_file.path.read_bytes() == before
    assert not sandbox.exists()
    assert not ledger_path(agent.state_dir).exists()


def test_the_ledger_cell_is_the_number_the_user_sees(agent, two_keys) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shell.run_cell("%load_ext clawdbot_nb", store_history=True)
        shell.run_cell("1 + 1", store_history=True)
        # The transport is the shell's business; a simulator on loopback stands in for the API.
        simulator = sim.Simulator()
        simulator.add_api_key(KEY_A)
        simulator.add_api_key(KEY_B)
        with sim.serve(simulator) as server:
            os.environ["ANTHROPIC_BASE_URL"] = server.base_url
            try:
                shell.run_cell("%%clawdbot --stream-mode final\nhello", store_history=True)
                seen = shell.execution_count - 1  # the number shown as In[n] for that cell
            finally:
                del os.environ["ANTHROPIC_BASE_URL"]
        with Ledger(ledger_path(agent.state_dir)) as ledger:
            cells = [row.cell for row in ledger.rows()]
        assert cells == [str(seen)]
    finally:
        shell.run_cell("%unload_ext clawdbot_nb")
        InteractiveShell.clear_instance()


def test_the_bookkeeper_shares_round_robin_memory_per_store(agent) -> None:
    one, two = Bookkeeper(agent, None), Bookkeeper(AgentState.resolve(), None)
    assert one.recent is two.recent
