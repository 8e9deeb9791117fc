"""A bounded load test with churn: readers hammer the real server while files
and the write API change the content under them.

32 connections poll feeds (half of them revalidating) for LOAD_SECONDS while
one thread edits, adds and deletes files and another writes and deletes
articles through the API. No answer may be a 5xx or a dropped connection,
and sampled bodies must parse as feeds.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import feedparser
import httpx
import pytest

from .conftest import Server, article, front_matter

pytestmark = pytest.mark.slow

LOAD_SECONDS = float(os.environ.get("FEEDSVC_LOAD_SECONDS", "20"))
CONNECTIONS = 32
TOKEN = "load-test-token-0123456789"
PATHS = [
    "/feeds/all.rss",
    "/feeds/all.atom",
    "/feeds/topics/churn.rss",
    "/feeds/topics/churn.atom",
    "/feeds/topics/ai.rss",
    "/feeds/providers/reuters.com.atom",
    "/feeds/all.rss?limit=5",
    "/feeds.opml",
    "/",
]


@dataclass
class Tally:
    statuses: dict[int, int] = field(default_factory=dict)
    api_statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    bad_bodies: list[str] = field(default_factory=list)
    sampled: int = 0
    writes: int = 0


@pytest.fixture
def server(folder: Path) -> Iterator[Server]:
    running = Server(folder, api_token=TOKEN)
    yield running
    running.stop()


def churn_files(folder: Path, stop: threading.Event, tally: Tally) -> None:
    """Edit, add and delete article files by hand, as an editor or rsync would."""
    for step in itertools.count():
        if stop.wait(0.1):
            return
        name = folder / f"churn-{step % 7}.md"
        if step % 3 == 2:
            name.unlink(missing_ok=True)
        else:
            doc = article(
                title=f"Churned {step}", topics=["Churn", "AI"], webUrl=f"https://example.org/churn/{step % 7}"
            )
            name.write_text(front_matter(doc))
        tally.writes += 1


def churn_api(base: str, stop: threading.Event, tally: Tally) -> None:
    """Write and retract articles through the API."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "text/markdown; charset=utf-8"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for step in itertools.count():
            if stop.wait(0.1):
                return
            slug = f"api-churn-{step % 5}"
            if step % 4 == 3:
                response = client.delete(f"/api/articles/{slug}")
            else:
                doc = article(title=f"API {step}", topics=["Churn"], webUrl=f"https://example.org/api/{step % 5}")
                response = client.put(f"/api/articles/{slug}", content=front_matter(doc).encode())
            tally.api_statuses[response.status_code] = tally.api_statuses.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                tally.errors.append(f"API {response.status_code}: {response.text[:200]}")
            tally.writes += 1


async def read(base: str, deadline: float, tally: Tally, seed: int) -> None:
    rng = random.Random(seed)
    etags: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while time.monotonic() < deadline:
            path = rng.choice(PATHS)
            headers = {"If-None-Match": etags[path]} if path in etags and rng.random() < 0.5 else {}
            started = time.perf_counter()
            try:
                response = await client.get(path, headers=headers)
            except httpx.HTTPError as exc:
                tally.errors.append(f"{path}: {exc!r}")
                continue
            tally.latencies.append(time.perf_counter() - started)
            tally.statuses[response.status_code] = tally.statuses.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                tally.errors.append(f"{path}: {response.status_code}")
            if response.status_code == 200:
                etags[path] = response.headers["etag"]
                if rng.random() < 0.02 and path.startswith("/feeds/") and ".opml" not in path:
                    tally.sampled += 1
                    parsed = feedparser.parse(response.content)
                    if parsed.bozo:
                        tally.bad_bodies.append(f"{path}: {parsed.bozo_exception!r}")


def test_load_with_churn_gives_no_5xx_and_only_whole_feeds(server: Server, folder: Path):
    (folder / "churn-base.md").write_text(front_matter(article(title="Base", topics=["Churn"])))
    deadline = time.monotonic() + 10  # the watcher publishes it
    while httpx.get(f"{server.url}/feeds/topics/churn.rss", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "the churn topic never appeared"
        time.sleep(0.05)
    tally = Tally()
    stop = threading.Event()
    writers = [
        threading.Thread(target=churn_files, args=(folder, stop, tally)),
        threading.Thread(target=churn_api, args=(server.url, stop, tally)),
    ]
    for writer in writers:
        writer.start()
    deadline = time.monotonic() + LOAD_SECONDS

    async def readers() -> None:
        await asyncio.gather(*(read(server.url, deadline, tally, seed) for seed in range(CONNECTIONS)))

    try:
        asyncio.run(readers())
    finally:
        stop.set()
        for writer in writers:
            writer.join(timeout=30)
    latencies = sorted(tally.latencies)
    requests = len(latencies)
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(requests * 0.99)] * 1000
    print(
        f"\nload: {requests} reads in {LOAD_SECONDS:.0f}s over {CONNECTIONS} connections, p50 {p50:.1f} ms, "
        f"p99 {p99:.1f} ms; statuses {dict(sorted(tally.statuses.items()))}; {tally.writes} writes, API statuses "
        f"{dict(sorted(tally.api_statuses.items()))}; "
        f"{tally.sampled} bodies parsed"
    )
    assert not tally.errors, tally.errors[:10]
    assert not tally.bad_bodies, tally.bad_bodies[:10]
    assert requests > 100 and tally.writes > 20 and tally.sampled > 0
    assert set(tally.statuses) <= {200, 304}, tally.statuses
    assert set(tally.api_statuses) <= {200, 201, 204, 404}, tally.api_statuses  # 404: retracting one already gone
    server_log = server.log.read_text()
    assert "Traceback" not in server_log, server_log[-3000:]
