"""Future-dated articles are held back until their time comes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import httpx
import pytest

from feedsvc.core.index import ALL, FeedKind, FeedRef
from feedsvc.core.publisher import Publisher
from feedsvc.live.schedule import release_when_due

from .conftest import Server, article, front_matter, poll_until

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def titles(publisher: Publisher) -> list[str]:
    return [a.title for a in publisher.index.select(ALL, 100)]


@pytest.fixture
def content(tmp_path: Path) -> Path:
    folder = tmp_path / "content"
    folder.mkdir()
    (folder / "now.md").write_text(front_matter(article(title="Already out", publishedDateTime=stamp(NOW))))
    later = NOW + timedelta(hours=1)
    (folder / "later.md").write_text(
        front_matter(article(title="Embargoed", publishedDateTime=stamp(later), topics=["Soon"]))
    )
    return folder


def test_future_article_is_held_then_published_at_its_time(content: Path):
    clock = Clock()
    publisher = Publisher(content, clock)
    publisher.load()
    assert titles(publisher) == ["Already out"]
    assert publisher.index.info(FeedRef(FeedKind.TOPIC, "soon")) is None
    assert publisher.next_due() == NOW + timedelta(hours=1)
    assert publisher.release_due() is None  # not yet
    clock.now = NOW + timedelta(hours=1)
    diff = publisher.release_due()
    assert diff is not None and ALL in diff.visible
    assert titles(publisher) == ["Embargoed", "Already out"]
    assert publisher.next_due() is None


def test_held_article_survives_a_snapshot_and_is_released_after_a_restart(content: Path, tmp_path: Path):
    clock = Clock()
    first = Publisher(content, clock)
    first.load(tmp_path / "snap")
    first.save_snapshot(tmp_path / "snap")
    clock.now = NOW + timedelta(days=1)  # the service was down when the article came due
    second = Publisher(content, clock)
    assert second.load(tmp_path / "snap") == "snapshot"
    assert "Embargoed" in titles(second)


def test_editing_a_held_article_keeps_it_held(content: Path):
    clock = Clock()
    publisher = Publisher(content, clock)
    publisher.load()
    text = (content / "later.md").read_text().replace("Embargoed", "Embargoed, edited")
    (content / "later.md").write_text(text)
    publisher.refresh([content / "later.md"])
    assert titles(publisher) == ["Already out"]
    clock.now = NOW + timedelta(hours=2)
    publisher.release_due()
    assert "Embargoed, edited" in titles(publisher)


@pytest.mark.slow
def test_a_running_server_publishes_a_held_article_when_it_comes_due(tmp_path: Path):
    folder = tmp_path / "content"
    folder.mkdir()
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=6)
    (folder / "soon.md").write_text(front_matter(article(title="Right on time", publishedDateTime=stamp(due))))
    server = Server(folder)
    try:
        fetch = lambda: [e.title for e in feedparser.parse(httpx.get(f"{server.url}/feeds/all.rss").content).entries]  # noqa: E731
        if datetime.now(UTC) < due - timedelta(seconds=1):  # a slow start may have reached the date already
            assert fetch() == []
        poll_until(fetch, lambda t: t == ["Right on time"], timeout=20)
        assert datetime.now(UTC) >= due
    finally:
        server.stop()


def test_the_scheduler_waits_by_the_publishers_clock(tmp_path: Path):
    # Far in the future by the real clock, due now by the injected one: the
    # scheduler must publish it at once, not sleep as the wall clock would say.
    far = datetime(2100, 1, 1, tzinfo=UTC)
    (tmp_path / "far.md").write_text(front_matter(article(title="Far off", publishedDateTime=stamp(far))))
    clock = Clock()
    clock.now = far - timedelta(hours=1)
    publisher = Publisher(tmp_path, clock)
    publisher.load()
    assert titles(publisher) == []
    clock.now = far

    async def run() -> list[str]:
        stop = asyncio.Event()
        task = asyncio.create_task(release_when_due(publisher, stop))
        for _ in range(200):  # up to ~10 s; a scheduler on the wall clock would sleep 60 s
            if titles(publisher):
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, timeout=10)
        return titles(publisher)

    assert asyncio.run(run()) == ["Far off"]
