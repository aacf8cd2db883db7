"""Where each chart's axes sit in its figure: margins worked out from the text around them.

Why not matplotlib's constrained layout: it finds the margins by drawing the figure once more
and asking every text artist for its extent, several times over. The five charts of a report
(the 100k-event account of bench/scale.py) took 2.0 s of CPU with it and 0.96 s with this
(best of five, scratch timer), whatever the size of the logs; and it left a title wider than
the page cut off at the page's edge. The charts are few and simple (a column of labelled bars,
a grid of small panels), so their margins are the measured width of the widest label plus
matplotlib's own paddings; a title too wide is wrapped, a role name too long is cut in the
middle. Text is measured in the charts' font and size by ``TextToPath``, as matplotlib's
vector backends measure it, without drawing. tests/report/test_chart_layout.py draws each
chart and checks that no text leaves the figure or overlaps another.

Every length here is in inches unless its name says points (1/72 inch).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from math import cos, radians, sin

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath

__all__ = ["Margins", "lay_out_axes", "lay_out_grid", "legend_anchor", "place", "shortened",
           "text_size", "wrapped"]

PT = 1 / 72
PAD = 4 * PT  # around the figure's edge, as constrained layout's default pad (3/72 in) and a bit
TICK = (3.5 + 3.5) * PT  # rc xtick.major.size + xtick.major.pad (the same for y)
LABEL_PAD = 4 * PT  # rc axes.labelpad
TITLE_PAD = 6 * PT  # rc axes.titlepad
GAP = 6 * PT  # between two texts stacked one above the other
MAX_LABEL_SHARE = 0.4  # of the figure's width, for the y tick labels (longer ones are cut)

_MEASURE = TextToPath()


# The family comes from the rc settings in force; ``family`` keys the caches on them.
@lru_cache(maxsize=4096)
def _width(text: str, points: float, weight: str, family: tuple[str, ...]) -> float:
    prop = FontProperties(size=points, weight=weight)
    return _MEASURE.get_text_width_height_descent(text, prop, ismath=False)[0] * PT


@lru_cache(maxsize=64)
def _line_height(points: float, weight: str, family: tuple[str, ...]) -> float:
    # A line is as tall as matplotlib makes it: the height of "lp", whatever the text.
    prop = FontProperties(size=points, weight=weight)
    return _MEASURE.get_text_width_height_descent("lp", prop, ismath=False)[1] * PT


def text_size(text: str, points: float, weight: str = "normal") -> tuple[float, float]:
    """(width, height) of ``text`` in the charts' font (read from the current rc settings):
    the width of its longest line, the height of all its lines (spaced 1.2 as matplotlib
    spaces them)."""
    lines = text.split("\n")
    family = tuple(mpl.rcParams["font.sans-serif"])
    line = _line_height(points, weight, family)
    return (max(_width(one, points, weight, family) for one in lines),
            line + (len(lines) - 1) * line * 1.2)


def rc_points(key: str) -> float:
    """A font size of the current rc settings in points (rc may say "medium")."""
    return FontProperties(size=mpl.rcParams[key]).get_size_in_points()


def widest(texts: Iterable[str], points: float) -> float:
    return max((text_size(t, points)[0] for t in texts), default=0.0)


def wrapped(text: str, points: float, width: float, weight: str = "normal") -> str:
    """``text`` broken into lines no wider than ``width``: at spaces, and inside a word only
    when a word alone is wider (a 64-character role name in a narrow panel)."""
    if text_size(text, points, weight)[0] <= width:
        return text
    for break_words in (False, True):
        for chars in range(len(text) - 1, 0, -1):
            lines = textwrap.wrap(text, chars, break_long_words=break_words,
                                  break_on_hyphens=False)
            if all(text_size(line, points, weight)[0] <= width for line in lines):
                return "\n".join(lines)
    return text


def shortened(text: str, points: float, width: float) -> str:
    """``text`` cut in the middle with an ellipsis until it is no wider than ``width``: the
    start and the end of a role name tell it from its siblings (``orders-api-017-task``)."""
    if text_size(text, points)[0] <= width:
        return text
    for keep in range(len(text) - 1, 1, -1):
        cut = f"{text[:(keep + 1) // 2]}\u2026{text[len(text) - keep // 2:]}"
        if text_size(cut, points)[0] <= width:
            return cut
    return "\u2026"


@dataclass(frozen=True, slots=True)
class Margins:
    left: float
    right: float
    top: float
    bottom: float
    between_rows: float = 0.0
    between_columns: float = 0.0

    def cell_width(self, fig_width: float, columns: int) -> float:
        """The width of one cell of a grid of ``columns`` in a figure ``fig_width`` wide."""
        return (fig_width - self.left - self.right
                - (columns - 1) * self.between_columns) / columns


def place(fig: Figure, margins: Margins, rows: int = 1, columns: int = 1) -> None:
    """Put the figure's subplot grid inside ``margins``; the gaps between rows and columns are
    made fractions of a cell, as ``subplots_adjust`` takes them."""
    width, height = fig.get_size_inches()
    cell_w = margins.cell_width(width, columns)
    cell_h = (height - margins.top - margins.bottom - (rows - 1) * margins.between_rows) / rows
    fig.subplots_adjust(left=margins.left / width, right=1 - margins.right / width,
                        bottom=margins.bottom / height, top=1 - margins.top / height,
                        wspace=margins.between_columns / max(cell_w, PT),
                        hspace=margins.between_rows / max(cell_h, PT))


def _rotated_height(width: float, height: float, degrees: float) -> float:
    return width * sin(radians(degrees)) + height * cos(radians(degrees))


def _rotated_width(width: float, height: float, degrees: float) -> float:
    return width * cos(radians(degrees)) + height * sin(radians(degrees))


def lay_out_axes(fig: Figure, ax: Axes, title: str, *, title_points: float,
                 legend_points: float | None = None, x_rotation: float = 0.0) -> None:
    """Title and place one axes with y tick labels and a y label on the left, x tick labels
    and an x label below, and optionally a one-row figure legend under them (anchored at
    ``legend_anchor``). The tick labels are read from the axes as they will be drawn; a title
    wider than the axes is wrapped."""
    tick_points = rc_points("ytick.labelsize")
    label_points = rc_points("axes.labelsize")
    y_ticks = [t.get_text() for t in ax.get_yticklabels()]
    x_ticks = [t.get_text() for t in ax.get_xticklabels()] or [""]
    x_sizes = [text_size(t, rc_points("xtick.labelsize")) for t in x_ticks]
    x_tick_h = max(_rotated_height(w, h, x_rotation) for w, h in x_sizes)
    width = fig.get_size_inches()[0]
    if widest(y_ticks, tick_points) > MAX_LABEL_SHARE * width:  # the bars keep most of the page
        y_ticks = [shortened(t, tick_points, MAX_LABEL_SHARE * width) for t in y_ticks]
        ax.set_yticks(ax.get_yticks(), y_ticks)
    left = PAD + TICK + widest(y_ticks, tick_points)
    if ax.get_ylabel():
        left += text_size(ax.get_ylabel(), label_points)[1] + LABEL_PAD
    if x_rotation:  # a label anchored at its right end reaches left of the first tick
        left = max(left, PAD + _rotated_width(*x_sizes[0], x_rotation))
    # The last x tick label is centred on the axes' right end: half of it stands outside.
    right = PAD + (0.0 if x_rotation else x_sizes[-1][0] / 2)
    title = wrapped(title, title_points, width - left - right, "bold")
    ax.set_title(title)
    top = PAD + text_size(title, title_points, "bold")[1] + TITLE_PAD
    bottom = PAD + TICK + x_tick_h
    if ax.get_xlabel():
        bottom += LABEL_PAD + text_size(ax.get_xlabel(), label_points)[1]
    if legend_points is not None:
        bottom += GAP + legend_height(legend_points)
    place(fig, Margins(left, right, top, bottom))


def legend_anchor(fig: Figure) -> tuple[float, float]:
    """Where a figure legend under the axes sits (``loc="lower center"``, no border pad)."""
    return 0.5, PAD / fig.get_size_inches()[1]


def legend_height(points: float) -> float:
    """A one-row legend without a frame: its text line and the border pad above and below."""
    return text_size("lp", points)[1] + 2 * mpl.rcParams["legend.borderpad"] * points * PT


def lay_out_grid(fig: Figure, panels: Sequence[tuple[Axes, str]], title: str, *,
                 title_points: float, panel_title_points: float, label_points: float,
                 tick_points: float, rows: int, columns: int, xlabel: str, ylabel: str) -> None:
    """Title and place a grid of small panels, each with its own title (on the left, wrapped
    to the panel's width), y tick labels and x tick labels, under a figure title and between
    the figure's shared axis labels."""
    axes = [ax for ax, _title in panels]
    y_ticks = [t.get_text() for ax in axes for t in ax.get_yticklabels()]
    x_ticks = [t.get_text() for ax in axes for t in ax.get_xticklabels()] or [""]
    y_tick_w = widest(y_ticks, tick_points)
    x_tick_h = max(text_size(t, tick_points)[1] for t in x_ticks)
    x_overhang = text_size(x_ticks[-1], tick_points)[0] / 2
    label_h = text_size("lp", label_points)[1]
    width, height = fig.get_size_inches()
    # Across first: the panels' width, to which their titles are wrapped, sets their height.
    across = Margins(left=PAD + label_h + LABEL_PAD + y_tick_w + TICK, right=PAD + x_overhang,
                     top=0.0, bottom=0.0, between_columns=TICK + y_tick_w + x_overhang + GAP)
    cell_w = across.cell_width(width, columns)
    panel_title_h = 0.0
    for ax, panel_title in panels:  # a panel's title stays above its own panel
        text = wrapped(panel_title, panel_title_points, cell_w)
        ax.set_title(text, fontsize=panel_title_points, fontweight="normal", loc="left")
        panel_title_h = max(panel_title_h, text_size(text, panel_title_points)[1])
    title = wrapped(title, title_points, width - 2 * PAD, "bold")
    fig.suptitle(title, fontsize=title_points, fontweight="bold", y=1 - PAD / height, va="top")
    fig.supxlabel(xlabel, fontsize=label_points, y=PAD / height, va="bottom")
    fig.supylabel(ylabel, fontsize=label_points, x=PAD / width, ha="left")
    top = PAD + text_size(title, title_points, "bold")[1] + GAP + panel_title_h + TITLE_PAD
    place(fig, replace(across, top=top, bottom=PAD + label_h + LABEL_PAD + x_tick_h + TICK,
                       between_rows=TICK + x_tick_h + GAP + panel_title_h + TITLE_PAD),
          rows, columns)
