"""Presentation helpers: Russian labels (labels.yaml), highlighted text segments, dates, the mood chart.

Nothing here builds HTML: templates receive plain values and Jinja escapes every one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from functools import cache
from pathlib import Path

import yaml

LABELS_FILE = Path(__file__).with_name("labels.yaml")
MONTHS = ("янв", "фев", "мар", "апр", "мая", "июн", "июл", "авг", "сен", "окт", "ноя", "дек")


@cache
def labels() -> dict[str, dict[str, str]]:
    return yaml.safe_load(LABELS_FILE.read_text(encoding="utf-8"))


def ordered(group: str, values: dict) -> list[tuple[str, object]]:
    """A dict's items in the order of labels.yaml (known keys first), then the unknown ones by name."""
    known = list(labels().get(group, {}))
    return sorted(values.items(), key=lambda kv: (known.index(kv[0]) if kv[0] in known else len(known), kv[0]))


def detail_value(value: object, tz: tzinfo) -> str:
    """A flag detail for people: dates in local time, floats shortened, lists joined."""
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".").replace(".", ",")
    if isinstance(value, list):
        return ", ".join(ru("labels", str(v)) for v in value)
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and "T" in value:
        try:
            return when(datetime.fromisoformat(value), tz, year=True)
        except ValueError:
            return value
    return str(value)


def ru(group: str, code: str | None) -> str:
    """The Russian label of a stored code, or the code itself when it is new to the UI."""
    return labels().get(group, {}).get(code or "", code or "")


@dataclass(frozen=True)
class Segment:
    text: str
    kind: str = ""  # "" plain | css class of the highlight
    title: str = ""


def segments(text: str, spans: list[tuple[int, int, str, str]]) -> list[Segment]:
    """Split ``text`` into plain and highlighted pieces; spans are (start, end, css class, title).

    Overlapping spans: the earlier (then longer) one wins, so every character is shown exactly once.
    """
    out: list[Segment] = []
    pos = 0
    for start, end, kind, title in sorted(spans, key=lambda s: (s[0], -s[1])):
        start, end = max(start, pos), min(end, len(text))
        if end <= start:
            continue
        if start > pos:
            out.append(Segment(text[pos:start]))
        out.append(Segment(text[start:end], kind, title))
        pos = end
    if pos < len(text):
        out.append(Segment(text[pos:]))
    return out


def find_quote(body: str, quote: str) -> tuple[int, int] | None:
    """Where a flag's evidence quote sits in its message. Quotes cut with «…» are widened to the whole sentence."""
    stripped = quote.strip()
    core = stripped.strip("…").strip()
    if not core:
        return None
    at = body.find(core)
    if at < 0:
        core = core[:40]
        at = body.find(core)
        if at < 0:
            return None
    start, end = at, at + len(core)
    if stripped.startswith("…"):
        start = max(body.rfind(c, 0, start) for c in ".!?\n") + 1
        start += len(body[start:]) - len(body[start:].lstrip())
    if stripped.endswith("…") or len(core) < len(stripped.strip("…").strip()):
        ends = [i for i in (body.find(c, end) for c in ".!?\n") if i >= 0]
        end = min(ends) + (body[min(ends)] != "\n") if ends else len(body)
    return start, end


def when(value: datetime | None, tz: tzinfo, *, year: bool = False) -> str:
    if value is None:
        return "—"
    local = value.astimezone(tz)
    day = f"{local.day} {MONTHS[local.month - 1]}" + (f" {local.year}" if year else "")
    return f"{day}, {local:%H:%M}"


def day(value: datetime | None, tz: tzinfo) -> str:
    if value is None:
        return "—"
    local = value.astimezone(tz)
    return f"{local.day} {MONTHS[local.month - 1]} {local.year}"


def mood_value(mood: str, scores: dict | None) -> float:
    """-1 (negative) .. +1 (positive): the model's scores when stored, else the label."""
    if scores and {"positive", "negative"} <= set(scores):
        return float(scores["positive"]) - float(scores["negative"])
    return {"positive": 1.0, "negative": -1.0}.get(mood, 0.0)


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    value: float
    label: str  # the day and the mean, for the SVG <title> tooltip
    tone: str  # positive | neutral | negative


@dataclass(frozen=True)
class MoodChart:
    width: int
    height: int
    points: list[ChartPoint]
    line: str  # "x,y x,y ..." of the 7-day rolling mean
    zero_y: float
    top_y: float
    bottom_y: float
    ticks: list[tuple[float, str]]  # x, date label
    legend: str = "Точка — средний тон сообщений клиента за день; линия — среднее за 7 дней."


def mood_chart(
    samples: list[tuple[datetime, float]], tz: tzinfo, *, width: int = 520, height: int = 190, legend: str = ""
) -> MoodChart:
    """Daily mean mood of the client's own messages and its 7-day rolling mean, as SVG coordinates."""
    left, right, top, bottom = 58, 26, 12, 30
    by_day: dict = {}
    for at, value in samples:
        by_day.setdefault(at.astimezone(tz).date(), []).append(value)
    days = sorted(by_day)
    if not days:
        return MoodChart(width, height, [], "", 0, top, height - bottom, [], legend or MoodChart.legend)
    first, last = days[0], days[-1]
    span = max((last - first).days, 1)

    def x_of(d) -> float:
        return round(left + (width - left - right) * (d - first).days / span, 1)

    def y_of(v: float) -> float:
        return round(top + (height - top - bottom) * (1 - (v + 1) / 2), 1)

    points, line = [], []
    for d in days:
        mean = sum(by_day[d]) / len(by_day[d])
        tone = "positive" if mean > 0.2 else "negative" if mean < -0.2 else "neutral"
        label = f"{d.day} {MONTHS[d.month - 1]}: {mean:+.2f} ({len(by_day[d])} сообщ.)"
        points.append(ChartPoint(x_of(d), y_of(mean), mean, label, tone))
        window = [v for w in days if d - timedelta(days=6) <= w <= d for v in by_day[w]]
        line.append(f"{x_of(d)},{y_of(sum(window) / len(window))}")
    ticks = [(x_of(d), f"{d.day} {MONTHS[d.month - 1]}") for d in sorted({first, days[len(days) // 2], last})]
    if len(ticks) > 1 and ticks[-1][0] - ticks[-2][0] < 60:
        ticks.pop(-2)  # keep the labels apart
    return MoodChart(
        width, height, points, " ".join(line), y_of(0), y_of(1), y_of(-1), ticks, legend or MoodChart.legend
    )


def finding_spans(body: str, findings) -> list[tuple[int, int, str, str]]:
    """Highlight spans for a message's findings (queries.Finding); a finding marked wrong is shown struck out."""
    spans = []
    for f in findings:
        s = f.signal
        start, end = s.start, s.end
        if body[start:end] != s.text:  # offsets from another text version: find the words instead
            at = body.find(s.text)
            if at < 0:
                continue
            start, end = at, at + len(s.text)
        kind = "wrong" if f.wrong_by else f"f-{s.family}"
        title = f"{ru('families', s.family)}: {ru('labels', s.label)}" + (
            " — отмечено как ошибка" if f.wrong_by else ""
        )
        spans.append((start, end, kind, title))
    return spans


def context(body: str, start: int, end: int, width: int = 90) -> tuple[str, str, str]:
    """The finding with up to ``width`` characters of its sentence on each side: (before, match, after)."""
    left = max(body.rfind(c, 0, start) for c in ".!?\n") + 1
    rights = [i for i in (body.find(c, end) for c in ".!?\n") if i >= 0]
    right = min(rights) + 1 if rights else len(body)
    before, after = body[max(left, start - width) : start].lstrip(), body[end : min(right, end + width)].rstrip()
    if start - width > left:
        before = "…" + before
    if end + width < right:
        after += "…"
    return before, body[start:end], after
