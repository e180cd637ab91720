"""SQLModel tables. Schema changes go through Alembic migrations (storage/migrations)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime

FLAG_STATUSES = ("open", "acknowledged", "resolved", "dismissed")
ACTIVE_STATUSES = ("open", "acknowledged")
SEVERITIES = ("low", "medium", "high", "critical")


def _dt(**kw) -> Column:
    return Column(UTCDateTime(), **kw)


class Client(SQLModel, table=True):
    id: str = Field(primary_key=True)
    name: str
    manager: str = ""


class SyncState(SQLModel, table=True):
    """Where a source stopped: per export file its content hash, per IMAP folder uidvalidity + last uid."""

    __table_args__ = (UniqueConstraint("source", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    source: str
    key: str  # file path or folder name
    value: str  # content hash or "uidvalidity:last_uid"
    updated_at: datetime = Field(sa_column=_dt(nullable=False))


class Message(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("source", "item_id"),
        Index("ix_message_client_sent", "client_id", "sent_at"),
        Index("ix_message_sent_at", "sent_at"),  # escalation's recent window over every client; retention purge
    )
    id: int | None = Field(default=None, primary_key=True)
    source: str
    item_id: str
    channel: str
    client_id: str | None = Field(default=None, foreign_key="client.id", index=True)
    direction: str  # "in" (client wrote) | "out" (our team) ; unattributed messages are "in"
    sent_at: datetime = Field(sa_column=_dt(nullable=False))
    author_name: str = ""
    author_address: str = ""
    chat: str = ""
    subject: str = ""
    thread_id: str = ""
    in_reply_to: str = ""
    body: str = ""  # the new text only
    quoted: str = ""  # quoted history / forwarded text, kept apart, never analysed
    raw: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    ingested_at: datetime = Field(sa_column=_dt(nullable=False))


class Analysis(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("message_id", "analyzer_version"),
        Index("ix_analysis_version_message", "analyzer_version", "message_id"),  # what this version has analysed
    )
    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    analyzer_version: str
    mood: str
    mood_scores: dict = Field(default_factory=dict, sa_column=Column(JSON))
    escalate: bool = False
    created_at: datetime = Field(sa_column=_dt(nullable=False))


class Signal(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    analysis_id: int = Field(foreign_key="analysis.id", index=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    family: str  # objection | conflict | renewal | receivable | cross_sell | commitment
    label: str
    text: str
    start: int
    end: int
    rule: str
    confidence: float = 1.0


class Flag(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(foreign_key="client.id", index=True)
    kind: str
    severity: str
    status: str = "open"
    opened_at: datetime = Field(sa_column=_dt(nullable=False))
    updated_at: datetime = Field(sa_column=_dt(nullable=False))
    summary: str
    rule: str = ""
    details: dict = Field(default_factory=dict, sa_column=Column(JSON))  # the numbers behind the flag


class FlagEvidence(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("flag_id", "message_id"),)
    id: int | None = Field(default=None, primary_key=True)
    flag_id: int = Field(foreign_key="flag.id", index=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    quote: str


class FlagEvent(SQLModel, table=True):
    """Every change of a flag: who, when, what, and the reviewer's note (the feedback the trainer reads)."""

    id: int | None = Field(default=None, primary_key=True)
    flag_id: int = Field(foreign_key="flag.id", index=True)
    at: datetime = Field(sa_column=_dt(nullable=False))
    actor: str  # "system" or a user login
    action: str  # opened | updated | acknowledged | resolved | dismissed | reopened
    note: str = ""


class Run(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = Field(sa_column=_dt(nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=_dt(nullable=True))
    as_of: datetime = Field(sa_column=_dt(nullable=False))
    status: str = "running"  # running | ok | partial | failed
    counts: dict = Field(default_factory=dict, sa_column=Column(JSON))
    errors: list = Field(default_factory=list, sa_column=Column(JSON))


class Quarantine(SQLModel, table=True):
    """What could not be parsed: the raw item and the error, so nothing is lost."""

    __table_args__ = (UniqueConstraint("source", "item_id", "digest"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int | None = Field(default=None, foreign_key="run.id")
    source: str
    item_id: str
    digest: str  # sha256 of raw: the same broken item is stored once
    error: str
    raw: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    created_at: datetime = Field(sa_column=_dt(nullable=False))


class ClientDay(SQLModel, table=True):
    """Daily rollup of one client's messages (local day of the config's timezone, per analyzer version).

    Written by insights.rollups; escalation reads these instead of every stored message.
    """

    __table_args__ = (
        UniqueConstraint("client_id", "analyzer_version", "day"),
        Index("ix_clientday_version_day", "analyzer_version", "day"),  # every client's history before the window
    )
    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(foreign_key="client.id", index=True)
    analyzer_version: str
    day: date
    msgs_in: int = 0
    msgs_out: int = 0
    mood_sum: float = 0.0  # sum over incoming messages of P(positive) - P(negative)
    positive_in: int = 0
    negative_in: int = 0
    objections: int = 0  # objection findings raised this day
    objections_open: int = 0  # objection categories still open at the end of the day
    conflicts: int = 0  # incoming messages with a conflict finding
    conflicts_open: int = 0  # conflict messages not yet followed by a calm client at the end of the day
    escalate_marked: int = 0
    replies: int = 0  # our first replies to a waiting client
    reply_minutes_sum: float = 0.0  # business minutes from the client's first waiting message to our reply
    reply_minutes_max: float = 0.0
    labels: dict = Field(default_factory=dict, sa_column=Column(JSON))  # "objection:price" -> count


class FindingReview(SQLModel, table=True):
    """A reviewer's verdict on one finding (a Signal) or on a message's mood: feedback for training."""

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    signal_id: int | None = Field(default=None, foreign_key="signal.id")  # None: a verdict on the mood
    verdict: str  # "correct" | "wrong"
    corrected_label: str = ""  # e.g. the right mood, when the reviewer gives one
    actor: str
    note: str = ""
    at: datetime = Field(sa_column=_dt(nullable=False))


class WebUser(SQLModel, table=True):
    """A login for the review UI (`clientpulse user add`). Only a password hash is stored."""

    login: str = Field(primary_key=True)
    password_hash: str
    role: str = "lead"  # lead | manager
    created_at: datetime = Field(sa_column=_dt(nullable=False))
