"""The ASGI application: routes, error responses and the service on app.state."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from feedsvc.settings import Settings
from feedsvc.web.routes import ROUTES
from feedsvc.web.service import FeedService


async def http_error(request: Request, exc: Exception) -> Response:
    """Client mistakes get their status and a one-line explanation in plain text."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404 and exc.detail == "Not Found":
        detail = "no such page: feeds are at /feeds/all.rss, /feeds/topics/{topic}.rss, /feeds/providers/{domain}.rss"
    else:
        detail = exc.detail
    return PlainTextResponse(f"{detail}\n", status_code=exc.status_code, headers=exc.headers)


def create_app(settings: Settings, service: FeedService | None = None) -> Starlette:
    """Given settings (and optionally a ready service), return the ASGI app."""
    app = Starlette(routes=ROUTES, exception_handlers={HTTPException: http_error})
    app.state.service = service or FeedService.from_settings(settings)
    return app
