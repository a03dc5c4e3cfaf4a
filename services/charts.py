"""Charts as PNG bytes, drawn with matplotlib's object API on the Agg canvas.

No pyplot: its global figure registry is not safe to use from the worker threads the cogs
render in (``asyncio.to_thread``), and a Figure of our own is garbage like any object.
Sized for a phone: wide bars, large type, at most two lines of title.

matplotlib is imported on first use: it is about 40 MiB of a bot that may never draw.
"""

from __future__ import annotations

import io
import textwrap
import warnings
from collections.abc import Sequence
from typing import Any

HEARTH_ORANGE = "#e8772e"
MUTED_BLUE = "#8da0b6"
INK = "#2b2b2b"


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(figure)
    return figure


def _wrap(text: str, width: int, lines: int) -> str:
    wrapped = textwrap.wrap(text, width) or [""]
    if len(wrapped) > lines:
        wrapped = wrapped[:lines]
        wrapped[-1] = wrapped[-1][: width - 1].rstrip() + "…"
    return "\n".join(wrapped)


def poll_results_png(
    question: str,
    labels: Sequence[str],
    counts: Sequence[int],
    *,
    voters: int,
    winners: Sequence[int],
    footer: str,
) -> bytes:
    """A horizontal bar per option, in the poll's order, winners highlighted; PNG bytes."""
    if len(labels) != len(counts):
        raise ValueError("one count per label")
    n = len(labels)
    height = 1.6 + 0.55 * n
    figure = _figure(8, height)
    ax = figure.add_subplot()
    positions = list(range(n))[::-1]  # first option on top
    colours = [HEARTH_ORANGE if i in winners else MUTED_BLUE for i in range(n)]
    ax.barh(positions, counts, color=colours, height=0.62)
    ax.set_yticks(positions, [_wrap(label, 28, 2) for label in labels], fontsize=11, color=INK)
    top = max(counts, default=0)
    ax.set_xlim(0, max(top, 1) * 1.28)
    for y, count in zip(positions, counts, strict=True):
        share = f" · {count / voters:.0%}" if voters else ""
        ax.text(count, y, f"  {count}{share}", va="center", fontsize=11, color=INK)
    figure.suptitle(_wrap(question, 68, 2), x=0.01, ha="left", fontsize=13, color=INK)
    ax.xaxis.set_visible(False)
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    figure.text(0.01, 0.01, footer, fontsize=10, color="#666666")
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # Members write emoji; DejaVu Sans has no glyph for most and says so per glyph.
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        figure.tight_layout(rect=(0, 0.04, 1, 1))
        figure.savefig(buffer, format="png")
    return buffer.getvalue()


def digest_png(
    title: str,
    weeks: Sequence[str],
    active: Sequence[int],
    engagement: Sequence[float | None],
    cohort_labels: Sequence[str],
    cohort_sizes: Sequence[int],
    retention: Sequence[Sequence[float | None]],
) -> bytes:
    """The digest's chart, for a phone: active members per week (bars) with the engagement
    rate (line, right axis); below, each weekly cohort of newcomers and the share of it active
    0..n weeks after joining (a heat map; empty cells are weeks still to come)."""
    figure = _figure(7, 9)
    top, bottom = figure.subplots(2, 1, gridspec_kw={"height_ratios": [1, 1.15]})
    positions = list(range(len(weeks)))
    top.bar(positions, active, color=MUTED_BLUE, width=0.65, label="active members")
    top.set_xticks(positions, weeks, fontsize=10, color=INK)
    top.set_ylabel("active members", fontsize=11, color=INK)
    for side in ("top", "right"):
        top.spines[side].set_visible(False)
    rate_axis = top.twinx()
    points = [(x, r * 100) for x, r in zip(positions, engagement, strict=True) if r is not None]
    if points:
        xs, ys = zip(*points, strict=True)
        rate_axis.plot(xs, ys, color=HEARTH_ORANGE, marker="o", linewidth=2.5)
    # Members who leave during a week were active but are not counted at its end: a rate can
    # pass 100% in a small community; the axis makes room rather than hiding the point.
    rate_axis.set_ylim(0, max([100.0, *(y + 5 for _, y in points)]))
    rate_axis.set_ylabel("engaged (% of members)", fontsize=11, color=HEARTH_ORANGE)
    rate_axis.spines["top"].set_visible(False)
    top.set_title("Active members and engagement, week by week", fontsize=12, color=INK, loc="left")

    n = max((len(row) for row in retention), default=0)
    grid = [[float("nan") if v is None else v * 100 for v in row] for row in retention]
    if grid and n:
        image = bottom.imshow(grid, cmap="Oranges", vmin=0, vmax=100, aspect="auto")
        for y, row in enumerate(retention):
            for x, value in enumerate(row):
                if value is not None:
                    colour = "white" if value >= 0.6 else INK
                    bottom.text(
                        x, y, f"{value:.0%}", ha="center", va="center", fontsize=9, color=colour
                    )
        bottom.set_xticks(range(n), [f"wk {k}" for k in range(n)], fontsize=9, color=INK)
        labels = [
            f"{label} ({size})" for label, size in zip(cohort_labels, cohort_sizes, strict=True)
        ]
        bottom.set_yticks(range(len(labels)), labels, fontsize=9, color=INK)
        figure.colorbar(image, ax=bottom, fraction=0.04, pad=0.02)
    else:
        bottom.text(0.5, 0.5, "No newcomers yet", ha="center", va="center", fontsize=12)
        bottom.set_axis_off()
    bottom.set_title(
        "Newcomers by join week (size): share active each week after",
        fontsize=12,
        color=INK,
        loc="left",
    )
    figure.suptitle(_wrap(title, 60, 1), x=0.01, ha="left", fontsize=14, color=INK)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        figure.tight_layout(rect=(0, 0, 1, 0.97))
        figure.savefig(buffer, format="png")
    return buffer.getvalue()
