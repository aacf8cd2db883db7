"""The report's charts: titled and labelled, grayscale-legible, A4-sized, inline SVG that is
self-contained and deterministic, and text alternatives that carry the real figures.

Against the golden sample's summary.json (read, never written) and small summaries built here
for the edges: one role, no activity, nothing unused, no roles.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib as mpl
import pytest
from chart_summaries import role as _role
from chart_summaries import summary as _summary
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

from rightsizer.report import charts

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "sample" / "summary.json"
A4_TEXT_WIDTH_IN = 180 / 25.4  # A4 less 15 mm margins each side
A4_TEXT_HEIGHT_IN = 267 / 25.4

CHARTS: dict[str, Callable[[Any], Figure]] = {
    "reduction": charts.reduction,
    "granted_used_proposed": charts.granted_used_proposed,
    "unused_by_access_level": charts.unused_by_access_level,
    "daily_activity": charts.daily_activity,
}


@pytest.fixture(scope="module")
def summary() -> dict[str, Any]:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def figures(summary: dict[str, Any]) -> dict[str, Figure]:
    """Each chart of the golden summary, drawn once for the module (a chart takes ~0.5 s)."""
    return {kind: build(summary) for kind, build in CHARTS.items()}


@pytest.fixture(scope="module")
def svgs(figures: dict[str, Figure]) -> dict[str, str]:
    return {kind: charts.figure_svg(fig, id_prefix=f"{kind}-") for kind, fig in figures.items()}


EDGES = {
    "one role": _summary(_role("only", granted=5, used=2, unused=("s3:GetObject",),
                               activity={"2026-10-02": 4})),
    "no activity": _summary(_role("a"), _role("b", granted=0, used=0)),
    "zero unused": _summary(_role("a", activity={"2026-10-03": 1}),
                            _role("b", activity={"2026-10-04": 2})),
    "no roles": _summary(),
    "no window": {"roles": [_role("a", activity={"2026-10-03": 1})]},
    "mathtext in a name": _summary(_role("a$b$c", unused=("iam:PassRole",),
                                         activity={"2026-10-03": 1})),
    "no proposal": _summary(_role("kept-as-is", granted=7, proposal=False)),
}


def _title(fig: Figure) -> str:
    suptitle = fig.get_suptitle()
    return suptitle or " ".join(ax.get_title() for ax in fig.axes if ax.get_visible())


def _labels(fig: Figure) -> tuple[str, str]:
    """The x and y axis labels a reader sees: the figure's shared ones, else the axes'."""
    xs = [fig.get_supxlabel()] + [ax.get_xlabel() for ax in fig.axes if ax.get_visible()]
    ys = [fig.get_supylabel()] + [ax.get_ylabel() for ax in fig.axes if ax.get_visible()]
    return next((x for x in xs if x), ""), next((y for y in ys if y), "")


@pytest.mark.parametrize("kind", CHARTS)
def test_each_chart_is_a_figure_with_a_title_and_labelled_axes(kind: str, figures: dict) -> None:
    fig = figures[kind]
    assert isinstance(fig, Figure)
    assert _title(fig).strip()
    xlabel, ylabel = _labels(fig)
    assert xlabel.strip() and ylabel.strip()


@pytest.mark.parametrize("kind", CHARTS)
def test_charts_fit_the_text_area_of_an_a4_page(kind: str, figures: dict) -> None:
    width, height = figures[kind].get_size_inches()
    assert width <= A4_TEXT_WIDTH_IN
    assert height <= A4_TEXT_HEIGHT_IN


def test_many_roles_still_fit_a_page_and_the_title_says_some_are_left_out() -> None:
    many = _summary(*(_role(f"role-{i:02}", granted=i + 1, unused=(f"s3:Put{i}",))
                      for i in range(40)))
    for build in (charts.granted_used_proposed, charts.unused_by_access_level):
        fig = build(many)
        assert fig.get_size_inches()[1] <= A4_TEXT_HEIGHT_IN
        assert "of 40" in _title(fig)
        assert len(fig.axes[0].get_yticklabels()) == charts.MAX_BAR_ROLES


@pytest.mark.parametrize("kind", CHARTS)
def test_figure_svg_is_inline_self_contained_svg(kind: str, svgs: dict) -> None:
    svg = svgs[kind]
    assert svg.startswith("<svg")
    assert "<?xml" not in svg and "<!DOCTYPE" not in svg and "<metadata" not in svg
    assert "<script" not in svg.lower()
    assert set(re.findall(r"https?://[^\s\"'<>)]+", svg)) == {"http://www.w3.org/2000/svg"}
    assert "xlink:" not in svg
    assert "<style" not in svg  # an inline <style> would apply to the whole HTML page
    assert "<text" in svg  # svg.fonttype "none": text stays text, searchable


def test_figure_svg_leaves_global_matplotlib_settings_alone(figures: dict) -> None:
    before = dict(mpl.rcParams)
    charts.figure_svg(figures["reduction"])
    assert dict(mpl.rcParams) == before


@pytest.mark.parametrize("kind", CHARTS)
def test_figure_svg_is_deterministic(kind: str, summary: dict, svgs: dict) -> None:
    again = charts.figure_svg(CHARTS[kind](copy.deepcopy(summary)), id_prefix=f"{kind}-")
    assert again == svgs[kind]


@pytest.mark.parametrize("kind", CHARTS)
def test_id_prefix_renames_every_id_and_every_reference(kind: str, svgs: dict) -> None:
    svg = svgs[kind]
    ids = re.findall(r'\bid="([^"]+)"', svg)
    assert ids and all(i.startswith(f"{kind}-") for i in ids)
    references = re.findall(r'href="#([^"]+)"|url\(#([^)]+)\)', svg)
    targets = {a or b for a, b in references}
    assert targets and targets <= set(ids)


def test_svg_text_from_data_is_escaped() -> None:
    hostile = _summary(_role("<script>alert(1)</script>", unused=("s3:GetObject",),
                             activity={"2026-10-02": 3}))
    for build in CHARTS.values():
        svg = charts.figure_svg(build(hostile))
        assert "<script" not in svg
    assert "&lt;script&gt;" in charts.figure_svg(charts.granted_used_proposed(hostile))


@pytest.mark.parametrize("case", EDGES)
@pytest.mark.parametrize("kind", CHARTS)
def test_edge_summaries_render(kind: str, case: str) -> None:
    fig = CHARTS[kind](EDGES[case])
    assert charts.figure_svg(fig).startswith("<svg")
    assert charts.chart_alt_text(kind, EDGES[case])


def test_alt_text_of_granted_used_proposed_has_every_roles_counts(summary: dict) -> None:
    alt = charts.chart_alt_text("granted_used_proposed", summary)
    assert "orders-api-task: 264 granted, 9 used, 11 proposed" in alt
    for role in summary["roles"]:
        proposed = (f"{len(role['proposed_actions']):,} proposed" if role["policy_path"]
                    else "no proposal")
        assert (f"{role['name']}: {len(role['granted_actions']):,} granted, "
                f"{len(role['used_actions']):,} used, {proposed}") in alt


def test_alt_text_of_reduction_has_the_totals(summary: dict) -> None:
    granted = sum(len(r["granted_actions"]) for r in summary["roles"])
    # A role without a proposal keeps what it has.
    proposed = sum(len(r["proposed_actions"] if r["policy_path"] else r["granted_actions"])
                   for r in summary["roles"])
    alt = charts.chart_alt_text("reduction", summary)
    assert f"{granted:,} permissions are granted" in alt
    assert f"{proposed:,} remain" in alt
    assert f"{granted - proposed:,} removed ({100 * (granted - proposed) / granted:.0f}%)" in alt


def test_reduction_counts_a_role_without_proposal_as_unchanged() -> None:
    mixed = _summary(_role("cut", granted=10, used=2), _role("kept", granted=5, proposal=False))
    alt = charts.chart_alt_text("reduction", mixed)
    assert "15 permissions are granted and 7 remain" in alt
    assert "1 role without a proposal count" in alt
    assert "kept: 5 granted, 1 used, no proposal" in charts.chart_alt_text(
        "granted_used_proposed", mixed)


def test_alt_text_of_unused_by_access_level_counts_by_level(summary: dict) -> None:
    alt = charts.chart_alt_text("unused_by_access_level", summary)
    for role in summary["roles"]:
        unused = role["unused_actions"]
        if unused:
            assert f"{role['name']}: {len(unused):,} unused (" in alt
            levels = charts.unused_by_level(role)
            detail = ", ".join(f"{charts.LEVEL_LABELS[lv]} {len(a)}" for lv, a in levels.items())
            assert f"({detail})" in alt
        else:
            assert f"{role['name']}: none unused" in alt


def test_alt_text_of_daily_activity_has_calls_per_role(summary: dict) -> None:
    alt = charts.chart_alt_text("daily_activity", summary)
    assert "2026-09-27 to 2026-10-31" in alt
    for role in summary["roles"]:
        total = sum(role["activity"].values())
        if total:
            assert f"{role['name']}: {total:,} calls" in alt
    assert "1 role made no calls" in alt  # notifier-task-legacy
    only = charts.chart_alt_text("daily_activity", summary, role="orders-api-task")
    assert "orders-api-task: 402 calls" in only and "payments-worker-task" not in only


def test_alt_text_of_an_unknown_kind_is_an_error(summary: dict) -> None:
    with pytest.raises(ValueError, match="unknown chart kind"):
        charts.chart_alt_text("pie", summary)


def test_the_cut_is_drawn_as_it_is_and_labelled(figures: dict, summary: dict) -> None:
    # A log scale made 454 -> 11 (98%) look like about 40% (issue 14): the scale is linear
    # whatever the range, and each proposal's bar says how much it cuts.
    ax = figures["granted_used_proposed"].axes[0]
    assert ax.get_xscale() == "linear" and "log" not in ax.get_xlabel()
    labels = [t.get_text() for t in ax.texts]
    assert "11 (-98%)" in labels  # reports-batch-task: 454 granted, 11 proposed
    narrow = charts.granted_used_proposed(_summary(_role("a", granted=4, used=2))).axes[0]
    assert narrow.get_xscale() == "linear"


def _luminance(colour: Any) -> float:
    r, g, b = to_rgb(colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_bar_series_differ_by_more_than_colour(figures: dict) -> None:
    """In grayscale, series must differ by hatch or by clearly different lightness."""
    for kind in ("granted_used_proposed", "unused_by_access_level"):
        fig = figures[kind]
        handles = fig.legends[0].legend_handles
        styles = [(h.get_hatch() or "", _luminance(h.get_facecolor())) for h in handles]
        for i, (hatch, lum) in enumerate(styles):
            for other_hatch, other_lum in styles[i + 1:]:
                assert hatch != other_hatch or abs(lum - other_lum) > 0.15


def test_access_levels_stack_harm_first(figures: dict) -> None:
    labels = [t.get_text() for t in figures["unused_by_access_level"].legends[0].get_texts()]
    order = [charts.LEVEL_LABELS[lv] for lv in charts.ACCESS_LEVELS]
    assert labels == [lv for lv in order if lv in labels]
    assert labels[0] == "permissions management"


def test_daily_activity_puts_the_busiest_role_first_and_caps_the_panels() -> None:
    roles = [_role(f"r{i:02}", activity={"2026-10-02": i + 1, "2026-10-05": 1})
             for i in range(15)]
    fig = charts.daily_activity(_summary(*roles))
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == charts.MAX_LINE_ROLES + 1
    assert panels[0].get_title(loc="left").startswith("r14: 16 calls")
    assert panels[-1].get_title(loc="left").startswith("3 other roles together: 9 calls")
    one = charts.daily_activity(_summary(*roles), role="r03")
    assert [ax.get_title(loc="left") for ax in one.axes] == ["r03: 5 calls"]


def test_daily_activity_fills_the_whole_window_with_zero_days() -> None:
    fig = charts.daily_activity(_summary(_role("a", activity={"2026-10-03": 2})))
    line = fig.axes[0].get_lines()[0]
    assert len(line.get_xdata()) == 10  # 2026-10-01 .. 2026-10-10
    assert sorted(line.get_ydata()) == [0] * 9 + [2]


def test_access_level_comes_from_the_catalog() -> None:
    assert charts.access_level("iam:PutRolePolicy") == "permissions_management"
    assert charts.access_level("s3:PutObject") == "write"
    assert charts.access_level("s3:ListBucket") == "list"
    assert charts.access_level("madeup:Thing") == charts.UNKNOWN_LEVEL
