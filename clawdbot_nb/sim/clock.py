"""The simulator's virtual clock: cache TTLs, token expiry and batch processing run on it.

Frozen by default so tests are deterministic (time moves only by `advance`); a flowing clock
(for a server a person talks to) follows the wall clock plus every advance made so far.
"""

from __future__ import annotations

import re
import threading
import time

__all__ = ["VirtualClock", "parse_duration"]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*")


def parse_duration(value: float | int | str) -> float:
    """Seconds from a number of seconds or a string such as `"6m"`, `"1h30m"`, `"90s"`, `"250ms"`."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"not a duration: {value!r}")
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    total = 0.0
    position = 0
    for match in _DURATION_RE.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position != len(text) or position == 0:
        raise ValueError(f"not a duration: {value!r} (use seconds or e.g. '6m', '1h', '90s')")
    return total


class VirtualClock:
    """Unix seconds as the simulator sees them.

    `start` defaults to the wall clock at creation, so timestamps in responses look real.
    """

    def __init__(self, start: float | None = None, *, flowing: bool = False) -> None:
        self._lock = threading.Lock()
        self._flowing = flowing
        self._origin_wall = time.time()
        self._origin = self._origin_wall if start is None else float(start)
        self._offset = 0.0

    @property
    def flowing(self) -> bool:
        return self._flowing

    def now(self) -> float:
        """The current virtual time in unix seconds."""
        with self._lock:
            base = self._origin + self._offset
            if self._flowing:
                base += time.time() - self._origin_wall
            return base

    def advance(self, duration: float | int | str) -> float:
        """Move time forward (seconds or a string like `"6m"`); returns the new time."""
        seconds = parse_duration(duration)
        if seconds < 0:
            raise ValueError("the virtual clock only moves forward")
        with self._lock:
            self._offset += seconds
        return self.now()

    def __repr__(self) -> str:
        kind = "flowing" if self._flowing else "frozen"
        return f"VirtualClock({kind}, now={self.now():.3f})"
