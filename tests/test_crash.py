"""Crash test: API writes against the real server, `kill -9` at a random moment,
restart, and every acknowledged write is served.

Writers own their slugs, so each slug's history is a sequence: after the kill,
a slug holds its last acknowledged version, or the one whose answer the kill
cut off (the write may or may not have reached the disk; either is correct).
The restarted server must serve exactly that, through the API and in the
feeds, and its start-up must leave no stale temporary file behind.
"""

from __future__ import annotations

import os
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import feedparser
import httpx
import pytest

from feedsvc.core.storage import STALE_SECONDS

from .conftest import Server, article, front_matter

pytestmark = pytest.mark.slow

TOKEN = "crash-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROUNDS = 3
WRITERS = 3
SLUGS_PER_WRITER = 4
GONE = None  # a deleted article


@dataclass
class Slug:
    name: str
    acknowledged: str | None = GONE  # the title last answered with 2xx, or GONE
    in_flight: list[str | None] = field(default_factory=list)  # cut off by the kill: may or may not have landed

    def allowed(self) -> set[str | None]:
        return {self.acknowledged, *self.in_flight}


def write_until_killed(client: httpx.Client, slugs: list[Slug], rng: random.Random, stop: threading.Event) -> int:
    """PUT (JSON or Markdown) and DELETE this writer's slugs until the server dies; returns the acks."""
    acknowledged = 0
    version = 0
    while not stop.is_set():
        slug = rng.choice(slugs)
        version += 1
        title = None if rng.random() < 0.15 else f"{slug.name} v{version}"
        try:
            if title is GONE:
                response = client.delete(f"/api/articles/{slug.name}", headers=AUTH)
                ok = response.status_code in (204, 404)
            elif rng.random() < 0.5:
                fields = article(title=title, topics=["Crash"])
                response = client.put(f"/api/articles/{slug.name}", json=fields, headers=AUTH)
                ok = response.status_code in (200, 201)
            else:
                document = front_matter(article(title=title, topics=["Crash"]), body=f"Body of {title}.\n")
                headers = {**AUTH, "Content-Type": "text/markdown"}
                response = client.put(f"/api/articles/{slug.name}", content=document, headers=headers)
                ok = response.status_code in (200, 201)
        except httpx.TransportError:  # the kill: this write's outcome is unknown
            slug.in_flight.append(title)
            return acknowledged
        assert ok, (response.status_code, response.text)
        slug.acknowledged, slug.in_flight = title, []
        acknowledged += 1
    return acknowledged


def write(
    client: httpx.Client, slugs: list[Slug], rng: random.Random, stop: threading.Event, counts: list[int]
) -> None:
    counts.append(write_until_killed(client, slugs, rng, stop))


def age_temporaries(folder: Path) -> int:
    """Make the temporary files a crash left look as old as they would be at a later restart."""
    left = list(folder.glob(".*.md.*.tmp"))
    old = time.time() - STALE_SECONDS - 60
    for path in left:
        os.utime(path, (old, old))
    return len(left)


def check_served(server: Server, slugs: list[Slug]) -> int:
    """Every slug as it must be after the crash, through the API and in the feeds; returns slugs checked."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        feed = feedparser.parse(client.get("/feeds/topics/crash.rss?limit=500").content)
        titles = [entry.title for entry in feed.entries]
        for slug in slugs:
            response = client.get(f"/api/articles/{slug.name}", headers=AUTH)
            assert response.status_code in (200, 404), response.text
            served = response.json()["article"]["title"] if response.status_code == 200 else GONE
            assert served in slug.allowed(), (slug.name, served, slug.acknowledged, slug.in_flight)
            assert (served in titles) == (served is not GONE), (slug.name, served)
            slug.acknowledged, slug.in_flight = served, []  # what the next round starts from
        assert len(titles) == len(set(titles))  # no article twice
        assert sorted(titles) == sorted(slug.acknowledged for slug in slugs if slug.acknowledged is not GONE)
    return len(slugs)


def test_acknowledged_writes_survive_kill_9(tmp_path: Path):
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    folder = tmp_path / "content"
    folder.mkdir()
    settings = {"api_token": TOKEN, "snapshot": str(tmp_path / "snapshot"), "log_level": "warning"}
    slugs = [[Slug(f"w{w}-s{s}") for s in range(SLUGS_PER_WRITER)] for w in range(WRITERS)]
    every_slug = [slug for group in slugs for slug in group]
    server = Server(folder, **settings)
    acknowledged = checked = temporaries = 0
    try:
        for _ in range(ROUNDS):
            stop = threading.Event()
            counts: list[int] = []
            clients = [httpx.Client(base_url=server.url, timeout=30) for _ in range(WRITERS)]
            writers = [
                threading.Thread(target=write, args=(client, group, random.Random(rng.random()), stop, counts))
                for client, group in zip(clients, slugs, strict=True)
            ]
            for writer in writers:
                writer.start()
            time.sleep(rng.uniform(0.5, 2.5))
            server.kill9()
            stop.set()
            for writer in writers:
                writer.join(timeout=30)
            for client in clients:
                client.close()
            acknowledged += sum(counts)
            temporaries += age_temporaries(folder)
            server = Server(folder, **settings)  # start-up removes the stale temporaries
            assert not list(folder.glob(".*.tmp")), f"seed {seed}"
            checked += check_served(server, every_slug)
    finally:
        server.stop()
    assert acknowledged > 0
    print(
        f"crash test (seed {seed}): {ROUNDS} kills, {acknowledged} acknowledged writes, "
        f"{checked} slug states checked, {temporaries} temporary file(s) left by the kills and removed"
    )
