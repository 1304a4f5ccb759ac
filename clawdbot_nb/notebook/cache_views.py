"""What the cache holds, in a notebook: the cache table with a live countdown, and a timeline
plot of the entries over the session (writes, hits, expiries).

The countdown is a few lines of script in the table's HTML: it counts the seconds each entry
had left when the table was made down in the browser, from the moment the page shows it (no
clock is read from the kernel, no widget state). A saved notebook reopened untrusted shows the
times as they were.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from clawdbot_nb.cache_tables import COUNTDOWN_CLASS
from clawdbot_nb.errors import UsageError
from clawdbot_nb.notebook.views import TTL_COLOURS
from clawdbot_nb.tables import Table

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

_COUNTDOWN_SCRIPT = """<script>
(function () {
  var box = document.getElementById("%(id)s");
  if (!box) return;
  var cells = box.querySelectorAll("span.%(cls)s");
  var start = Date.now();
  function words(left) {
    if (left <= 0) return "expired";
    left = Math.floor(left);
    if (left < 3600) return Math.floor(left / 60) + ":" + ("0" + (left %% 60)).slice(-2);
    var minutes = Math.floor((left %% 3600) / 60);
    return Math.floor(left / 3600) + " h " + ("0" + minutes).slice(-2) + " min";
  }
  function tick() {
    if (!document.body.contains(box)) return;
    var running = false, gone = (Date.now() - start) / 1000;
    cells.forEach(function (cell) {
      var left = parseFloat(cell.getAttribute("data-left")) - gone;
      cell.textContent = words(left);
      running = running || left > 0;
    });
    if (running) setTimeout(tick, 1000);
  }
  setTimeout(tick, 1000);
})();
</script>"""


@dataclass
class CacheView:
    """`%clawdbot cache` in a notebook: the table (HTML with a countdown, or 80-column text)."""

    table: Table

    @property
    def frame(self) -> pd.DataFrame:
        return self.table.frame

    def _repr_html_(self) -> str:
        box = f"clawdbot-nb-cache-{uuid.uuid4().hex[:12]}"
        script = _COUNTDOWN_SCRIPT % {"id": box, "cls": COUNTDOWN_CLASS} if len(self.table) else ""
        return f'<div id="{box}">{self.table.html()}</div>{script}'

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.table.text())

    def __repr__(self) -> str:
        return self.table.text()


def timeline_figure(events: pd.DataFrame, *, title: str = "Cache entries over the session") -> Figure:
    """One row per cached prefix: a bar for each lifetime from its write to its expiry (hatched
    while it is still alive), a dot at each hit, coloured by TTL. `events` is
    `Workspace.cache_timeline()`."""
    from clawdbot_nb.api.cache_rules import TTL_SECONDS

    try:
        import matplotlib.dates as mdates
        from matplotlib.figure import Figure
        from matplotlib.patches import Patch
    except ImportError:
        raise UsageError(
            "Plots need matplotlib, which is not installed in this kernel's environment.",
            fix="run %pip install matplotlib in the notebook (or pip install 'clawdbot_nb[plot]')",
        ) from None

    local = datetime.now().astimezone().tzinfo
    rows: dict[str, list[dict[str, Any]]] = {}
    labels: dict[str, str] = {}
    for event in events.itertuples(index=False):
        key = f"{event.model}/{event.entry}"
        at = event.at.tz_convert(local).tz_localize(None)
        rows.setdefault(key, []).append({"at": at, "event": event.event, "ttl": event.ttl})
        # Two documents of one length differ by when they were first cached.
        labels.setdefault(key, f"{event.breakpoint} · {event.tokens:,} tok · since {at:%H:%M}")
    figure = Figure(figsize=(9, 1.4 + 0.42 * max(1, len(rows))), layout="constrained")
    axes = figure.subplots()
    for y, items in enumerate(rows.values()):
        lifetime: dict[str, Any] | None = None
        for item in items:
            if item["event"] == "write" and lifetime is None:
                lifetime = {"start": item["at"], "last": item["at"], "ttl": item["ttl"]}
            elif item["event"] == "hit" and lifetime is not None:
                lifetime["last"] = item["at"]
                axes.plot(item["at"], y, "o", color="black", markersize=4, zorder=3)
            elif item["event"] == "expire" and lifetime is not None:
                _bar(axes, y, lifetime["start"], item["at"], lifetime["ttl"], alive=False)
                axes.plot(item["at"], y, "x", color="#b00020", markersize=6, zorder=3)
                lifetime = None
        if lifetime is not None:
            import pandas as pd

            end = lifetime["last"] + pd.Timedelta(seconds=TTL_SECONDS[lifetime["ttl"]])
            _bar(axes, y, lifetime["start"], end, lifetime["ttl"], alive=True)
    axes.set_yticks(range(len(rows)), [labels[k] for k in rows])
    axes.invert_yaxis()
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
    axes.set_xlabel("time")
    axes.set_title(title)
    legend = [Patch(color=TTL_COLOURS[t], label=f"TTL {t}") for t in ("5m", "1h")]
    legend += [
        axes.plot([], [], "o", color="black", markersize=4, label="hit")[0],
        axes.plot([], [], "x", color="#b00020", markersize=6, label="expired")[0],
        Patch(facecolor="white", edgecolor="grey", hatch="//", label="still cached"),
    ]
    axes.legend(handles=legend, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    return figure


def _bar(axes: Any, y: int, start: Any, end: Any, ttl: str, *, alive: bool) -> None:
    import matplotlib.dates as mdates

    left = mdates.date2num(start)
    width = max(mdates.date2num(end) - left, 1e-6)
    colour = TTL_COLOURS.get(ttl, TTL_COLOURS["none"])
    shade = {"alpha": 0.55, "hatch": "//"} if alive else {"alpha": 0.9}
    axes.barh(y, width, left=left, height=0.5, color=colour, **shade)
