"""The one clock of a workspace: what "now" is and how to wait, for the call engine, the profile
order, the bookkeeper (through the engine's effects) and the map's scheduler (`now_ms`, `sleep`),
and the time cache entries live on, for the cache watch (`clock()`, unix seconds).

Wall time by default. `VirtualTime` follows a simulator's virtual clock: waiting moves that
clock forward instead of sleeping, so an hour of cooldowns passes in microseconds in a test.
`CacheTime` keeps calls and waits on wall time while cache entries live on another clock's
time (a simulator's, whose `advance` expires them): what `Workspace.simulated()` uses by default.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol


class Clock(Protocol):
    #: True when waiting costs no real time (a simulator's clock).
    virtual: bool

    def __call__(self) -> float: ...

    def now_ms(self) -> int: ...

    def sleep(self, seconds: float) -> None: ...

    def sleep_until(self, at_ms: int) -> None: ...

    async def asleep(self, seconds: float) -> None: ...


class WallClock:
    virtual = False

    def __call__(self) -> float:
        return time.time()

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def sleep_until(self, at_ms: int) -> None:
        self.sleep((at_ms - self.now_ms()) / 1000)

    async def asleep(self, seconds: float) -> None:
        if seconds > 0:
            await asyncio.sleep(seconds)

    def __repr__(self) -> str:
        return "WallClock()"

    # Clocks that read the same time are equal: the cache watch is shared per agent and clock.
    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))


class VirtualTime:
    """Time as a simulator's `VirtualClock` tells it (anything with `now()` in unix seconds and
    `advance(seconds)`). Sleeping advances it; `sleep_until` advances it to that moment only if
    it is not there yet, so two threads waiting for the same moment move it once."""

    virtual = True

    def __init__(self, clock: Any) -> None:
        self._clock = clock
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self._clock.now()

    def now_ms(self) -> int:
        return int(self._clock.now() * 1000)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            with self._lock:
                self._clock.advance(seconds)

    def sleep_until(self, at_ms: int) -> None:
        with self._lock:
            behind = at_ms / 1000 - self._clock.now()
            if behind > 0:
                self._clock.advance(behind)

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)

    def __repr__(self) -> str:
        return f"VirtualTime({self._clock!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VirtualTime) and other._clock is self._clock

    def __hash__(self) -> int:
        return hash((VirtualTime, id(self._clock)))


class CacheTime(WallClock):
    """Wall time for calls and waits; `clock()` (where cache entries live) reads `seconds`."""

    def __init__(self, seconds: Callable[[], float]) -> None:
        self._seconds = seconds

    def __call__(self) -> float:
        return self._seconds()

    def __repr__(self) -> str:
        return f"CacheTime({self._seconds!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CacheTime) and other._seconds == self._seconds

    def __hash__(self) -> int:
        return hash((CacheTime, self._seconds))


WALL_CLOCK = WallClock()


def as_clock(clock: Clock | Callable[[], float] | None) -> Clock:
    """A `Clock` from what a workspace was given: a clock, a function of unix seconds (the time
    cache entries live on; calls stay on wall time), or None (wall time)."""
    if clock is None:
        return WALL_CLOCK
    if hasattr(clock, "now_ms") and hasattr(clock, "sleep_until"):
        return clock  # type: ignore[return-value]
    return CacheTime(clock)
