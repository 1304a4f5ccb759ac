"""Reads that survive a live gateway: it rewrites auth-profiles.json in place (truncate, then
write), often unlocked, so a read can land on an empty or half-written file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from clawdbot_nb.errors import ParseError
from clawdbot_nb.state import jsonfile
from clawdbot_nb.state.agent import AgentState
from clawdbot_nb.state.config import ClawdbotConfig, update_config
from clawdbot_nb.state.status import models_status
from tests.state.fakes import API_KEY, SETUP_TOKEN, write_json

#: A writer as the gateway's `saveJsonFile` does it: open with truncation, write, close; the
#: write split in two, so a reader can also see half a file. A thousand writes a second: far
#: more than a gateway, which writes once per request.
IN_PLACE_WRITER = textwrap.dedent(
    """
    import json, os, sys, time
    path, rounds = sys.argv[1], int(sys.argv[2])
    base = json.loads(open(path).read())
    print("ready", flush=True)
    for n in range(rounds):
        base["usageStats"] = {"anthropic:default": {"lastUsed": 1769650000000 + n, "errorCount": 0}}
        data = (json.dumps(base, indent=2) + "\\n").encode()
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
        os.write(fd, data[: len(data) // 2])
        os.write(fd, data[len(data) // 2 :])
        os.close(fd)
        time.sleep(0.001)
    print("done", flush=True)
    """
)


def _store(agent: AgentState) -> Path:
    path = agent.agent_dir / "auth-profiles.json"
    write_json(
        path,
        {
            "version": 1,
            "profiles": {
                "anthropic:default": {"type": "api_key", "provider": "anthropic", "key": API_KEY},
                "anthropic:manual": {"type": "token", "provider": "anthropic", "token": SETUP_TOKEN},
            },
        },
    )
    return path


def _unreadable_copies(path: Path) -> list[Path]:
    return list(path.parent.glob(f"{path.name}.unreadable-*"))


def test_reads_during_in_place_rewrites_never_fail_nor_keep_copies(agent: AgentState) -> None:
    path = _store(agent)
    reads = errors = 0
    with subprocess.Popen(
        [sys.executable, "-c", IN_PLACE_WRITER, str(path), "1500"], stdout=subprocess.PIPE, text=True
    ) as writer:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        while writer.poll() is None:
            try:
                report = models_status(agent)  # the unlocked read path, snapshot cache included
                assert report.to_json()["auth"]["providers"][0]["profiles"]["count"] == 2
                agent.store_file.load()
            except ParseError:
                errors += 1
            reads += 2
        assert writer.wait() == 0
    assert reads > 100
    assert errors == 0
    assert _unreadable_copies(path) == []


def test_locked_updates_during_unlocked_in_place_rewrites(agent: AgentState) -> None:
    """Inside our lock the re-read is retried too (the gateway's onboarding writes unlocked)."""
    path = _store(agent)
    updates = 0
    with subprocess.Popen(
        [sys.executable, "-c", IN_PLACE_WRITER, str(path), "600"], stdout=subprocess.PIPE, text=True
    ) as writer:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        while writer.poll() is None:
            agent.store_file.update(lambda store: store.set_last_good("anthropic", "anthropic:default"))
            updates += 1
        assert writer.wait() == 0
    assert updates >= 3  # a loaded machine runs few; each one re-read the store inside the lock
    assert _unreadable_copies(path) == []


def test_a_moment_of_emptiness_is_waited_out(agent: AgentState, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _store(agent)
    good = path.read_bytes()
    real_read = jsonfile.read_raw
    seen = []

    def read_during_a_write(target: Path, *, what: str):
        raw = real_read(target, what=what)
        seen.append(raw)
        if len(seen) == 1:  # the first look lands between the truncate and the write
            return jsonfile.RawFile(b"", raw.version, raw.mtime_s)
        return raw

    monkeypatch.setattr(jsonfile, "read_raw", read_during_a_write)
    assert agent.store_file.load().profile_ids() == ["anthropic:default", "anthropic:manual"]
    assert len(seen) == 2 and path.read_bytes() == good
    assert _unreadable_copies(path) == []


def test_a_store_broken_at_rest_fails_at_once_with_one_copy(agent: AgentState) -> None:
    path = _store(agent)
    path.write_text('{"version": 1, "prof')
    old = time.time() - 60
    os.utime(path, (old, old))
    started = time.monotonic()
    for _ in range(3):
        with pytest.raises(ParseError, match="not valid JSON5"):
            agent.store_file.load()
    assert time.monotonic() - started < 0.2  # at rest: no re-reads
    copies = _unreadable_copies(path)
    assert len(copies) == 1 and copies[0].read_text() == '{"version": 1, "prof'
    path.write_text("")  # another broken content: one more copy
    os.utime(path, (old, old))
    with pytest.raises(ParseError, match="is empty"):
        agent.store_file.load()
    assert len(_unreadable_copies(path)) == 2


def test_a_fresh_broken_store_is_reread_then_refused(agent: AgentState) -> None:
    path = _store(agent)
    path.write_text("{")
    started = time.monotonic()
    with pytest.raises(ParseError) as info:
        agent.store_file.load()
    waited = time.monotonic() - started
    assert jsonfile.AT_REST_S * 0.8 <= waited < jsonfile.AT_REST_S + 1  # re-read until it held still
    assert str(path) in str(info.value) and "unreadable" in str(info.value)
    assert len(_unreadable_copies(path)) == 1


def test_a_config_read_during_a_rewrite_is_retried(agent: AgentState, monkeypatch) -> None:
    write_json(
        agent.config_path, {"agents": {"defaults": {"model": {"primary": "anthropic/claude-opus-4-5"}}}}
    )
    real_read = jsonfile.read_raw
    calls = []

    def truncated_once(target: Path, *, what: str):
        raw = real_read(target, what=what)
        calls.append(target)
        if len(calls) == 1:
            return jsonfile.RawFile(raw.data[:7], raw.version, raw.mtime_s)
        return raw

    monkeypatch.setattr(jsonfile, "read_raw", truncated_once)
    assert ClawdbotConfig.load(agent.config_path).primary_model == "anthropic/claude-opus-4-5"
    update_config(agent.config_path, lambda data: data.setdefault("meta", {}))
    assert json.loads(agent.config_path.read_text())["meta"] == {}


def test_a_rewrite_in_the_same_timestamp_tick_is_not_missed(agent: AgentState) -> None:
    """Same size, same mtime (a coarse clock tick), new content: the cache compares bytes."""
    path = _store(agent)
    first = agent.store_file.snapshot()
    info = path.stat()
    text = path.read_text().replace("anthropic:manual", "anthropic:manua2")
    path.write_text(text)
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert path.stat().st_size == info.st_size
    assert "anthropic:manua2" in agent.store_file.snapshot().profile_ids()
    assert first is not agent.store_file.snapshot()
