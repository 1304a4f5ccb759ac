from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from clawdbot_nb.errors import LockTimeoutError
from clawdbot_nb.state.lock import FileLock, LockOptions, lock_dir_for


def test_lock_is_a_directory_next_to_the_real_path(tmp_path: Path) -> None:
    real = tmp_path / "real" / "auth-profiles.json"
    real.parent.mkdir()
    real.write_text("{}")
    link = tmp_path / "link"
    link.symlink_to(real.parent)
    with FileLock(link / "auth-profiles.json") as lock:
        assert lock.lock_dir == Path(str(real) + ".lock")
        assert lock.lock_dir.is_dir()
    assert not lock.lock_dir.exists()


def test_a_stale_lock_is_broken(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    lock_dir = lock_dir_for(target)
    lock_dir.mkdir()
    old = time.time() - 31
    os.utime(lock_dir, (old, old))
    with FileLock(target) as lock:
        assert lock.stats.broke_stale
    assert not lock_dir.exists()


def test_a_fresh_lock_is_waited_for_then_times_out_with_the_fix(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    lock_dir_for(target).mkdir()
    options = LockOptions(stale_s=30, patience_s=0.2)
    with pytest.raises(LockTimeoutError) as info:
        FileLock(target, options).acquire()
    assert str(lock_dir_for(target)) in str(info.value)
    assert "remove the directory" in info.value.fix
    assert lock_dir_for(target).is_dir()  # someone else's lock is left alone


def test_heartbeat_keeps_a_long_held_lock_fresh(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    options = LockOptions(stale_s=0.4, patience_s=5)
    with FileLock(target, options) as held:
        old = time.time() - 100
        os.utime(held.lock_dir, (old, old))
        time.sleep(0.5)  # one heartbeat interval (stale/2) and a bit
        assert time.time() - held.lock_dir.stat().st_mtime < 0.4
        # So another waiter does not break it:
        waiter = FileLock(target, LockOptions(stale_s=0.4, patience_s=0.3))
        with pytest.raises(LockTimeoutError):
            waiter.acquire()


def test_waiter_gets_the_lock_once_released(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    first = FileLock(target)
    first.acquire()
    acquired = threading.Event()

    def wait_for_it() -> None:
        with FileLock(target):
            acquired.set()

    thread = threading.Thread(target=wait_for_it)
    thread.start()
    time.sleep(0.05)
    assert not acquired.is_set()
    first.release()
    thread.join(5)
    assert acquired.is_set()
