"""The composition root: what building an app does, and what only the server's start does."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from starlette.middleware import Middleware
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

import feedsvc.app as app_module
from feedsvc.app import create_app, serving_app
from feedsvc.settings import Settings

from .conftest import REPO


def test_create_app_neither_tunes_the_process_nor_writes_a_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    tuned: list[str] = []
    monkeypatch.setattr(app_module, "tune_memory", lambda: tuned.append("tune"))
    monkeypatch.setattr(app_module, "release_free_memory", lambda: tuned.append("release"))
    monkeypatch.setattr(app_module.sys, "setswitchinterval", lambda seconds: tuned.append(f"switch {seconds}"))
    path = tmp_path / "snap"
    create_app(Settings(content=REPO / "seeds", snapshot=str(path)))
    time.sleep(0.2)  # a writer thread, were there one, would have had time to start
    assert tuned == []
    assert not path.exists()


def test_serving_app_tunes_the_process_and_writes_the_snapshot_after_a_full_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    tuned: list[str] = []
    monkeypatch.setattr(app_module, "tune_memory", lambda: tuned.append("tune"))
    monkeypatch.setattr(app_module, "release_free_memory", lambda: tuned.append("release"))
    monkeypatch.setattr(app_module.sys, "setswitchinterval", lambda seconds: tuned.append(f"switch {seconds}"))
    path = tmp_path / "snap"
    serving_app(Settings(content=REPO / "seeds", snapshot=str(path)))
    assert tuned == ["release", "tune", "switch 0.001"]  # a request waits for a busy thread 1 ms at most
    deadline = time.monotonic() + 20
    while not path.exists():  # written off the start-up path, by a thread
        assert time.monotonic() < deadline, "no snapshot written"
        time.sleep(0.05)


class Recorder:
    """A cross-cutting concern, as metrics or an access log would be: it notes every request."""

    seen: list[str]

    def __init__(self, app: ASGIApp, seen: list[str]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append(scope["path"])
        await self.app(scope, receive, send)


def test_middleware_sees_the_requests_the_fast_path_answers(monkeypatch: pytest.MonkeyPatch):
    seen: list[str] = []
    app = create_app(
        Settings(content=REPO / "seeds", allowed_hosts=("feeds.test",)), middleware=[Middleware(Recorder, seen)]
    )
    with TestClient(app, base_url="http://feeds.test") as client:
        assert client.get("/feeds/all.rss").status_code == 200  # routed, then remembered

        async def no_routing(scope: object, receive: object, send: object) -> None:
            raise AssertionError("routed a request the fast path should have answered")

        monkeypatch.setattr(app, "app", no_routing)
        assert client.get("/feeds/all.rss").status_code == 200  # answered by the fast path
    assert seen == ["/feeds/all.rss", "/feeds/all.rss"]


def test_no_middleware_hides_behind_the_fast_path():
    """Middleware given to Starlette itself would only see requests the fast path does not answer:
    cross-cutting concerns go to create_app(middleware=...), which puts them in front of it."""
    app = create_app(Settings(content=REPO / "seeds"))
    assert app.starlette.user_middleware == []


# Run in a fresh interpreter: the app with its background tasks started, serving a feed.
SERVING = """
import asyncio, json, sys
from pathlib import Path
from feedsvc.app import create_app
from feedsvc.settings import Settings

from feedsvc.web.server import make_server

HEAVY = ("feedsvc.api.routes", "feedsvc.api.documents", "feedsvc.api.openapi", "jsonschema_rs", "httpx", "lxml")
HEAVY += ("h11", "prometheus_client")
settings = Settings(content=Path(sys.argv[1]), snapshot="off", watch="off", enclosure_probe="public", access_log="off")
app = create_app(settings)
make_server(app, settings)  # uvicorn's configuration, as `feedsvc serve` makes it

async def get(path):
    sent = []
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"localhost")], "client": ("127.0.0.1", 1), "server": ("localhost", 80)}
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}
    async def send(message):
        sent.append(message)
    await app(scope, receive, send)
    return sent[0]["status"]

async def main():
    async with app.starlette.router.lifespan_context(app.starlette):
        statuses = [await get("/feeds/all.rss"), await get("/feeds/all.atom")]
        await asyncio.sleep(0.2)  # the background tasks are under way
        loaded = [name for name in HEAVY if name in sys.modules]
        statuses += [await get("/api/openapi.json"), await get("/metrics")]
        later = [name for name in ("feedsvc.api.routes", "prometheus_client") if name in sys.modules]
        print(json.dumps({"statuses": statuses, "loaded": loaded, "later": later}))

asyncio.run(main())
"""


def test_serving_feeds_loads_neither_the_write_api_nor_the_probe_client(tmp_path: Path):
    """What only some requests need (the write API, jsonschema-rs, OPML's lxml, the metrics
    exposition's prometheus-client), what the enclosure probe needs once it has work (httpx)
    and the HTTP implementation the server does not run (h11) stay out of a start and its
    first feeds."""
    import json
    import subprocess
    import sys

    script = tmp_path / "serving.py"
    script.write_text(SERVING)
    result = subprocess.run(
        [sys.executable, str(script), str(REPO / "seeds")], capture_output=True, text=True, timeout=120, check=True
    )
    found = json.loads(result.stdout.splitlines()[-1])
    assert found["statuses"] == [200, 200, 200, 200]
    assert found["loaded"] == []
    assert found["later"] == ["feedsvc.api.routes", "prometheus_client"]  # there once asked for
