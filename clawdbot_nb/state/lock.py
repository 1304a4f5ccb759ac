"""A cross-process lock that a Clawdbot gateway honours too (proper-lockfile's protocol).

The lock is a directory `<realpath of the file>.lock` made with an atomic `mkdir`. A lock
whose mtime is older than `stale` is abandoned and may be broken; the holder refreshes the
mtime every `stale / 2` so a long operation is never mistaken for a dead one.

Retry timing is ours, not part of the protocol: we poll from 5 ms, doubling to 250 ms with
jitter, for longer than `stale`, so a waiter outlives a dead holder's lock and contended
updates from many processes keep flowing instead of sleeping seconds (proper-lockfile's
100 ms .. 10 s steps).
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from clawdbot_nb.errors import LockTimeoutError
from clawdbot_nb.state.jsonfile import ensure_private_dir


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


def lock_dir_for(target: Path) -> Path:
    """proper-lockfile locks `<realpath>.lock`, so a symlinked agent dir shares one lock."""
    return Path(os.path.realpath(target) + ".lock")


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
        ensure_private_dir(self.lock_dir.parent)
        while True:
            self.stats.attempts += 1
            try:
                os.mkdir(self.lock_dir, 0o700)
            except FileExistsError:
                if self._break_if_stale():
                    self.stats.broke_stale = True
                    continue
            else:
                break
            elapsed = time.monotonic() - start
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
        self._start_heartbeat()

    def _break_if_stale(self) -> bool:
        try:
            age = time.time() - self.lock_dir.stat().st_mtime
        except FileNotFoundError:
            return True  # released between our mkdir and stat: just retry
        if age <= self.options.stale_s:
            return False
        # Check again right before removing, to narrow the window in which a fresh lock taken
        # by someone else after our first look could be removed (proper-lockfile has it too).
        try:
            if time.time() - self.lock_dir.stat().st_mtime <= self.options.stale_s:
                return False
            shutil.rmtree(self.lock_dir)
        except FileNotFoundError:
            pass
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
