from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

from feedsvc.app import create_app
from feedsvc.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FEEDSVC_SHARED", REPO.parent / "shared"))
CORPUS = SHARED / "corpus" / "everyday-powerapps"
SEED = REPO / "seeds" / "000_84d0586a3992f50e.md"
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Start-up snapshots go to the user's cache folder: give the tests their own."""
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    # Servers the tests start ask no image server on the internet (tests/test_probe.py turns it on).
    os.environ.setdefault("FEEDSVC_ENCLOSURE_PROBE", "off")
    yield
    if previous is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = previous


needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the real corpus is not at {CORPUS}")


def article(title: str | None = "An article", **fields: Any) -> dict[str, Any]:
    """Front-matter fields of a valid article, overridable per test."""
    data: dict[str, Any] = {
        "title": title,
        "excerpt": f"About {title}.",
        "publishedDateTime": "2024-01-02T03:04:05Z",
        "webUrl": f"https://example.org/{(title or 'untitled').lower().replace(' ', '-')}",
        "provider": {"name": "Example News", "domain": "example.org"},
        "topics": ["Testing"],
    }
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


def front_matter(data: dict[str, Any], body: str = "") -> str:
    return f"---\n{yaml.safe_dump(data, sort_keys=False, allow_unicode=True)}---\n{body}"


@pytest.fixture
def content(tmp_path: Path) -> Callable[..., Path]:
    """Write one article file into a fresh content folder; returns the folder."""
    folder = tmp_path / "content"
    folder.mkdir()

    def write(name: str, data: dict[str, Any] | str, body: str = "") -> Path:
        text = data if isinstance(data, str) else front_matter(data, body)
        (folder / name).write_text(text, encoding="utf-8")
        return folder

    return write


@pytest.fixture
def client_for() -> Iterator[Callable[..., TestClient]]:
    """Start the real ASGI app on a content folder, with optional settings.

    The client's Host is feeds.test, so that name is allowed unless the test says otherwise.
    """
    clients: list[TestClient] = []

    def make(folder: Path, **settings: Any) -> TestClient:
        settings.setdefault("allowed_hosts", ("feeds.test",))
        settings.setdefault("enclosure_probe", "off")  # no requests to the seeds' image hosts
        client = TestClient(create_app(Settings(content=folder, **settings)), base_url="http://feeds.test")
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A private copy of seeds/, for tests that change content."""
    import shutil

    content = tmp_path / "content"
    shutil.copytree(REPO / "seeds", content)
    return content


def call_asgi(app: Any, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> int:
    """Send one raw request to an ASGI app, exactly as given (clients would
    normalise a path like "/a/.." or refuse a repeated Host); return the status."""
    import asyncio

    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("latin-1"),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("feeds.test", 80),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return int(sent[0]["status"])


@pytest.fixture
def seed_client(client_for: Callable[..., TestClient]) -> TestClient:
    return client_for(REPO / "seeds")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A real `feedsvc serve` process on a loopback port."""

    def __init__(self, content: Path, port: int | None = None, **settings: str) -> None:
        """``port``: when the test must know the URL before the server starts (a ``base_url`` naming it)."""
        import subprocess
        import sys

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "FEEDSVC_PORT": str(self.port), "FEEDSVC_LOG_LEVEL": "info"}
        env.update({f"FEEDSVC_{name.upper()}": value for name, value in settings.items()})
        self.log = content.parent / f"server-{self.port}.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "feedsvc", "serve", "--content", str(content)],
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 20) -> None:
        import time

        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return  # loaded, and the folder compared with what was loaded
            except httpx.TransportError:
                time.sleep(0.05)
        self.process.kill()
        raise RuntimeError(f"server did not start: {self.log.read_text()}")

    def kill9(self) -> None:
        import signal

        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except Exception:
                self.process.kill()


def poll_until(fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 5.0) -> tuple[Any, float]:
    """Call ``fetch`` until ``done`` says yes; return the last value and the seconds it took."""
    import time

    started = time.monotonic()
    while True:
        value = fetch()
        if done(value):
            return value, time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not done after {timeout}s; last value: {value!r:.300}")
        time.sleep(0.02)
