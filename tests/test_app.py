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
    path = tmp_path / "snap"
    serving_app(Settings(content=REPO / "seeds", snapshot=str(path)))
    assert tuned == ["release", "tune"]
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
