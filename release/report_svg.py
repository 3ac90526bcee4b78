"""The report's figures as inline SVG, written here (no plotting library, no script).

Each figure scales to its container (``viewBox``, ``width: 100%``), names itself in
``<title>`` for screen readers, and carries its numbers in ``data-`` attributes (a bar's
``data-count``, a point's ``data-x``/``data-y``) so that tests read the figure as drawn.
Every text is escaped: labels may come from student-supplied names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 640
FONT = 13  # px in viewBox units
COLORS = ("#c0392b", "#e67e22", "#f1c40f", "#27ae60")  # zero, low, partial, full
INK = "#333"
GRID = "#ddd"


def _svg(height: float, title: str, body: list[str], figure: str) -> str:
    return (
        f'<svg class="figure" data-figure="{escape(figure)}" role="img" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" xmlns="http://www.w3.org/2000/svg" '
        f'font-size="{FONT}" font-family="inherit">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _text(x: float, y: float, text: str, anchor: str = "middle", **attrs: str) -> str:
    extra = "".join(f' {key.replace("_", "-")}="{escape(value)}"' for key, value in attrs.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{INK}"{extra}>'
        f"{escape(text)}</text>"
    )


def _nice(step: float) -> float:
    """The smallest of 1, 2 or 5 times a power of ten that is at least ``step``."""
    power = 10 ** math.floor(math.log10(step)) if step > 0 else 1.0
    return next(k * power for k in (1, 2, 5, 10) if k * power >= step)


def histogram(counts: Sequence[int], labels: Sequence[str], title: str, xlabel: str) -> str:
    """Vertical bars, one per bin (``labels[i]`` under bar ``i``), each with its count."""
    height, top, bottom, left = 260, 24, 52, 36
    plot_h, plot_w = height - top - bottom, WIDTH - left - 12
    tallest = max(max(counts, default=0), 1)
    slot = plot_w / max(len(counts), 1)
    body = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{WIDTH - 12}" y2="{top + plot_h}" '
        f'stroke="{INK}"/>'
    ]
    for i, (count, label) in enumerate(zip(counts, labels, strict=True)):
        bar_h = plot_h * count / tallest
        x = left + i * slot + slot * 0.1
        y = top + plot_h - bar_h
        body.append(
            f'<rect class="bar" data-count="{count}" data-bin="{escape(label)}" x="{x:.1f}" '
            f'y="{y:.1f}" width="{slot * 0.8:.1f}" height="{bar_h:.1f}" fill="#2e86c1">'
            f"<title>{escape(label)}: {count}</title></rect>"
        )
        if count:
            body.append(_text(x + slot * 0.4, y - 4, str(count)))
        body.append(_text(x + slot * 0.4, top + plot_h + 16, label, font_size="11"))
    body.append(_text(left + plot_w / 2, height - 10, xlabel))
    return _svg(height, title, body, "histogram")


@dataclass(frozen=True)
class Stack:
    """One horizontal bar of a stacked chart: a label and a count per category."""

    label: str
    counts: tuple[int, ...]


def stacked_bars(stacks: Sequence[Stack], categories: Sequence[str], title: str) -> str:
    """One horizontal bar per stack (top to bottom, in order), split by category, with a
    legend; every bar is as long as the largest total."""
    row, top, left, legend = 24, 8, 150, 28
    height = top + row * len(stacks) + legend + 8
    total = max((sum(s.counts) for s in stacks), default=0) or 1
    plot_w = WIDTH - left - 12
    body = []
    for i, stack in enumerate(stacks):
        y = top + i * row
        body.append(_text(left - 6, y + row * 0.65, stack.label, anchor="end"))
        x = float(left)
        for category, (count, color) in enumerate(zip(stack.counts, COLORS, strict=False)):
            width = plot_w * count / total
            body.append(
                f'<rect class="bar" data-stack="{escape(stack.label)}" '
                f'data-category="{escape(categories[category])}" data-count="{count}" '
                f'x="{x:.1f}" y="{y + 3}" width="{width:.1f}" height="{row - 6}" '
                f'fill="{color}"><title>{escape(stack.label)}, '
                f"{escape(categories[category])}: {count}</title></rect>"
            )
            if count and width > 18:
                body.append(_text(x + width / 2, y + row * 0.65, str(count), font_size="11"))
            x += width
    y = top + row * len(stacks) + 18
    x = float(left)
    for name, color in zip(categories, COLORS, strict=False):
        body.append(f'<rect x="{x:.1f}" y="{y - 10}" width="12" height="12" fill="{color}"/>')
        body.append(_text(x + 16, y, name, anchor="start"))
        x += 24 + 8 * len(name)
    return _svg(height, title, body, "stacked")


@dataclass(frozen=True)
class Point:
    """A point of the scatter plot; ``over`` draws it hollow (out of the budget)."""

    x: float
    y: float
    label: str
    over: bool = False


def scatter(
    points: Sequence[Point],
    *,
    x_max: float,
    x_line: float,
    y_line: float,
    title: str,
    xlabel: str,
    ylabel: str,
    x_line_label: str,
    y_line_label: str,
) -> str:
    """Points in [0, x_max] x [0, 1], with a vertical line at ``x_line`` and a horizontal
    one at ``y_line`` (the budget and the threshold), labelled."""
    height, top, bottom, left, right = 300, 16, 44, 48, 16
    plot_w, plot_h = WIDTH - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + plot_w * min(max(x, 0.0), x_max) / x_max

    def sy(y: float) -> float:
        return top + plot_h * (1 - min(max(y, 0.0), 1.0))

    body = [
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        f'stroke="{INK}"/>'
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        body.append(
            f'<line x1="{left}" y1="{sy(tick):.1f}" x2="{left + plot_w}" y2="{sy(tick):.1f}" '
            f'stroke="{GRID}"/>'
        )
        body.append(_text(left - 4, sy(tick) + 4, f"{tick:g}", anchor="end", font_size="11"))
    step = _nice(x_max / 4)
    for i in range(int(x_max / step) + 1):
        body.append(_text(sx(i * step), top + plot_h + 16, f"{i * step:g}", font_size="11"))
    body.append(
        f'<line class="budget" data-x="{x_line:g}" x1="{sx(x_line):.1f}" y1="{top}" '
        f'x2="{sx(x_line):.1f}" y2="{top + plot_h}" stroke="#c0392b" stroke-dasharray="6 4"/>'
    )
    body.append(_text(sx(x_line) - 4, top + 14, x_line_label, anchor="end", fill="#c0392b"))
    body.append(
        f'<line class="threshold" data-y="{y_line:g}" x1="{left}" y1="{sy(y_line):.1f}" '
        f'x2="{left + plot_w}" y2="{sy(y_line):.1f}" stroke="#27ae60" stroke-dasharray="6 4"/>'
    )
    body.append(_text(left + 6, sy(y_line) + 16, y_line_label, anchor="start", fill="#1e8449"))
    for point in points:
        fill = "none" if point.over else "#2e86c1"
        body.append(
            f'<circle class="point" data-x="{point.x:g}" data-y="{point.y:g}" '
            f'cx="{sx(point.x):.1f}" cy="{sy(point.y):.1f}" r="5" fill="{fill}" '
            f'stroke="#1b4f72" stroke-width="1.5"><title>{escape(point.label)}: '
            f"{point.y:.3f}, {point.x:g} s</title></circle>"
        )
    body.append(_text(left + plot_w / 2, height - 8, xlabel))
    body.append(
        _text(14, top + plot_h / 2, ylabel, transform=f"rotate(-90 14 {top + plot_h / 2:.1f})")
    )
    return _svg(height, title, body, "scatter")
