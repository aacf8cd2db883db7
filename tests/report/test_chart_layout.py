"""The charts' own layout (chart_layout): every text inside the figure, titles, labels, tick
labels and legends clear of one another, for the golden summary and for the edges that strain
a layout (many roles, 64-character role names, a title that must wrap, one panel, none)."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import chart_summaries
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from rightsizer.report import charts
from rightsizer.report.chart_layout import shortened, text_size, wrapped

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "sample" / "summary.json"
LONGEST = "r" * 30 + "-payments-worker-task-" + "x" * 12  # 64 characters: IAM's longest name
KINDS = ("reduction", "granted_used_proposed", "unused_by_access_level", "daily_activity",
         "runs_over_time")


def _role(name: str, granted: int, days: int = 3) -> dict[str, Any]:
    """A role granted ``granted`` actions, one of them used, active on the window's first
    ``days`` days."""
    unused = tuple(f"s3:Action{i}" for i in range(1, granted))
    return chart_summaries.role(name, granted=granted, unused=unused,
                                activity={f"2026-10-{d + 1:02}": 10 * d + 1 for d in range(days)})


def _summary(*roles: dict[str, Any], runs: int = 0) -> dict[str, Any]:
    return chart_summaries.summary(*roles, end="2026-10-31T00:00:00Z", days=30.0, runs=runs)


SUMMARIES = {
    "golden": json.loads(GOLDEN.read_text(encoding="utf-8")),
    "many roles": _summary(*(_role(f"orders-api-{i:03}-task", 5 + i) for i in range(40)),
                           runs=12),
    "longest names": _summary(*(_role(f"{LONGEST[:-2]}{i:02}", 3 + i, days=20)
                                for i in range(14)), runs=3),
    "one role": _summary(_role("only", 4), runs=1),
    "no roles": _summary(),
}


def _drawn_tick_labels(fig: Figure) -> list[Text]:
    """The tick labels a reader sees: of visible axes, at ticks inside the view."""
    labels = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks():
                if low - 1e-9 <= tick.get_loc() <= high + 1e-9 and tick.label1.get_visible():
                    labels.append(tick.label1)
    return [t for t in labels if t.get_text()]


def _texts(fig: Figure) -> tuple[list[Text], list[Text]]:
    """(layout texts: titles, axis and figure labels, tick labels, legends; the texts drawn in
    the plots: bar labels, notes such as "no roles")."""
    in_plots = {id(t) for ax in fig.axes for t in ax.texts}
    ticks = {id(t.label1) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)
             for t in axis.get_major_ticks()} | {
        id(t.label2) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)
        for t in axis.get_major_ticks()}
    layout = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()
              and id(t) not in in_plots and id(t) not in ticks
              and (t.axes is None or t.axes.get_visible())]
    plots = [t for ax in fig.axes if ax.get_visible() for t in ax.texts if t.get_text()]
    return layout + _drawn_tick_labels(fig), plots


def _apart(a: Text, b: Text, renderer: Any) -> bool:
    """Two lines of text at one slant are apart when their anchors are at least a line's height
    apart across the slant."""
    angle = math.radians(a.get_rotation())
    (ax, ay), (bx, by) = (t.get_transform().transform(t.get_position()) for t in (a, b))
    across = abs(-(bx - ax) * math.sin(angle) + (by - ay) * math.cos(angle))
    height = max(renderer.get_text_width_height_descent(t.get_text(), t.get_fontproperties(),
                                                         ismath=False)[1] for t in (a, b))
    return across >= height


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", SUMMARIES)
def test_every_text_is_inside_the_figure_and_clear_of_the_others(kind: str, case: str) -> None:
    fig = getattr(charts, kind)(SUMMARIES[case])
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    page = Bbox.from_bounds(0, 0, *fig.bbox.size).padded(1)  # a pixel of rounding
    layout, plots = _texts(fig)
    assert layout, "no text found: the check would pass on anything"
    boxes = {id(t): t.get_window_extent(renderer) for t in layout + plots}
    for text in layout + plots:
        box = boxes[id(text)]
        assert page.containsx(box.x0) and page.containsx(box.x1), (text.get_text(), box, page)
        assert page.containsy(box.y0) and page.containsy(box.y1), (text.get_text(), box, page)
    for a, b in itertools.combinations(layout, 2):
        if a.get_rotation() == b.get_rotation() not in (0, 90):
            # Parallel slanted labels: their upright boxes may overlap while the lines do not.
            assert _apart(a, b, renderer), (a.get_text(), b.get_text())
        else:
            assert not boxes[id(a)].overlaps(boxes[id(b)]), (a.get_text(), b.get_text())
    for ax in fig.axes:
        if ax.get_visible():
            assert ax.get_position().width > 0.2 and ax.get_position().height > 0  # room to plot


def test_a_title_wider_than_the_axes_is_wrapped_not_cut() -> None:
    fig = charts.granted_used_proposed(SUMMARIES["many roles"])
    title = fig.axes[0].get_title()
    assert "\n" in title
    assert title.replace("\n", " ") == ("Permissions granted, used and proposed per role "
                                        "(25 roles with the most granted of 40)")


def test_a_role_name_too_long_for_the_margin_is_cut_in_the_middle() -> None:
    fig = charts.granted_used_proposed(SUMMARIES["longest names"])
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert all("\u2026" in label for label in labels)
    assert labels[0].startswith("rrrr") and labels[0].endswith("13")  # most granted first
    assert len(set(labels)) == len(labels)  # still told apart


@pytest.mark.parametrize("text", ["a b c d e f", LONGEST, f"{LONGEST}: 1,234 calls"])
@pytest.mark.parametrize("width", [0.3, 1.0, 2.5])
def test_wrapped_lines_fit_and_keep_every_character(text: str, width: float) -> None:
    lines = wrapped(text, 7.5, width).split("\n")
    assert all(text_size(line, 7.5)[0] <= width for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")


@pytest.mark.parametrize("width", [0.2, 0.8, 2.0])
def test_shortened_fits_and_keeps_both_ends(width: float) -> None:
    cut = shortened(LONGEST, 8.5, width)
    assert text_size(cut, 8.5)[0] <= width
    head, _, tail = cut.partition("\u2026")
    assert LONGEST.startswith(head) and LONGEST.endswith(tail)
    assert shortened("short", 8.5, width * 10) == "short"
