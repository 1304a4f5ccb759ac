"""Durations as Clawdbot writes and prints them (`365d`, `90m`; `5m` / `3h` / `12d`)."""

from __future__ import annotations

import re

from clawdbot_nb.errors import UsageError

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$")
_UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
#: No credential is meant to last longer; beyond it, expiry times stop being representable.
MAX_DURATION_MS = 100 * 365 * 86_400_000


def parse_duration_ms(text: str, *, default_unit: str = "d", argument: str = "duration") -> int:
    """Clawdbot's `parseDurationMs`: `^\\d+(\\.\\d+)?(ms|s|m|h|d)?$`, default unit days."""
    from clawdbot_nb.state.redaction import refuse_secret, shown

    refuse_secret(text, argument=argument, expected="a duration such as 365d")
    cleaned = text.strip().lower() if isinstance(text, str) else ""
    match = _DURATION.match(cleaned) if len(cleaned) <= 32 else None
    if not match:
        raise UsageError(
            f"Invalid {argument} {shown(text)}: expected a number with an optional unit ms, s, m, h or d.",
            fix=f"write it like 365d, 12h or 90m (a bare number means {default_unit})",
        )
    value = float(match.group(1))
    unit = match.group(2) or default_unit
    ms = round(value * _UNIT_MS[unit]) if value * _UNIT_MS[unit] <= MAX_DURATION_MS else MAX_DURATION_MS + 1
    if ms <= 0:
        raise UsageError(
            f"Invalid {argument} {shown(text)}: it must be longer than zero.", fix="use e.g. 365d"
        )
    if ms > MAX_DURATION_MS:
        raise UsageError(
            f"Invalid {argument} {shown(text)}: longer than 100 years.", fix="use e.g. 365d, or leave it out"
        )
    return ms


def format_remaining(ms: float) -> str:
    """`Nm` under an hour, `Nh` under 48 hours, else `Nd` (as `models status` prints)."""
    if ms <= 0:
        return "0m"
    if ms < HOUR_MS:
        return f"{max(1, round(ms / MINUTE_MS))}m"
    if ms < 48 * HOUR_MS:
        return f"{round(ms / HOUR_MS)}h"
    return f"{round(ms / (24 * HOUR_MS))}d"
