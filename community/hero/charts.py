"""Small SVG charts drawn on the server: bars for counts and durations, 100% stacks for shares.

Each chart is a <figure>: a visible caption naming what it shows and its unit, the SVG with a
y-axis (gridlines and labelled ticks from 0 to the top of the scale) and a name under each bar,
and a legend when the bars have more than one colour. No inline styles or scripts (the CSP
refuses them): series are coloured by CSS classes (``series-<key>`` in static/css/app.css, so
dark mode has its own colours), with a presentation-attribute fill behind them. The SVG keeps
its accessible name and a <title> on every mark for its exact value; the numbers are always in
a table beside the chart too."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 340, 150
TOP, BOTTOM, LEFT, RIGHT = 8, 18, 32, 6  # the plot's margins; LEFT holds the tick labels
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
NAME_WIDTH = 34  # what one name under a bar needs at font-size 9 ("28 Sep")
MAX_TICKS = 5


@dataclass(frozen=True)
class Series:
    """What one colour in a chart stands for: the legend's text, the CSS class's key and the
    fill used where the stylesheet is missing."""

    name: str
    key: str
    fill: str


COUNT = Series("questions", "count", "#1d4aff")
DURATION = Series("minutes", "duration", "#6b21a8")
# The response clock's ratings, and the hand-off's priorities, as the badges colour them.
RATING_FILLS = (
    ("great", "#0f7b3f"),
    ("okay", "#1d4aff"),
    ("late", "#8a5200"),
    ("too-late", "#b42318"),
)
PRIORITY_FILLS = {"urgent": "#b42318", "high": "#8a5200", "normal": "#1d4aff", "low": "#8a8f98"}


def rating_series(names: Sequence[str]) -> list[Series]:
    """The parts of a response stack (within each target, later or not yet), named."""
    return [Series(name, key, fill) for name, (key, fill) in zip(names, RATING_FILLS, strict=True)]


def priority_series(priorities: Sequence[str]) -> list[Series]:
    return [Series(p, p, PRIORITY_FILLS.get(p, COUNT.fill)) for p in priorities]


def scale(top: float, whole: bool = True) -> list[float]:
    """The y-axis ticks from 0 to a round number at or above ``top``: steps of 1, 2, 2.5 or 5
    times a power of ten (whole numbers only when ``whole``), at most ``MAX_TICKS`` of them
    past 0. An empty chart gets 0 and 1."""
    top = max(top, 1) if whole else (top if top > 0 else 1)
    rough = top / (MAX_TICKS - 1)
    power = 10 ** math.floor(math.log10(rough))
    step = next(
        m * power
        for m in (1, 2, 2.5, 5, 10)
        if m * power >= rough and not (whole and m * power % 1)
    )
    count = math.ceil(top / step - 1e-9)
    return [round(n * step, 6) for n in range(count + 1)]


def _number(value: float) -> str:
    return f"{value:g}"


def _y(value: float, axis_top: float) -> float:
    return TOP + PLOT_HEIGHT - PLOT_HEIGHT * value / axis_top


def _axis(ticks: Sequence[float], label: Callable[[float], str]) -> str:
    """Gridlines and labels at each tick; the line at 0 is the baseline."""
    out = ['<g class="chart-axis">']
    for tick in ticks:
        y = _y(tick, ticks[-1])
        out.append(
            f'<line class="chart-grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" '
            f'y2="{y:.1f}" stroke="currentColor" stroke-width="{1 if tick == 0 else 0.5}" '
            f'stroke-opacity="{0.6 if tick == 0 else 0.25}"/>'
            f'<text class="chart-tick" x="{LEFT - 4}" y="{y + 3:.1f}" font-size="9" '
            f'text-anchor="end" fill="currentColor">{escape(label(tick))}</text>'
        )
    out.append("</g>")
    return "".join(out)


def _slots(count: int) -> tuple[float, float]:
    slot = PLOT_WIDTH / max(count, 1)
    return slot, slot * 0.7


def _names(names: Sequence[str], slot: float) -> str:
    """The name under each bar; with many narrow bars only every few, always the last."""
    every = max(1, math.ceil(NAME_WIDTH / slot))
    last = len(names) - 1
    return "".join(
        f'<text class="chart-name" x="{LEFT + n * slot + slot / 2:.1f}" y="{HEIGHT - 5}" '
        f'font-size="9" text-anchor="middle" fill="currentColor">{escape(name)}</text>'
        for n, name in enumerate(names)
        if (last - n) % every == 0
    )


def _bar(x: float, y: float, width: float, height: float, series: Series, tip: str) -> str:
    return (
        f'<rect class="series-{series.key}" x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" '
        f'height="{height:.1f}" fill="{series.fill}"><title>{escape(tip)}</title></rect>'
    )


def _figure(caption: str, unit: str, about: str, body: str, legend: Sequence[Series]) -> Markup:
    label = f"{about}: {caption} ({unit})" if about else f"{caption} ({unit})"
    items = [
        f'<li><svg class="chart-swatch" width="10" height="10" viewBox="0 0 10 10" '
        f'aria-hidden="true"><rect class="series-{s.key}" width="10" height="10" '
        f'fill="{s.fill}"/></svg>{escape(s.name)}</li>'
        for s in legend
    ]
    # Every text inside was escaped as it was written in; numbers are formatted here.
    return Markup(  # noqa: S704
        '<figure class="chart-figure">'
        f'<figcaption><span class="chart-caption">{escape(caption)}</span> '
        f'<span class="chart-unit">({escape(unit)})</span></figcaption>'
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(label)}</title>{body}</svg>"
        + (f'<ul class="chart-legend">{"".join(items)}</ul>' if items else "")
        + "</figure>"
    )


def bars(
    caption: str,
    unit: str,
    names: Sequence[str],
    values: Sequence[float | None],
    *,
    about: str = "",
    describe: Callable[[float | None], str] = str,
    series: Series | Sequence[Series] = COUNT,
) -> Markup:
    """One bar per value (None: no bar) against a y-axis from 0, the name under each.
    ``series`` colours every bar alike, or each bar its own (then with a legend); ``about``
    (whose numbers these are) goes into the accessible name only, the card says it already."""
    each = [series] * len(values) if isinstance(series, Series) else list(series)
    ticks = scale(max((v for v in values if v is not None), default=0))
    slot, width = _slots(len(values))
    parts = [_axis(ticks, _number)]
    for n, (name, value, colour) in enumerate(zip(names, values, each, strict=True)):
        if value is not None:
            y = _y(value, ticks[-1])
            x = LEFT + n * slot + (slot - width) / 2
            parts.append(
                _bar(x, y, width, TOP + PLOT_HEIGHT - y, colour, f"{name}: {describe(value)}")
            )
    parts.append(_names(names, slot))
    legend = [] if isinstance(series, Series) else list(dict.fromkeys(each))
    return _figure(caption, unit, about, "".join(parts), legend)


def stacks(
    caption: str,
    unit: str,
    names: Sequence[str],
    parts_per_bar: Sequence[Sequence[int]],
    series: Sequence[Series],
    *,
    about: str = "",
) -> Markup:
    """One 100% stacked bar per entry: the share of each part of its total (empty: no bar),
    against a y-axis from 0% to 100%, with a legend of the parts (bottom part first)."""
    slot, width = _slots(len(parts_per_bar))
    out = [_axis([0, 25, 50, 75, 100], lambda tick: f"{tick:g}%")]
    for n, (name, parts) in enumerate(zip(names, parts_per_bar, strict=True)):
        x = LEFT + n * slot + (slot - width) / 2
        total = sum(parts)
        y = TOP + PLOT_HEIGHT
        for part, count in zip(series, parts, strict=False):
            if not total or not count:
                continue
            height = PLOT_HEIGHT * count / total
            y -= height
            share = round(100 * count / total)
            out.append(
                _bar(
                    x, y, width, height, part, f"{name}: {part.name} {count} of {total} ({share}%)"
                )
            )
    out.append(_names(names, slot))
    return _figure(caption, unit, about, "".join(out), series)
