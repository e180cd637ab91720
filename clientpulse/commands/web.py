"""`clientpulse web` (the review UI) and `clientpulse user add` (a web login with a hashed password)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from clientpulse.app import CLEAR_ERRORS, ConfigOpt, UsageProblem, app, console, engine_of, err, settings_of
from storage.users import ROLES, UserError

user_app = typer.Typer(help="Web UI logins (only a salted scrypt hash is stored).", no_args_is_help=True)
app.add_typer(user_app, name="user")
CLEAR_ERRORS.append(UserError)


@app.command()
def web(
    config: ConfigOpt = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on (put a TLS proxy in front for a team).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """The review UI for team leads: flag queue, flags with their quotes, clients, messages, briefs, runs.

    Logins: users in the config (`users:` with password hashes) or added with `clientpulse user add`.

    Behind an SSO proxy: `web: {auth: header, header: X-Forwarded-User}` in the config.

    Read-only towards the pipeline: it never starts Prefect.

    Example: clientpulse web --config clientpulse.yaml --port 8000
    """
    import uvicorn
    from sqlmodel import func, select

    from clientpulse.web import create_app
    from storage.db import session
    from storage.models import WebUser

    settings = settings_of(config)
    engine = engine_of(settings)
    try:
        application = create_app(settings, engine=engine)
    except (OSError, ValueError) as exc:
        raise UsageProblem(f"cannot load the web session key: {exc}") from None
    with session(engine) as s:
        users = len(settings.users) + s.exec(select(func.count()).select_from(WebUser)).one()
    console.print(
        f"clientpulse: http://{host}:{port}/  (ключ сессий: {application.state.secret_source})", highlight=False
    )
    if settings.web.auth == "password" and not users:
        err.print("Нет ни одного пользователя: clientpulse user add LOGIN --password-stdin", highlight=False)
    uvicorn.run(
        application,
        host=host,
        port=port,
        proxy_headers=True,
        forwarded_allow_ips=settings.web.trusted_proxies,
        server_header=False,
        log_level="warning",
    )


@user_app.command("add")
def user_add(
    login: Annotated[str, typer.Argument(help="The login (no spaces).")],
    role: Annotated[str, typer.Option(help="lead or manager.")] = "lead",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin (the only way to give it).")
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Create a web login, or set a new password and role for an existing one. Stores only a scrypt hash.

    Example: printf '%s\\n' "$PASSWORD" | clientpulse user add anna --role lead --password-stdin
    """
    from storage.db import session
    from storage.users import add_user

    if not password_stdin:
        raise UsageProblem("give the password on stdin with --password-stdin (never on the command line)")
    if role not in ROLES:
        raise UsageProblem(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
    password = sys.stdin.readline().rstrip("\r\n")
    settings = settings_of(config)
    with session(engine_of(settings)) as s:
        add_user(s, login=login, password=password, role=role, now=datetime.now(UTC))
    console.print(f"Пользователь {login} ({role}) сохранён; пароль хранится только в виде хэша.", highlight=False)


@user_app.command("hash")
def user_hash(
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin (the only way to give it).")
    ] = False,
) -> None:
    """Print the scrypt hash of a password, for a `users:` entry in the config file (no database needed).

    Example: printf '%s\\n' "$PASSWORD" | clientpulse user hash --password-stdin
    """
    from storage.users import hash_password

    if not password_stdin:
        raise UsageProblem("give the password on stdin with --password-stdin (never on the command line)")
    typer.echo(hash_password(sys.stdin.readline().rstrip("\r\n")))
