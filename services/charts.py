"""Charts as PNG bytes, drawn with matplotlib's object API on the Agg canvas.

No pyplot: its global figure registry is not safe to use from the worker threads the cogs
render in (``asyncio.to_thread``), and a Figure of our own is garbage like any object.
Sized for a phone: wide bars, large type, at most two lines of title.
"""

from __future__ import annotations

import io
import textwrap
import warnings
from collections.abc import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

HEARTH_ORANGE = "#e8772e"
MUTED_BLUE = "#8da0b6"
INK = "#2b2b2b"


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
    figure = Figure(figsize=(8, height), dpi=110)
    FigureCanvasAgg(figure)
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
