"""Personal data: `clientpulse forget`, retention_days and redaction, end to end through the nightly flow."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from sqlmodel import select

from clientpulse.config import load_settings
from flows.nightly import nightly
from storage.db import open_database, session
from storage.forget import FORGOTTEN_NOTE, Removed, matches_contact
from storage.models import Analysis, FindingReview, Flag, FlagEvent, FlagEvidence, Message, Quarantine, Signal
from storage.redact import redact, spans
from tests.flows.workspace import AS_OF, build, email

PII = {
    "phone": "+7 916 123-45-67",
    "email": "ivan.petrov@gmail.com",
    "inn": "7707083893",
    "snils": "112-233-445 95",
    "passport": "45 06 123456",
    "card": "4276 3800 1234 5678",
}
THREAT = (
    f"Если до пятницы не исправите, расторгнем договор, звоните {PII['phone']} или пишите {PII['email']}.\n"
    f"Реквизиты: ИНН {PII['inn']}, СНИЛС {PII['snils']}, паспорт {PII['passport']}, карта {PII['card']}.\n"
)
BROKEN_WITH_ADDRESS = b"From: \xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd <ivanov@romashka.ru>\x00\x01\nSubject: x\n\nbody\n"


def workspace(root, *, extra_config: str = ""):
    config = build(root)
    (root / "mail" / "50-pii.eml").write_bytes(
        email("Иван Петров <ivanov@romashka.ru>", "anna@pulse-agency.ru", "Претензия", THREAT, 14, "pii1")
    )
    (root / "mail" / "98-broken-ivanov.eml").write_bytes(BROKEN_WITH_ADDRESS)
    config.write_text(config.read_text("utf-8") + extra_config, "utf-8")
    return config


@pytest.fixture(autouse=True)
def _no_env_database(monkeypatch):
    monkeypatch.delenv("CLIENTPULSE_DATABASE_URL", raising=False)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "clientpulse.cli", *args], capture_output=True, text=True, timeout=120)


def engine_for(config):
    return open_database(load_settings(config).database_url)


def test_matches_contact_on_address_name_and_phone():
    assert matches_contact("IVANOV@romashka.ru", name="", address="ivanov@romashka.ru")
    assert matches_contact("иван  петров", name="Иван Петров", address="user555")
    assert matches_contact("+7 (916) 000-00-00", name="", address="79160000000")
    assert not matches_contact("Иван", name="Иван Петров", address="ivanov@romashka.ru")


def test_forget_by_address_erases_everything_and_stays_erased(prefect_harness, tmp_path):
    config = workspace(tmp_path)
    nightly(config=str(config), as_of=AS_OF)
    engine = engine_for(config)
    with session(engine) as s:
        ivan = s.exec(select(Message).where(Message.author_address == "ivanov@romashka.ru")).all()
        signal = s.exec(select(Signal).where(Signal.message_id == ivan[-1].id)).first()
        s.add(FindingReview(message_id=signal.message_id, signal_id=signal.id, verdict="correct", actor="lead",
                            at=ivan[-1].sent_at))  # fmt: skip
        s.commit()
        termination = s.exec(select(Flag).where(Flag.kind == "termination_risk")).one()
        counts = {t.__name__: len(s.exec(select(t)).all()) for t in (Message, Analysis, Signal, FlagEvidence)}
        ids = {m.id for m in ivan}
        evidence = s.exec(select(FlagEvidence)).all()
        only_ivan = {e.flag_id for e in evidence} - {e.flag_id for e in evidence if e.message_id not in ids}
        expected = Removed(
            messages=3,
            analyses=3,
            signals=sum(1 for x in s.exec(select(Signal)) if x.message_id in ids),
            evidence=sum(1 for e in evidence if e.message_id in ids),
            reviews=1,
            quarantined=1,  # 98-broken-ivanov.eml mentions the address
            flags_resolved=sum(1 for f in s.exec(select(Flag)) if f.id in only_ivan and f.status == "open"),
        )
    assert len(ivan) == 3 and termination.status == "open" and termination.id in only_ivan

    dry = cli("forget", "--contact", "Ivanov@Romashka.ru", "--config", str(config), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.strip() == expected.summary_ru(dry_run=True)
    with session(engine) as s:  # a dry run changes nothing
        assert len(s.exec(select(Message)).all()) == counts["Message"]

    done = cli("forget", "--contact", "Ivanov@Romashka.ru", "--config", str(config), "--yes")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == expected.summary_ru()
    with session(engine) as s:
        left = s.exec(select(Message)).all()
        assert all(m.author_address != "ivanov@romashka.ru" for m in left) and len(left) == counts["Message"] - 3
        assert {a.message_id for a in s.exec(select(Analysis))} <= {m.id for m in left}
        assert {x.message_id for x in s.exec(select(Signal))} <= {m.id for m in left}
        assert {e.message_id for e in s.exec(select(FlagEvidence))} <= {m.id for m in left}
        assert s.exec(select(FindingReview)).all() == []
        assert all(b"ivanov@romashka.ru" not in (q.raw or b"") for q in s.exec(select(Quarantine)))
        termination = s.get(Flag, termination.id)
        event = s.exec(select(FlagEvent).where(FlagEvent.flag_id == termination.id, FlagEvent.action == "resolved"))
        assert termination.status == "resolved" and event.one().note == FORGOTTEN_NOTE
        notes = [e.note for e in s.exec(select(FlagEvent).where(FlagEvent.flag_id == termination.id))]
        assert "расторгнем" not in termination.summary + " ".join(notes)  # its quotes were the erased text
        telegram_ivan = [m for m in left if m.author_name == "Иван Петров"]
        assert len(telegram_ivan) == 2  # the same person in Telegram is another contact (user555), not matched

    again = nightly(config=str(config), as_of=AS_OF)  # the erased items are not imported again
    mail = next(x for x in again["sources"] if x["source"] == "mail")
    assert mail["added"] == 0 and not any("98-broken-ivanov" in e for e in mail["errors"])
    with session(engine) as s:
        assert s.exec(select(Message).where(Message.author_address == "ivanov@romashka.ru")).all() == []
        assert s.exec(select(Flag).where(Flag.kind == "termination_risk")).one().status == "resolved"


def test_forget_by_name_matches_every_channel(prefect_harness, tmp_path):
    config = workspace(tmp_path)
    nightly(config=str(config), as_of=AS_OF)
    done = cli("forget", "--contact", "иван петров", "--config", str(config), "--yes")
    assert done.returncode == 0, done.stderr
    assert "Удалено: сообщений — 5" in done.stdout  # 3 e-mails + 2 Telegram messages signed «Иван Петров»
    with session(engine_for(config)) as s:
        assert all(m.author_name != "Иван Петров" for m in s.exec(select(Message)))
    nothing = cli("forget", "--contact", "иван петров", "--config", str(config), "--yes")
    assert nothing.returncode == 0 and "Ничего не найдено" in nothing.stdout


def test_retention_purges_old_messages_and_raw_items_each_night(prefect_harness, tmp_path):
    config = workspace(tmp_path)
    nightly(config=str(config), as_of=AS_OF)
    engine = engine_for(config)
    with session(engine) as s:
        assert len(s.exec(select(Message)).all()) == 10
    config.write_text(config.read_text("utf-8") + "retention_days: 10\n", "utf-8")

    nightly(config=str(config), as_of=AS_OF)  # cutoff 2026-11-16 09:00 MSK: days 0..5 of the workspace go
    with session(engine) as s:
        kept = s.exec(select(Message)).all()
        assert sorted(m.item_id for m in kept) == ["777:3", "pii1@test", "r3@test"]
        assert {a.message_id for a in s.exec(select(Analysis))} == {m.id for m in kept}
        assert {x.message_id for x in s.exec(select(Signal))} <= {m.id for m in kept}
        assert {e.message_id for e in s.exec(select(FlagEvidence))} <= {m.id for m in kept}
        assert len(s.exec(select(Quarantine)).all()) == 3  # quarantined today: younger than 10 days

    second = nightly(config=str(config), as_of=AS_OF)  # old items in the exports are not stored again
    assert [x["added"] for x in second["sources"]] == [0, 0]

    nightly(config=str(config), as_of="2027-03-01T09:00:00+03:00")  # everything has aged out, raw items too
    with session(engine) as s:
        assert s.exec(select(Message)).all() == [] and s.exec(select(Quarantine)).all() == []
        assert s.exec(select(Analysis)).all() == [] and s.exec(select(FlagEvidence)).all() == []
        assert all(f.status == "resolved" for f in s.exec(select(Flag)))


def _analyses(engine) -> dict:
    with session(engine) as s:
        messages = {m.id: m for m in s.exec(select(Message))}
        result = {}
        for a in s.exec(select(Analysis)):
            found = sorted(
                (x.family, x.label, x.start, x.end, x.rule, x.confidence)
                for x in s.exec(select(Signal).where(Signal.analysis_id == a.id))
            )
            m = messages[a.message_id]
            result[(m.source, m.item_id)] = (a.mood, a.mood_scores, a.escalate, found)
        return result


def test_redaction_masks_stored_text_and_quotes_but_analysis_is_unchanged(prefect_harness, tmp_path):
    plain = workspace(tmp_path / "plain")
    masked = workspace(tmp_path / "masked", extra_config="redaction: true\n")
    nightly(config=str(plain), as_of=AS_OF)
    report = nightly(config=str(masked), as_of=AS_OF)
    assert report["analyzed"] == 0  # analysed at ingest, on the original text

    plain_engine, masked_engine = engine_for(plain), engine_for(masked)
    assert _analyses(masked_engine) == _analyses(plain_engine)
    assert len(_analyses(masked_engine)) == 10

    values = list(PII.values()) + [v.replace(" ", "").replace("-", "") for v in PII.values()]
    leak = re.compile("|".join(re.escape(v) for v in values))
    with session(masked_engine) as s:
        threat = s.exec(select(Message).where(Message.item_id == "pii1@test")).one()
        assert threat.raw is None and not leak.search(threat.body + threat.quoted + threat.subject)
        assert "расторгнем договор" in threat.body and "+• ••• •••-••-••" in threat.body
        for x in s.exec(select(Signal)):
            assert not leak.search(x.text)
        quotes = [e.quote for e in s.exec(select(FlagEvidence))] + [f.summary for f in s.exec(select(Flag))]
        quotes += [e.note for e in s.exec(select(FlagEvent))]
    assert any("расторгнем договор" in q and "•" in q for q in quotes)
    assert not any(leak.search(q) for q in quotes)
    with session(plain_engine) as s:  # the same quote without redaction does hold the data
        assert any(PII["phone"] in e.quote for e in s.exec(select(FlagEvidence)))


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("Звоните: +7 916 123-45-67 или 8 (495) 123 45 67", ["phone_ru", "phone_ru"]),
        ("почта: petrov.ivan@mail.ru", ["email"]),
        ("ИНН 7707083893, ИНН: 500100732259", ["inn_labelled", "inn_labelled"]),
        ("СНИЛС 112-233-445 95", ["snils"]),
        ("паспорт 45 06 123456 выдан", ["passport_labelled"]),
        ("карта 4276380012345678", ["card"]),
        ("Счёт №123 на 15000 руб. до 25.11.2026, договор 45/2026", []),
    ],
)
def test_redaction_patterns(text, kinds):
    assert [name for _, _, name in spans(text)] == kinds
    masked = redact(text)
    assert len(masked) == len(text)
    assert (masked != text) == bool(kinds)
