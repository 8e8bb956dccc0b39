"""Charts as inline SVG, drawn on the server: no JavaScript library, nothing to download."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

BAR_H, GAP, LABEL_W, VALUE_W = 18, 4, 150, 70


def bars(rows: Sequence[tuple[str, float]], *, width: int = 560, title: str = "") -> str:
    """A horizontal bar chart: one labelled bar per (label, value), longest first as given."""
    if not rows:
        return '<p class="muted">nothing to draw</p>'
    top = max((v for _, v in rows), default=0.0) or 1.0
    span = width - LABEL_W - VALUE_W
    height = len(rows) * (BAR_H + GAP) + GAP
    parts = [
        # Sized by its card (CSS max-width: 100%); the viewBox keeps its proportions.
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" preserveAspectRatio="xMinYMin meet">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(rows):
        y = GAP + i * (BAR_H + GAP)
        w = max(1.0, span * max(value, 0.0) / top)
        short = label if len(label) <= 22 else label[:21] + "…"
        parts += [
            f'<text x="{LABEL_W - 6}" y="{y + 13}" text-anchor="end">{escape(short)}</text>',
            f'<rect x="{LABEL_W}" y="{y}" width="{w:.1f}" height="{BAR_H}" rx="2">'
            f"<title>{escape(label)}: {value:,.3f}</title></rect>",
            f'<text x="{LABEL_W + w + 4:.1f}" y="{y + 13}">{value:,.2f}</text>',
        ]
    parts.append("</svg>")
    return "".join(parts)


def line(
    points: Sequence[tuple[float, float]], *, width: int = 560, height: int = 90, title: str = ""
) -> str:
    """A line over time (x: epoch seconds), with its last value and maximum labelled."""
    if len(points) < 2:
        return '<p class="muted">collecting samples…</p>'
    x0, x1 = points[0][0], points[-1][0]
    top = max(v for _, v in points) or 1.0
    pad = 6

    def xy(t: float, v: float) -> str:
        x = pad + (width - 2 * pad) * (t - x0) / ((x1 - x0) or 1)
        y = height - pad - (height - 2 * pad) * v / top
        return f"{x:.1f},{y:.1f}"

    path = " ".join(xy(t, v) for t, v in points)
    return (
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" '
        f'height="{height + 16}" viewBox="0 0 {width} {height + 16}">'
        f"<title>{escape(title)}</title>"
        f'<polyline fill="none" stroke-width="2" points="{path}"/>'
        f'<text x="{pad}" y="{height + 14}">max {top:,.1f}</text>'
        f'<text x="{width - pad}" y="{height + 14}" text-anchor="end">'
        f"now {points[-1][1]:,.1f}</text></svg>"
    )


# State colours are set on the elements themselves (fill=…), not by page CSS.
STATE_FILL = {"ok": "#2b8a3e", "resolved": "#2b8a3e", "pending": "#e67700", "firing": "#c92a2a",
              "error": "#862e9c"}  # fmt: skip
ROW_H = 16


def timeline(
    rows: Sequence[tuple[str, Sequence[tuple[float, str]]]],
    *,
    start: float,
    end: float,
    width: int = 760,
    title: str = "",
) -> str:
    """Bands of state over time: one row per label, each (since, state) until the next."""
    if not rows:
        return '<p class="muted">no state changes in this range</p>'
    span = (end - start) or 1.0
    plot = width - LABEL_W - 10
    height = len(rows) * (ROW_H + GAP) + GAP + 14
    parts = [
        f'<svg class="timeline" role="img" aria-label="{escape(title)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" preserveAspectRatio="xMinYMin meet">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, changes) in enumerate(rows):
        y = GAP + i * (ROW_H + GAP)
        short = label if len(label) <= 22 else label[:21] + "…"
        parts.append(f'<text x="{LABEL_W - 6}" y="{y + 12}" text-anchor="end" font-size="11" '
                     f'fill="#1d2330">{escape(short or "(all)")}</text>')  # fmt: skip
        ordered = sorted(changes)
        for j, (since, state) in enumerate(ordered):
            until = ordered[j + 1][0] if j + 1 < len(ordered) else end
            a, b = max(since, start), min(until, end)
            if b <= a:
                continue
            x = LABEL_W + plot * (a - start) / span
            w = max(1.0, plot * (b - a) / span)
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{ROW_H}" '
                f'fill="{STATE_FILL.get(state, "#adb5bd")}" data-state="{escape(state)}">'
                f"<title>{escape(state)}</title></rect>"
            )
    parts.append(f'<text x="{LABEL_W}" y="{height - 2}" font-size="10" fill="#6b7385">'
                 f"{escape(title)}</text></svg>")  # fmt: skip
    return "".join(parts)
