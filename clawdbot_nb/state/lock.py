"""A cross-process lock that a Clawdbot gateway honours too (proper-lockfile's protocol).

The lock is a directory `<realpath of the file>.lock` made with an atomic `mkdir`. A lock
whose mtime is older than `stale` is abandoned and may be broken; the holder refreshes the
mtime every `stale / 2` so a long operation is never mistaken for a dead one.

Retry timing is ours, not part of the protocol: we poll from 5 ms, doubling to 250 ms with
jitter, for longer than `stale`, so a waiter outlives a dead holder's lock and contended
updates from many processes keep flowing instead of sleeping seconds (proper-lockfile's
100 ms .. 10 s steps).

Who holds a lock of ours is written beside it (`<file>.lock-holder`: pid, host, command,
since when), never inside it: proper-lockfile removes the directory with `rmdir`, which fails
on a non-empty one. A waiter says who holds the lock and for how long once it has waited a
second, and breaking a stale lock is announced too (`state.notices`).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import socket
import stat
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from clawdbot_nb.errors import LockTimeoutError, ParseError
from clawdbot_nb.state.jsonfile import (
    ensure_private_dir,
    remove_stale_temp_files,
    temp_path_for,
    write_new_file,
)
from clawdbot_nb.state.notices import notify


@dataclass(frozen=True)
class LockOptions:
    stale_s: float
    #: How long to keep retrying before giving up; must exceed `stale_s`.
    patience_s: float
    first_delay_s: float = 0.005
    max_delay_s: float = 0.25


#: `AUTH_STORE_LOCK_OPTIONS`: stale after 30 s.
STORE_LOCK = LockOptions(stale_s=30.0, patience_s=45.0)
#: `OAUTH_REFRESH_LOCK_OPTIONS` of later gateways: stale after 180 s (a refresh may take 120 s).
OAUTH_REFRESH_LOCK = LockOptions(stale_s=180.0, patience_s=200.0)


#: Waiting longer than this is announced (then every `NOTICE_EVERY_S`).
NOTICE_AFTER_S = 1.0
NOTICE_EVERY_S = 10.0


def lock_dir_for(target: Path) -> Path:
    """proper-lockfile locks `<realpath>.lock`, so a symlinked agent dir shares one lock."""
    return Path(os.path.realpath(target) + ".lock")


def holder_file_for(lock_dir: Path) -> Path:
    return lock_dir.with_name(lock_dir.name + "-holder")


def _this_command() -> str:
    from clawdbot_nb.state.redaction import redact_line

    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if name in ("-c", "") or name.endswith(("ipykernel_launcher.py", "__main__.py")):
        name = "python"
    words = [name, *sys.argv[1:4]] if name != "python" else [name]
    return redact_line(" ".join(words))[:80]


def describe_holder(lock_dir: Path, now: float | None = None) -> str:
    """Who holds the lock, e.g. "clawdbot-nb (pid 4242, `clawdbot-nb models status`) for 3 s",
    or what can be said of a lock without a (live) holder note: a gateway's, or a dead one's."""
    now = time.time() if now is None else now
    try:
        note = json.loads(holder_file_for(lock_dir).read_text(encoding="utf-8"))
        pid, host, since, command = (
            int(note["pid"]),
            str(note["host"]),
            float(note["since"]),
            str(note["command"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        note = None
    if note is not None and host == socket.gethostname() and _alive(pid):
        return f"clawdbot-nb (pid {pid}, `{command}`) for {max(0, round(now - since))} s"
    return "another program (a Clawdbot gateway, or a process that died; such a lock is removed when stale)"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


@dataclass
class LockStats:
    """What acquiring cost: for contention measurements and diagnostics."""

    attempts: int = 0
    waited_s: float = 0.0
    broke_stale: bool = False


class FileLock:
    """`with FileLock(path):` holds `<path>.lock` for the block. Not reentrant."""

    def __init__(self, target: Path, options: LockOptions = STORE_LOCK) -> None:
        self.target = target
        self.options = options
        self.lock_dir = lock_dir_for(target)
        self.stats = LockStats()
        self._stop_heartbeat: threading.Event | None = None
        self._heartbeat: threading.Thread | None = None

    def acquire(self) -> None:
        options = self.options
        start = time.monotonic()
        delay = options.first_delay_s
        next_notice = NOTICE_AFTER_S
        ensure_private_dir(self.lock_dir.parent)
        while True:
            self.stats.attempts += 1
            try:
                os.mkdir(self.lock_dir, 0o700)
            except FileExistsError:
                if self._break_if_stale():
                    self.stats.broke_stale = True
                    continue
            except OSError as error:
                raise ParseError(
                    f"cannot create the lock {self.lock_dir} ({error.strerror or error})",
                    path=self.target,
                    fix="check the permissions of that directory and the free disk space",
                ) from error
            else:
                break
            elapsed = time.monotonic() - start
            if elapsed >= next_notice:  # before giving up: a long wait is always announced
                notify(
                    f"waiting for {self.target.name} in {self.target.parent}: locked by "
                    f"{describe_holder(self.lock_dir)}; waited {elapsed:.0f} s so far"
                )
                next_notice = elapsed + NOTICE_EVERY_S
            if elapsed >= options.patience_s:
                raise LockTimeoutError(
                    f"another process has held the lock {self.lock_dir} for over {elapsed:.0f} s",
                    fix=(
                        "wait for the other clawdbot or clawdbot-nb process to finish; if none is "
                        f"running, remove the directory {self.lock_dir}"
                    ),
                )
            time.sleep(delay * random.uniform(1.0, 2.0))
            delay = min(delay * 2, options.max_delay_s)
        self.stats.waited_s = time.monotonic() - start
        self._write_holder_note()
        self._start_heartbeat()

    def _write_holder_note(self) -> None:
        note = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.time(),
            "command": _this_command(),
        }
        holder = holder_file_for(self.lock_dir)
        temp = temp_path_for(holder)
        try:
            write_new_file(temp, json.dumps(note).encode("utf-8"))
            os.replace(temp, holder)
            remove_stale_temp_files(holder)
        except OSError:  # only a courtesy to waiters
            with contextlib.suppress(OSError):
                temp.unlink()

    def _break_if_stale(self) -> bool:
        try:
            info = os.lstat(self.lock_dir)
        except FileNotFoundError:
            return True  # released between our mkdir and stat: just retry
        if not stat.S_ISDIR(info.st_mode):
            raise ParseError(
                f"the lock {self.lock_dir} is a file, not a lock directory",
                path=self.target,
                fix=f"remove it (rm {self.lock_dir}) if no clawdbot or clawdbot-nb is running",
            )
        age = time.time() - info.st_mtime
        if age <= self.options.stale_s:
            return False
        # Check again right before removing, to narrow the window in which a fresh lock taken
        # by someone else after our first look could be removed (proper-lockfile has it too).
        try:
            age = time.time() - self.lock_dir.stat().st_mtime
            if age <= self.options.stale_s:
                return False
            shutil.rmtree(self.lock_dir)
        except FileNotFoundError:
            return True
        notify(
            f"removed a stale lock {self.lock_dir} (no sign of life for {age:.0f} s, so its holder "
            "died or hung); carrying on"
        )
        return True

    def _start_heartbeat(self) -> None:
        stop = threading.Event()
        interval = self.options.stale_s / 2

        def beat() -> None:
            while not stop.wait(interval):
                with contextlib.suppress(OSError):
                    os.utime(self.lock_dir)

        thread = threading.Thread(target=beat, name=f"lock-heartbeat:{self.lock_dir.name}", daemon=True)
        thread.start()
        self._stop_heartbeat, self._heartbeat = stop, thread

    def release(self) -> None:
        if self._stop_heartbeat is not None:
            self._stop_heartbeat.set()
            self._stop_heartbeat = None
            self._heartbeat = None
        with contextlib.suppress(OSError):  # the note first: it must never outlive the lock
            holder_file_for(self.lock_dir).unlink()
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(self.lock_dir)

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
