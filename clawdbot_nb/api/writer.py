"""State writes taken off the request path: success marks and ledger rows, in order.

A call's reply should not wait for an fsync of the auth store or the ledger. Those writes go
to one background thread per workspace, in submission order; `flush()` waits for them, and
is called before anything reads them back, when the workspace closes and at interpreter exit.
A write that fails is reported once as a warning, never lost silently.
"""

from __future__ import annotations

import atexit
import queue
import threading
import warnings
import weakref
from collections.abc import Callable

_STOP = object()


class BackgroundWriter:
    def __init__(self, name: str = "clawdbot-nb-writer") -> None:
        self._name = name
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.errors: list[BaseException] = []
        atexit.register(_flush_at_exit, weakref.ref(self))

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()

    def submit(self, task: Callable[[], object]) -> None:
        self._ensure_thread()
        self._queue.put(task)

    def _run(self) -> None:
        while True:
            task = self._queue.get()
            try:
                if task is _STOP:
                    return
                task()  # type: ignore[operator]
            except BaseException as error:  # a failed write must surface, not kill the thread
                self.errors.append(error)
                warnings.warn(f"clawdbot_nb could not save usage or profile state: {error}", stacklevel=1)
            finally:
                self._queue.task_done()

    def flush(self) -> None:
        """Wait until every submitted write is done."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.join()

    def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        self._thread = None


def _flush_at_exit(ref: weakref.ref[BackgroundWriter]) -> None:
    writer = ref()
    if writer is not None:
        writer.close()
