"""The cache watch's views for people: what is cached now and until when, the timeline of
entries, and the what-if of a TTL policy — as `tables.Table`s (compact HTML in notebooks,
80-column text in terminals, `.frame` for code).

The "expires in" cells carry the seconds left when the table was made; in a notebook,
`notebook.cache_views` adds a small script that counts them down in the browser.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

from clawdbot_nb.rendering import money
from clawdbot_nb.tables import NOTEBOOK, WIDE, Column, Table, clock_time, count, dollars, ratio, saved_words

if TYPE_CHECKING:
    import pandas as pd

    from clawdbot_nb.api.what_if import WhatIf

#: The class of the countdown spans (the browser script looks for it).
COUNTDOWN_CLASS = "clawdbot-nb-countdown"


def left_words(seconds: Any) -> str:
    """`4:12` under an hour, `1 h 02 min` above; `expired` at 0."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return ""
    left = int(max(0.0, float(seconds)))
    if left <= 0:
        return "expired"
    if left < 3600:
        return f"{left // 60}:{left % 60:02d}"
    return f"{left // 3600} h {left % 3600 // 60:02d} min"


def countdown_html(seconds: Any) -> str:
    """The "expires in" cell for a notebook: the time left now, counted down by the page."""
    words = left_words(seconds)
    if not words or words == "expired":
        return html.escape(words)
    return f'<span class="{COUNTDOWN_CLASS}" data-left="{float(seconds):.1f}">{html.escape(words)}</span>'


CACHE_COLUMNS = (
    Column("model", "model", level=NOTEBOOK),
    Column("breakpoint", "breakpoint"),
    Column("tokens", "tokens", count, align="right"),
    Column("TTL", "ttl"),
    Column("expires in", "expires_in_s", left_words, align="right", html=countdown_html),
    Column("hits", "hits", count, align="right"),
    Column("saved", "saved_usd", saved_words, align="right"),
    Column("written", "written_at", clock_time, level=NOTEBOOK),
    Column("location", "location", level=WIDE),
    Column("credential", "credential_type", level=WIDE),
)


def cache_table(frame: pd.DataFrame, *, agent: str = "main", wide: bool = False) -> Table:
    """`Workspace.cache_status()` for people."""
    notes = []
    if len(frame):
        saved = float(frame["saved_usd"].sum())
        entries = f"{len(frame)} live entr{'y' if len(frame) == 1 else 'ies'}"
        net = f"saved {money(saved)}" if saved >= 0 else f"extra {money(-saved)}"
        notes.append(f"{entries} · {net} so far")
    return Table(
        frame,
        CACHE_COLUMNS,
        empty_message=f"Nothing cached for agent {agent} right now (a call that writes the cache adds one).",
        title="Cached now",
        notes=notes,
        wide=wide,
    )


TIMELINE_COLUMNS = (
    Column("time", "at", clock_time),
    Column("event", "event"),
    Column("breakpoint", "breakpoint"),
    Column("tokens", "tokens", count, align="right"),
    Column("TTL", "ttl"),
    Column("model", "model", level=NOTEBOOK),
    Column("entry", "entry", level=WIDE),
)


def timeline_table(frame: pd.DataFrame, *, agent: str = "main", wide: bool = False) -> Table:
    """`Workspace.cache_timeline()` for people: writes, hits and expiries in time order."""
    return Table(
        frame,
        TIMELINE_COLUMNS,
        empty_message=f"No cache entries for agent {agent} yet.",
        title="Cache entries over time",
        wide=wide,
    )


WHAT_IF_COLUMNS = (
    Column("cost", "cost_usd", dollars, align="right"),
    Column("vs paid", "vs_paid", ratio, align="right"),
    Column("cache read", "cache_read_tokens", count, align="right"),
    Column("write 5m", "cache_write_5m_tokens", count, align="right"),
    Column("write 1h", "cache_write_1h_tokens", count, align="right"),
    Column("input", "input_tokens", count, level=NOTEBOOK, align="right"),
)


def what_if_table(result: WhatIf, *, agent: str = "main", wide: bool = False) -> Table:
    """`Workspace.what_if()` for people: each policy's cost beside what was paid."""
    frame = result.frame()
    if not result.calls:
        frame = frame.iloc[0:0]
    return Table(
        frame,
        WHAT_IF_COLUMNS,
        empty_message=f"No recorded calls for agent {agent} yet: the what-if replays the calls you make.",
        title=f"Your {result.calls} calls under each TTL policy" if result.calls else "",
        notes=[result.summary()] if result.calls else [],
        index_heading="policy",
        wide=wide,
    )
