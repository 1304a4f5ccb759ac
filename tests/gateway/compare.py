"""Comparing the gateway's `models status` with ours, field by field, with a count of fields."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

#: The gateway masks as first 8 + `...` + last 8; we as known prefix + `…` + last 4.
_MASKS = re.compile(
    r"(?<![\w.])[\w\-]{8}\.\.\.[\w\-]{4}(?P<gateway>[\w\-]{4})(?![\w\-])"
    r"|(?:sk-ant-api03-|sk-ant-oat01-)?…(?P<ours>[\w\-]{4})(?![\w\-])"
)
#: Values that depend on when each program looked at the clock.
_CLOCK_FIELDS = ("remainingMs", "durationMs", "startedAt", "finishedAt", "latencyMs")


def unmask(text: str) -> str:
    """Both masks of one secret become `<secret …WXYZ>`, so they compare equal."""
    return _MASKS.sub(lambda m: f"<secret {m.group('gateway') or m.group('ours')}>", text)


@dataclass
class Comparison:
    fields: int = 0
    differences: list[str] = field(default_factory=list)

    def walk(self, gateway: Any, ours: Any, path: str = "") -> None:
        if isinstance(gateway, dict) and isinstance(ours, dict):
            for key in gateway:
                if key not in ours:
                    self.differences.append(f"{path}.{key}: missing in ours (gateway: {gateway[key]!r})")
                    continue
                self.walk(gateway[key], ours[key], f"{path}.{key}")
            for key in ours:
                if key not in gateway and not (path == "" and key == "clawdbotNb"):
                    self.differences.append(f"{path}.{key}: only in ours ({ours[key]!r})")
            return
        if isinstance(gateway, list) and isinstance(ours, list):
            if len(gateway) != len(ours):
                self.differences.append(
                    f"{path}: {len(gateway)} entries in the gateway's, {len(ours)} in ours"
                )
            for index, (left, right) in enumerate(zip(gateway, ours)):
                self.walk(left, right, f"{path}[{index}]")
            if not gateway:
                self.fields += 1  # an empty list that agrees is a field compared too
            return
        self.fields += 1
        if path.rsplit(".", 1)[-1] in _CLOCK_FIELDS and isinstance(gateway, int) and isinstance(ours, int):
            if abs(gateway - ours) > 120_000:
                self.differences.append(f"{path}: gateway {gateway}, ours {ours}")
            return
        if isinstance(gateway, str) and isinstance(ours, str):
            gateway, ours = unmask(gateway), unmask(ours)
        if gateway != ours or type(gateway) is not type(ours):
            self.differences.append(f"{path}: gateway {gateway!r}, ours {ours!r}")


def compare_status(gateway: dict[str, Any], ours: dict[str, Any]) -> Comparison:
    comparison = Comparison()
    comparison.walk(gateway, ours)
    return comparison


def gateway_part(our_text: str) -> str:
    """Our human output up to where our own lines begin."""
    return our_text.split("\n\nclawdbot-nb\n", 1)[0]


ANTHROPIC_HINT_START = "- anthropic Run `claude setup-token`"
ANTHROPIC_HINT = ANTHROPIC_HINT_START + " (then the command that stores it)"


def compare_text(gateway_text: str, our_text: str) -> list[str]:
    """Line-by-line differences of the human output (masks unified, durations as printed)."""
    theirs = [
        unmask(line) for line in gateway_text.rstrip("\n").splitlines() if not line.startswith("[agents/")
    ]
    mine = [unmask(line) for line in gateway_part(our_text).rstrip("\n").splitlines()]
    # The hint for Anthropic names our commands (the gateway's names `clawdbot configure`).
    theirs = [ANTHROPIC_HINT if line.startswith(ANTHROPIC_HINT_START) else line for line in theirs]
    mine = [ANTHROPIC_HINT if line.startswith(ANTHROPIC_HINT_START) else line for line in mine]
    problems = []
    for number, (left, right) in enumerate(zip(theirs, mine), start=1):
        if left != right:
            problems.append(f"line {number}: gateway {left!r}\n         ours    {right!r}")
    if len(theirs) != len(mine):
        problems.append(f"{len(theirs)} lines from the gateway, {len(mine)} from us")
    return problems
