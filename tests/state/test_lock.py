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


HOLDER = """
import sys, time
from pathlib import Path
from clawdbot_nb.state.lock import FileLock
with FileLock(Path(sys.argv[1])):
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_waiter_says_who_holds_the_lock_and_for_how_long(tmp_path: Path) -> None:
    import subprocess
    import sys

    from clawdbot_nb.state.notices import collected_notices

    target = tmp_path / "auth-profiles.json"
    target.write_text("{}")
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(target), "2.5"], stdout=subprocess.PIPE, text=True
    ) as holder:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with collected_notices() as notices, FileLock(target) as lock:
            assert lock.stats.waited_s > 1
        holder.wait(timeout=10)
    assert len(notices) == 1, notices
    assert notices[0].startswith(
        f"clawdbot-nb: waiting for auth-profiles.json in {tmp_path}: locked by clawdbot-nb (pid {holder.pid}"
    )
    assert " s; waited 1 s so far" in notices[0]
    assert not Path(str(target) + ".lock-holder").exists()  # the note goes with the lock


def test_a_foreign_lock_is_described_as_such(tmp_path: Path) -> None:
    from clawdbot_nb.state.notices import collected_notices

    target = tmp_path / "f.json"
    lock_dir_for(target).mkdir()
    with collected_notices() as notices, pytest.raises(LockTimeoutError):
        FileLock(target, LockOptions(stale_s=30, patience_s=1.6)).acquire()
    assert notices == [
        f"clawdbot-nb: waiting for f.json in {tmp_path}: locked by another program (a Clawdbot gateway, or a "
        "process that died; such a lock is removed when stale); waited 1 s so far"
    ] or notices[0].endswith("waited 2 s so far")  # a loaded machine may wake late


def test_breaking_a_stale_lock_is_announced(tmp_path: Path) -> None:
    from clawdbot_nb.state.notices import collected_notices

    target = tmp_path / "f.json"
    lock_dir = lock_dir_for(target)
    lock_dir.mkdir()
    old = time.time() - 47
    os.utime(lock_dir, (old, old))
    with collected_notices() as notices, FileLock(target):
        pass
    assert len(notices) == 1 and "removed a stale lock" in notices[0] and "47 s" in notices[0]


def test_a_file_where_the_lock_goes_is_one_clear_error(tmp_path: Path) -> None:
    from clawdbot_nb.errors import ParseError

    target = tmp_path / "f.json"
    lock_dir_for(target).write_text("not a lock")
    with pytest.raises(ParseError, match="is a file, not a lock directory"):
        FileLock(target).acquire()
    assert lock_dir_for(target).read_text() == "not a lock"


def test_the_cli_shows_the_wait_on_stderr(tmp_path: Path, state_dir: Path) -> None:
    import subprocess
    import sys

    store = state_dir / "agents" / "main" / "agent" / "auth-profiles.json"
    store.parent.mkdir(parents=True)
    store.write_text('{"version": 1, "profiles": {}}\n')
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(store), "5"], stdout=subprocess.PIPE, text=True
    ) as holder:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "clawdbot_nb",
                "models",
                "auth",
                "order",
                "clear",
                "--provider",
                "anthropic",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        holder.wait(timeout=10)
    assert done.returncode == 0, done.stderr
    (line,) = done.stderr.splitlines()
    assert (
        line.startswith("clawdbot-nb: waiting for auth-profiles.json in ") and f"(pid {holder.pid}," in line
    )


def test_the_notebook_shows_the_wait_in_the_cell_output(state_dir: Path, monkeypatch) -> None:
    """The magic runs the same command; the notice reaches the cell's stderr with no notebook code."""
    import subprocess
    import sys

    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    store = state_dir / "agents" / "main" / "agent" / "auth-profiles.json"
    store.parent.mkdir(parents=True)
    store.write_text('{"version": 1, "profiles": {}}\n')
    shell = InteractiveShell.instance()
    monkeypatch.setattr("clawdbot_nb.notebook.display.in_kernel", lambda: True)
    shell.run_line_magic("load_ext", "clawdbot_nb")
    try:
        with subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(store), "3"], stdout=subprocess.PIPE, text=True
        ) as holder:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
            with capture_output() as captured:
                shell.run_line_magic("clawdbot", "models auth order clear --provider anthropic")
            holder.wait(timeout=10)
    finally:
        shell.run_line_magic("unload_ext", "clawdbot_nb")
    assert (
        f"clawdbot: waiting for auth-profiles.json in {store.parent}: locked by clawdbot-nb (pid {holder.pid}"
        in captured.stderr
    )
    assert "Cleared per-agent order override." in captured.stdout
