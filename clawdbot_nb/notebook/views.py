"""Plots and tables for cache analysis: hit ratio and cost per call by TTL, and the 5m-vs-1h
comparison. pandas and matplotlib load only when one of these is drawn."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clawdbot_nb.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

#: One colour per TTL, also used for the legend.
TTL_COLOURS = {"5m": "#4C78A8", "1h": "#F58518", "none": "#9D9D9D"}


def usage_figure(frame: pd.DataFrame, *, title: str = "Cache hits and cost per call") -> Figure:
    """Two panels over the calls of a usage DataFrame (`Workspace.usage()`): cost with and without
    the cache, and the hit ratio; bars coloured by the TTL applied."""
    try:
        from matplotlib.figure import Figure
        from matplotlib.patches import Patch
    except ImportError:
        raise UsageError(
            "Plots need matplotlib, which is not installed in this kernel's environment.",
            fix="run %pip install matplotlib in the notebook (or pip install 'clawdbot_nb[plot]')",
        ) from None

    calls = frame[frame["error"].isna()] if "error" in frame else frame
    figure = Figure(figsize=(9, 5.2), layout="constrained")
    cost_axes, hit_axes = figure.subplots(2, 1, sharex=True)
    positions = list(range(1, len(calls) + 1))
    ttls = [str(t) if isinstance(t, str) else "none" for t in calls["ttl_applied"].tolist()]
    colours = [TTL_COLOURS.get(t, TTL_COLOURS["none"]) for t in ttls]
    costs = calls["cost_usd"].astype(float).fillna(0.0).tolist()
    without = calls["cost_without_cache_usd"].astype(float).fillna(0.0).tolist()
    cost_axes.bar(positions, costs, color=colours, label="cost")
    cost_axes.plot(positions, without, "k_", markersize=14, label="without cache")
    cost_axes.set_ylabel("USD per call")
    cost_axes.set_title(title)
    ratios = [
        0.0 if (isinstance(r, float) and math.isnan(r)) else float(r) for r in calls["hit_ratio"].tolist()
    ]
    hit_axes.bar(positions, [r * 100 for r in ratios], color=colours)
    hit_axes.set_ylim(0, 105)
    hit_axes.set_ylabel("hit ratio %\n(read ÷ all input)")
    hit_axes.set_xlabel("call")
    hit_axes.set_xticks(positions)
    legend = [Patch(color=TTL_COLOURS[t], label=f"TTL {t}") for t in TTL_COLOURS if t in ttls]
    legend.append(cost_axes.get_lines()[0])
    cost_axes.legend(handles=legend, loc="upper right", fontsize="small")
    return figure


def figure_png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


#: Where plots drawn in a terminal go (terminal IPython cannot show an image).
PLOT_DIR_NAME = "clawdbot-nb-plots"


def save_figure(figure: Figure, directory: Path | None = None) -> Path:
    """Write `figure` as a PNG named by the time, and return its path."""
    import tempfile
    import time

    folder = directory or Path(tempfile.gettempdir()) / PLOT_DIR_NAME
    folder.mkdir(parents=True, exist_ok=True)
    stem = time.strftime("usage-%Y%m%d-%H%M%S")
    path = folder / f"{stem}.png"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}.png"
    path.write_bytes(figure_png(figure))
    return path


def show_figure(figure: Figure) -> None:
    """Display as a PNG, which works with any matplotlib backend and in saved HTML. In terminal
    IPython, which cannot show images, the PNG is saved and its path printed."""
    from IPython.display import Image, display

    from clawdbot_nb.notebook.display import in_kernel

    if not in_kernel():
        path = save_figure(figure)
        print(f"Plot saved to {path} (open it in an image viewer; in a notebook it shows inline).")
        return
    display(Image(data=figure_png(figure)))


def ttl_comparison(
    model: str,
    scenarios: Mapping[str, Sequence[float]],
    *,
    prefix_tokens: int,
    uncached_tokens: int = 50,
    output_tokens: int = 300,
) -> pd.DataFrame:
    """What a cached prefix costs with no cache, 5m and 1h, for call patterns given as the gaps
    (seconds) between calls: one row per scenario, with the cheapest TTL."""
    import pandas as pd

    from clawdbot_nb.api.pricing import compare_ttls

    rows: list[dict[str, Any]] = []
    for name, gaps in scenarios.items():
        result = compare_ttls(
            model,
            list(gaps),
            prefix_tokens=prefix_tokens,
            uncached_tokens=uncached_tokens,
            output_tokens=output_tokens,
        )
        rows.append(
            {
                "scenario": name,
                "calls": result.calls,
                "hits_5m": result.five_minutes.reads,
                "hits_1h": result.one_hour.reads,
                "cost_no_cache_usd": result.no_cache.cost_usd,
                "cost_5m_usd": result.five_minutes.cost_usd,
                "cost_1h_usd": result.one_hour.cost_usd,
                "one_hour_saves_usd": result.one_hour_saves_usd,
                "best": result.best,
            }
        )
    return pd.DataFrame(rows).set_index("scenario")


def break_even_table(models: Sequence[str]) -> pd.DataFrame:
    """After how many calls sharing a prefix each TTL pays off, per model."""
    import pandas as pd

    from clawdbot_nb import catalog
    from clawdbot_nb.api.pricing import break_even_requests

    rows = []
    for model in models:
        info = catalog.lookup(model)
        rows.append(
            {
                "model": model,
                "read_multiplier": info.cache_read_multiplier if info else float("nan"),
                "5m_pays_off_at_call": break_even_requests(model, "5m"),
                "1h_pays_off_at_call": break_even_requests(model, "1h"),
            }
        )
    return pd.DataFrame(rows).set_index("model")
