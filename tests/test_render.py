"""Rendered feeds, read back the way feed readers read them: feedparser and lxml."""

from __future__ import annotations

from collections.abc import Sequence

import feedparser
import pytest
from lxml import etree

from feedsvc.content.model import Article
from feedsvc.content.parse import parse_article
from feedsvc.core.index import ALL, FeedKind, FeedRef, Index
from feedsvc.render import FORMATS
from feedsvc.render.media import image_type
from feedsvc.render.spec import Site, feed_spec
from feedsvc.render.urls import Urls

from .conftest import SEED, article, front_matter

BASE = "https://feeds.example.com"
SEED_ARTICLE = parse_article(SEED.read_text(), SEED.name)


def render(articles: Sequence[Article], fmt: str, ref: FeedRef = ALL, limit: int = 50) -> bytes:
    index = Index(articles)
    info = index.info(ref)
    assert info is not None
    selected = index.select(ref, limit)
    return FORMATS[fmt].render(feed_spec(info, Site(), Urls(BASE), fmt, limit, selected), selected)


def parsed(articles: Sequence[Article], fmt: str, ref: FeedRef = ALL) -> feedparser.FeedParserDict:
    result = feedparser.parse(render(articles, fmt, ref))
    assert result.bozo == 0, result.get("bozo_exception")
    return result


def make(body: str = "", **fields: object) -> Article:
    return parse_article(front_matter(article(**fields), body), f"{fields.get('title', 'x')}.md")


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_render_seed_item_has_everything_a_reader_shows(fmt: str):
    feed = parsed([SEED_ARTICLE], fmt)
    assert feed.version == ("rss20" if fmt == "rss" else "atom10")
    entry = feed.entries[0]
    assert entry.title == SEED_ARTICLE.title
    assert entry.link == SEED_ARTICLE.url
    assert entry.id == SEED_ARTICLE.url
    assert entry.published_parsed[:6] == (2022, 5, 12, 15, 9, 0)
    if fmt == "atom":  # RSS items have pubDate only
        assert entry.updated_parsed[:6] == (2022, 5, 12, 15, 9, 0)
    assert entry.author == "Reuters"
    assert [t.term for t in entry.tags] == ["Computer Vision", "AI"]
    assert entry.summary == SEED_ARTICLE.excerpt
    html = entry.content[0].value
    assert SEED_ARTICLE.images[0].url in html and "Related" in html and "nasdaq.com" in html


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_render_enclosure_media_and_related_links(fmt: str):
    entry = parsed([SEED_ARTICLE], fmt).entries[0]
    image = SEED_ARTICLE.images[0].url
    assert [(e.href, e.type) for e in entry.enclosures] == [(image, "image/jpeg")]
    if fmt == "rss":
        assert entry.enclosures[0].length == "0"
    assert "media_content" not in entry  # its one image is the enclosure: once (tests/test_podcast.py)
    assert entry.media_thumbnail == [{"url": image, "width": "728", "height": "381"}]
    related = [(link.href, link.title) for link in entry.links if link.rel == "related"]
    assert related == [(r.url, r.title) for r in SEED_ARTICLE.related]
    alternates = [link.href for link in entry.links if link.rel == "alternate"]
    assert alternates == [SEED_ARTICLE.url]  # enclosures and related links never pose as the article


def test_render_rss_source_points_at_the_provider_feed():
    entry = parsed([SEED_ARTICLE], "rss").entries[0]
    assert entry.source == {"href": f"{BASE}/feeds/providers/reuters.com.rss", "title": "Reuters"}


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_render_feed_level_metadata(fmt: str):
    ref = FeedRef(FeedKind.PROVIDER, "reuters.com")
    feed = parsed([SEED_ARTICLE], fmt, ref).feed
    assert feed.title == "Reuters — feedsvc"
    assert "Reuters" in feed.subtitle
    assert feed.language == "en"
    assert feed.generator == "feedsvc"
    self_links = [link.href for link in feed.links if link.rel == "self"]
    assert self_links == [f"{BASE}/feeds/providers/reuters.com.{fmt}"]
    assert feed.link == f"{BASE}/providers/reuters.com"  # its page for people
    assert feed.updated_parsed[:6] == (2022, 5, 12, 15, 9, 0)
    logo = SEED_ARTICLE.provider.images[0].url  # type: ignore[union-attr]
    assert (feed.image.href if fmt == "rss" else feed.logo) == logo


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_render_declares_every_namespace_it_uses(fmt: str):
    root = etree.fromstring(render([SEED_ARTICLE], fmt))  # lxml refuses undeclared prefixes
    used = {el.nsmap.get(el.prefix) for el in root.iter() if isinstance(el.tag, str) and el.prefix}
    assert used <= set(root.nsmap.values())
    expected = {"http://search.yahoo.com/mrss/"} | (
        {"http://purl.org/rss/1.0/modules/content/"} if fmt == "rss" else set()
    )
    assert expected <= set(root.nsmap.values())


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_render_orders_newest_first_and_limits(fmt: str):
    articles = [make(title=f"Item {day}", publishedDateTime=f"2024-01-{day:02d}T00:00:00Z") for day in range(1, 11)]
    index = Index(articles)
    info = index.info(ALL)
    assert info is not None
    body = FORMATS[fmt].render(feed_spec(info, Site(), Urls(BASE), fmt), index.select(ALL, 3))
    assert [e.title for e in feedparser.parse(body).entries] == ["Item 10", "Item 9", "Item 8"]


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_render_same_content_gives_same_bytes(fmt: str):
    articles = [SEED_ARTICLE, make(title="Other")]
    assert render(articles, fmt) == render(list(reversed(articles)), fmt)


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_render_last_build_date_is_the_newest_item_not_the_clock(fmt: str):
    feed = parsed([make(title="Old", publishedDateTime="2001-02-03T04:05:06Z")], fmt).feed
    assert feed.updated_parsed[:6] == (2001, 2, 3, 4, 5, 6)


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_render_never_contains_the_secret(fmt: str):
    assert b"EwypnhubM16YNg3x3OEECidd" not in render([SEED_ARTICLE], fmt)


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_render_hostile_text_stays_text(fmt: str):
    evil = make(title="<script>alert(1)</script> & Co", excerpt="a < b & <b>c</b>", webUrl="https://e.org/x")
    entry = parsed([evil], fmt).entries[0]
    assert entry.title == "& Co"  # markup in a title is dropped, scripts with their content
    assert b"<script" not in render([evil], fmt) and b"alert(1)" not in render([evil], fmt)
    assert "<p>a &lt; b &amp; c</p>" in entry.content[0].value  # tags dropped, the rest is text


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_render_empty_feed_is_valid_and_dated(fmt: str):
    feed = parsed([], fmt)
    assert feed.entries == []
    assert feed.feed.updated_parsed[:3] == (2000, 1, 1)


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_render_article_without_provider_images_or_topics(fmt: str):
    bare = make(title="Bare", provider=None, topics=None, excerpt=None)
    entry = parsed([bare], fmt).entries[0]
    assert entry.title == "Bare" and entry.enclosures == [] and "tags" not in entry


def test_render_video_links_to_the_video():
    video = make(title="Clip", type="video", webUrl=None, originalUrl="https://youtube.com/watch?v=abc")
    entry = parsed([video], "rss").entries[0]
    assert "Watch the video" in entry.content[0].value
    assert entry.link == "https://youtube.com/watch?v=abc"


@pytest.mark.parametrize(
    ("url", "media_type"),
    [
        ("https://x.org/a.png", "image/png"),
        ("https://x.org/a.JPG?w=3", "image/jpeg"),
        ("https://x.org/a.webp", "image/webp"),
        ("https://x.org/a.gif#x", "image/gif"),
        ("https://x.org/resizer/abc=/728x381/smart", "image/jpeg"),
        ("https://x.org/image.php?id=3", "image/jpeg"),
    ],
)
def test_image_type_from_url(url: str, media_type: str):
    assert image_type(url) == media_type


def test_render_published_and_updated_dates_are_utc():
    feed = parsed([make(title="TZ", publishedDateTime="2024-06-01T12:00:00+02:00")], "atom")
    assert feed.entries[0].published_parsed[:6] == (2024, 6, 1, 10, 0, 0)
    assert b"2024-06-01T10:00:00+00:00" in render(
        [make(title="TZ", publishedDateTime="2024-06-01T12:00:00+02:00")], "atom"
    )


def test_render_rss_writes_ampersand_and_less_than_as_hex_references():
    body = render([make(title="Dynamics 365 & Power Apps <3 Preview>")], "rss")  # "<3" is text, not a tag
    assert b"Dynamics 365 &#x26; Power Apps &#x3C;3 Preview&gt;" in body
    assert b"&amp;" not in body and b"&lt;" not in body
    assert feedparser.parse(body).entries[0].title == "Dynamics 365 & Power Apps <3 Preview>"


@pytest.mark.parametrize(
    ("logo", "in_rss"),
    [("https://x.org/logo.png", True), ("https://x.org/logo.svg", False), ("https://x.org/logo", True)],
)
def test_render_rss_image_only_for_gif_jpeg_png(logo: str, in_rss: bool):
    item = make(title="L", provider={"name": "X", "domain": "x.org", "images": [{"url": logo}]})
    ref = FeedRef(FeedKind.PROVIDER, "x.org")
    rss = etree.fromstring(render([item], "rss", ref=ref))
    assert rss.findtext("channel/image/url") == (logo if in_rss else f"{BASE}/cover.png")  # else the site's cover
    assert parsed([item], "atom", ref).feed.logo == logo


CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"


def test_render_rss_item_without_excerpt_carries_its_content_as_the_description():
    """The W3C validator warns about content:encoded without a description before it."""
    body = render([make(title="No excerpt", excerpt=None, body="Some **body** text.")], "rss")
    item = etree.fromstring(body).find("channel/item")
    assert item is not None
    description = item.find("description")
    assert description is not None and "<strong>body</strong>" in (description.text or "")
    assert item.find(CONTENT_ENCODED) is None
    entry = feedparser.parse(body).entries[0]
    assert "<strong>body</strong>" in entry.summary


@pytest.mark.parametrize("excerpt", [None, "An excerpt."])
def test_render_rss_description_always_comes_before_content(excerpt: str | None):
    item = etree.fromstring(render([make(title="T", excerpt=excerpt)], "rss")).find("channel/item")
    assert item is not None
    tags = [child.tag for child in item]
    assert "description" in tags
    if CONTENT_ENCODED in tags:
        assert tags.index("description") < tags.index(CONTENT_ENCODED)


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_render_feed_is_dated_by_its_latest_change(fmt: str):
    edited = make(title="Edited", publishedDateTime="2024-01-01T00:00:00Z", updatedDateTime="2024-03-01T00:00:00Z")
    newer = make(title="Newer", publishedDateTime="2024-02-01T00:00:00Z")
    feed = parsed([edited, newer], fmt).feed
    assert feed.updated_parsed[:3] == (2024, 3, 1)


def test_render_atom_spells_simultaneous_updates_apart():
    """The W3C validator warns about two entries with the same atom:updated text; the instant stays the same."""
    when = "2024-03-01T10:00:00Z"
    articles = [
        make(title=f"Same time {n}", publishedDateTime=when, webUrl=f"https://example.org/{n}") for n in range(3)
    ]
    articles.append(make(title="Fraction", publishedDateTime="2024-03-01T09:00:00.5Z", webUrl="https://example.org/f"))
    articles.append(
        make(title="Fraction too", publishedDateTime="2024-03-01T09:00:00.5Z", webUrl="https://example.org/g")
    )
    body = render(articles, "atom")
    root = etree.fromstring(body)
    stamps = [
        e.findtext("{http://www.w3.org/2005/Atom}updated") for e in root.iter("{http://www.w3.org/2005/Atom}entry")
    ]
    assert len(set(stamps)) == len(stamps) == 5
    assert sorted(stamps) == sorted(
        [
            "2024-03-01T10:00:00+00:00",
            "2024-03-01T10:00:00.0+00:00",
            "2024-03-01T10:00:00.00+00:00",
            "2024-03-01T09:00:00.500000+00:00",
            "2024-03-01T09:00:00.5000000+00:00",
        ]
    )
    entries = feedparser.parse(body).entries
    assert {e.updated_parsed[:6] for e in entries if e.title.startswith("Same time")} == {(2024, 3, 1, 10, 0, 0)}
