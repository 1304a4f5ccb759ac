"""The virtual clock: frozen by default, advanced by seconds or duration strings."""

from __future__ import annotations

import time

import pytest

from clawdbot_nb import sim


def test_clock_is_frozen_and_moves_only_when_advanced() -> None:
    clock = sim.VirtualClock(start=1_000.0)
    time.sleep(0.01)
    assert clock.now() == 1_000.0
    assert clock.advance("6m") == 1_360.0
    assert clock.advance(2.5) == 1_362.5


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("6m", 360), ("1h", 3600), ("1h30m", 5400), ("90s", 90), ("250ms", 0.25), ("2d", 172800), ("45", 45)],
)
def test_duration_strings(text: str, seconds: float) -> None:
    assert sim.parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "soon", "5 minutes", "m5", True])
def test_bad_durations_are_rejected(bad: object) -> None:
    with pytest.raises(ValueError):
        sim.parse_duration(bad)  # type: ignore[arg-type]


def test_clock_never_goes_back() -> None:
    with pytest.raises(ValueError):
        sim.VirtualClock().advance(-1)


def test_flowing_clock_follows_the_wall_clock_plus_advances() -> None:
    clock = sim.VirtualClock(flowing=True)
    start = clock.now()
    clock.advance("1h")
    assert 3600 <= clock.now() - start < 3660


def test_simulator_clock_defaults_to_now() -> None:
    assert abs(sim.Simulator().clock.now() - time.time()) < 5
