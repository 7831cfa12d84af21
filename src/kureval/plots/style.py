"""One look for every kureval figure, sized for a printed A4 report.

Figures are drawn at their printed size (width 16 cm for a full text width,
7.8 cm for half) so that 9-point text stays readable on paper.  Colours are
a colour-blind-safe palette (Okabe & Ito 2008) with participants always in the
first colour and references/comparison in the second.  Plot functions call
:func:`new_axes` when given ``ax=None``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
from cycler import cycler
from matplotlib.axes import Axes

CM = 1 / 2.54
FULL_WIDTH = 16 * CM
HALF_WIDTH = 7.8 * CM

# Okabe & Ito (2008) colour-blind-safe palette.
PALETTE = {
    "participants": "#0072B2",
    "reference": "#E69F00",
    "neutral": "#999999",
    "improved": "#009E73",
    "unchanged": "#BBBBBB",
    "worse": "#D55E00",
    "accent": "#CC79A7",
    "women": "#CC79A7",
    "men": "#56B4E9",
    "other": "#F0E442",
}
CYCLE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

RC: Any = {
    "figure.dpi": 150,
    "savefig.dpi": 200,
    "savefig.bbox": "tight",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": cycler(color=CYCLE),
    "svg.hashsalt": "kureval",  # deterministic SVG ids (matplotlib issue 27831)
    "svg.fonttype": "none",
}

__all__ = ["CM", "FULL_WIDTH", "HALF_WIDTH", "PALETTE", "new_axes", "style"]


@contextmanager
def style() -> Iterator[None]:
    """Context manager applying kureval's rc settings."""
    with mpl.rc_context(RC):
        yield


def apply() -> None:
    """Apply kureval's rc settings globally (used by notebooks)."""
    mpl.rcParams.update(RC)


def new_axes(width: float = FULL_WIDTH, height: float | None = None) -> Axes:
    """A new figure with one Axes at print size (inches); height defaults to 0.6 × width."""
    with style():
        fig, ax = plt.subplots(figsize=(width, height if height is not None else 0.6 * width))
    return ax
