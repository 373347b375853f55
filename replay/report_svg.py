"""Small inline SVG charts for the after-action report: no script, no font or file from elsewhere,
so the page opens with no internet and prints as it shows."""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 14, 44
COLOURS = ("#1f4e8c", "#c0392b", "#e6a800", "#2e8b57", "#555555", "#8e44ad")


def _frame(title: str, ymax: float, labels: list[str], legend: list[tuple[str, str]]) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{escape(title)}" class="chart"><title>{escape(title)}</title>',
             f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" stroke="#999"/>']
    for k in range(5):  # horizontal grid with values
        value = ymax * k / 4
        y = TOP + plot_h - plot_h * k / 4
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#e3e3e3"/>'
                     f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{_num(value)}</text>')
    step = max(1, len(labels) // 8)
    for i in range(0, len(labels), step):
        x = _x(i, len(labels))
        parts.append(f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" font-size="11">'
                     f'{escape(labels[i])}</text>')
    for k, (name, colour) in enumerate(legend):
        x = LEFT + 150 * k
        parts.append(f'<rect x="{x}" y="{HEIGHT - 16}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{x + 14}" y="{HEIGHT - 7}" font-size="11">{escape(name)}</text>')
    return parts


def _x(i: float, n: int) -> float:
    return LEFT + (WIDTH - LEFT - RIGHT) * (i + 0.5) / max(n, 1)


def _y(value: float, ymax: float) -> float:
    plot_h = HEIGHT - TOP - BOTTOM
    return TOP + plot_h - plot_h * value / ymax


def _scale(values: list[float]) -> float:
    top = max(values, default=0)
    return top if top > 0 else 1


def _num(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def lines(title: str, labels: list[str], series: dict[str, list[float]]) -> str:
    """One line per series, over the intervals."""
    ymax = _scale([v for values in series.values() for v in values])
    legend = list(zip(series, COLOURS, strict=False))
    parts = _frame(title, ymax, labels, legend)
    for (name, values), colour in zip(series.items(), COLOURS, strict=False):
        points = " ".join(f"{_x(i, len(values)):.1f},{_y(v, ymax):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}">'
                     f'<title>{escape(name)}</title></polyline>')
    parts.append("</svg>")
    return "".join(parts)


def bars(title: str, labels: list[str], series: dict[str, list[float]]) -> str:
    """Grouped bars per interval (each value's tooltip gives it exactly)."""
    ymax = _scale([v for values in series.values() for v in values])
    parts = _frame(title, ymax, labels, list(zip(series, COLOURS, strict=False)))
    n, groups = len(labels), max(len(series), 1)
    slot = (WIDTH - LEFT - RIGHT) / max(n, 1)
    width = max(1.0, slot * 0.8 / groups)
    for k, ((name, values), colour) in enumerate(zip(series.items(), COLOURS, strict=False)):
        for i, value in enumerate(values):
            if not value:
                continue
            x = LEFT + slot * i + slot * 0.1 + width * k
            y = _y(value, ymax)
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{_y(0, ymax) - y:.1f}" '
                         f'fill="{colour}"><title>{escape(labels[i])} — {escape(name)} : {_num(value)}</title></rect>')
    parts.append("</svg>")
    return "".join(parts)
