"""Web UI logins: scrypt password hashes (stdlib), users from the WebUser table or from the config file.

A hash looks like ``scrypt$16384$8$1$<salt b64>$<key b64>``: the parameters travel with it, so they can be raised
later without breaking old hashes. A password is never stored, logged or compared in clear.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Protocol

from sqlmodel import Session

from storage.models import WebUser

ROLES = ("lead", "manager")
_N, _R, _P, _KEY_BYTES, _SALT_BYTES = 2**14, 8, 1, 32, 16
MAX_PASSWORD = 1024  # scrypt over megabytes of "password" is a cheap denial of service


class UserError(ValueError):
    """A login or password that cannot be used. One clear line."""


class ConfiguredUser(Protocol):
    login: str
    password_hash: str
    role: str


@dataclass(frozen=True)
class User:
    login: str
    role: str


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password`` in the self-describing format above."""
    if not password:
        raise UserError("empty password")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"password longer than {MAX_PASSWORD} characters")
    salt = os.urandom(_SALT_BYTES)
    key = _scrypt(password, salt, _N, _R, _P)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a stored hash; a malformed hash never matches."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key, validate=True)
        actual = _scrypt(password[:MAX_PASSWORD], base64.b64decode(salt, validate=True), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("timing-equaliser")  # unknown logins cost as much as known ones


def authenticate(session: Session, configured: list[ConfiguredUser], login: str, password: str) -> User | None:
    """The user when the login exists (config first, then the database) and the password matches."""
    found = _lookup(session, configured, login)
    if found is None:
        verify_password(password, _dummy_hash())
        return None
    user, stored = found
    return user if verify_password(password, stored) else None


def find_user(session: Session, configured: list[ConfiguredUser], login: str) -> User | None:
    """The user with this login, or None (a session of a deleted user stops working)."""
    found = _lookup(session, configured, login)
    return found[0] if found else None


def _lookup(session: Session, configured: list[ConfiguredUser], login: str) -> tuple[User, str] | None:
    for entry in configured:
        if hmac.compare_digest(entry.login.encode(), login.encode()):
            return User(entry.login, entry.role), entry.password_hash
    row = session.get(WebUser, login) if login else None
    return (User(row.login, row.role), row.password_hash) if row else None


def add_user(session: Session, *, login: str, password: str, role: str, now: datetime) -> WebUser:
    """Create or update (new password, role) a database user. Commits."""
    login = login.strip()
    if not login or len(login) > 100 or any(c.isspace() for c in login):
        raise UserError("a login is 1-100 characters without spaces")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    row = session.get(WebUser, login) or WebUser(login=login, password_hash="", role=role, created_at=now)
    row.password_hash, row.role = hash_password(password), role
    session.add(row)
    session.commit()
    return row


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=_KEY_BYTES)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
