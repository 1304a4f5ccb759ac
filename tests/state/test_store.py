from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from clawdbot_nb.errors import ParseError
from clawdbot_nb.state.agent import AgentState
from clawdbot_nb.state.cooldown import record_failure
from clawdbot_nb.state.credentials import ApiKeyCredential, OAuthCredential
from clawdbot_nb.state.store import AuthStoreFile
from tests.state.fakes import API_KEY, OAUTH_ACCESS, OAUTH_REFRESH, SETUP_TOKEN, read_json, write_json

HAND_WRITTEN = {
    "version": 1,
    "profiles": {
        "anthropic:default": {"type": "api_key", "provider": "anthropic", "key": API_KEY},
        "anthropic:manual": {
            "type": "token",
            "provider": "anthropic",
            "token": SETUP_TOKEN,
            "futureFlag": True,
        },
        "anthropic:me@example.com": {
            "type": "oauth",
            "provider": "anthropic",
            "access": OAUTH_ACCESS,
            "refresh": OAUTH_REFRESH,
            "expires": 1769700000000,
            "email": "me@example.com",
        },
        "openai-codex:default": {
            "type": "oauth",
            "provider": "openai-codex",
            "access": "a",
            "refresh": "b",
            "expires": 1,
        },
        "mystery:x": {"type": "webauthn", "provider": "mystery", "blob": "keep me"},
    },
    "order": {"anthropic": ["anthropic:manual", "anthropic:default"]},
    "lastGood": {"anthropic": "anthropic:manual"},
    "usageStats": {
        "anthropic:default": {
            "lastUsed": 1769650000000,
            "errorCount": 1,
            "failureCounts": {"rate_limit": 1},
            "lastFailureAt": 1769650100000,
            "cooldownUntil": 1769650160000,
        }
    },
    "gatewayExtension": {"kept": ["verbatim"]},
}


def store_path(agent: AgentState) -> Path:
    return agent.agent_dir / "auth-profiles.json"


def test_hand_written_store_round_trips_byte_for_byte_when_untouched(agent: AgentState) -> None:
    path = write_json(store_path(agent), HAND_WRITTEN)
    before = path.read_bytes()
    with agent.store_file.transaction() as store:
        assert set(store.profiles) == {
            "anthropic:default",
            "anthropic:manual",
            "anthropic:me@example.com",
            "openai-codex:default",
        }
    assert path.read_bytes() == before


def test_an_update_keeps_every_unknown_entry_and_key(agent: AgentState) -> None:
    path = write_json(store_path(agent), HAND_WRITTEN)
    agent.store_file.update(lambda s: s.set_last_good("anthropic", "anthropic:default"))
    after = read_json(path)
    expected = json.loads(json.dumps(HAND_WRITTEN))
    expected["lastGood"]["anthropic"] = "anthropic:default"
    assert after == expected
    assert path.read_text().endswith("}\n") and '\n  "version": 1,' in path.read_text()


def test_typed_views(agent: AgentState) -> None:
    write_json(store_path(agent), HAND_WRITTEN)
    store = agent.store_file.load()
    assert store.order("anthropic") == ["anthropic:manual", "anthropic:default"]
    assert store.last_good("anthropic") == "anthropic:manual"
    assert store.stats("anthropic:default").cooldown_until == 1769650160000
    assert store.profile_ids("anthropic") == [
        "anthropic:default",
        "anthropic:manual",
        "anthropic:me@example.com",
    ]
    oauth = store.get("anthropic:me@example.com")
    assert isinstance(oauth, OAuthCredential) and oauth.email == "me@example.com"
    assert store.parsed_profiles()["mystery:x"].credential is None


def test_load_coerces_order_and_version(agent: AgentState) -> None:
    write_json(store_path(agent), {"profiles": {}, "order": {"anthropic": [" a:x ", ""], "other": []}})
    store = agent.store_file.load()
    assert store.version == 1
    assert store.order("anthropic") == ["a:x"]
    assert store.order("other") is None


def test_remove_profile_drops_every_reference(agent: AgentState) -> None:
    write_json(store_path(agent), HAND_WRITTEN)
    assert agent.store_file.update(lambda s: s.remove_profile("anthropic:default"))
    after = read_json(store_path(agent))
    assert "anthropic:default" not in after["profiles"]
    assert after["order"] == {"anthropic": ["anthropic:manual"]}
    assert "usageStats" not in after  # the last entry went, so the empty section goes too


def test_clearing_a_counter_deletes_the_key_never_writes_null(agent: AgentState) -> None:
    write_json(store_path(agent), HAND_WRITTEN)
    agent.store_file.update(lambda s: s.set_order("anthropic", None))
    text = store_path(agent).read_text()
    assert '"order"' not in text and "null" not in text


def test_new_store_is_0600_in_0700_dirs(agent: AgentState, state_dir: Path) -> None:
    agent.store_file.update(
        lambda s: s.set_credential("anthropic:default", ApiKeyCredential(provider="anthropic", key=API_KEY))
    )
    path = store_path(agent)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for directory in (state_dir, state_dir / "agents", state_dir / "agents" / "main", agent.agent_dir):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert not (path.parent / "auth-profiles.json.lock").exists()


def test_an_unparsable_store_is_kept_aside_and_never_overwritten(agent: AgentState) -> None:
    path = store_path(agent)
    path.parent.mkdir(parents=True)
    broken = b'{\n  "version": 1,\n  "profiles": {\n    "anthropic:default": {"type": "api_key", "key": "sk-'
    path.write_bytes(broken)
    with pytest.raises(ParseError) as info:
        agent.store_file.update(lambda s: s.set_last_good("anthropic", "x"))
    assert path.read_bytes() == broken
    kept = list(path.parent.glob("auth-profiles.json.unreadable-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == broken
    message = str(info.value)
    assert message.startswith(f"{path}:4:")
    assert str(kept[0]) in message
    # Asking again does not pile up copies of the same content.
    with pytest.raises(ParseError):
        agent.store_file.load()
    assert len(list(path.parent.glob("auth-profiles.json.unreadable-*"))) == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"version": 1, "profiles": []}, "profiles"),
        ({"version": "1", "profiles": {}}, "version"),
        ({"version": 1, "profiles": {}, "order": {"anthropic": "a:b"}}, "order.anthropic"),
        ({"version": 1, "profiles": {}, "usageStats": [1]}, "usageStats"),
        ({"version": 1, "profiles": {}, "lastGood": {"anthropic": 3}}, "lastGood.anthropic"),
    ],
)
def test_wrong_types_name_the_field(agent: AgentState, data: dict, field: str) -> None:
    path = write_json(store_path(agent), data)
    before = path.read_bytes()
    with pytest.raises(ParseError) as info:
        agent.store_file.update(lambda s: s.set_last_good("anthropic", "x"))
    assert f"field {field} must be" in str(info.value)
    assert path.read_bytes() == before


def test_a_newer_store_version_is_not_written(agent: AgentState) -> None:
    path = write_json(store_path(agent), {"version": 2, "profiles": {}})
    with pytest.raises(ParseError, match="version 2"):
        agent.store_file.update(lambda s: s.set_last_good("anthropic", "x"))
    assert read_json(path)["version"] == 2


def test_legacy_auth_json_is_imported_but_not_deleted(agent: AgentState) -> None:
    legacy = write_json(agent.agent_dir / "auth.json", {"anthropic": {"type": "api_key", "key": API_KEY}})
    store = agent.store_file.load()
    assert store.get("anthropic:default") == ApiKeyCredential(provider="anthropic", key=API_KEY)
    assert store.imported_from == (legacy,)
    assert not store_path(agent).exists()  # loading never writes
    agent.store_file.update(lambda s: None)
    assert read_json(store_path(agent))["profiles"]["anthropic:default"]["key"] == API_KEY
    assert legacy.exists()


def test_legacy_oauth_json_fills_only_free_ids_for_the_main_agent(agent: AgentState, state_dir: Path) -> None:
    write_json(agent.agent_dir / "auth.json", {"anthropic": {"type": "api_key", "key": API_KEY}})
    oauth = {"access": OAUTH_ACCESS, "refresh": OAUTH_REFRESH, "expires": 1769700000000}
    write_json(state_dir / "credentials" / "oauth.json", {"anthropic": oauth, "openai-codex": oauth})
    store = agent.store_file.load()
    assert isinstance(store.get("anthropic:default"), ApiKeyCredential)
    assert isinstance(store.get("openai-codex:default"), OAuthCredential)
    research = AgentState.resolve("research")
    assert research.store_file.load().profiles == {}


def test_auth_is_per_agent(agent: AgentState) -> None:
    agent.store_file.update(
        lambda s: s.set_credential("anthropic:default", ApiKeyCredential(provider="anthropic", key=API_KEY))
    )
    research = AgentState.resolve("research")
    assert research.store_file.load().profiles == {}
    assert research.agent_dir != agent.agent_dir
    research.store_file.update(lambda s: s.set_last_good("anthropic", "anthropic:default"))
    assert "anthropic:default" not in read_json(research.agent_dir / "auth-profiles.json")["profiles"]


def test_the_gateways_lock_is_honoured(agent: AgentState) -> None:
    """A lock dir made by another process (a gateway) blocks us until it is gone."""
    agent.store_file.update(lambda s: None)
    lock = Path(os.path.realpath(store_path(agent)) + ".lock")
    lock.mkdir()
    script = textwrap.dedent(
        """
        import sys
        from clawdbot_nb.state.agent import AgentState
        AgentState.resolve().store_file.update(lambda s: s.set_last_good("anthropic", "from-child"))
        print("done", flush=True)
        """
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as child:
        try:
            with pytest.raises(subprocess.TimeoutExpired):
                child.wait(timeout=0.5)
            assert agent.store_file.load().last_good("anthropic") is None
            lock.rmdir()
            assert child.wait(timeout=20) == 0
        finally:
            child.kill()
    assert agent.store_file.load().last_good("anthropic") == "from-child"


CONCURRENT_WORKER = textwrap.dedent(
    """
    import sys
    from clawdbot_nb.state.agent import AgentState
    from clawdbot_nb.state.cooldown import UsageStats
    worker, rounds = sys.argv[1], int(sys.argv[2])
    store_file = AgentState.resolve().store_file

    def bump(store):
        stats = store.stats("anthropic:default")
        store.set_stats("anthropic:default", UsageStats(error_count=(stats.error_count or 0) + 1))
        seen = store.data.setdefault("workers", {})
        seen[worker] = seen.get(worker, 0) + 1

    for _ in range(rounds):
        store_file.update(bump)
    """
)


def test_eight_processes_updating_one_store_lose_no_update(agent: AgentState) -> None:
    agent.store_file.update(
        lambda s: s.set_credential("anthropic:default", ApiKeyCredential(provider="anthropic", key=API_KEY))
    )
    workers, rounds = 8, 25
    children = [
        subprocess.Popen([sys.executable, "-c", CONCURRENT_WORKER, f"w{i}", str(rounds)])
        for i in range(workers)
    ]
    assert [child.wait(timeout=120) for child in children] == [0] * workers
    store = agent.store_file.load()
    assert store.stats("anthropic:default").error_count == workers * rounds
    assert store.data["workers"] == {f"w{i}": rounds for i in range(workers)}
    assert store.get("anthropic:default") == ApiKeyCredential(provider="anthropic", key=API_KEY)


def test_failure_stats_written_through_the_store(agent: AgentState) -> None:
    now = 1_769_650_000_000

    def fail(store):
        store.set_stats(
            "anthropic:default",
            record_failure(store.stats("anthropic:default"), "rate_limit", now, provider="anthropic"),
        )

    agent.store_file.update(fail)
    stats = read_json(store_path(agent))["usageStats"]["anthropic:default"]
    assert stats == {
        "cooldownUntil": now + 60_000,
        "errorCount": 1,
        "failureCounts": {"rate_limit": 1},
        "lastFailureAt": now,
    }


def test_store_file_for_a_missing_dir_is_created_lazily(tmp_path: Path) -> None:
    store_file = AuthStoreFile(tmp_path / "nowhere" / "agent")
    assert store_file.load().profiles == {}
    assert not (tmp_path / "nowhere").exists()


def test_a_symlinked_store_is_written_through_and_locked_at_its_target(agent: AgentState, tmp_path) -> None:
    real = tmp_path / "elsewhere" / "auth-profiles.json"
    write_json(real, HAND_WRITTEN)
    agent.agent_dir.mkdir(parents=True, exist_ok=True)
    store_path(agent).symlink_to(real)
    lock_dirs = []

    def change(store) -> None:
        lock_dirs.extend(p.name for p in real.parent.iterdir() if p.name.endswith(".lock"))
        store.set_last_good("anthropic", "anthropic:default")

    agent.store_file.update(change)
    assert store_path(agent).is_symlink()
    assert read_json(real)["lastGood"] == {"anthropic": "anthropic:default"}
    assert lock_dirs == ["auth-profiles.json.lock"]


def test_a_dangling_store_link_gets_its_target_created(agent: AgentState, tmp_path) -> None:
    real = tmp_path / "not-yet" / "auth-profiles.json"
    agent.agent_dir.mkdir(parents=True, exist_ok=True)
    store_path(agent).symlink_to(real)
    agent.store_file.update(lambda store: store.set_last_good("anthropic", "anthropic:x"))
    assert store_path(agent).is_symlink() and read_json(real)["lastGood"] == {"anthropic": "anthropic:x"}


def test_non_finite_numbers_in_the_store_are_refused_with_the_field(agent: AgentState) -> None:
    path = store_path(agent)
    path.parent.mkdir(parents=True)
    path.write_text(
        '{"version": 1, "profiles": {}, "usageStats": {"anthropic:default": {"lastUsed": Infinity}}}'
    )
    old = os.path.getmtime(path) - 60
    os.utime(path, (old, old))
    with pytest.raises(ParseError, match=r'usageStats\["anthropic:default"\]\.lastUsed is inf, not a finite'):
        agent.store_file.load()
