"""State writes taken off the request path: success marks and ledger rows, in order.

A call's reply should not wait for an fsync of the auth store or the ledger. Those writes go
to one background thread per workspace. After the first item arrives the thread lingers a
moment (`linger_s`) to gather more, then hands each kind's items to its handler at once (one
store transaction, one ledger transaction): a burst of calls costs a few writes, not one per
call, and the store file is not rewritten under the feet of the next call. `flush()` cuts the
linger short and waits; it runs before anything reads the writes back, when the workspace
closes, and at interpreter exit. A write that fails is reported as a warning, never dropped
silently.
"""

from __future__ import annotations

import atexit
import queue
import threading
import warnings
import weakref
from collections.abc import Callable, Mapping
from typing import Any

_STOP = ("__stop__", None)


class BackgroundWriter:
    def __init__(
        self,
        handlers: Mapping[str, Callable[[list[Any]], object]],
        *,
        linger_s: float = 0.2,
        name: str = "clawdbot-nb-writer",
    ):
        self._handlers = dict(handlers)
        self._linger_s = linger_s
        self._hurry = threading.Event()
        self._name = name
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.errors: list[BaseException] = []
        atexit.register(_close_at_exit, weakref.ref(self))

    def submit(self, kind: str, item: Any) -> None:
        if kind not in self._handlers:
            raise KeyError(f"no handler for {kind!r}")
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
        self._queue.put((kind, item))

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            if batch[0] != _STOP:
                self._hurry.wait(self._linger_s)  # gather more, unless flush() is waiting
            self._hurry.clear()
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = _STOP in batch
            grouped: dict[str, list[Any]] = {}
            for kind, item in batch:
                if (kind, item) != _STOP:
                    grouped.setdefault(kind, []).append(item)
            for kind, items in grouped.items():
                try:
                    self._handlers[kind](items)
                except BaseException as error:  # a failed write must surface, not kill the thread
                    self.errors.append(error)
                    warnings.warn(
                        f"clawdbot_nb could not save {kind} ({len(items)} items): {error}", stacklevel=1
                    )
            for _ in batch:
                self._queue.task_done()
            if stop:
                return

    def flush(self) -> None:
        """Wait until every submitted write is done."""
        if self._thread is not None and self._thread.is_alive():
            self._hurry.set()
            self._queue.join()

    def close(self) -> None:
        """Finish the queued writes and stop the thread (a later submit starts a new one)."""
        with self._lock:
            thread = self._thread
            self._thread = None
        if thread is not None and thread.is_alive():
            self._queue.put(_STOP)
            self._hurry.set()
            thread.join()


def _close_at_exit(ref: weakref.ref[BackgroundWriter]) -> None:
    writer = ref()
    if writer is not None:
        writer.close()
