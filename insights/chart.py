"""An inline SVG chart of the weekly mood (line, -1..+1) over the messages in and out (bars). No dependencies."""

from __future__ import annotations

from datetime import date
from html import escape

WIDTH, HEIGHT, PAD_L, PAD_R, PAD_T, PAD_B = 640, 220, 44, 12, 16, 34


def mood_svg(series: list[dict], *, title: str = "Настроение клиента по неделям") -> str:
    """``series``: the brief's mood_series (week_start, mood, messages_in, messages_out)."""
    n = max(len(series), 1)
    plot_w, plot_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B
    step = plot_w / n
    top = max([s["messages_in"] + s["messages_out"] for s in series] + [1])

    def y_mood(v: float) -> float:
        return PAD_T + (1 - (v + 1) / 2) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{PAD_L}" y="{PAD_T}" width="{plot_w}" height="{plot_h / 2:.1f}" fill="#eef8ee"/>',
        f'<rect x="{PAD_L}" y="{PAD_T + plot_h / 2:.1f}" width="{plot_w}" height="{plot_h / 2:.1f}" fill="#fbeeee"/>',
    ]
    for value, label in ((1, "+1"), (0, "0"), (-1, "−1")):
        y = y_mood(value)
        parts.append(
            f'<line x1="{PAD_L}" y1="{y:.1f}" x2="{WIDTH - PAD_R}" y2="{y:.1f}" stroke="#bbb" stroke-width="0.5"/>'
        )
        parts.append(f'<text x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{label}</text>')
    points = []
    for i, s in enumerate(series):
        x = PAD_L + step * i + step / 2
        for count, color, offset in (
            (s["messages_in"], "#8fb3de", -step * 0.18),
            (s["messages_out"], "#cfcfcf", step * 0.18),
        ):
            h = plot_h * 0.45 * count / top
            left, top_y, width = x + offset - step * 0.15, PAD_T + plot_h - h, step * 0.3
            parts.append(f'<rect x="{left:.1f}" y="{top_y:.1f}" width="{width:.1f}" height="{h:.1f}" fill="{color}">'
                         f"<title>{count}</title></rect>")  # fmt: skip
        label = f"{date.fromisoformat(s['week_start']):%d.%m}"
        parts.append(f'<text x="{x:.1f}" y="{HEIGHT - PAD_B + 14}" text-anchor="middle" fill="#555">{label}</text>')
        if s["mood"] is not None:
            points.append((x, y_mood(s["mood"]), s["mood"]))
    if len(points) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#333" stroke-width="2"/>')
    for x, y, v in points:
        color = "#2e7d32" if v > 0.2 else "#c62828" if v < -0.2 else "#777"
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{color}"><title>{v:+.2f}</title></circle>')
    parts.append(f'<text x="{PAD_L}" y="{HEIGHT - 4}" fill="#555">линия — настроение (−1…+1); '
                 "синие столбцы — письма клиента, серые — наши</text>")  # fmt: skip
    parts.append("</svg>")
    return "\n".join(parts)
