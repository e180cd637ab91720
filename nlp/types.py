"""What the analyzer returns for one message. Plain dataclasses, JSON-ready via ``as_dict``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

MOODS = ("positive", "neutral", "negative")
OBJECTIONS = ("price", "timing", "need", "authority", "competitor", "trust", "terms")
CONFLICTS = (
    "complaint",
    "deadline",
    "termination",
    "legal",
    "payment",
    "hostility",
    "escalation_request",
)
KPI_SIGNALS = ("renewal", "receivable", "cross_sell", "commitment")


@dataclass(frozen=True, slots=True)
class Finding:
    family: str  # "objection" | "conflict" | "renewal" | "receivable" | "cross_sell" | "commitment"
    label: str  # category / conflict type / signal label (e.g. "price", "termination", "renewal_against")
    text: str  # the matched span as it appears in the message
    start: int  # character offsets into the analysed text
    end: int
    rule: str  # stable pattern id from nlp/patterns/*.jsonl
    confidence: float = 1.0


@dataclass(frozen=True, slots=True)
class MessageAnalysis:
    mood: str
    mood_scores: dict[str, float]
    findings: tuple[Finding, ...] = field(default=())
    escalate: bool = False

    @property
    def objections(self) -> list[Finding]:
        return [f for f in self.findings if f.family == "objection"]

    @property
    def conflicts(self) -> list[Finding]:
        return [f for f in self.findings if f.family == "conflict"]

    @property
    def signals(self) -> list[Finding]:
        return [f for f in self.findings if f.family not in ("objection", "conflict")]

    def as_dict(self, message_id: str) -> dict:
        """The `clientpulse analyze` output line (DESIGN.md, command line contract)."""

        def span(f: Finding, key: str) -> dict:
            return {key: f.label, "text": f.text, "start": f.start, "end": f.end, "rule": f.rule}

        return {
            "id": message_id,
            "mood": self.mood,
            "mood_scores": self.mood_scores,
            "objections": [span(f, "category") for f in self.objections],
            "conflicts": [span(f, "type") for f in self.conflicts],
            "signals": [{"family": f.family, **span(f, "label")} for f in self.signals],
            "escalate": self.escalate,
        }

    def to_json(self) -> dict:
        return asdict(self)
