"""A real uvicorn process on a loopback port, as a feed reader meets it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest

from .conftest import REPO, free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "FEEDSVC_PORT": str(port), "FEEDSVC_LOG_LEVEL": "warning"}
    process = subprocess.Popen(
        [sys.executable, "-m", "feedsvc", "serve", "--content", str(REPO / "seeds")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError(process.communicate()[0].decode())
    yield url
    process.terminate()
    process.wait(timeout=10)


def test_server_serves_valid_feeds_over_real_http(server: str):
    with httpx.Client(base_url=server) as client:
        for path in ("/feeds/all.rss", "/feeds/all.atom", "/feeds/topics/computer-vision.rss"):
            response = client.get(path)
            assert response.status_code == 200
            feed = feedparser.parse(response.content)
            assert feed.bozo == 0 and feed.entries


def test_server_conditional_get_and_gzip(server: str):
    with httpx.Client(base_url=server) as client:
        first = client.get("/feeds/all.atom", headers={"Accept-Encoding": "gzip"})
        assert first.headers["content-encoding"] == "gzip"
        again = client.get(
            "/feeds/all.atom", headers={"Accept-Encoding": "gzip", "If-None-Match": first.headers["etag"]}
        )
        assert again.status_code == 304 and again.content == b""
        since = client.get("/feeds/all.atom", headers={"If-Modified-Since": first.headers["last-modified"]})
        assert since.status_code == 304
        head = client.head("/feeds/all.rss")
        assert head.status_code == 200 and head.content == b""


def test_server_feedparser_fetches_it_like_a_reader(server: str):
    # feedparser's own HTTP client: sends its own Accept headers, handles gzip, stores etag/modified.
    feed = feedparser.parse(f"{server}/feeds/topics/power-apps.rss")
    assert feed.status == 200 and feed.bozo == 0 and feed.entries
    again = feedparser.parse(f"{server}/feeds/topics/power-apps.rss", etag=feed.etag, modified=feed.modified)
    assert again.status == 304


def test_server_refuses_bad_configuration_naming_the_setting(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "feedsvc", "serve", "--content", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--content" in result.stderr and "is not a folder" in result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "feedsvc", "serve"],
        env={**os.environ, "FEEDSVC_PORT": "http"},
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
    )
    assert result.returncode == 2 and "FEEDSVC_PORT" in result.stderr


def test_server_date_is_never_earlier_than_last_modified(server: str):
    """RFC 9110 §8.8.2.1, over first requests of new URLs spread across a few seconds, on the real server.

    One Date per response: ours, from the clock that stamps Last-Modified (the server's own is off).
    """
    from email.utils import parsedate_to_datetime

    # Spread over at least 3 s and at least 50 requests, however slow the machine: both bounds are minimums.
    spread_until = time.monotonic() + 3
    checked = 0
    with httpx.Client(base_url=server) as client:
        for limit in range(1, 501):
            if time.monotonic() > spread_until and checked > 50:
                break
            response = client.get(f"/feeds/all.atom?limit={limit}")
            assert len(response.headers.get_list("date")) == 1
            modified = parsedate_to_datetime(response.headers["last-modified"])
            assert modified <= parsedate_to_datetime(response.headers["date"]), limit
            checked += 1
            time.sleep(0.005)
    assert checked > 50
    assert "server" not in response.headers  # no software banner
