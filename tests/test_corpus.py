"""Every feed built from the 450 real articles in ../shared/corpus, read by feedparser."""

from __future__ import annotations

import feedparser
import pytest
from lxml import etree
from starlette.testclient import TestClient

from feedsvc.content.loader import load_folder
from feedsvc.render import FORMATS

from .conftest import CORPUS, needs_corpus

pytestmark = [needs_corpus, pytest.mark.slow]


@pytest.fixture(scope="module")
def corpus_client() -> TestClient:
    from feedsvc.app import create_app
    from feedsvc.settings import Settings

    return TestClient(create_app(Settings(content=CORPUS, allowed_hosts=("feeds.test",))), base_url="http://feeds.test")


def test_corpus_loads_without_problems():
    result = load_folder(CORPUS)
    assert result.skipped == []
    assert len(result.articles) == 450
    assert sum(1 for a in result.articles if not a.published) == 158


def test_corpus_every_feed_parses_cleanly(corpus_client: TestClient):
    opml = etree.fromstring(corpus_client.get("/feeds.opml").content)
    urls = sorted({o.get("xmlUrl") for o in opml.iter("outline") if o.get("xmlUrl")})
    assert len(urls) == len(FORMATS) * (1 + 7 + 14)  # all + 7 topics + 14 providers, in every format
    # The XML formats: feedparser reads no JSON Feed (tests/test_jsonfeed.py checks those).
    for url in [url for url in urls if not url.endswith(".json")]:
        response = corpus_client.get(url.removeprefix("http://feeds.test") + "?limit=500")
        feed = feedparser.parse(response.content)
        assert feed.bozo == 0, (url, feed.get("bozo_exception"))
        dates = [e.published_parsed for e in feed.entries]
        assert dates == sorted(dates, reverse=True), url
        ids = [e.id for e in feed.entries]
        assert len(ids) == len(set(ids)), url


def test_corpus_all_feed_has_every_published_article(corpus_client: TestClient):
    feed = feedparser.parse(corpus_client.get("/feeds/all.atom?limit=500").content)
    assert len(feed.entries) == 292
    published = {a.title for a in load_folder(CORPUS).articles if a.published}
    assert {e.title for e in feed.entries} == published


def test_corpus_images_become_enclosures_and_media(corpus_client: TestClient):
    feed = feedparser.parse(corpus_client.get("/feeds/all.rss?limit=500").content)
    with_images = [e for e in feed.entries if e.get("media_thumbnail")]
    assert len(with_images) > 200
    for entry in with_images:
        # Each image once: the first is the enclosure, any others media:content.
        assert len(entry.enclosures) == 1
        assert entry.enclosures[0].href == entry.media_thumbnail[0]["url"]
        assert entry.enclosures[0].type.startswith("image/")
        others = [content["url"] for content in entry.get("media_content", [])]
        assert others == [thumbnail["url"] for thumbnail in entry.media_thumbnail[1:]]


def test_corpus_videos_link_to_the_video(corpus_client: TestClient):
    feed = feedparser.parse(corpus_client.get("/feeds/all.rss?limit=500").content)
    videos = [e for e in feed.entries if "Watch the video" in e.content[0].value]
    assert videos and all("youtube.com" in e.link for e in videos)
    assert all("<iframe" not in e.content[0].value for e in feed.entries)


def test_corpus_duplicate_urls_get_distinct_ids(corpus_client: TestClient):
    # Two corpus files share one webUrl (an IP firewall announcement and a later how-to).
    feed = feedparser.parse(corpus_client.get("/feeds/all.atom?limit=500").content)
    same = [e for e in feed.entries if e.link.endswith("ip-internet-protocol-firewall-for-dataverse/")]
    assert len(same) == 2 and same[0].id != same[1].id
