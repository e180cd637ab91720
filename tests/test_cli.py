"""The `clientpulse` command as users and scripts call it: a real subprocess, real files, a real SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "clientpulse.cli"]


def run(*args: str, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, **(env or {})}
    return subprocess.run([*CLI, *args], input=stdin, capture_output=True, text=True, env=environment, timeout=300)


def test_analyze_contract():
    lines = [
        {"id": "1", "text": "Если до пятницы не исправите, расторгнем договор."},
        {"id": "2", "text": "Спасибо, всё отлично, продлеваем на год!", "channel": "telegram"},
        {"id": "3", "text": "Дорого. У конкурентов дешевле.", "direction": "out"},
    ]
    result = run("analyze", "-", stdin="".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in out] == ["1", "2", "3"]
    assert set(out[0]) == {"id", "mood", "mood_scores", "objections", "conflicts", "signals", "escalate"}
    assert "termination" in {c["type"] for c in out[0]["conflicts"]} and out[0]["escalate"] is True
    conflict = out[0]["conflicts"][0]
    assert lines[0]["text"][conflict["start"] : conflict["end"]] == conflict["text"]
    assert out[1]["mood"] == "positive" and out[1]["escalate"] is False
    assert out[2]["objections"] == []  # never on our own outgoing messages
    assert set(out[1]["mood_scores"]) == {"positive", "neutral", "negative"}


def test_analyze_bad_line_keeps_order_and_says_so(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": "a", "text": "Нормально"}\n{oops\n{"id": "c", "text": "Ок"}\n', encoding="utf-8")
    result = run("analyze", str(path))
    assert result.returncode == 1
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o.get("id") for o in out] == ["a", None, "c"] and out[1]["line"] == 2
    assert result.stderr.strip().startswith("error: 1 input line(s) could not be read")


def test_bad_config_is_one_line_and_exit_2(tmp_path):
    config = tmp_path / "clientpulse.yaml"
    config.write_text("timezone: Europe/Moscow\nsources:\n  - {kind: mbox}\n", encoding="utf-8")
    for command in (["run"], ["flags"], ["db", "upgrade"]):
        result = run(*command, "--config", str(config))
        assert result.returncode == 2
        assert result.stderr.strip().count("\n") == 0, result.stderr
        assert "line 3: sources.0.path: Field required" in result.stderr
        assert "Traceback" not in result.stderr


def test_help_has_examples():
    for command in (["demo"], ["run"], ["analyze"], ["flags"], ["flag", "resolve"], ["db", "upgrade"]):
        result = run(*command, "--help")
        assert result.returncode == 0 and "Example:" in result.stdout, command


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> dict:
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    return {"CLIENTPULSE_DATABASE_URL": url, "COLUMNS": "200"}


def test_demo_twice_same_flags_no_new_messages(demo_db):
    first = run("demo", env=demo_db)
    assert first.returncode == 0, first.stderr
    for client, kind in [("romashka", "риск расторжения"), ("vector", "юридический риск"),
                         ("sever", "риск неоплаты"), ("kedr", "нет ответа")]:  # fmt: skip
        assert f"{client} · {kind}" in first.stdout
    assert "lotos" not in first.stdout.split("Открытые флаги")[1]
    assert "demo.mbox#67" in first.stderr  # the broken scanner message is reported, not lost
    second = run("demo", env=demo_db)
    assert second.returncode == 0, second.stderr
    assert "│ mail     │        87 │     0 │" in second.stdout and "│ telegram │       125 │     0 │" in second.stdout
    assert first.stdout.split("Открытые флаги")[1] == second.stdout.split("Открытые флаги")[1]


def test_flags_json_and_review(demo_db):
    config = str(REPO / "examples" / "demo" / "clientpulse.yaml")
    if run("flags", "--config", config, "--json", env=demo_db).stdout.strip() in ("", "[]"):
        assert run("demo", env=demo_db).returncode == 0
    listed = json.loads(run("flags", "--config", config, "--json", "--client", "romashka", env=demo_db).stdout)
    flag = next(f for f in listed if f["kind"] == "termination_risk")  # romashka also has conflict_surge
    assert set(flag) >= {"id", "client", "kind", "severity", "status", "opened_at", "updated_at", "summary", "evidence"}
    assert set(flag["evidence"][0]) == {"message_id", "sent_at", "channel", "quote"}
    ack = run("flag", "ack", str(flag["id"]), "--note", "Анна звонит клиенту", "--config", config, env=demo_db)
    assert ack.returncode == 0 and "acknowledged" in ack.stdout
    done = run("flag", "resolve", str(flag["id"]), "--note", "Исправили", "--config", config, env=demo_db)
    assert done.returncode == 0 and "resolved" in done.stdout
    again = run("flag", "resolve", str(flag["id"]), "--note", "x", "--config", config, env=demo_db)
    assert again.returncode == 1 and "cannot resolve" in again.stderr
    missing = run("flag", "ack", "99999", "--config", config, env=demo_db)
    assert missing.returncode == 1 and "no flag with id 99999" in missing.stderr
    still_open = json.loads(run("flags", "--config", config, "--json", "--client", "romashka", env=demo_db).stdout)
    assert "termination_risk" not in {f["kind"] for f in still_open}
    everything = json.loads(run("flags", "--config", config, "--json", "--status", "all", env=demo_db).stdout)
    assert {f["status"] for f in everything if f["id"] == flag["id"]} == {"resolved"}
