"""Charts as inline SVG drawn on the server: no JavaScript library, nothing fetched from elsewhere, readable
by a screen reader (each bar has a <title>, the chart a data table beside it)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Series:
    label: str
    css: str  # a class in app.css (colours live there: the page's CSP forbids inline styles)
    values: list[float | None]  # 0..1 per category
    shown: list[str]  # each value as the page prints it ("85,5%")


def bars(categories: list[str], series: list[Series], title: str, height: int = 220) -> str:
    """Grouped vertical bars on a 0-100% axis, one group per category (a month)."""
    n, k = max(len(categories), 1), max(len(series), 1)
    left, bottom, top, width = 40, 28, 10, max(560, 48 * n + 40)
    plot_h = height - bottom - top
    group_w = (width - left - 10) / n
    bar_w = max(4.0, group_w * 0.8 / k)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="chart-title">',
             f'<title id="chart-title">{escape(title)}</title>']
    for tick in (0, 25, 50, 75, 100):
        y = top + plot_h * (1 - tick / 100)
        parts.append(f'<line class="grid" x1="{left}" x2="{width - 5}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{tick}%</text>')
    for i, cat in enumerate(categories):
        x0 = left + i * group_w + group_w * 0.1
        for j, s in enumerate(series):
            value = s.values[i]
            if value is None:
                continue
            h = plot_h * max(0.0, min(1.0, value))
            x = x0 + j * bar_w
            parts.append(f'<rect class="{s.css}" x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 1:.1f}"'
                         f' height="{h:.1f}"><title>{escape(cat)} · {escape(s.label)}: {escape(s.shown[i])}'
                         '</title></rect>')
        parts.append(f'<text class="tick" x="{x0 + bar_w * k / 2:.1f}" y="{height - 10}" text-anchor="middle">'
                     f'{escape(cat)}</text>')
    parts.append("</svg>")
    return "".join(parts)
