"""Charts of a run, drawn from ``summary.json`` (the contract the reports render from).

Why this shape: the HTML report must be one self-contained, printable file, so every chart is a
matplotlib ``Figure`` built directly (no pyplot: no global figure registry, safe in a library and
in threads that do not share one) and turned into inline SVG text by :func:`figure_svg`,
deterministically (same summary, byte-identical SVG). Reviewers print reports in black and white:
series differ by hatch, line style and marker as well as by colour, and the palettes run from
dark to light so they stay apart in grayscale. Every chart has a text alternative with the real
figures (:func:`chart_alt_text`), for screen readers and for readers who want the numbers.

The small counting helpers (:func:`role_counts`, :func:`access_level`, :func:`unused_by_level`)
live here because the charts and the report text must count the same way.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from rightsizer.report.chart_layout import lay_out_axes, lay_out_grid, legend_anchor
from rightsizer.text import plural

__all__ = [
    "ACCESS_LEVELS",
    "ALT_KINDS",
    "RoleCounts",
    "access_level",
    "chart_alt_text",
    "daily_activity",
    "figure_svg",
    "granted_used_proposed",
    "reduction",
    "role_counts",
    "unused_by_access_level",
    "unused_by_level",
]

# Harm first: an unused permissions-management grant is worse than an unused list grant.
ACCESS_LEVELS: tuple[str, ...] = ("permissions_management", "write", "tagging", "read", "list")
UNKNOWN_LEVEL = "unknown"  # an action the pinned catalog does not know (newer, or a typo)
LEVEL_LABELS = {
    "permissions_management": "permissions management",
    "write": "write",
    "tagging": "tagging",
    "read": "read",
    "list": "list",
    UNKNOWN_LEVEL: "not in the catalog",
}

ALT_KINDS = ("reduction", "granted_used_proposed", "unused_by_access_level", "daily_activity",
             "runs_over_time")

MAX_BAR_ROLES = 25  # more bars than this do not fit an A4 page legibly
MAX_LINE_ROLES = 12  # panels of daily calls; the rest are summed into one "others" panel

# A4 portrait, 15 mm margins each side: 180 mm of text width.
_WIDTH_IN = 7.0

# Sequential palettes (dark to light) stay distinct in grayscale; hatches make sure of it. Only
# line hatches: dots and circles become thousands of Bezier curves in SVG (150 kB a chart).
_GUP_STYLE = {  # series -> (face colour, hatch)
    "granted": ("#c6dbef", "///"),
    "used": ("#08306b", ""),
    "proposed": ("#6baed6", "\\\\\\"),
}
_LEVEL_STYLE = {
    "permissions_management": ("#67000d", "xx"),
    "write": ("#cb181d", "///"),
    "tagging": ("#fb6a4a", "\\\\\\"),
    "read": ("#fcbba1", "---"),
    "list": ("#fff5f0", ""),
    UNKNOWN_LEVEL: ("#d9d9d9", "++"),
}

_TITLE_POINTS = 10
_LABEL_POINTS = 8.5
_LEGEND_POINTS = 7.5
_PANEL_POINTS = 7.5  # the title of one panel of the daily chart
_TICK_POINTS = 6.5  # the daily chart's tick labels

_STYLE: dict[str, Any] = {
    "font.family": "sans-serif",
    # Short list: with svg.fonttype "none" it is written into every <text> element.
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
    "font.size": _LABEL_POINTS,
    "axes.titlesize": _TITLE_POINTS,
    "axes.titleweight": "bold",
    "axes.labelsize": _LABEL_POINTS,
    "legend.fontsize": _LEGEND_POINTS,
    "hatch.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "rightsizer",  # deterministic ids: same figure, same bytes
    "svg.fonttype": "none",  # text stays text: smaller, searchable, selectable
}


# --- counting ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoleCounts:
    """What one role has, uses and would get, as counts of actions."""

    name: str
    granted: int
    used: int
    unused: int
    kept: int  # not observable + required by a task definition + excluded + no evidence
    proposed: int
    has_proposal: bool

    @property
    def after(self) -> int:
        """Actions the role holds once the proposal is applied; unchanged without a proposal."""
        return self.proposed if self.has_proposal else self.granted

    @property
    def removed(self) -> int:
        return max(self.granted - self.after, 0)


def role_label(role: Mapping[str, Any]) -> str:
    """How the reports name a role: its name, with its account when the run held several."""
    return str(role.get("label") or role.get("name", ""))


def role_counts(role: Mapping[str, Any]) -> RoleCounts:
    kept = sum(len(role.get(k) or ()) for k in ("kept_unobservable", "kept_required",
                                                  "kept_excluded", "kept_insufficient_evidence",
                                                  "kept_unmapped", "kept_used_per_iam"))
    return RoleCounts(
        name=role_label(role),
        granted=len(role.get("granted_actions") or ()),
        used=len(role.get("used_actions") or ()),
        unused=len(role.get("unused_actions") or ()),
        kept=kept,
        proposed=len(role.get("proposed_actions") or ()),
        has_proposal=bool(role.get("policy_path")),
    )


@lru_cache(maxsize=8192)
def access_level(action: str) -> str:
    """The normalized access level of ``service:Action`` (``"unknown"`` when not cataloged)."""
    from rightsizer.iam.catalog import catalog

    try:
        info = catalog().action(action)
    except (ValueError, KeyError):  # not a service:Action string at all
        return UNKNOWN_LEVEL
    return info.access_level.value if info is not None else UNKNOWN_LEVEL


def unused_by_level(role: Mapping[str, Any]) -> dict[str, list[str]]:
    """The role's unused actions by access level, harm first; empty levels left out."""
    levels: dict[str, list[str]] = {}
    for action in sorted(role.get("unused_actions") or ()):
        levels.setdefault(access_level(action), []).append(action)
    order = (*ACCESS_LEVELS, UNKNOWN_LEVEL)
    return {level: levels[level] for level in order if level in levels}


def _roles(summary: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(summary.get("roles") or ())


def _daily(summary: Mapping[str, Any], role: str | None) -> tuple[list[date], list[tuple[str,
                                                                                     list[int]]]]:
    """Days of the window and, per role (most calls first), its calls on each day."""
    series: list[tuple[str, dict[date, int]]] = []
    for entry in _roles(summary):
        if role is not None and role_label(entry) != role:
            continue
        days = {date.fromisoformat(str(d)[:10]): int(n)
                for d, n in (entry.get("activity") or {}).items()}
        series.append((role_label(entry), days))
    seen = [d for _, days in series for d in days]
    window = summary.get("window") or {}
    bounds = [date.fromisoformat(str(window[k])[:10]) for k in ("start", "end") if window.get(k)]
    first = min([*bounds[:1], *seen], default=None)
    last = max([*bounds[1:], *seen], default=None)
    if first is None or last is None:
        return [], []
    axis = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    rows = [(name, [days.get(d, 0) for d in axis]) for name, days in series]
    rows.sort(key=lambda item: (-sum(item[1]), item[0]))
    return axis, rows


def _top(rows: Sequence[RoleCounts], key: Any) -> list[RoleCounts]:
    return sorted(rows, key=lambda c: (-key(c), c.name))[:MAX_BAR_ROLES]


def _n(value: int) -> str:
    return f"{value:,}"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "0%"


# --- figures ----------------------------------------------------------------------------------


def _label(text: str) -> str:
    """Text for matplotlib: a ``$`` would start mathtext (and raise on malformed input)."""
    return text.replace("\\", "\\\\").replace("$", r"\$")


def _figure(height_in: float) -> Figure:
    # No layout engine: chart_layout places the axes from the measured text around them.
    with mpl.rc_context(_STYLE):
        return Figure(figsize=(_WIDTH_IN, height_in))


def _capped_title(base: str, shown: int, total: int, what: str) -> str:
    return base if shown == total else f"{base} ({shown} {what} of {total})"


def granted_used_proposed(summary: Mapping[str, Any]) -> Figure:
    """Per role: actions granted, used and proposed (grouped horizontal bars)."""
    counts = [role_counts(r) for r in _roles(summary)]
    shown = _top(counts, lambda c: c.granted)
    fig = _figure(1.3 + 0.36 * max(len(shown), 1))
    with mpl.rc_context(_STYLE):
        ax = fig.add_subplot()
        values = [v for c in shown for v in (c.granted, c.used, c.proposed) if v > 0]
        height = 0.27
        for i, series in enumerate(("granted", "used", "proposed")):
            colour, hatch = _GUP_STYLE[series]
            ys = [k + (i - 1) * height for k in range(len(shown))]
            widths = [getattr(c, series) for c in shown]
            bars = ax.barh(ys, widths, height=height, color=colour, hatch=hatch,
                           edgecolor="#222222", linewidth=0.6, label=series)
            labels = [_bar_label(series, w, c) for w, c in zip(widths, shown, strict=True)]
            ax.bar_label(bars, labels=labels, padding=2, fontsize=6.5)
        ax.set_yticks(range(len(shown)), [_label(c.name) for c in shown])
        ax.invert_yaxis()  # the largest role on top
        # Linear, whatever the range: a log scale drew a 98% cut as a short step. The labels
        # carry the small counts a linear bar cannot show, and the cut itself.
        ax.set_xlabel("actions")
        ax.set_ylabel("role")
        ax.set_xlim(0, max([*values, 1]) * 1.25)
        if not shown:
            ax.text(0.5, 0.5, "no roles", transform=ax.transAxes, ha="center", va="center")
        # Outside the plot, under it: never over a bar, whatever the number of roles.
        fig.legend(loc="lower center", bbox_to_anchor=legend_anchor(fig), borderaxespad=0,
                   ncols=3, frameon=False)
        lay_out_axes(fig, ax, _capped_title("Permissions granted, used and proposed per role",
                                            len(shown), len(counts), "roles with the most granted"),
                     title_points=_TITLE_POINTS, legend_points=_LEGEND_POINTS)
    return fig


def _bar_label(series: str, width: int, counts: RoleCounts) -> str:
    if series != "proposed":
        return _n(width)
    if not counts.has_proposal:
        return "no proposal"
    if counts.granted and counts.removed:
        return f"{_n(width)} (-{round(100 * counts.removed / counts.granted)}%)"
    return _n(width)


def daily_activity(summary: Mapping[str, Any], role: str | None = None) -> Figure:
    """Calls per day over the window, one line per role (most calls first), or only ``role``.

    Small multiples, one panel per role on a shared time axis: a dozen lines in one plot cannot
    be told apart in print, least of all in grayscale, and what a reviewer looks for (is the role
    active all along, or only on some days, such as a monthly job?) is per role anyway.
    """
    axis, rows = _daily(summary, role)
    rows = [r for r in rows if sum(r[1])]
    shown = rows[:MAX_LINE_ROLES]
    others = rows[MAX_LINE_ROLES:]
    if others:
        total = [sum(col) for col in zip(*(r[1] for r in others), strict=True)]
        shown = [*shown, (f"{len(others)} other roles together", total)]
    ncols = 1 if len(shown) <= 1 else 2 if len(shown) <= 4 else 3
    nrows = max(-(-len(shown) // ncols), 1)
    fig = _figure(0.9 + (2.6 if nrows == 1 else 1.25 * nrows))
    with mpl.rc_context(_STYLE):
        title = f"Calls per day: {_label(role)}" if role else "Calls per day, by role"
        if not shown:
            ax = fig.add_subplot()
            ax.set_xlabel("day (UTC)")
            ax.set_ylabel("calls per day")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.text(0.5, 0.5, "no calls in the window", transform=ax.transAxes, ha="center",
                    va="center")
            lay_out_axes(fig, ax, title, title_points=_TITLE_POINTS)
            return fig
        grid = fig.subplots(nrows, ncols, sharex=True, squeeze=False)
        # Days as indices with explicit, evenly spaced labels: date locators cost a second per
        # chart of tick updates and a "2026-Nov" offset under every panel.
        days = list(range(len(axis)))
        step = -(-len(axis) // (4 if ncols > 1 else 8))
        step = -(-step // 7) * 7 if step > 3 else step  # weekly when spread out
        ticks = days[::step]
        panels: list[tuple[Axes, str]] = []
        for k, ax in enumerate(grid.flat):
            if k >= len(shown):
                ax.set_visible(False)  # the last row's empty cells
                continue
            name, values = shown[k]
            ax.plot(days, values, color="#08306b", linewidth=1.0, label=_label(name))
            ax.fill_between(days, values, color="#c6dbef", linewidth=0)
            panels.append((ax, f"{_label(name)}: {_n(sum(values))} calls"))
            ax.set_ylim(bottom=0)
            ax.yaxis.get_major_locator().set_params(integer=True, nbins=3)
            ax.set_xticks(ticks, [axis[i].strftime("%b %d") for i in ticks])
            ax.set_xlim(-0.5, len(axis) - 0.5)
            ax.tick_params(labelsize=_TICK_POINTS, labelbottom=True)  # every panel dated
        lay_out_grid(fig, panels, title, title_points=_TITLE_POINTS,
                     panel_title_points=_PANEL_POINTS, label_points=_LABEL_POINTS,
                     tick_points=_TICK_POINTS, rows=nrows, columns=ncols,
                     xlabel="day (UTC)", ylabel="calls per day")
    return fig


def unused_by_access_level(summary: Mapping[str, Any]) -> Figure:
    """Unused permissions by access level per role (stacked bars, harm first)."""
    roles = _roles(summary)
    levels = {role_label(r): unused_by_level(r) for r in roles}
    counts = [role_counts(r) for r in roles]
    shown = _top(counts, lambda c: c.unused)
    fig = _figure(1.4 + 0.3 * max(len(shown), 1))
    with mpl.rc_context(_STYLE):
        ax = fig.add_subplot()
        present = [lv for lv in (*ACCESS_LEVELS, UNKNOWN_LEVEL)
                   if any(lv in levels[c.name] for c in shown)] or list(ACCESS_LEVELS)
        left = [0] * len(shown)
        for level in present:
            colour, hatch = _LEVEL_STYLE[level]
            widths = [len(levels[c.name].get(level, ())) for c in shown]
            ax.barh(range(len(shown)), widths, left=left, height=0.6, color=colour, hatch=hatch,
                    edgecolor="#222222", linewidth=0.6, label=LEVEL_LABELS[level])
            left = [a + b for a, b in zip(left, widths, strict=True)]
        for k, total in enumerate(left):
            ax.text(total, k, f" {_n(total)}", va="center", fontsize=6.5)
        ax.set_yticks(range(len(shown)), [_label(c.name) for c in shown])
        ax.invert_yaxis()
        ax.set_xlim(0, max([*left, 1]) * 1.12)
        ax.set_xlabel("unused permissions (actions)")
        ax.set_ylabel("role")
        if not shown:
            ax.text(0.5, 0.5, "no roles", transform=ax.transAxes, ha="center", va="center")
        fig.legend(loc="lower center", bbox_to_anchor=legend_anchor(fig), borderaxespad=0,
                   ncols=len(present), frameon=False)
        lay_out_axes(fig, ax, _capped_title("Unused permissions by access level", len(shown),
                                            len(counts), "roles with the most unused"),
                     title_points=_TITLE_POINTS, legend_points=_LEGEND_POINTS)
    return fig


def reduction(summary: Mapping[str, Any]) -> Figure:
    """The account at a glance: permissions granted now against after the proposals."""
    counts = [role_counts(r) for r in _roles(summary)]
    granted = sum(c.granted for c in counts)
    after = sum(c.after for c in counts)
    fig = _figure(1.9)
    with mpl.rc_context(_STYLE):
        ax = fig.add_subplot()
        bars = ax.barh([0, 1], [granted, after], height=0.6,
                       color=[_GUP_STYLE["granted"][0], _GUP_STYLE["proposed"][0]],
                       hatch=None, edgecolor="#222222", linewidth=0.6)
        for bar, hatch in zip(bars, (_GUP_STYLE["granted"][1], _GUP_STYLE["proposed"][1]),
                              strict=True):
            bar.set_hatch(hatch)
        ax.bar_label(bars, labels=[_n(granted), _n(after)], padding=3)
        ax.set_yticks([0, 1], ["granted now", "after the proposals"])
        ax.invert_yaxis()
        ax.set_xlim(0, max(granted, after, 1) * 1.12)
        ax.set_xlabel("permissions (actions, summed over roles)")
        ax.set_ylabel("policies")
        lay_out_axes(fig, ax, f"Permissions across {plural(len(counts), 'role')}: "
                     f"{_n(granted - after)} of {_n(granted)} removed "
                     f"({_pct(granted - after, granted)})", title_points=_TITLE_POINTS)
    return fig


def _run_totals(summary: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    since = summary.get("since_last_run") or {}
    return list(since.get("totals") or ())


def runs_over_time(summary: Mapping[str, Any]) -> Figure:
    """The account's permissions granted, and after the proposals, run by run (the kept runs)."""
    totals = _run_totals(summary)
    fig = _figure(2.2)
    with mpl.rc_context(_STYLE):
        ax = fig.add_subplot()
        days = [str(t.get("as_of", "")) for t in totals]
        for series, style in (("granted", "-o"), ("proposed", "--s")):
            ax.plot(range(len(totals)), [int(t.get(series) or 0) for t in totals], style,
                    color="#333333" if series == "granted" else "#1f5f99",
                    label="granted" if series == "granted" else "after the proposals")
        ax.set_xticks(range(len(totals)), days, rotation=30, ha="right")
        ax.set_ylim(bottom=0)
        ax.set_ylabel("permissions")
        ax.legend(loc="center right", frameon=False)  # between the two lines, clear of both
        lay_out_axes(fig, ax, f"Permissions over the last {plural(len(totals), 'run')}",
                     title_points=_TITLE_POINTS, x_rotation=30)
    return fig


# --- SVG --------------------------------------------------------------------------------------

_ID = re.compile(r'\bid="([^"]+)"')
_PATH = re.compile(r' d="([^"]*)"')
_FLOAT = re.compile(r"-?\d+\.\d+")


def _short(match: re.Match[str]) -> str:
    text = f"{float(match.group(0)):.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _path(match: re.Match[str]) -> str:
    """Path data to 1/100 pt, on one line: invisible on paper, 15% of the chart's bytes."""
    return ' d="' + " ".join(_FLOAT.sub(_short, match.group(1)).split()) + '"'


def figure_svg(fig: Figure, *, id_prefix: str = "") -> str:
    """Inline SVG text of ``fig``: no XML declaration, DOCTYPE, metadata or external reference,
    and the same bytes for the same figure. ``id_prefix`` keeps the ids of several charts in one
    HTML page apart (matplotlib numbers them ``figure_1``, ``axes_1``... in every SVG)."""
    buf = io.StringIO()
    with mpl.rc_context(_STYLE):
        fig.savefig(buf, format="svg",
                    metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    # The xlink namespace is only for <use xlink:href>; SVG 2 (every current browser) takes href.
    svg = svg.replace(' xmlns:xlink="http://www.w3.org/1999/xlink"', "")
    svg = svg.replace(" xlink:href=", " href=")
    # A <style> inside inline SVG applies to the whole HTML page: move it onto the root element.
    svg = re.sub(r"\s*<defs>\s*<style[^>]*>\*\{([^}]*)\}</style>\s*</defs>", "", svg, count=1)
    svg = svg.replace("<svg ", '<svg style="stroke-linejoin: round; stroke-linecap: butt" ', 1)
    svg = _PATH.sub(_path, svg)
    if id_prefix:
        ids = set(_ID.findall(svg))

        def rename(match: re.Match[str]) -> str:
            name = match.group(2)
            return f"{match.group(1)}{id_prefix}{name}" if name in ids else match.group(0)

        svg = re.sub(r'(\bid="|href="#|url\(#)([^")]+)', rename, svg)
    return svg.strip() + "\n"


# --- text alternatives ------------------------------------------------------------------------


def _join(parts: Iterable[str]) -> str:
    return "; ".join(parts)


def chart_alt_text(kind: str, summary: Mapping[str, Any], role: str | None = None) -> str:
    """The text alternative of a chart (``kind`` is one of :data:`ALT_KINDS`), with its figures."""
    counts = [role_counts(r) for r in _roles(summary)]
    if kind == "reduction":
        granted = sum(c.granted for c in counts)
        after = sum(c.after for c in counts)
        unchanged = sum(1 for c in counts if not c.has_proposal)
        text = (f"Across {plural(len(counts), 'role')}, {_n(granted)} permissions are granted and "
                f"{_n(after)} remain after the proposals: {_n(granted - after)} removed "
                f"({_pct(granted - after, granted)}).")
        if unchanged:
            text += (f" {plural(unchanged, 'role')} without a proposal "
                     f"{'counts' if unchanged == 1 else 'count'} as unchanged.")
        return text
    if kind == "granted_used_proposed":
        shown = _top(counts, lambda c: c.granted)
        parts = [f"{c.name}: {_n(c.granted)} granted, {_n(c.used)} used, "
                 + (f"{_n(c.proposed)} proposed" if c.has_proposal else "no proposal")
                 for c in shown]
        return _with_rest("Permissions per role. ", parts, len(counts) - len(shown))
    if kind == "unused_by_access_level":
        by_name = {role_label(r): unused_by_level(r) for r in _roles(summary)}
        shown = _top(counts, lambda c: c.unused)
        parts = []
        for c in shown:
            levels = by_name[c.name]
            detail = ", ".join(f"{LEVEL_LABELS[lv]} {_n(len(a))}" for lv, a in levels.items())
            parts.append(f"{c.name}: {_n(c.unused)} unused ({detail})" if c.unused
                         else f"{c.name}: none unused")
        return _with_rest("Unused permissions by access level. ", parts,
                          len(counts) - len(shown))
    if kind == "runs_over_time":
        return "Permissions over the kept runs: " + "; ".join(
            f"{t.get('as_of')}: {_n(int(t.get('granted') or 0))} granted, "
            f"{_n(int(t.get('proposed') or 0))} after the proposals"
            for t in _run_totals(summary)) + "."
    if kind == "daily_activity":
        axis, rows = _daily(summary, role)
        active = [r for r in rows if sum(r[1])]
        if not active:
            return ("Calls per day: " + (f"{role} made " if role else "the roles made ")
                    + "no calls in the window.")
        span = f"{axis[0].isoformat()} to {axis[-1].isoformat()}"
        parts = []
        for name, values in active[:MAX_LINE_ROLES]:
            peak = max(values)
            parts.append(f"{name}: {_n(sum(values))} calls on {sum(1 for v in values if v)} of "
                         f"{len(axis)} days, at most {_n(peak)} on "
                         f"{axis[values.index(peak)].isoformat()}")
        rest = active[MAX_LINE_ROLES:]
        if rest:
            parts.append(f"{len(rest)} other roles: "
                         f"{_n(sum(sum(v) for _, v in rest))} calls together")
        quiet = len(rows) - len(active)
        if quiet:
            parts.append(f"{quiet} role{'s' if quiet != 1 else ''} made no calls")
        return f"Calls per day, {span}. " + _join(parts) + "."
    raise ValueError(f"unknown chart kind {kind!r}: one of {', '.join(ALT_KINDS)}")


def _with_rest(prefix: str, parts: list[str], rest: int) -> str:
    if rest > 0:
        parts = [*parts, f"and {_n(rest)} more role{'s' if rest != 1 else ''}"]
    return prefix + _join(parts) + "."
