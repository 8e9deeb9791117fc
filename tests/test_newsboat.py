"""Newsboat, a real feed reader (Debian's ``newsboat``), reads every feed.

Newsboat parses with its own libxml2-based parser and keeps what it read in
an SQLite cache, so the test reads that cache: every item of every feed
listed in the OPML arrives with the title, link, author and date feedparser
sees in the same document. Newsboat keys items by guid across all feeds, and
the same article is in several of ours, so each feed gets a cache of its own.
Skipped where newsboat is not installed; CI installs it.
"""

from __future__ import annotations

import calendar
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest

from .conftest import REPO, Server, poll_until

NEWSBOAT = shutil.which("newsboat")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(NEWSBOAT is None, reason="newsboat is not installed (apt-get install newsboat)"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    content = tmp_path_factory.mktemp("newsboat") / "content"
    shutil.copytree(REPO / "seeds", content)
    running = Server(content)
    yield running
    running.stop()


def reload(feed_url: str, cache: Path) -> list[sqlite3.Row]:
    """Newsboat fetches one feed into ``cache``; the items it stored."""
    urls, config = cache.with_suffix(".urls"), cache.with_suffix(".config")
    urls.write_text(feed_url + "\n")
    config.write_text("")  # not the user's ~/.newsboat/config
    assert NEWSBOAT is not None
    done = subprocess.run(
        [NEWSBOAT, "-u", str(urls), "-c", str(cache), "-C", str(config), "-x", "reload"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    with sqlite3.connect(cache) as db:
        db.row_factory = sqlite3.Row
        return db.execute("SELECT * FROM rss_item WHERE feedurl = ? ORDER BY pubDate DESC, id", (feed_url,)).fetchall()


def feed_urls(server: Server) -> list[str]:
    opml = httpx.get(f"{server.url}/feeds.opml").text
    # The OPML names the feeds by the base URL the request came in on. The XML
    # formats: newsboat 2.21 (Debian 12) predates its JSON Feed support, and
    # feedparser, the other side of the comparison, reads only XML.
    return sorted({url for url in re.findall(r'xmlUrl="([^"]+)"', opml) if url.endswith((".rss", ".atom"))})


def _words(text: str) -> str:
    return " ".join(text.split())


def test_newsboat_reads_every_item_of_every_feed(server: Server, tmp_path: Path):
    urls = feed_urls(server)
    assert len(urls) > 10 and any(u.endswith(".rss") for u in urls) and any(u.endswith(".atom") for u in urls)
    for number, url in enumerate(urls):
        seen = feedparser.parse(httpx.get(url).content)
        assert seen.bozo == 0, url
        stored = reload(url, tmp_path / f"cache-{number}.db")
        expected = sorted((_words(e.title), e.link, e.get("author", "")) for e in seen.entries)
        assert sorted((_words(r["title"]), r["url"], r["author"]) for r in stored) == expected, url
        published = sorted(calendar.timegm(e.published_parsed) for e in seen.entries)
        assert sorted(r["pubDate"] for r in stored) == published, url


def test_newsboat_revalidates_and_gets_304(server: Server, tmp_path: Path):
    url = next(u for u in feed_urls(server) if u.endswith("/all.rss"))
    cache = tmp_path / "cache.db"
    # Newsboat 2.21 keeps the validators only once the feed is in its cache,
    # so the third reload is the first conditional one.
    for _ in range(3):
        items = reload(url, cache)
    assert len(items) == len(feedparser.parse(httpx.get(url).content).entries)
    with sqlite3.connect(cache) as db:
        (etag,) = db.execute("SELECT etag FROM rss_feed WHERE rssurl = ?", (url,)).fetchone()
    assert etag.startswith('"')
    # The access log is written in batches, a moment after the request.
    log, _ = poll_until(server.log.read_text, lambda text: '"GET /feeds/all.rss HTTP/1.1" 304' in text)
    assert '"GET /feeds/all.rss HTTP/1.1" 304' in log, log[-2000:]
