"""Reads that survive a live gateway: it rewrites auth-profiles.json in place (truncate, then
write), often unlocked, so a read can land on an empty or half-written file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from types import SimpleNamespace

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
    started = time.monotonic()
    with pytest.raises(ParseError, match="is empty"):
        agent.store_file.load()
    # An empty file is a truncate in progress until it has held still as we watched it (see
    # below); once it has, reading it again at the same version fails at once.
    assert time.monotonic() - started >= jsonfile.SETTLE_PATIENCE_S
    started = time.monotonic()
    with pytest.raises(ParseError, match="is empty"):
        agent.store_file.load()
    assert time.monotonic() - started < 0.2
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


# -- what a truncate-then-write looks like from outside, step by step --------------------------------
#
# Linux makes a truncation visible (size 0) before it stamps the file's new mtime, and the
# truncating open() waits for the disk (the previous write's data under writeback, the ext4
# journal): the gateway's saveJsonFile was measured taking over a second there during a
# full-suite run. All that time the store reads as empty while its mtime is the previous
# write's, which can be any age: an mtime says nothing about an empty file being at rest.


def _age(path: Path, seconds: float) -> int:
    old = time.time_ns() - int(seconds * 1e9)
    os.utime(path, ns=(old, old))
    return old


def _complete_later(path: Path, data: bytes, delay_s: float) -> threading.Thread:
    def finish() -> None:
        time.sleep(delay_s)
        path.write_bytes(data)  # the truncate gets its stamp and the write lands

    thread = threading.Thread(target=finish)
    thread.start()
    return thread


def test_an_empty_store_still_bearing_the_last_writes_mtime_is_a_write_in_progress(
    agent: AgentState,
) -> None:
    """The gateway last wrote a minute ago; its next write has truncated the store but not yet
    stamped it. Inside our lock too: the update waits for the write instead of failing."""
    path = _store(agent)
    good = path.read_bytes()
    old = _age(path, 60)
    os.truncate(path, 0)
    os.utime(path, ns=(old, old))  # what a reader sees during the truncate: empty, old mtime
    writer = _complete_later(path, good, 0.3)
    try:
        agent.store_file.update(lambda store: store.set_last_good("anthropic", "anthropic:manual"))
    finally:
        writer.join()
    store = agent.store_file.load()
    assert store.profile_ids() == ["anthropic:default", "anthropic:manual"]
    assert store.last_good("anthropic") == "anthropic:manual"
    assert _unreadable_copies(path) == []


PAUSED_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    path, data = sys.argv[1], open(sys.argv[1], "rb").read()
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    print("truncated", flush=True)
    os.kill(os.getpid(), signal.SIGSTOP)  # descheduled between its truncate and its write
    os.write(fd, data)
    os.close(fd)
    print("written", flush=True)
    """
)


def test_a_writer_paused_between_its_truncate_and_its_write_is_waited_for(agent: AgentState) -> None:
    """A real writer stopped right after its truncate, until the empty file's fresh mtime has
    aged past `AT_REST_S`: the read waits for the write rather than calling the store empty."""
    path = _store(agent)
    with subprocess.Popen(
        [sys.executable, "-c", PAUSED_WRITER, str(path)], stdout=subprocess.PIPE, text=True
    ) as writer:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "truncated"
        _, status = os.waitpid(writer.pid, os.WUNTRACED)
        assert os.WIFSTOPPED(status) and path.stat().st_size == 0
        time.sleep(max(0.0, path.stat().st_mtime + jsonfile.AT_REST_S + 0.2 - time.time()))
        resume = threading.Timer(0.3, os.kill, (writer.pid, signal.SIGCONT))
        resume.start()
        try:
            assert agent.store_file.load().profile_ids() == ["anthropic:default", "anthropic:manual"]
        finally:
            resume.join()
        assert writer.stdout.readline().strip() == "written"
        assert writer.wait() == 0
    assert _unreadable_copies(path) == []


def test_empty_reads_of_different_rewrites_are_no_settled_content(
    agent: AgentState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every read lands in another rewrite's truncate (a new version each time): when patience
    runs out the read fails, but the file never held still, so no copy is kept."""
    path = _store(agent)
    monkeypatch.setattr(jsonfile, "SETTLE_PATIENCE_S", 0.2)
    real_read = jsonfile.read_raw
    reads = []

    def always_mid_write(target: Path, *, what: str):
        raw = real_read(target, what=what)
        reads.append(raw)
        mtime_ns = time.time_ns() - 1_000_000  # each rewrite truncated a moment ago
        return jsonfile.RawFile(b"", (mtime_ns, 0, raw.version[2]), mtime_ns / 1e9)

    monkeypatch.setattr(jsonfile, "read_raw", always_mid_write)
    with pytest.raises(ParseError, match="is empty"):
        agent.store_file.load()
    assert len(reads) > 2
    assert _unreadable_copies(path) == []


def test_a_rewrite_between_our_stat_and_our_read_is_no_file_at_rest(
    agent: AgentState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store was at rest when we stat'ed it; the gateway's write began before our read
    (half the new content is in): what we read is not at rest, whatever the stat said."""
    path = _store(agent)
    new = json.loads(path.read_text())
    new["lastGood"] = {"anthropic": "anthropic:manual"}
    data = (json.dumps(new, indent=2) + "\n").encode()
    _age(path, 60)
    inode = path.stat().st_ino
    calls = []

    def fstat_as_the_writer_strikes(fd: int) -> os.stat_result:
        info = os.fstat(fd)
        if info.st_ino == inode:
            calls.append(info)
            if len(calls) == 1:  # the writer truncates and writes half, right after our stat
                with open(path, "r+b") as file:
                    file.truncate(0)
                    file.write(data[: len(data) // 2])
            elif len(calls) == 2:  # ... and the rest a moment later
                with open(path, "ab") as file:
                    file.write(data[len(data) // 2 :])
        return info

    monkeypatch.setattr(jsonfile, "os", SimpleNamespace(**{**vars(os), "fstat": fstat_as_the_writer_strikes}))
    assert agent.store_file.load().last_good("anthropic") == "anthropic:manual"
    assert _unreadable_copies(path) == []


def test_a_store_that_keeps_changing_is_looked_at_again_soon(
    agent: AgentState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer rewriting the store over and over, slowed by the disk, leaves it empty most of
    the time and complete only between its writes: while each look finds a new version, the
    next look comes after the shortest delay, not after an ever longer backoff."""
    path = _store(agent)
    real_read = jsonfile.read_raw
    reads, delays = [], []

    def mid_write_until_the_thirteenth(target: Path, *, what: str):
        raw = real_read(target, what=what)
        reads.append(raw)
        if len(reads) > 12:
            return raw
        mtime_ns = time.time_ns()  # another rewrite, caught between its truncate and its write
        return jsonfile.RawFile(b"", (mtime_ns, 0, raw.version[2]), mtime_ns / 1e9)

    def recorded_sleep(seconds: float) -> None:
        delays.append(seconds)
        time.sleep(seconds)

    monkeypatch.setattr(jsonfile, "read_raw", mid_write_until_the_thirteenth)
    monkeypatch.setattr(jsonfile, "time", SimpleNamespace(**{**vars(time), "sleep": recorded_sleep}))
    assert agent.store_file.load().profile_ids() == ["anthropic:default", "anthropic:manual"]
    assert len(delays) == 12
    assert max(delays) <= jsonfile.SETTLE_DELAYS_S[0] * 1.5
    assert _unreadable_copies(path) == []
