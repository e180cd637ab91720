"""The configuration file (clientpulse.yaml + clients.yaml), validated with pydantic.

A bad file raises ``ConfigError`` whose message names the file, the key path and the line, in one line; the CLI
prints it and exits with code 2. Secrets never live here: sources name environment variables.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

CONFIG_ENV = "CLIENTPULSE_CONFIG"
DATABASE_ENV = "CLIENTPULSE_DATABASE_URL"
DEFAULT_CONFIG = "clientpulse.yaml"


class ConfigError(Exception):
    """The configuration cannot be used. The message is one line naming the file, key and line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TeamMember(_Strict):
    name: str = ""
    emails: list[str] = []
    telegram: list[str] = []
    whatsapp: list[str] = []
    slack: list[str] = []
    domain: str = ""  # "@pulse-agency.ru": everyone with an e-mail there is team

    @model_validator(mode="after")
    def _has_identity(self) -> TeamMember:
        if not (self.name or self.domain):
            raise ValueError("a team entry needs a name or a domain")
        if self.domain and not self.domain.startswith("@"):
            raise ValueError(f"domain must start with '@', got {self.domain!r}")
        return self


class MboxSource(_Strict):
    kind: Literal["mbox"]
    name: str = "mail"
    path: Path


class TelegramSource(_Strict):
    kind: Literal["telegram"]
    name: str = "telegram"
    path: Path


class SlackSource(_Strict):
    kind: Literal["slack"]
    name: str = "slack"
    path: Path


class WhatsAppSource(_Strict):
    kind: Literal["whatsapp"]
    name: str = "whatsapp"
    path: Path


class ImapSource(_Strict):
    kind: Literal["imap"]
    name: str
    host: str
    port: int = 993
    security: Literal["tls", "starttls", "plain"] = "tls"
    username: str
    password_env: str
    ca_file: Path | None = None
    folders: list[str] = []
    since: date | None = None
    batch_size: int | None = Field(None, ge=1)  # messages per fetch and commit; None: the connector default
    max_message_bytes: int = Field(25 * 2**20, ge=1024)  # larger messages are stored as headers only, with a note


Source = Annotated[MboxSource | TelegramSource | SlackSource | WhatsAppSource | ImapSource, Field(discriminator="kind")]


class Client(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    name: str
    emails: list[str] = []
    telegram_chats: list[str] = []
    slack_channels: list[str] = []
    whatsapp_chats: list[str] = []
    manager: str = ""
    contract_end: date | None = None  # known end of the current contract: renewal_risk looks at it


class BusinessHours(_Strict):
    """Working time of the team in the config's timezone: reply times and the reply SLA count only these hours."""

    start: int = Field(9, ge=0, le=23)
    end: int = Field(18, ge=1, le=24)
    days: list[int] = [1, 2, 3, 4, 5]  # ISO weekdays, 1 = Monday
    calendar: str = "ru"  # public holidays (insights/holidays.yaml): "ru" (Labour Code art. 112) or "none"
    days_off: list[date] = []  # the year's transferred days off (government decree), company days off
    working_days: list[date] = []  # working days on a weekend (a transferred working Saturday)

    @model_validator(mode="after")
    def _sane(self) -> BusinessHours:
        from insights.workdays import calendar_names

        if self.start >= self.end:
            raise ValueError("business_hours: start must be before end")
        if not self.days or any(d < 1 or d > 7 for d in self.days):
            raise ValueError("business_hours: days are ISO weekdays 1..7 (1 = Monday)")
        if self.calendar not in calendar_names():
            raise ValueError(f"business_hours: calendar is one of {', '.join(calendar_names())}")
        return self

    def timeline(self):
        """The insights' BusinessHours (what the rules, rollups and briefs count working time with)."""
        from insights.timeline import BusinessHours as Hours

        return Hours(
            self.start, self.end, tuple(self.days), self.calendar, tuple(sorted(self.days_off)),
            tuple(sorted(self.working_days)),
        )  # fmt: skip


class Escalation(_Strict):
    reply_sla_hours: float = Field(24, gt=0)  # business hours (see business_hours)
    lookback_days: int = Field(30, gt=0)  # evidence older than this does not open a flag
    business_hours: BusinessHours = BusinessHours()
    rules: dict[str, Any] = {}  # overrides of insights/rules.yaml, merged key by key (e.g. {silence: {min_days: 14}})


class WebUser(_Strict):
    login: str
    password_hash: str
    role: Literal["lead", "manager"] = "lead"


class Web(_Strict):
    """The review UI. auth: password (users below or `clientpulse user add`) or header (an SSO reverse proxy)."""

    auth: Literal["password", "header"] = "password"
    header: str = "X-Forwarded-User"  # header mode: the login the proxy authenticated
    header_role: Literal["lead", "manager"] = "lead"  # header mode: role of logins not listed in users
    trusted_proxies: list[str] = ["127.0.0.1", "::1"]  # only these peers may set the header / X-Forwarded-Proto
    secret_file: Path = Path("data/web-secret")  # session key when $CLIENTPULSE_WEB_SECRET is unset
    session_hours: float = Field(12, gt=0)
    login_max_failures: int = Field(5, ge=1)  # failed logins of one login from one address before a lock
    login_lockout_minutes: float = Field(15, gt=0)  # the window the failures are counted over, and the lock


SEVERITY = Literal["low", "medium", "high", "critical"]


class EmailNotify(_Strict):
    """The e-mail digest (SMTP). The password comes from an environment variable or a Prefect Secret block."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    smtp_host: str
    smtp_port: int = 587
    starttls: bool = True
    username: str = ""
    password_env: str = ""
    password_secret: str = ""  # name of a Prefect Secret block, instead of password_env
    from_: str = Field(alias="from")
    to: list[str] = Field(min_length=1)


class TelegramNotify(_Strict):
    """The Telegram digest through the Bot API sendMessage. The token: an environment variable or a Secret block."""

    bot_token_env: str = ""
    bot_token_secret: str = ""  # name of a Prefect Secret block, instead of bot_token_env
    chat_id: int | str
    api_base_url: str = "https://api.telegram.org"

    @model_validator(mode="after")
    def _has_token(self) -> TelegramNotify:
        if not (self.bot_token_env or self.bot_token_secret):
            raise ValueError("telegram needs bot_token_env (or bot_token_secret)")
        return self


class Notifications(_Strict):
    """New or escalated flags of at least ``min_severity`` go out as one digest after each nightly run."""

    min_severity: SEVERITY = "high"
    email: EmailNotify | None = None
    telegram: TelegramNotify | None = None


class Dask(_Strict):
    """The analysis fan-out on a Dask cluster (prefect-dask). address null: in-process unless --dask is given."""

    address: str | None = None  # "tcp://scheduler:8786"


class Settings(_Strict):
    database: str = "sqlite:///data/clientpulse.db"
    timezone: str = "Europe/Moscow"
    team: list[TeamMember] = []
    sources: list[Source] = []
    clients: list[Client] = []  # load_settings reads a clients file named here into this list
    escalation: Escalation = Escalation()
    mood_model: Literal["bundled", "official"] = "bundled"
    users: list[WebUser] = []
    web: Web = Web()
    notifications: Notifications = Notifications()
    dask: Dask = Dask()
    retention_days: int | None = Field(None, gt=0)  # messages and raw items older than this are purged nightly
    word_cache: Path | None = Path("data/word-cache.json")  # pymorphy3 analyses kept between runs; null: none
    redaction: bool = False  # mask phones, e-mails, INN, SNILS, passports, cards in stored text (storage/redact.py)
    base_dir: Path = Path(".")  # the config file's folder; relative paths resolve against it

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else self.base_dir / path

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL; a relative SQLite path is relative to the config file. The env var wins."""
        url = os.environ.get(DATABASE_ENV) or self.database
        prefix = "sqlite:///"
        if url.startswith(prefix) and url != "sqlite:///:memory:":
            path = Path(url[len(prefix) :])
            url = prefix + str(self.resolve(path))
        return url


def config_path(explicit: str | Path | None) -> Path:
    return Path(explicit or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load_settings(path: str | Path | None = None) -> Settings:
    """Read and validate the config file (and the clients file it names)."""
    file = config_path(path)
    data, lines = _read_yaml(file)
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: expected a mapping of settings at the top level")
    base = file.resolve().parent
    clients = data.get("clients", [])
    if isinstance(clients, str):
        clients_file = base / clients
        clients_data, clients_lines = _read_yaml(clients_file)
        if isinstance(clients_data, list):  # a bare list is accepted too
            clients_data = {"clients": clients_data}
            clients_lines = {("clients", *k): v for k, v in clients_lines.items()}
        if not isinstance(clients_data, dict):
            raise ConfigError(f"{clients_file}: expected a list under 'clients'")
        parsed = _validate(clients_file, clients_data, clients_lines, _ClientsFile)
        data = {**data, "clients": [c.model_dump() for c in parsed.clients]}
    settings = _validate(file, {**data, "base_dir": base}, lines, Settings)
    _check_unique_clients(file, settings.clients)
    return settings


class _ClientsFile(_Strict):
    clients: list[Client]


Lines = dict[tuple, int]  # key path -> line number, so errors can point at the line


def _read_yaml(file: Path) -> tuple[Any, Lines]:
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: config file not found (use --config or {CONFIG_ENV})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read: {exc}") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: Lines = {}
        _index_lines(node, (), lines)
        return loader.construct_document(node), lines
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{file}:{where}: invalid YAML: {problem}") from None
    finally:
        loader.dispose()


def _index_lines(node: yaml.Node, path: tuple, lines: Lines) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            lines[(*path, key.value)] = key.start_mark.line + 1
            _index_lines(value, (*path, key.value), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, (*path, i), lines)


def _validate(file: Path, data: dict, lines: Lines, model: type[BaseModel]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = _without_union_tags(error["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        line = next((lines[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in lines), None)
        where = f" line {line}" if line else ""
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        raise ConfigError(f"{file}:{where}: {key}: {message.removeprefix('Value error, ')}{more}") from None


def _without_union_tags(loc: tuple) -> tuple:
    """pydantic puts the discriminator value into the location (sources.0.mbox.path): drop it."""
    if len(loc) >= 3 and loc[0] == "sources" and isinstance(loc[1], int):
        return (*loc[:2], *loc[3:])
    return tuple(loc)


def _check_unique_clients(file: Path, clients: list[Client]) -> None:
    seen: set[str] = set()
    for client in clients:
        if client.id in seen:
            raise ConfigError(f"{file}: clients: duplicate client id {client.id!r}")
        seen.add(client.id)
