"""Report charts as SVG whose colours sit on the elements (fill=, stroke=).

WeasyPrint, like many mail readers, ignores a page's CSS for SVG: a chart styled by the
dashboard's stylesheet would print black. Every colour and font here is an attribute.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

PALETTE = ("#2563eb", "#16a34a", "#ea580c", "#9333ea", "#0891b2", "#dc2626", "#ca8a04")
INK, MUTED, GRID = "#111827", "#6b7280", "#e5e7eb"
FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11"'
BAR_H, GAP, LABEL_W, VALUE_W = 16, 4, 170, 80


def bars(rows: Sequence[tuple[str, float]], *, title: str, width: int = 640) -> str:
    """Horizontal bars, one per (label, value), in the order given."""
    if not rows:
        return ""
    top = max((v for _, v in rows), default=0.0) or 1.0
    span = width - LABEL_W - VALUE_W
    height = len(rows) * (BAR_H + GAP) + GAP + 18
    out = [_open(width, height, title), _heading(title)]
    for i, (label, value) in enumerate(rows):
        y = 18 + GAP + i * (BAR_H + GAP)
        w = max(1.0, span * max(value, 0.0) / top)
        short = label if len(label) <= 26 else label[:25] + "…"
        out += [
            f'<text x="{LABEL_W - 6}" y="{y + 12}" text-anchor="end" fill="{INK}" {FONT}>'
            f"{escape(short)}</text>",
            f'<rect x="{LABEL_W}" y="{y}" width="{w:.1f}" height="{BAR_H}" fill="{PALETTE[0]}"/>',
            f'<text x="{LABEL_W + w + 4:.1f}" y="{y + 12}" fill="{MUTED}" {FONT}>'
            f"{_num(value)}</text>",
        ]
    out.append("</svg>")
    return "".join(out)


def lines(
    days: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *, title: str,
    width: int = 640, height: int = 220,
) -> str:  # fmt: skip
    """One coloured line per (name, values by day), with a legend and the day axis."""
    if not days or not series:
        return ""
    left, right, top_pad, bottom = 56, 10, 22, 40
    top = max((max(v, default=0.0) for _, v in series), default=0.0) or 1.0
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    legend_h = 16 * ((len(series) + 3) // 4)
    out = [_open(width, height + legend_h, title), _heading(title)]
    for k in range(5):  # horizontal grid lines with their values
        y = top_pad + plot_h * k / 4
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
                   f'stroke="{GRID}" stroke-width="1"/>')  # fmt: skip
        out.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" fill="{MUTED}" '
                   f"{FONT}>{_num(top * (4 - k) / 4)}</text>")  # fmt: skip

    def x(i: int) -> float:
        return left + (plot_w * i / (len(days) - 1) if len(days) > 1 else plot_w / 2)

    last = len(days) - 1
    for i in sorted({0, last // 2, last}):
        # The end labels align inwards, so neither is cut at the chart's edge.
        anchor = "start" if i == 0 and last else ("end" if i == last and last else "middle")
        out.append(f'<text x="{x(i):.1f}" y="{height - bottom + 16}" text-anchor="{anchor}" '
                   f'fill="{MUTED}" {FONT}>{escape(days[i])}</text>')  # fmt: skip
    for n, (name, values) in enumerate(series):
        colour = PALETTE[n % len(PALETTE)]
        pts = " ".join(
            f"{x(i):.1f},{top_pad + plot_h * (1 - v / top):.1f}" for i, v in enumerate(values)
        )
        out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"/>')
        lx, ly = 10 + (n % 4) * (width // 4), height + 16 * (n // 4)
        out.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{colour}"/>')
        short = name if len(name) <= 22 else name[:21] + "…"
        out.append(f'<text x="{lx + 14}" y="{ly}" fill="{INK}" {FONT}>{escape(short)}</text>')
    out.append("</svg>")
    return "".join(out)


def _heading(title: str) -> str:
    return f'<text x="0" y="12" fill="{INK}" {FONT} font-weight="bold">{escape(title)}</text>'


def _open(width: int, height: int, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>'
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>'
    )


def _num(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"
