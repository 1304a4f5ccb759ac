"""Applying a call's effects to shared state, in the order they happened, before the call returns.

- `MarkFailure`: written to the auth store at once, under its lock (the next call, here or in
  another process or the gateway, must not pick that profile).
- `MarkSuccess`: remembered in this process at once, so the next call's round robin sees it;
  written to the store when it clears something (a cooldown, counters) or when the stored
  `lastUsed` is more than `LAST_USED_SLACK_MS` old — by one call of this process, not by every
  call that finishes before that write lands (a map's first wave would queue on the lock). The
  write compares times inside the store's transaction: a success never clears a failure newer
  than itself, whoever wrote that failure.
- `Record`: the ledger row, committed before the call returns (a process killed right after
  loses nothing).

A bookkeeping write that fails (a broken store, a refused ledger) is reported once as a warning
naming the file and the fix; it never costs the user the reply.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterable
from pathlib import Path

from clawdbot_nb.api.call import Effect, MarkFailure, MarkSuccess, Record
from clawdbot_nb.api.ledger import Ledger
from clawdbot_nb.errors import ClawdbotError
from clawdbot_nb.state.agent import AgentState
from clawdbot_nb.state.cooldown import (
    prune_expired,
    record_failure,
    record_success,
    success_clears,
    success_needs_writing,
)

#: How stale the stored `lastUsed` may get before a success is written anyway: round robin in
#: this process uses the in-memory uses; the gateway and other kernels see ours this late at most.
LAST_USED_SLACK_MS = 30_000


class BookkeepingWarning(UserWarning):
    """State the call could not record (the reply itself is fine)."""


class RecentUses:
    """Uses of each profile this process made that the store may not show yet (epoch ms)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uses: dict[str, int] = {}
        #: When this process last wrote (or began writing) each profile's lastUsed to the store.
        self._written: dict[str, int] = {}
        #: Bumped on every change, so cached candidate orders know when to recompute.
        self.version = 0

    def note(self, profile_id: str, at_ms: int) -> None:
        with self._lock:
            if at_ms > self._uses.get(profile_id, 0):
                self._uses[profile_id] = at_ms
                self.version += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._uses)

    def claim_last_used_write(self, profile_id: str, at_ms: int, slack_ms: int) -> bool:
        """Whether the use at `at_ms` should write lastUsed: no other use of this process wrote
        it, or began to, less than `slack_ms` earlier."""
        with self._lock:
            if at_ms - self._written.get(profile_id, -slack_ms - 1) < slack_ms:
                return False
            self._written[profile_id] = at_ms
            return True


_recent_uses: dict[Path, RecentUses] = {}
_recent_lock = threading.Lock()


def recent_uses(store_path: Path) -> RecentUses:
    """The process-wide memory for one auth store (shared by every workspace of that agent)."""
    with _recent_lock:
        memory = _recent_uses.get(store_path)
        if memory is None:
            memory = _recent_uses[store_path] = RecentUses()
        return memory


class Bookkeeper:
    """Applies effects for one agent's store and ledger."""

    def __init__(self, agent: AgentState, ledger: Ledger | None, *, provider: str = "anthropic") -> None:
        self.agent = agent
        self.ledger = ledger
        self.provider = provider
        self.recent = recent_uses(agent.store_file.path)
        self._warned: set[str] = set()
        #: Store writes made for successes (for the benchmark's write count).
        self.success_writes = 0

    def apply(self, effects: Iterable[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Record):
                self._record(effect)
            elif isinstance(effect, MarkFailure):
                self._failure(effect)
            elif isinstance(effect, MarkSuccess):
                self._success(effect)

    def _warn(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(message, BookkeepingWarning, stacklevel=4)

    def _failure(self, effect: MarkFailure) -> None:
        profile_id = effect.profile_id
        try:
            policy = self.agent.config().cooldown_policy

            def apply(store) -> None:
                if store.get(profile_id) is None:
                    return  # removed meanwhile
                stats = record_failure(
                    store.stats(profile_id),
                    effect.reason,
                    effect.at_ms,
                    provider=self.provider,
                    policy=policy,
                )
                store.set_stats(profile_id, stats)

            self.agent.store_file.update(apply)
        except ClawdbotError as error:
            self._warn(f"failure:{error}", f"could not record the cooldown of {profile_id}: {error}")

    def _success(self, effect: MarkSuccess) -> None:
        profile_id, at = effect.profile_id, effect.at_ms
        self.recent.note(profile_id, at)
        try:
            stored = self.agent.store_file.snapshot().stats(profile_id)
            if not success_needs_writing(stored, at, last_used_slack_ms=LAST_USED_SLACK_MS):
                return
            if not success_clears(stored, at) and not self.recent.claim_last_used_write(
                profile_id, at, LAST_USED_SLACK_MS
            ):
                return  # only lastUsed is stale, and another call here is writing it

            def apply(store) -> None:
                if store.get(profile_id) is None:
                    return  # removed meanwhile
                store.set_stats(profile_id, prune_expired(record_success(store.stats(profile_id), at), at))
                store.set_last_good(self.provider, profile_id)

            self.agent.store_file.update(apply)
            self.success_writes += 1
        except ClawdbotError as error:
            self._warn(f"success:{error}", f"could not record the success of {profile_id}: {error}")

    def _record(self, effect: Record) -> None:
        if self.ledger is None:
            return
        try:
            self.ledger.append(effect.row)
        except ClawdbotError as error:
            self._warn(f"ledger:{error}", f"this call is not in the usage ledger: {error}")
        except Exception as error:  # sqlite3 errors: disk full, a file replaced under us ...
            self._warn(
                f"ledger:{type(error).__name__}",
                f"this call is not in the usage ledger {self.ledger.path}: {type(error).__name__}: {error}"
                " Fix: check the disk and the file; move it aside to start a new ledger",
            )
