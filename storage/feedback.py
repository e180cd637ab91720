"""Reviewers' verdicts on message moods, as training rows for the mood model (``clientpulse train``).

Sources, newest verdict per message wins:
- a ``FindingReview`` with ``signal_id`` NULL is a verdict on the message's mood: ``wrong`` with
  ``corrected_label`` = the right mood, or ``correct``, meaning the stored ``Analysis.mood`` (the analysis the
  reviewer saw: the newest one created before the verdict, else the newest) is right;
- flags dismissed as false alarms (``FlagEvent`` action ``dismissed``): their evidence messages were judged not as
  bad as the detectors thought, but that does not say which mood they have. They are used only through a mood
  verdict on the same message, and otherwise only counted.

Rows carry the message's new text only (``Message.body``), never quoted history.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from storage.models import Analysis, FindingReview, FlagEvent, FlagEvidence, Message

MOODS = ("positive", "neutral", "negative")  # nlp.sentiment.MOODS (storage imports no other package)


@dataclass
class MoodFeedback:
    rows: list[dict] = field(default_factory=list)  # {"text", "mood", "message_id"}, by message id
    corrected: int = 0  # "wrong" with a corrected mood
    confirmed: int = 0  # "correct": the stored mood
    unusable: int = 0  # no usable mood (wrong without a label, unknown verdict, empty text, no analysis)
    dismissed_flags: int = 0
    dismissed_messages: int = 0  # evidence messages of dismissed flags
    dismissed_with_mood: int = 0  # of those, with a mood verdict (used through it)

    def by_mood(self) -> dict[str, int]:
        return {mood: sum(row["mood"] == mood for row in self.rows) for mood in MOODS}


def _stored_mood(session: Session, review: FindingReview) -> str | None:
    analyses = session.exec(
        select(Analysis)
        .where(Analysis.message_id == review.message_id)
        .order_by(col(Analysis.created_at).desc(), col(Analysis.id).desc())
    ).all()
    seen = [a for a in analyses if a.created_at <= review.at] or list(analyses)
    return seen[0].mood if seen else None


def mood_feedback(session: Session) -> MoodFeedback:
    """Every usable mood verdict in the database (see the module docstring), plus counts of what was not used."""
    result = MoodFeedback()
    latest: dict[int, FindingReview] = {}
    reviews = session.exec(
        select(FindingReview)
        .where(col(FindingReview.signal_id).is_(None))
        .order_by(col(FindingReview.at), col(FindingReview.id))
    ).all()
    for review in reviews:
        latest[review.message_id] = review
    for message_id in sorted(latest):
        review = latest[message_id]
        message = session.get(Message, message_id)
        text = (message.body or "").strip() if message else ""
        verdict = review.verdict.strip().lower()
        mood = None
        if verdict == "wrong":
            label = review.corrected_label.strip().lower()
            mood = label if label in MOODS else None
        elif verdict == "correct":
            mood = _stored_mood(session, review)
        if not text or mood not in MOODS:
            result.unusable += 1
            continue
        result.rows.append({"text": text, "mood": mood, "message_id": message_id})
        if verdict == "wrong":
            result.corrected += 1
        else:
            result.confirmed += 1

    dismissed = set(session.exec(select(FlagEvent.flag_id).where(FlagEvent.action == "dismissed")).all())
    result.dismissed_flags = len(dismissed)
    if dismissed:
        evidence = set(
            session.exec(select(FlagEvidence.message_id).where(col(FlagEvidence.flag_id).in_(dismissed))).all()
        )
        used = {row["message_id"] for row in result.rows}
        result.dismissed_messages = len(evidence)
        result.dismissed_with_mood = len(evidence & used)
    return result


def mark_wrong(
    session: Session, *, message_id: int, signal_id: int | None, corrected_label: str, actor: str, note: str, now
) -> FindingReview:
    """Record that a finding (``signal_id``) or a message's mood (``signal_id=None``, with the right mood in
    ``corrected_label``) is wrong. Commits."""
    review = FindingReview(message_id=message_id, signal_id=signal_id, verdict="wrong",
                           corrected_label=corrected_label, actor=actor, note=note, at=now)  # fmt: skip
    session.add(review)
    session.commit()
    return review
