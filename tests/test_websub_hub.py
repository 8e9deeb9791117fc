"""WebSub through a real hub: feedsvc pings Flask-WebSub's hub, which fetches the feed and pushes it to a subscriber.

Three processes on loopback, each speaking plain HTTP to the others: feedsvc
(the publisher), the hub (deploy/websub_hub.py: Flask-WebSub with Celery
in-process), and a subscriber callback server written here.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import feedparser
import httpx
import pytest

from .conftest import REPO, Server, article, free_port, front_matter, poll_until

pytest.importorskip("flask_websub", reason="the hub is Flask-WebSub (pip install -e '.[test]')")
pytest.importorskip("celery", reason="Flask-WebSub's hub runs its tasks with Celery (pip install -e '.[test]')")

pytestmark = pytest.mark.slow

# Issue 12: a subscriber has the new content within 2 s of the file write.
DELIVERY_SECONDS = 2.0
SECRET = "feedsvc-test-secret"


@dataclass
class Delivery:
    received: float  # time.monotonic() when the POST arrived
    headers: Message  # names case-insensitive, as HTTP's
    body: bytes


@dataclass
class Subscriber:
    """A WebSub subscriber's callback on loopback: answers the hub's intent check, records what is pushed."""

    wanted: set[str]  # topics it agrees to when the hub asks (WebSub §5.3)
    verified: list[str] = field(default_factory=list)
    declined: list[str] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)

    def __post_init__(self) -> None:
        subscriber = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                topic, challenge = query.get("hub.topic", [""])[0], query.get("hub.challenge", [""])[0]
                if query.get("hub.mode") != ["subscribe"] or topic not in subscriber.wanted or not challenge:
                    subscriber.declined.append(topic)
                    self.send_response(404)  # WebSub §5.3.1: not confirming
                    self.end_headers()
                    return
                subscriber.verified.append(topic)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(challenge.encode())

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                subscriber.deliveries.append(Delivery(time.monotonic(), self.headers, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callback"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class HubProcess:
    """deploy/websub_hub.py in its own process, as it would run next to feedsvc."""

    def __init__(self, tmp: Path, topic_prefix: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hub"
        self.log = tmp / "hub.log"
        self.database = tmp / "hub.sqlite3"
        options = ["--database", str(self.database), "--topic-prefix", topic_prefix]
        self.process = subprocess.Popen(
            [sys.executable, str(REPO / "deploy" / "websub_hub.py"), "--port", str(self.port), *options],
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        poll_until(self.answers, bool, timeout=30)

    def answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"hub exited: {self.log.read_text()}")
        try:
            return httpx.get(self.url, timeout=1).status_code == 405  # the endpoint takes POST only
        except httpx.TransportError:
            return False

    def subscriptions(self) -> set[tuple[str, str]]:
        """(topic, callback) pairs the hub has stored, i.e. verified (Flask-WebSub's SQLite3HubStorage)."""
        if not self.database.exists():
            return set()
        with closing(sqlite3.connect(self.database)) as db:
            return set(db.execute("select topic_url, callback_url from hub"))

    def stop(self) -> None:
        self.process.terminate()  # SIGTERM: the hub stops its server and its Celery worker
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


@pytest.fixture
def setup(folder: Path, tmp_path: Path) -> Iterator[tuple[Server, HubProcess, Subscriber]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    hub = HubProcess(tmp_path, topic_prefix=f"{base}/feeds/")
    subscriber = Subscriber(wanted={f"{base}/feeds/all.atom", f"{base}/feeds/topics/ai.rss"})
    server = None
    try:
        server = Server(folder, port=port, websub_hub=hub.url, base_url=base)
        yield server, hub, subscriber
    finally:
        if server is not None:
            server.stop()
        hub.stop()
        subscriber.close()


def subscribe(hub: HubProcess, subscriber: Subscriber, topic: str) -> None:
    form = {
        "hub.mode": "subscribe",
        "hub.topic": topic,
        "hub.callback": subscriber.url,
        "hub.secret": SECRET,
        "hub.lease_seconds": "600",
    }
    response = httpx.post(hub.url, data=form, timeout=10)
    assert response.status_code == 202, response.text  # WebSub §5.1.2: accepted, verified asynchronously


def signature_ok(delivery: Delivery) -> bool:
    """WebSub §8: the hub signs the pushed body with the subscriber's secret."""
    algorithm, _, digest = delivery.headers.get("X-Hub-Signature", "").partition("=")
    if algorithm not in {"sha1", "sha256", "sha384", "sha512"}:
        return False
    expected = hmac.new(SECRET.encode(), delivery.body, getattr(hashlib, algorithm)).hexdigest()
    return hmac.compare_digest(expected, digest)


def test_websub_hub_pushes_a_new_article_to_a_subscriber(setup: tuple[Server, HubProcess, Subscriber], folder: Path):
    server, hub, subscriber = setup
    topics = {"atom": f"{server.url}/feeds/all.atom", "rss": f"{server.url}/feeds/topics/ai.rss"}
    unwanted = f"{server.url}/feeds/topics/testing.atom"  # someone subscribing our callback without asking us
    for topic in [*topics.values(), unwanted]:
        subscribe(hub, subscriber, topic)
    wanted = {(topic, subscriber.url) for topic in topics.values()}
    poll_until(hub.subscriptions, lambda stored: stored == wanted, timeout=10)
    poll_until(lambda: subscriber.declined, lambda declined: declined == [unwanted], timeout=10)
    assert sorted(subscriber.verified) == sorted(topics.values())  # the hub asked the callback first

    title = "Hub delivery check"
    written = time.monotonic()
    published = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")  # the newest item
    (folder / "hub-delivery.md").write_text(front_matter(article(title, topics=["AI"], publishedDateTime=published)))

    def pushed(kind: str) -> list[Delivery]:
        self_link = f'<{topics[kind]}>; rel="self"'
        return [d for d in subscriber.deliveries if title.encode() in d.body and self_link in d.headers["Link"]]

    # The poll starts at the write, so its timeout is the bound on the whole way to the subscriber.
    poll_until(lambda: {kind for kind in topics if pushed(kind)}, lambda got: got == set(topics), DELIVERY_SECONDS)
    latencies = {kind: round(pushed(kind)[0].received - written, 3) for kind in topics}
    print(f"WebSub via Flask-WebSub, seconds from file write to subscriber: {latencies}")

    for kind, topic in topics.items():
        delivery = pushed(kind)[0]
        # The hub fetched our feed (a 200, else it pushes nothing) and passes on its headers with the content.
        assert delivery.headers["Content-Type"] == httpx.get(topic).headers["content-type"]
        assert delivery.headers["Content-Type"].startswith(f"application/{kind}+xml")
        assert delivery.headers["Content-Encoding"] is None  # the body is the feed as it says, not gzip
        assert signature_ok(delivery)
        parsed = feedparser.parse(delivery.body)
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert parsed.entries[0].title == title
    assert hub.subscriptions() == wanted  # the declined subscription was never stored


def test_websub_hub_refuses_to_fetch_for_a_publish_outside_its_topics(tmp_path: Path):
    hub = HubProcess(tmp_path, topic_prefix="http://127.0.0.1:1/feeds/")
    try:
        response = httpx.post(hub.url, data={"hub.mode": "publish", "hub.url": "http://169.254.169.254/"}, timeout=10)
        assert response.status_code == 400 and "hub.url must start with" in response.text
        response = httpx.post(hub.url, data={"hub.mode": "publish", "hub.url": "http://127.0.0.1:1/feeds/all.atom"})
        assert response.status_code == 202
    finally:
        hub.stop()
