"""WebSub: feeds advertise their hubs, and hubs are told exactly which feeds changed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import feedparser
import httpx
import pytest

from feedsvc.render import FORMATS

from .conftest import Server, article, free_port, front_matter, poll_until

pytestmark = pytest.mark.slow
BASE = "https://feeds.example.com"


class Hub:
    """A hub-like HTTP server on loopback that records every publish request."""

    def __init__(self, failures: int = 0) -> None:
        self.requests: list[dict[str, list[str]]] = []
        self.failures = failures
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = parse_qs(self.rfile.read(length).decode())
                if hub.failures > 0:
                    hub.failures -= 1
                    self.send_response(503)
                else:
                    hub.requests.append(form)
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def published_urls(self) -> set[str]:
        return {url for form in self.requests if form.get("hub.mode") == ["publish"] for url in form["hub.url"]}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub() -> Iterator[Hub]:
    running = Hub()
    yield running
    running.close()


def test_websub_feeds_advertise_hub_and_self(folder: Path, hub: Hub):
    server = Server(folder, websub_hub=hub.url, base_url=BASE)
    try:
        for kind in ("rss", "atom"):
            response = httpx.get(f"{server.url}/feeds/topics/ai.{kind}")
            links = {(link.rel, link.href) for link in feedparser.parse(response.content).feed.links}
            assert ("hub", hub.url) in links
            assert ("self", f"{BASE}/feeds/topics/ai.{kind}") in links
            assert response.headers["link"] == f'<{hub.url}>; rel="hub", <{BASE}/feeds/topics/ai.{kind}>; rel="self"'
        # JSON Feed names its hubs itself; the hub's topic is its feed_url (JSON Feed 1.1, Subscribing).
        response = httpx.get(f"{server.url}/feeds/topics/ai.json")
        feed = response.json()
        assert feed["hubs"] == [{"type": "WebSub", "url": hub.url}]
        assert feed["feed_url"] == f"{BASE}/feeds/topics/ai.json"
        assert response.headers["link"] == f'<{hub.url}>; rel="hub", <{BASE}/feeds/topics/ai.json>; rel="self"'
    finally:
        server.stop()


def test_websub_hub_is_told_exactly_the_changed_feeds(folder: Path, hub: Hub):
    server = Server(folder, websub_hub=hub.url, base_url=BASE)
    try:
        seed = folder / "000_84d0586a3992f50e.md"
        seed.write_text(seed.read_text().replace('title: "U.S. cities', 'title: "EDITED U.S. cities'))
        expected = {
            f"{BASE}/feeds/{path}.{kind}"
            for path in ("all", "topics/ai", "topics/computer-vision", "providers/reuters.com")
            for kind in FORMATS
        }
        urls, _ = poll_until(hub.published_urls, lambda u: len(u) >= len(expected))
        assert urls == expected
        assert len(hub.requests) == 1  # one batched request for the whole change
    finally:
        server.stop()


def test_websub_a_failing_hub_is_retried_and_never_blocks_readers(folder: Path):
    hub = Hub(failures=2)
    server = Server(folder, websub_hub=hub.url, base_url=BASE)
    try:
        (folder / "new.md").write_text(front_matter(article(title="Retried", topics=["Retry"])))
        assert (
            "Retried" in poll_until(lambda: httpx.get(f"{server.url}/feeds/all.rss").text, lambda t: "Retried" in t)[0]
        )
        _, seconds = poll_until(hub.published_urls, lambda u: f"{BASE}/feeds/topics/retry.rss" in u, timeout=15)
        assert hub.failures == 0 and seconds >= 1.0  # two failures, then backoff, then success
    finally:
        server.stop()
        hub.close()


def test_websub_an_unreachable_hub_is_logged_and_the_service_goes_on(folder: Path):
    dead = f"http://127.0.0.1:{free_port()}/"
    server = Server(folder, websub_hub=dead, base_url=BASE)
    try:
        (folder / "new.md").write_text(front_matter(article(title="Hub is down")))
        poll_until(lambda: httpx.get(f"{server.url}/feeds/all.rss").text, lambda t: "Hub is down" in t)
        poll_until(server.log.read_text, lambda log: f"hub {dead} unreachable" in log)
        assert httpx.get(f"{server.url}/healthz").status_code == 200
    finally:
        server.stop()


def test_websub_needs_a_base_url(folder: Path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "feedsvc", "serve", "--content", str(folder), "--websub-hub", "http://hub.example/"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "needs --base-url" in result.stderr


def test_websub_client_is_made_when_a_hub_is_first_told_something(hub: Hub):
    """Not at start-up: httpx and its TLS context cost a restart ~0.1 s."""
    import asyncio

    from feedsvc.live.websub import HubNotifier

    notifier = HubNotifier([hub.url], lambda ref: [])
    made: list[bool] = []

    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(notifier.run(stop))
        await asyncio.sleep(0.3)  # longer than a batch's window
        made.append(notifier._made is not None)
        notifier.enqueue([f"{BASE}/feeds/all.rss"])
        async with asyncio.timeout(20):
            while not hub.requests:
                await asyncio.sleep(0.02)
        made.append(notifier._made is not None)
        stop.set()
        await task

    asyncio.run(run())
    assert made == [False, True]
    assert notifier._made is None  # closed with the run
    assert hub.published_urls() == {f"{BASE}/feeds/all.rss"}
