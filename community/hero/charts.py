"""Small SVG charts drawn on the server: bars for counts and durations, 100% stacks for shares.
Presentation attributes only (no inline styles or scripts, which the CSP refuses), a <title>
on every mark for its exact value, and the numbers always in a table beside the chart."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 320, 140
TOP, BOTTOM, LEFT = 12, 22, 4
COLOURS = ("#1a7f4b", "#1d4aff", "#b8860b", "#c0392b")  # great, okay, late, too late


def _frame(label: str, body: str) -> Markup:
    # Every text inside was escaped as it was written in; numbers are formatted here.
    return Markup(  # noqa: S704
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(label)}</title>{body}</svg>"
    )


def _slots(count: int) -> tuple[float, float]:
    slot = (WIDTH - LEFT * 2) / max(count, 1)
    return slot, slot * 0.7


def bars(
    label: str,
    names: Sequence[str],
    values: Sequence[float | None],
    describe: Callable[[float | None], str] = str,
    colour: str = "#1d4aff",
) -> Markup:
    """One bar per value (None: no bar), scaled to the largest, the name under each."""
    top = max((v for v in values if v is not None), default=0) or 1
    slot, width = _slots(len(values))
    plot = HEIGHT - TOP - BOTTOM
    parts = []
    for n, (name, value) in enumerate(zip(names, values, strict=True)):
        x = LEFT + n * slot + (slot - width) / 2
        tip = escape(f"{name}: {describe(value)}")
        if value is not None:
            height = plot * value / top
            parts.append(
                f'<rect x="{x:.1f}" y="{TOP + plot - height:.1f}" width="{width:.1f}" '
                f'height="{height:.1f}" fill="{colour}"><title>{tip}</title></rect>'
            )
        parts.append(
            f'<text x="{x + width / 2:.1f}" y="{HEIGHT - 6}" font-size="9" '
            f'text-anchor="middle" fill="currentColor">{escape(name)}</text>'
        )
    parts.append(
        f'<line x1="{LEFT}" y1="{TOP + plot}" x2="{WIDTH - LEFT}" y2="{TOP + plot}" '
        'stroke="currentColor" stroke-width="0.5"/>'
    )
    return _frame(label, "".join(parts))


def stacks(
    label: str,
    names: Sequence[str],
    parts_per_bar: Sequence[Sequence[int]],
    part_names: Sequence[str],
) -> Markup:
    """One 100% stacked bar per entry: the share of each part of its total (empty: no bar)."""
    slot, width = _slots(len(parts_per_bar))
    plot = HEIGHT - TOP - BOTTOM
    out = []
    for n, (name, parts) in enumerate(zip(names, parts_per_bar, strict=True)):
        x = LEFT + n * slot + (slot - width) / 2
        total = sum(parts)
        y = TOP + plot
        for part, count, colour in zip(part_names, parts, COLOURS, strict=False):
            if not total or not count:
                continue
            height = plot * count / total
            y -= height
            tip = escape(f"{name}: {part} {count} of {total} ({round(100 * count / total)}%)")
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" '
                f'fill="{colour}"><title>{tip}</title></rect>'
            )
        out.append(
            f'<text x="{x + width / 2:.1f}" y="{HEIGHT - 6}" font-size="9" '
            f'text-anchor="middle" fill="currentColor">{escape(name)}</text>'
        )
    return _frame(label, "".join(out))
