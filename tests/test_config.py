"""The configuration file: the DESIGN.md shape loads; every mistake is one line naming key and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from clientpulse.config import ConfigError, load_settings

GOOD = """\
database: sqlite:///data/clientpulse.db
timezone: Europe/Moscow
team:
  - name: Анна Смирнова
    emails: [anna@pulse-agency.ru]
    telegram: ["Анна Смирнова", "user100200300"]
    whatsapp: ["Анна Смирнова", "+7 916 000-00-00"]
    slack: ["U024BE7LH"]
  - domain: "@pulse-agency.ru"
sources:
  - {kind: imap, name: anna, host: imap.example.ru, port: 993, security: tls, username: anna@pulse-agency.ru,
     password_env: CLIENTPULSE_IMAP_ANNA, ca_file: null, folders: [INBOX, Sent], since: 2026-01-01}
  - {kind: mbox, path: exports/mail.mbox}
  - {kind: telegram, path: exports/telegram}
  - {kind: slack, path: exports/slack.zip}
  - {kind: whatsapp, path: exports/whatsapp}
clients: clients.yaml
escalation: {reply_sla_hours: 24}
"""

CLIENTS = """\
clients:
  - id: romashka
    name: ООО «Ромашка»
    emails: ["@romashka.ru", "petrov.ivan@gmail.com"]
    telegram_chats: ["Ромашка × Pulse"]
    slack_channels: ["client-romashka"]
    whatsapp_chats: []
    manager: anna@pulse-agency.ru
"""


def write(tmp_path: Path, config: str, clients: str = CLIENTS) -> Path:
    (tmp_path / "clients.yaml").write_text(clients, encoding="utf-8")
    path = tmp_path / "clientpulse.yaml"
    path.write_text(textwrap.dedent(config), encoding="utf-8")
    return path


def test_design_md_shape_loads(tmp_path, monkeypatch):
    monkeypatch.delenv("CLIENTPULSE_DATABASE_URL", raising=False)
    settings = load_settings(write(tmp_path, GOOD))
    assert [s.kind for s in settings.sources] == ["imap", "mbox", "telegram", "slack", "whatsapp"]
    assert settings.clients[0].telegram_chats == ["Ромашка × Pulse"]
    assert settings.escalation.reply_sla_hours == 24
    # relative paths are relative to the config file
    assert settings.database_url == f"sqlite:///{tmp_path}/data/clientpulse.db"
    assert settings.resolve(settings.sources[1].path) == tmp_path / "exports/mail.mbox"


def test_database_env_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("CLIENTPULSE_DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert load_settings(write(tmp_path, GOOD)).database_url == "postgresql+psycopg://u@h/db"


def test_inline_clients(tmp_path):
    config = GOOD.replace("clients: clients.yaml", "clients:\n  - {id: lotos, name: ООО «Лотос»}")
    assert load_settings(write(tmp_path, config)).clients[0].id == "lotos"


@pytest.mark.parametrize(
    ("config", "clients", "expected"),
    [
        (GOOD.replace("timezone: Europe/Moscow", "timezone: Mars/Olympus"), CLIENTS,
         "clientpulse.yaml: line 2: timezone: unknown timezone 'Mars/Olympus'"),
        (GOOD.replace("escalation: {reply_sla_hours: 24}", "escalation: {reply_sla_hourz: 24}"), CLIENTS,
         "clientpulse.yaml: line 18: escalation.reply_sla_hourz: unknown key"),
        (GOOD.replace("{kind: telegram, path", "{kind: telegram, pth"), CLIENTS,
         "clientpulse.yaml: line 14: sources.2.path: Field required"),
        (GOOD.replace("kind: slack", "kind: viber"), CLIENTS, "clientpulse.yaml: line 15: sources.3:"),
        (GOOD.replace("port: 993", "port: many"), CLIENTS, "clientpulse.yaml: line 11: sources.0.port:"),
        (GOOD, CLIENTS.replace("id: romashka", "id: Ромашка!"), "clients.yaml: line 2: clients.0.id: String should"),
        (GOOD, CLIENTS.replace("    manager:", "    managr:"), "clients.yaml: line 8: clients.0.managr: unknown key"),
        (GOOD, CLIENTS + CLIENTS.replace("clients:\n", ""), "clientpulse.yaml: clients: duplicate client id"),
        (GOOD.replace("team:", "team: [\n"), CLIENTS, "clientpulse.yaml: line 5: invalid YAML"),
        (GOOD.replace("  - domain: \"@pulse-agency.ru\"", "  - domain: pulse-agency.ru"), CLIENTS,
         "line 9: team.1: domain must start with '@'"),
    ],
)  # fmt: skip
def test_bad_config_is_one_clear_line(tmp_path, config, clients, expected):
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, config, clients))
    message = str(caught.value)
    assert "\n" not in message
    assert expected in message, message


def test_missing_files_named(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.yaml")
    path = write(tmp_path, GOOD)
    (tmp_path / "clients.yaml").unlink()
    with pytest.raises(ConfigError, match="clients.yaml: config file not found"):
        load_settings(path)
