"""The progress of a map or batch job: tqdm's notebook bar in Jupyter, a text bar in a terminal
(rows done, ETA), with the hit ratio and cost so far, and a countdown while the job waits for a
profile to come back. Off (`enabled=False`) it shows nothing."""

from __future__ import annotations

import math
from typing import Any


def countdown(ms: float) -> str:
    """`4:05` (minutes:seconds), `1:02:03` past an hour."""
    seconds = max(0, math.ceil(ms / 1000))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class JobProgress:
    def __init__(
        self, *, total: int, initial: int, description: str, enabled: bool, unit: str = "row"
    ) -> None:
        self.description = description
        self.bar: Any = None
        if enabled and total:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=total, initial=initial, desc=description, unit=unit, dynamic_ncols=True, leave=True
            )

    def advance(self, rows: int, *, hit_ratio: float, cost_usd: float) -> None:
        if self.bar is None:
            return
        ratio = "n/a" if math.isnan(hit_ratio) else f"{hit_ratio:.0%}"
        money = "n/a" if math.isnan(cost_usd) else f"${cost_usd:,.4f}"
        self.bar.set_postfix_str(f"hit {ratio} · {money}", refresh=False)
        self.bar.update(rows)

    def waiting(self, remaining_ms: float, why: str) -> None:
        """Show a countdown in place of the description, e.g. `waiting 4:05 for anthropic:a`."""
        if self.bar is not None:
            self.bar.set_description_str(f"waiting {countdown(remaining_ms)} {why}")

    def resume(self) -> None:
        if self.bar is not None:
            self.bar.set_description_str(self.description)

    def note(self, text: str) -> None:
        """A line above the bar (e.g. the end of a wait, an interrupt)."""
        if self.bar is not None:
            self.bar.write(text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
