"""Tables for people: the profiles and usage DataFrames as compact styled HTML for notebooks and as
text that fits an 80-column terminal, with the full typed DataFrame kept beside them.

`Table` is what `%clawdbot profiles` and `%clawdbot usage` return: it shows itself as HTML in
Jupyter and as the 80-column text in terminal IPython; `.frame` is the DataFrame with every
column and its real dtypes, for code. The formatting is pure (values in, strings out); pandas is
imported only when a table is built.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from clawdbot_nb.rendering import html_text, money, percent

if TYPE_CHECKING:
    import pandas as pd

TERMINAL_WIDTH = 80
#: Status words and their colours (green ok, amber soon, red unusable, grey for keys that never expire).
STATUS_COLOURS = {
    "ok": "#1b7f3b",
    "static": "#555555",
    "expiring": "#a15c00",
    "cooldown": "#a15c00",
    "disabled": "#b00020",
    "expired": "#b00020",
    "missing": "#b00020",
    "invalid": "#b00020",
}
_TABLE_STYLE = "border-collapse:collapse;font-size:12px;line-height:1.35;max-width:1000px;margin:2px 0"
_CELL_STYLE = "padding:2px 8px;white-space:nowrap;border-bottom:1px solid #e2e2e2"
_HEAD_STYLE = f"{_CELL_STYLE};text-align:left;font-weight:600;border-bottom:1px solid #9a9a9a"


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError, ImportError):
        return False


# -- values as words ---------------------------------------------------------------------------------


def duration_words(seconds: float) -> str:
    """`45 s`, `12 min`, `5 h`, `364 d` (whole units, as a person says them)."""
    seconds = abs(seconds)
    if seconds < 60:
        return f"{int(seconds)} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 48 * 3600:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"


def relative_time(when: Any, now: datetime | None = None) -> str:
    """`in 364 d`, `2 h ago`, `now`; blank when there is no time."""
    if _missing(when):
        return ""
    moment = when.to_pydatetime() if hasattr(when, "to_pydatetime") else when
    now = now or datetime.now(UTC)
    delta = (moment - now).total_seconds()
    if abs(delta) < 1:
        return "now"
    return f"in {duration_words(delta)}" if delta > 0 else f"{duration_words(delta)} ago"


def clock_time(when: Any) -> str:
    """Local `14:05:33` today, `Nov 30 14:05` on another day; blank when there is no time."""
    if _missing(when):
        return ""
    moment = (when.to_pydatetime() if hasattr(when, "to_pydatetime") else when).astimezone()
    if moment.date() == datetime.now().astimezone().date():
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%b %d %H:%M")


def count(value: Any) -> str:
    return "" if _missing(value) else f"{int(value):,}"


def dollars(value: Any) -> str:
    return "" if _missing(value) else money(float(value))


def saved_words(value: Any) -> str:
    """`$0.0286` saved, or `extra $0.0189` for a call whose cache write cost more."""
    if _missing(value):
        return ""
    amount = float(value)
    return f"extra {money(-amount)}" if money(amount).startswith("-") else money(amount)


def ratio(value: Any) -> str:
    return "" if _missing(value) else percent(float(value))


def seconds(value: Any) -> str:
    return "" if _missing(value) else f"{float(value):.2f} s"


def text(value: Any) -> str:
    if _missing(value):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return " ".join(str(value).split())


# -- the table ---------------------------------------------------------------------------------------


#: Where a column shows: in every layout, in notebooks (and `--wide`), or only with `--wide`.
EVERYWHERE, NOTEBOOK, WIDE = "everywhere", "notebook", "wide"


@dataclass(frozen=True)
class Column:
    """One shown column: its heading, the frame column it reads, how a value reads, and where it
    shows (`EVERYWHERE` includes the 80-column terminal layout)."""

    heading: str
    source: str
    render: Callable[[Any], str] = text
    level: str = EVERYWHERE
    align: str = "left"
    colour: Callable[[Any], str | None] | None = None
    #: Left out when no row has a value (an `error` column with no error).
    optional: bool = False
    #: The cell as HTML, when it needs markup (e.g. a countdown); it must escape what it shows.
    html: Callable[[Any], str] | None = None

    def shown_in(self, layout: str) -> bool:
        order = (EVERYWHERE, NOTEBOOK, WIDE)
        return order.index(self.level) <= order.index(layout)


@dataclass
class Table:
    """A DataFrame shown for people; `.frame` is the DataFrame itself, untouched."""

    frame: pd.DataFrame
    columns: Sequence[Column]
    empty_message: str
    title: str = ""
    notes: list[str] = field(default_factory=list)
    #: The frame's index as the first column (profile ids, call numbers, group keys).
    index_heading: str | None = None
    index_render: Callable[[Any], str] = text
    #: What is rendered, when it needs derived columns `.frame` should not carry; else `.frame`.
    shown: pd.DataFrame | None = None
    #: Every column, in notebooks and terminals alike (`--wide`).
    wide: bool = False

    @property
    def _source(self) -> pd.DataFrame:
        return self.frame if self.shown is None else self.shown

    # -- rows of strings -------------------------------------------------------------------------

    def _shown(self, layout: str) -> list[Column]:
        source = self._source
        shown = []
        for column in self.columns:
            if column.source not in source.columns or not column.shown_in(layout):
                continue
            if column.optional and not any(column.render(v) for v in source[column.source]):
                continue
            shown.append(column)
        return shown

    def _cells(self, columns: Sequence[Column]) -> list[list[str]]:
        rows = []
        for label, row in self._source.iterrows():
            cells = [self.index_render(label)] if self.index_heading is not None else []
            cells += [column.render(row[column.source]) for column in columns]
            rows.append(cells)
        return rows

    # -- HTML ------------------------------------------------------------------------------------

    def html(self, *, wide: bool = False) -> str:
        if self.frame.empty:
            return f'<div style="margin:2px 0">{html_text(self.empty_message)}</div>'
        columns = self._shown(WIDE if wide or self.wide else NOTEBOOK)
        headings = ([self.index_heading] if self.index_heading is not None else []) + [
            c.heading for c in columns
        ]
        aligns = (["left"] if self.index_heading is not None else []) + [c.align for c in columns]
        head = "".join(
            f'<th style="{_HEAD_STYLE};text-align:{align}">{html_text(h)}</th>'
            for h, align in zip(headings, aligns)
        )
        body = []
        for (_, row), cells in zip(self._source.iterrows(), self._cells(columns)):
            offset = 1 if self.index_heading is not None else 0
            tds = []
            for position, cell in enumerate(cells):
                style = f"{_CELL_STYLE};text-align:{aligns[position]}"
                content = html_text(cell)
                if position >= offset:
                    column = columns[position - offset]
                    shade = column.colour(row[column.source]) if column.colour else None
                    if shade:
                        style += f";color:{shade};font-weight:600"
                    if column.html is not None:
                        content = column.html(row[column.source])
                tds.append(f'<td style="{style}">{content}</td>')
            body.append(f"<tr>{''.join(tds)}</tr>")
        title = (
            f'<div style="font-weight:600;margin:4px 0">{html_text(self.title)}</div>' if self.title else ""
        )
        notes = "".join(
            f'<div style="font-size:12px;opacity:0.8">{html_text(note)}</div>' for note in self.notes
        )
        # The table scrolls inside its own box when a cell is narrower than it.
        return (
            f'{title}<div style="overflow-x:auto;max-width:100%"><table style="{_TABLE_STYLE}">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>{notes}"
        )

    # -- text ------------------------------------------------------------------------------------

    def text(self, *, wide: bool = False, width: int = TERMINAL_WIDTH) -> str:
        """Aligned columns: the terminal layout (fits `width`), or every column with `wide`."""
        if self.frame.empty:
            return self.empty_message
        columns = self._shown(WIDE if wide or self.wide else EVERYWHERE)
        headings = ([self.index_heading] if self.index_heading is not None else []) + [
            c.heading for c in columns
        ]
        aligns = (["left"] if self.index_heading is not None else []) + [c.align for c in columns]
        rows = self._cells(columns)
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headings)]
        if not (wide or self.wide):
            widths = _fit(widths, width)

        def line(cells: Sequence[str]) -> str:
            shown = []
            for cell, size, align in zip(cells, widths, aligns):
                cell = cell if len(cell) <= size else cell[: max(size - 1, 0)] + "…"
                shown.append(cell.rjust(size) if align == "right" else cell.ljust(size))
            return "  ".join(shown).rstrip()

        lines = [self.title] if self.title else []
        lines += [line(headings), *(line(r) for r in rows)]
        lines += self.notes
        return "\n".join(lines)

    # -- display -----------------------------------------------------------------------------------

    def _repr_html_(self) -> str:
        return self.html()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())

    def __repr__(self) -> str:
        return self.text()

    def __len__(self) -> int:
        return len(self.frame)


def _fit(widths: list[int], limit: int) -> list[int]:
    """Shrink the widest columns (never below 6) until the row fits `limit` with 2-space gaps."""
    widths = list(widths)
    while sum(widths) + 2 * (len(widths) - 1) > limit:
        widest = max(range(len(widths)), key=lambda i: widths[i])
        if widths[widest] <= 6:
            break
        widths[widest] -= 1
    return widths


# -- profiles ---------------------------------------------------------------------------------------


def _status_colour(value: Any) -> str | None:
    return STATUS_COLOURS.get(str(value)) if not _missing(value) else None


def _status_word(row: Any) -> str:
    """`ok` / `expiring` / … with `cooldown` or `disabled` when the profile is resting."""
    now = datetime.now(UTC)
    for column, word in (("disabled_until", "disabled"), ("cooldown_until", "cooldown")):
        until = row.get(column)
        if not _missing(until) and until.to_pydatetime() > now:
            return word
    return text(row.get("status"))


def profiles_table(
    frame: pd.DataFrame, *, agent: str = "main", empty_fix: str | None = None, wide: bool = False
) -> Table:
    """`models_status(agent).profiles_frame()` for people: status as a word, times as `in 364 d` /
    `2 h ago`, blanks for nothing, masked secrets on one line."""
    shown = frame.copy()
    shown["state"] = [_status_word(row) for _, row in frame.iterrows()]
    shown["until"] = [
        relative_time(row["disabled_until"] if s == "disabled" else row["cooldown_until"])
        if s in ("cooldown", "disabled")
        else ""
        for s, (_, row) in zip(shown["state"], frame.iterrows())
    ]
    columns = [
        Column("type", "type"),
        Column("secret", "secret"),
        Column("status", "state", colour=_status_colour),
        Column("expires", "expires", relative_time),
        Column("resting", "until", level=NOTEBOOK, optional=True),
        Column("order", "order_position", count, align="right"),
        Column("errors", "error_count", count, level=NOTEBOOK, align="right"),
        Column("last used", "last_used", relative_time, level=NOTEBOOK),
        Column("why unusable", "unusable_reason", level=NOTEBOOK, optional=True),
        Column("email", "email", level=NOTEBOOK, optional=True),
        Column("provider", "provider", level=WIDE),
        Column("usable", "usable", level=WIDE),
        Column("failures", "failure_counts", level=WIDE),
    ]
    return Table(
        frame,
        columns,
        empty_message=f"No auth profiles for agent {agent} yet: {empty_fix or 'add one with onboard'}.",
        index_heading="profile",
        shown=shown,
        wide=wide,
    )


# -- usage ------------------------------------------------------------------------------------------

USAGE_COLUMNS = (
    Column("time", "time", clock_time, level=NOTEBOOK),
    Column("profile", "profile_id", level=NOTEBOOK),
    Column("model", "model", level=WIDE),
    Column("TTL", "ttl_applied"),
    Column("input", "input_tokens", count, level=NOTEBOOK, align="right"),
    Column("output", "output_tokens", count, level=NOTEBOOK, align="right"),
    Column("cache read", "cache_read_tokens", count, align="right"),
    Column("write 5m", "cache_write_5m_tokens", count, align="right"),
    Column("write 1h", "cache_write_1h_tokens", count, align="right"),
    Column("hit", "hit_ratio", ratio, align="right"),
    Column("cost", "cost_usd", dollars, align="right"),
    Column("saved", "savings_usd", saved_words, align="right"),
    Column("latency", "latency_s", seconds, level=NOTEBOOK, align="right"),
    Column("first token", "ttft_s", seconds, level=WIDE, align="right"),
    Column("cell", "cell", level=NOTEBOOK, optional=True),
    Column("error", "error", optional=True),
    Column("agent", "agent", level=WIDE),
    Column("credential", "credential_type", level=WIDE),
    Column("TTL asked", "ttl_requested", level=WIDE),
    Column("TTL note", "ttl_note", level=WIDE, optional=True),
    Column("stop", "stop_reason", level=WIDE),
    Column("request id", "request_id", level=WIDE),
    Column("profiles tried", "profiles_tried", level=WIDE, optional=True),
)
SUMMARY_COLUMNS = (
    Column("calls", "calls", count, align="right"),
    Column("hits", "hits", count, align="right"),
    Column("errors", "errors", count, level=NOTEBOOK, align="right"),
    Column("input", "input_tokens", count, level=NOTEBOOK, align="right"),
    Column("output", "output_tokens", count, level=WIDE, align="right"),
    Column("cache read", "cache_read_tokens", count, align="right"),
    Column("written", "written", count, align="right"),
    Column("write 5m", "cache_write_5m_tokens", count, level=NOTEBOOK, align="right"),
    Column("write 1h", "cache_write_1h_tokens", count, level=NOTEBOOK, align="right"),
    Column("hit", "hit_ratio", ratio, align="right"),
    Column("cost", "cost_usd", dollars, align="right"),
    Column("saved", "savings_usd", saved_words, align="right"),
)


def _group_label(value: Any) -> str:
    if isinstance(value, tuple):
        return " / ".join(text(v) or "-" for v in value)
    return text(value) or "-"


@dataclass(frozen=True)
class Totals:
    """What a set of calls added up to; money is NaN when any call is unpriced (never a partial sum)."""

    calls: int
    hits: int
    hit_ratio: float
    cost_usd: float
    savings_usd: float


def frame_totals(frame: pd.DataFrame) -> Totals:
    """The totals of the calls in a usage frame (the pooled hit ratio: read ÷ all input)."""
    read = int(frame["cache_read_tokens"].fillna(0).sum())
    uncached = ("input_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens")
    prompt = read + sum(int(frame[c].fillna(0).sum()) for c in uncached)
    cost, saved = frame["cost_usd"].astype(float), frame["savings_usd"].astype(float)
    nan = float("nan")
    return Totals(
        calls=len(frame),
        hits=int((frame["cache_read_tokens"].fillna(0) > 0).sum()),
        hit_ratio=read / prompt if prompt else nan,
        cost_usd=nan if cost.isna().any() else float(cost.sum()),
        savings_usd=nan if saved.isna().any() else float(saved.sum()),
    )


def usage_table(frame: pd.DataFrame, *, agent: str = "main", wide: bool = False) -> Table:
    """One row per call (`Workspace.usage()`), with the totals of those calls under it."""
    notes = [totals_line(frame_totals(frame))] if len(frame) else []
    return Table(
        frame,
        USAGE_COLUMNS,
        empty_message=f"No calls recorded yet for agent {agent}.",
        notes=notes,
        index_heading="#",
        wide=wide,
    )


def summary_table(frame: pd.DataFrame, *, agent: str = "main", wide: bool = False) -> Table:
    """Totals per group (`Workspace.usage_summary(by)`)."""
    names = [n for n in frame.index.names if n]
    shown = frame.copy()
    shown["written"] = frame["cache_write_5m_tokens"].fillna(0) + frame["cache_write_1h_tokens"].fillna(0)
    return Table(
        frame,
        SUMMARY_COLUMNS,
        empty_message=f"No calls recorded yet for agent {agent}.",
        index_heading=" / ".join(names) or "group",
        index_render=_group_label,
        shown=shown,
        wide=wide,
    )


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def totals_line(totals: Any) -> str:
    """`4 calls · 2 hits · hit ratio 48% · cost $0.0575 · saved $0.0286` (or `extra $…`)."""
    from clawdbot_nb.rendering import savings

    hit = percent(totals.hit_ratio) or "n/a"
    parts = [_plural(totals.calls, "call"), _plural(totals.hits, "hit"), f"hit ratio {hit}"]
    parts += [f"cost {money(totals.cost_usd)}", savings(totals.savings_usd)]
    return " · ".join(parts)
