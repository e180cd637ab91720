"""The review UI (FastAPI + Jinja, server-rendered, no JavaScript). ``create_app(settings)`` builds it."""

from clientpulse.web.app import create_app

__all__ = ["create_app"]
