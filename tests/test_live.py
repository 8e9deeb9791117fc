"""Live publishing: files changed on disk while the real service runs."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import feedparser
import httpx
import pytest

from .conftest import Server, article, front_matter, poll_until

pytestmark = pytest.mark.slow

SEED = "000_84d0586a3992f50e.md"


@pytest.fixture
def server(folder: Path) -> Iterator[Server]:
    running = Server(folder)
    yield running
    running.stop()


def titles(server: Server, path: str) -> list[str]:
    return [e.title for e in feedparser.parse(httpx.get(server.url + path).content).entries]


def fetch_titles(server: Server, path: str) -> Callable[[], list[str]]:
    return lambda: titles(server, path)


def test_live_new_file_appears_without_a_restart(server: Server, folder: Path):
    # Generous: how fast it appears is measured in bench/, not asserted on a loaded CI machine.
    (folder / "new.md").write_text(front_matter(article(title="Brand new", topics=["Fresh Topic"])))
    poll_until(fetch_titles(server, "/feeds/all.rss"), lambda t: "Brand new" in t, timeout=30)
    assert titles(server, "/feeds/topics/fresh-topic.atom") == ["Brand new"]


def test_live_edit_changes_only_the_feeds_that_hold_the_article(server: Server, folder: Path):
    with httpx.Client(base_url=server.url) as client:
        ai = client.get("/feeds/topics/ai.rss")
        other = client.get("/feeds/topics/power-apps.rss")
        text = (folder / SEED).read_text().replace('title: "U.S. cities', 'title: "EDITED U.S. cities')
        (folder / SEED).write_text(text)
        poll_until(lambda: client.get("/feeds/topics/ai.rss").text, lambda body: "EDITED" in body)
        changed = client.get("/feeds/topics/ai.rss", headers={"If-None-Match": ai.headers["etag"]})
        assert changed.status_code == 200 and changed.headers["etag"] != ai.headers["etag"]
        # a reader holding only the old Last-Modified gets the new body, even when the edit came within its second
        stale = client.get("/feeds/topics/ai.rss", headers={"If-Modified-Since": ai.headers["last-modified"]})
        assert stale.status_code == 200 and "EDITED" in stale.text
        # a feed without the article keeps its bytes, its ETag and its 304s
        again = client.get("/feeds/topics/power-apps.rss", headers={"If-None-Match": other.headers["etag"]})
        assert again.status_code == 304
        since = client.get(
            "/feeds/topics/power-apps.rss", headers={"If-Modified-Since": other.headers["last-modified"]}
        )
        assert since.status_code == 304


def test_live_delete_removes_the_article_and_its_empty_feeds(server: Server, folder: Path):
    (folder / SEED).unlink()
    poll_until(lambda: httpx.get(server.url + "/feeds/topics/computer-vision.rss").status_code, lambda s: s == 404)
    assert not any("facial recognition" in t for t in titles(server, "/feeds/all.rss?limit=500"))


def test_live_editor_write_to_temp_then_rename(server: Server, folder: Path):
    temporary = folder / ".new.md.swp"
    temporary.write_text(front_matter(article(title="Saved by an editor")))
    assert "Saved by an editor" not in titles(server, "/feeds/all.rss")
    os.replace(temporary, folder / "saved.md")
    poll_until(fetch_titles(server, "/feeds/all.rss"), lambda t: "Saved by an editor" in t)


def test_live_rename_keeps_the_article(server: Server, folder: Path):
    (folder / SEED).rename(folder / "renamed.md")
    poll_until(
        lambda: httpx.get(server.url + "/healthz").json(),
        lambda h: h["articles"] == 39,
    )
    assert any("facial recognition" in t for t in titles(server, "/feeds/topics/ai.rss"))


def test_live_whole_folder_sync(server: Server, folder: Path, tmp_path: Path):
    # what rsync --delete or a git checkout does: many files appear and vanish at once
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    for i in range(200):
        (incoming / f"bulk-{i:03d}.md").write_text(
            front_matter(article(title=f"Bulk {i}", publishedDateTime=f"2025-01-01T00:{i // 60:02d}:{i % 60:02d}Z"))
        )
    for path in folder.glob("20*.md"):
        path.unlink()
    for path in incoming.iterdir():
        os.replace(path, folder / path.name)
    health, _ = poll_until(lambda: httpx.get(server.url + "/healthz").json(), lambda h: h["articles"] == 201)
    assert health["skipped_files"] == 0
    assert titles(server, "/feeds/all.atom?limit=3") == ["Bulk 199", "Bulk 198", "Bulk 197"]


def test_live_half_written_file_is_retried_not_dropped(server: Server, folder: Path):
    complete = front_matter(article(title="Written slowly"))
    path = folder / "slow.md"
    path.write_text(complete[: len(complete) // 3])  # a writer caught mid-file: invalid YAML for now
    import time

    time.sleep(0.3)
    assert httpx.get(server.url + "/healthz").json()["skipped_files"] == 0  # not yet judged: it may be mid-write
    with path.open("a") as handle:
        handle.write(complete[len(complete) // 3 :])
    poll_until(fetch_titles(server, "/feeds/all.rss"), lambda t: "Written slowly" in t)
    assert httpx.get(server.url + "/healthz").json()["skipped_files"] == 0


def test_live_broken_edit_keeps_serving_the_previous_version(server: Server, folder: Path):
    (folder / SEED).write_text("---\ntitle: [broken\n---\n")
    health, _ = poll_until(lambda: httpx.get(server.url + "/healthz").json(), lambda h: h["skipped_files"] == 1, 10)
    assert health["articles"] == 39
    assert any("facial recognition" in t for t in titles(server, "/feeds/topics/ai.rss"))


def test_live_changes_made_before_the_watcher_started_are_picked_up(folder: Path):
    server = Server(folder, watch="off")
    try:
        (folder / "early.md").write_text(front_matter(article(title="Early bird")))
    finally:
        server.stop()
    # the file was added while no watcher ran; a new service sees it at start-up
    running = Server(folder)
    try:
        assert "Early bird" in titles(running, "/feeds/all.rss")
    finally:
        running.stop()


def test_live_polling_mode_for_network_volumes(folder: Path):
    running = Server(folder, watch="poll")
    try:
        (folder / "polled.md").write_text(front_matter(article(title="Seen by polling")))
        poll_until(fetch_titles(running, "/feeds/all.rss"), lambda t: "Seen by polling" in t, timeout=30)
    finally:
        running.stop()


def test_live_content_folder_that_disappears_keeps_the_last_good_state(server: Server, folder: Path):
    before = titles(server, "/feeds/all.rss")
    assert before
    away = folder.with_name(f"{folder.name}.away")
    folder.rename(away)  # unmounted, or moved away by mistake
    try:
        poll_until(lambda: "gone or unreadable" in server.log.read_text(), bool, timeout=10)
        assert titles(server, "/feeds/all.rss") == before
        assert httpx.get(f"{server.url}/healthz").json()["articles"] == len(before)
    finally:
        away.rename(folder)
    (folder / "back.md").write_text(front_matter(article(title="Back again")))
    poll_until(fetch_titles(server, "/feeds/all.rss"), lambda t: "Back again" in t, timeout=10)
    assert set(before) <= set(titles(server, "/feeds/all.rss"))


def test_publisher_never_publishes_a_missing_folder_as_empty(folder: Path):
    from feedsvc.core.publisher import Publisher

    publisher = Publisher(folder)
    publisher.load()
    index = publisher.index
    files = sorted(folder.iterdir())
    folder.rename(folder.with_name("elsewhere"))
    assert publisher.refresh([folder, *files]) == (None, [])
    assert publisher.index is index


@pytest.mark.parametrize("own_process", [True, False])
def test_live_watcher_publishes_from_its_own_process_or_from_this_one(
    folder: Path, monkeypatch: pytest.MonkeyPatch, own_process: bool
):
    import asyncio

    from feedsvc.core.index import ALL
    from feedsvc.core.publisher import Publisher
    from feedsvc.live.watcher import watch

    if not own_process:  # the watching process cannot start: watchfiles runs in this one
        monkeypatch.setattr("feedsvc.live.watchproc.sys.executable", str(folder / "no-such-python"))
    publisher = Publisher(folder)
    publisher.load(None)

    def published() -> list[str]:
        return [a.title for a in publisher.index.select(ALL, 500)]

    async def run() -> None:
        stop, ready = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(watch(publisher, "auto", stop, ready))
        await asyncio.wait_for(ready.wait(), 30)
        (folder / "watched.md").write_text(front_matter(article(title="Watched")))
        for _ in range(600):
            if "Watched" in published():
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 10)

    asyncio.run(run())
    assert "Watched" in published()
