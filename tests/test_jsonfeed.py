"""JSON Feed 1.1: every JSON feed served is valid by the spec and says what the RSS feed of it says.

The spec's rules are in tests/jsonfeed-1.1.schema.json (written from
https://jsonfeed.org/version/1.1), checked with jsonschema_rs; the rules a
schema cannot say are checked here (:func:`check_json_feed`). feedparser does
not read JSON Feed, so each JSON feed is compared item by item with the RSS
feed of the same URL as feedparser reads it.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import httpx
import jsonschema_rs
import pytest
from lxml import etree, html
from starlette.testclient import TestClient

from feedsvc.cli import main
from feedsvc.content.model import Article, Image, Provider, Related, Topic
from feedsvc.core.index import ALL, FeedKind, FeedRef, Index
from feedsvc.render import FORMATS
from feedsvc.render.content import article_html
from feedsvc.render.jsonfeed import json_item, render_json
from feedsvc.render.spec import Site, feed_spec
from feedsvc.render.urls import Urls

from .conftest import CORPUS, REPO, Server, article, front_matter, needs_corpus
from .test_browser import needs_chromium, open_in_chromium

SCHEMA = jsonschema_rs.validator_for(
    json.loads((Path(__file__).parent / "jsonfeed-1.1.schema.json").read_text(encoding="utf-8")),
    validate_formats=True,
)
# The _feedsvc extension as the README documents it (section JSON Feed).
_LINK = {"type": "string", "format": "uri"}
FEEDSVC_FEED = jsonschema_rs.validator_for(
    {
        "type": "object",
        "required": ["about"],
        "properties": {
            "about": _LINK,
            "pages": {"type": "object", "minProperties": 1, "additionalProperties": _LINK},
        },
        "additionalProperties": False,
    },
    validate_formats=True,
)
FEEDSVC_ITEM = jsonschema_rs.validator_for(
    {
        "type": "object",
        "required": ["related"],
        "properties": {
            "related": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["title", "url"],
                    "properties": {
                        "title": {"type": "string"},
                        "url": _LINK,
                        "summary": {"type": "string"},
                        "date_published": {"type": "string", "format": "date-time"},
                        "provider": {"type": "string"},
                    },
                    "additionalProperties": False,
                },
            }
        },
        "additionalProperties": False,
    },
    validate_formats=True,
)
# RFC 3339 section 5.6 date-time, with its zone (Z or an offset) required.
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
BASE = "https://feeds.example.com"
IDENTITY = {"Accept-Encoding": "identity"}
CHROMIUM_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,"
    "*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    assert len(keys) == len(set(keys)), f"a key given twice: {keys}"
    return dict(pairs)


def check_json_feed(body: bytes) -> dict[str, Any]:
    """Given a served body, assert it is a JSON Feed 1.1 document by the spec and by our rules; return it."""
    text = body.decode("utf-8")  # the spec: UTF-8
    feed: dict[str, Any] = json.loads(text, object_pairs_hook=_no_repeated_keys)
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in SCHEMA.iter_errors(feed)]
    assert not errors, errors[:5]
    assert next(iter(feed)) == "version"  # "This should appear at the very top"
    assert feed.get("next_url") != feed["feed_url"]  # "next_url must not be the same as feed_url"
    assert FEEDSVC_FEED.is_valid(feed["_feedsvc"]), feed["_feedsvc"]
    ids = [item["id"] for item in feed["items"]]
    assert len(ids) == len(set(ids)), "an id given twice in one feed"
    for item in feed["items"]:
        for name in ("date_published", "date_modified"):
            assert RFC3339.match(item[name]), item[name]
            assert datetime.fromisoformat(item[name]).tzinfo is not None
        for attachment in item.get("attachments", []):
            # A size is given only when known: never the 0 RSS writes for "unknown".
            assert attachment.get("size_in_bytes", 1) > 0, attachment
        urls = [attachment["url"] for attachment in item.get("attachments", [])]
        assert len(urls) == len(set(urls)), "an image attached twice"
        if "image" in item:
            assert urls[0] == item["image"]
        if "_feedsvc" in item:
            assert FEEDSVC_ITEM.is_valid(item["_feedsvc"]), item["_feedsvc"]
    return feed


def assert_same_items_as_rss(feed: dict[str, Any], rss: bytes) -> None:
    """The JSON feed's items are the RSS feed's, as feedparser reads it: ids, titles, links, dates, order."""
    parsed = feedparser.parse(rss)
    assert parsed.bozo == 0
    items = feed["items"]
    assert [item["id"] for item in items] == [entry.id for entry in parsed.entries]
    assert [item["title"] for item in items] == [entry.title for entry in parsed.entries]
    assert [item["url"] for item in items] == [entry.link for entry in parsed.entries]
    published = [datetime.fromisoformat(item["date_published"]).astimezone(UTC) for item in items]
    assert [moment.timetuple()[:6] for moment in published] == [entry.published_parsed[:6] for entry in parsed.entries]
    assert [item.get("tags", []) for item in items] == [[t.term for t in e.get("tags", [])] for e in parsed.entries]
    assert feed["home_page_url"] == parsed.feed.link
    assert feed["title"] == parsed.feed.title
    assert feed["language"] == parsed.feed.language


def served_json_feeds(client: TestClient) -> list[str]:
    """Every JSON feed the service lists (its one-format OPML), as paths."""
    response = client.get("/feeds.opml?format=json")
    assert response.status_code == 200
    outlines = [o for o in etree.fromstring(response.content).iter("outline") if o.get("xmlUrl")]
    assert all(o.get("type") == "rss" and o.get("version") is None for o in outlines)
    return [o.get("xmlUrl").removeprefix("http://feeds.test") for o in outlines]


def check_every_json_feed(client: TestClient, count: int) -> None:
    paths = served_json_feeds(client)
    assert len(paths) == count
    for path in paths:
        assert path.endswith(".json"), path
        response = client.get(path, headers=IDENTITY)
        assert response.status_code == 200, path
        assert response.headers["content-type"] == "application/feed+json"
        feed = check_json_feed(response.content)
        assert feed["feed_url"] == f"http://feeds.test{path}"
        assert_same_items_as_rss(feed, client.get(path.removesuffix(".json") + ".rss").content)


def test_every_json_feed_of_the_seeds_is_json_feed_1_1_and_matches_its_rss(seed_client: TestClient):
    check_every_json_feed(seed_client, 1 + 8 + 6)  # all, 8 topics and 6 providers


@needs_corpus
@pytest.mark.slow
def test_every_json_feed_of_the_corpus_is_json_feed_1_1_and_matches_its_rss(client_for: Callable[..., TestClient]):
    client = client_for(CORPUS)
    index = client.app.state.service.index  # type: ignore[attr-defined]
    check_every_json_feed(client, 1 + len(index.feeds(FeedKind.TOPIC)) + len(index.feeds(FeedKind.PROVIDER)))
    # The longest feed there is, too.
    feed = check_json_feed(client.get("/feeds/all.json?limit=500").content)
    assert len(feed["items"]) == min(500, len(index.articles))
    assert_same_items_as_rss(feed, client.get("/feeds/all.rss?limit=500").content)


def rss_twin(url: str) -> str:
    """The RSS feed of the same URL (same page, filters and limit)."""
    path, _, query = url.partition("?")
    return path.removesuffix(".json") + ".rss" + (f"?{query}" if query else "")


def test_every_archive_page_and_filtered_json_feed_is_json_feed_1_1_and_matches_its_rss(seed_client: TestClient):
    """Paged, filtered and combined feeds are JSON feeds served too; a walk never repeats a next_url (the spec)."""
    starts = [
        "/feeds/topics/power-apps.json?limit=4",
        "/feeds/all.json?limit=3&type=video",
        "/feeds/topics/ai+power-apps.json?limit=6&q=app",
        "/feeds/providers/microsoft.com.json?topic=power-apps&limit=5",
    ]
    for start in starts:
        url: str | None = start
        seen: list[str] = []
        for _ in range(100):
            if url is None:
                break
            path = url.removeprefix("http://feeds.test")
            response = seed_client.get(path, headers=IDENTITY)
            assert response.status_code == 200, path
            feed = check_json_feed(response.content)
            assert_same_items_as_rss(feed, seed_client.get(rss_twin(path)).content)
            seen.append(path)
            url = feed.get("next_url")
        assert url is None and len(seen) == len(set(seen)), start
        assert len(seen) > 1, start  # the walk did page


# What one item says, rendered without a server.

WHEN = datetime(2024, 5, 12, 15, 9, tzinfo=UTC)


def make(name: str, **fields: Any) -> Article:
    values: dict[str, Any] = {
        "source": f"{name}.md",
        "title": f"Title {name}",
        "url": f"https://news.example/{name}",
        "published_at": WHEN,
        "updated_at": WHEN,
        "excerpt": f"About {name}.",
        "provider": Provider("Example News", "news.example"),
        "topics": (Topic("Computer Vision", "computer-vision"),),
    }
    values.update(fields)
    return Article(**values)


def render(articles: Sequence[Article], ref: FeedRef = ALL, site: Site | None = None) -> dict[str, Any]:
    index = Index(articles)
    info = index.info(ref)
    assert info is not None
    selected = index.select(ref, 50)
    body = render_json(feed_spec(info, site or Site(), Urls(BASE), "json", 50, selected), selected)
    return check_json_feed(body)


def test_item_carries_the_article_as_the_xml_feeds_do():
    related = Related("Older news", "https://other.example/older", "What came before.", WHEN, Provider("Other", "o.ex"))
    images = (
        Image("https://img.example/a.png", 640, 480, 12_345, "image/webp"),  # the type given wins over the URL
        Image("https://img.example/b.gif"),
        Image("https://img.example/a.png"),  # the same file listed again
        Image("https://img.example/c"),  # the URL names no type
    )
    one = make("one", images=images, related=(related,), updated_at=datetime(2024, 6, 1, tzinfo=UTC))
    item = render([one])["items"][0]
    assert item["id"] == item["url"] == "https://news.example/one"
    assert "external_url" not in item  # no original elsewhere
    assert item["title"] == "Title one"
    assert item["summary"] == "About one."
    assert item["content_html"] == article_html(Index([one]).select(ALL, 1)[0])
    assert item["date_published"] == "2024-05-12T15:09:00+00:00"
    assert item["date_modified"] == "2024-06-01T00:00:00+00:00"
    assert item["authors"] == [{"name": "Example News", "url": "https://news.example/"}]
    assert item["tags"] == ["Computer Vision"]
    assert item["image"] == "https://img.example/a.png"
    assert item["attachments"] == [
        {"url": "https://img.example/a.png", "mime_type": "image/webp", "size_in_bytes": 12_345},
        {"url": "https://img.example/b.gif", "mime_type": "image/gif"},
        {"url": "https://img.example/c", "mime_type": "image/jpeg"},
    ]
    assert item["_feedsvc"] == {
        "related": [
            {
                "title": "Older news",
                "url": "https://other.example/older",
                "summary": "What came before.",
                "date_published": "2024-05-12T15:09:00+00:00",
                "provider": "Other",
            }
        ]
    }


def test_item_without_excerpt_images_provider_topics_or_related_leaves_those_fields_out():
    bare = make("bare", excerpt="", provider=None, topics=())
    item = render([bare])["items"][0]
    assert set(item) == {"id", "url", "title", "content_html", "date_published", "date_modified"}
    assert item["content_html"].startswith('<p><a href="https://news.example/bare">Read the full article')


def test_item_external_url_is_the_original_when_it_differs_from_the_link():
    elsewhere = make("moved", original_url="https://publisher.example/original")
    same = make("same", original_url="https://news.example/same")
    items = {item["id"]: item for item in render([elsewhere, same])["items"]}
    assert items["https://news.example/moved"]["external_url"] == "https://publisher.example/original"
    assert "external_url" not in items["https://news.example/same"]


def test_item_id_is_the_rss_guid_also_for_two_files_with_one_url():
    first = make("a", url="https://news.example/shared", published_at=WHEN.replace(hour=1))
    second = make("b", url="https://news.example/shared")
    index = Index([first, second])
    selected = index.select(ALL, 10)
    info = index.info(ALL)
    assert info is not None
    feed = check_json_feed(render_json(feed_spec(info, Site(), Urls(BASE), "json", 10, selected), selected))
    rss = FORMATS["rss"].render(feed_spec(info, Site(), Urls(BASE), "rss", 10, selected), selected)
    assert [item["id"] for item in feed["items"]] == ["https://news.example/shared#b-md", "https://news.example/shared"]
    assert_same_items_as_rss(feed, rss)


def test_feed_head_names_the_feed_its_page_icons_authors_and_hubs():
    provider = Provider("Example News", "news.example", (Image("https://news.example/logo.gif", 50, 20),))
    articles = [make("one", provider=provider)]
    site = Site(title="Feeds", language="en-GB", hubs=("https://hub.example/",))
    topic = render(articles, FeedRef(FeedKind.TOPIC, "computer-vision"), site)
    assert topic["title"] == "Computer Vision — Feeds"
    assert topic["home_page_url"] == f"{BASE}/topics/computer-vision"
    assert topic["feed_url"] == f"{BASE}/feeds/topics/computer-vision.json"
    assert topic["icon"] == topic["favicon"] == f"{BASE}/cover.png"
    assert topic["authors"] == [{"name": "Feeds", "url": f"{BASE}/"}]
    assert topic["language"] == "en-GB"
    assert topic["hubs"] == [{"type": "WebSub", "url": "https://hub.example/"}]
    assert topic["_feedsvc"] == {"about": f"{BASE}/"}
    assert "next_url" not in topic  # one page
    by_provider = render(articles, FeedRef(FeedKind.PROVIDER, "news.example"), site)
    assert by_provider["favicon"] == "https://news.example/logo.gif"  # its logo, as Atom's <icon>
    assert by_provider["icon"] == f"{BASE}/cover.png"  # a large square one: the logo is neither
    assert by_provider["authors"] == [{"name": "Example News", "url": "https://news.example/"}]
    assert "hubs" not in render(articles)
    art = Site(image="https://cdn.example/art/cover.jpg")
    assert (
        render(articles, FeedRef(FeedKind.TOPIC, "computer-vision"), art)["icon"] == "https://cdn.example/art/cover.jpg"
    )


def test_feed_pages_give_next_url_and_the_other_links_in_the_extension():
    articles = [make("one")]
    index = Index(articles)
    info = index.info(ALL)
    assert info is not None
    spec = feed_spec(info, Site(), Urls(BASE), "json", 50, articles)
    pages = (("next", f"{BASE}/feeds/all.json?page=2"), ("first", f"{BASE}/feeds/all.json"))
    feed = check_json_feed(render_json(replace(spec, pages=pages), articles))
    assert feed["next_url"] == f"{BASE}/feeds/all.json?page=2"
    assert feed["_feedsvc"]["pages"] == {"first": f"{BASE}/feeds/all.json"}
    deeper = (("next", f"{BASE}/feeds/all.json?page=3"), ("first", f"{BASE}/feeds/all.json"))
    second = replace(spec, self_url=f"{BASE}/feeds/all.json?page=2", pages=deeper)
    later = check_json_feed(render_json(second, articles))
    assert f"add {BASE}/feeds/all.json to a feed reader" in later["user_comment"]  # the feed, not this page
    only_previous = check_json_feed(render_json(replace(spec, pages=(("previous", f"{BASE}/p"),)), articles))
    assert "next_url" not in only_previous


def test_render_is_deterministic_and_memoized_items_give_the_same_bytes():
    articles = [make(str(n), images=(Image(f"https://img.example/{n}.jpg"),)) for n in range(20)]
    index = Index(articles)
    info = index.info(ALL)
    assert info is not None
    selected = index.select(ALL, 50)
    spec = feed_spec(info, Site(), Urls(BASE), "json", 50, selected)
    body = render_json(spec, selected)
    assert render_json(spec, selected) == body
    calls: list[str] = []

    def counted(article: Article, urls: Urls) -> str:
        calls.append(article.source)
        return json_item(article, urls)

    assert render_json(spec, selected, counted) == body
    assert len(calls) == len(selected)
    # Compact UTF-8: no ASCII escapes, no spaces between tokens.
    titled = Index([make("e", title="Café — “quoted” \u2028")]).select(ALL, 1)
    raw = render_json(feed_spec(info, Site(), Urls(BASE), "json", 50, titled), titled)
    assert "Café — “quoted” \u2028".encode() in raw
    assert raw == json.dumps(json.loads(raw), ensure_ascii=False, separators=(",", ":")).encode()


# HTTP: the same caching, validators, gzip and CORS as the XML formats.

FEEDS = ["/feeds/all.json", "/feeds/topics/computer-vision.json", "/feeds/providers/reuters.com.json"]
# What a response says about the document (not the Date, nor anything per request).
HEADERS = (
    "access-control-allow-origin",
    "access-control-expose-headers",
    "cache-control",
    "content-encoding",
    "content-security-policy",
    "content-type",
    "etag",
    "last-modified",
    "vary",
    "x-content-type-options",
)


@pytest.mark.parametrize("path", FEEDS)
def test_json_feed_is_served_with_its_type_validators_and_cache_control(seed_client: TestClient, path: str):
    response = seed_client.get(path, headers=IDENTITY)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/feed+json"
    assert response.headers["etag"].startswith('"') and not response.headers["etag"].startswith("W/")
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["vary"] == "Accept-Encoding"  # one media type for everyone
    assert response.headers["access-control-allow-origin"] == "*"
    assert "ETag" in response.headers["access-control-expose-headers"]
    assert "default-src 'none'" in response.headers["content-security-policy"]
    check_json_feed(response.content)


def test_json_feed_revalidates_routed_and_on_the_fast_path(
    client_for: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
):
    client = client_for(REPO / "seeds")
    service = client.app.state.service  # type: ignore[attr-defined]
    path = "/feeds/topics/computer-vision.json?limit=5"
    first = client.get(path, headers=IDENTITY)
    zipped = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.content == first.content
    assert zipped.headers["etag"] == first.headers["etag"][:-1] + '-gzip"'

    def answers() -> list[tuple[int, dict[str, str]]]:
        found = []
        for tag, encoding in ((first.headers["etag"], "identity"), (zipped.headers["etag"], "gzip")):
            response = client.get(path, headers={"If-None-Match": tag, "Accept-Encoding": encoding})
            assert response.content == b""
            found.append((response.status_code, {name: response.headers.get(name) for name in HEADERS}))
        by_date = client.get(path, headers={**IDENTITY, "If-Modified-Since": first.headers["last-modified"]})
        found.append((by_date.status_code, {}))
        stale = client.get(path, headers={**IDENTITY, "If-None-Match": '"stale"'})
        assert stale.content == first.content
        found.append((stale.status_code, {}))
        head = client.head(path, headers=IDENTITY)
        assert head.content == b"" and head.headers["content-length"] == first.headers["content-length"]
        found.append((head.status_code, {}))
        return found

    with monkeypatch.context() as routed_only:
        routed_only.setattr(service, "cached_feed", lambda key: None)  # no fast path: every request is routed
        through_routing = answers()
    assert [status for status, _ in through_routing] == [304, 304, 304, 200, 200]
    for _, headers in through_routing[:2]:
        for name in ("access-control-allow-origin", "access-control-expose-headers", "cache-control", "vary"):
            assert headers[name] == first.headers[name], name

    async def no_routing(scope: object, receive: object, send: object) -> None:
        raise AssertionError("routed a request the fast path should have answered")

    monkeypatch.setattr(client.app, "app", no_routing)
    assert answers() == through_routing  # the fast path answers exactly as routing did


def test_json_feed_is_not_turned_into_xml_for_browsers(seed_client: TestClient):
    reader = seed_client.get("/feeds/all.json", headers=IDENTITY)
    for _ in range(2):  # routed, then the fast path
        browser = seed_client.get("/feeds/all.json", headers={**IDENTITY, "Accept": CHROMIUM_ACCEPT})
        assert browser.headers["content-type"] == "application/feed+json"
        assert browser.headers["etag"] == reader.headers["etag"]
        assert browser.content == reader.content
    rss = seed_client.get("/feeds/all.rss", headers={"Accept": CHROMIUM_ACCEPT})
    assert rss.headers["content-type"] == "application/xml; charset=utf-8"  # XML feeds still become pages


def test_json_feed_cors_preflight_and_unknown_format(seed_client: TestClient):
    preflight = seed_client.options(
        "/feeds/topics/computer-vision.json",
        headers={"Origin": "https://reader.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 204
    assert "If-None-Match" in preflight.headers["access-control-allow-headers"]
    missing = seed_client.get("/feeds/all.jsonfeed")
    assert missing.status_code == 404 and ".json" in missing.text


def test_json_feed_limit_and_self_url(seed_client: TestClient):
    feed = check_json_feed(seed_client.get("/feeds/all.json?limit=2").content)
    assert len(feed["items"]) == 2
    assert feed["feed_url"] == "http://feeds.test/feeds/all.json?limit=2"
    assert seed_client.get("/feeds/all.json?limit=0").status_code == 400


def test_json_feed_changes_with_content_and_keeps_its_etag_otherwise(
    folder: Path, client_for: Callable[..., TestClient]
):
    client = client_for(folder)
    before = client.get("/feeds/topics/computer-vision.json")
    other = client.get("/feeds/providers/microsoft.com.json")
    changed = folder / "new.md"
    changed.write_text(front_matter(article("Fresh vision", topics=["Computer Vision"])), encoding="utf-8")
    client.app.state.service.publisher.refresh([changed])  # type: ignore[attr-defined]
    after = client.get("/feeds/topics/computer-vision.json")
    assert after.headers["etag"] != before.headers["etag"]
    assert check_json_feed(after.content)["items"][0]["title"] == "Fresh vision"
    assert client.get("/feeds/providers/microsoft.com.json").headers["etag"] == other.headers["etag"]


@needs_chromium
@pytest.mark.slow
def test_chromium_shows_a_json_feed_as_its_text(folder: Path, tmp_path: Path):
    """Sent to a browser as application/feed+json, the feed is shown as JSON text, UTF-8 intact
    (sent as application/xml, Chromium would show an XML parse error instead)."""
    server = Server(folder)
    try:
        url = f"{server.url}/feeds/all.json"
        page = open_in_chromium(url, tmp_path / "profile")
        shown = json.loads("".join(pre.text_content() for pre in page.iter("pre")))
        assert shown == httpx.get(url).json()
        assert shown["title"] == "feedsvc — all articles"
    finally:
        server.stop()


# Listed: OPML, autodiscovery, the static export.


def test_opml_lists_the_json_feeds_in_a_folder_of_their_own(seed_client: TestClient):
    opml = etree.fromstring(seed_client.get("/feeds.opml").content)
    folders = [o.get("text") for o in opml.find("body")]
    assert folders == ["RSS 2.0 feeds", "Atom 1.0 feeds", "JSON Feed 1.1 feeds"]
    json_urls = [o.get("xmlUrl") for o in opml.find("body")[2].iter("outline") if o.get("xmlUrl")]
    assert json_urls[0] == "http://feeds.test/feeds/all.json" and len(json_urls) == 15
    rss_versions = {o.get("version") for o in opml.find("body")[0].iter("outline") if o.get("xmlUrl")}
    assert rss_versions == {"RSS2"}


def test_pages_announce_the_json_feed_for_autodiscovery(seed_client: TestClient):
    for path, feed in (("/", "all"), ("/topics/computer-vision", "topics/computer-vision")):
        page = html.fromstring(seed_client.get(path).content)
        found = page.xpath('//head/link[@rel="alternate"][@type="application/feed+json"]/@href')
        assert found == [f"http://feeds.test/feeds/{feed}.json"], path
        assert seed_client.get(found[0]).headers["content-type"] == "application/feed+json"


def test_export_writes_every_json_feed_as_the_server_sends_it(tmp_path: Path, client_for: Callable[..., TestClient]):
    out = tmp_path / "site"
    assert main(["build", str(out), "--content", str(REPO / "seeds"), "--base-url", BASE, "--gzip"]) == 0
    client = client_for(REPO / "seeds", base_url=BASE)
    opml = etree.parse(str(out / "feeds.opml"))
    urls = [o.get("xmlUrl") for o in opml.iter("outline") if str(o.get("xmlUrl")).endswith(".json")]
    assert len(urls) == 15
    for url in urls:
        relative = url.removeprefix(f"{BASE}/")
        written = (out / relative).read_bytes()
        assert written == client.get(f"/{relative}", headers=IDENTITY).content, relative
        assert gzip.decompress((out / f"{relative}.gz").read_bytes()) == written
        check_json_feed(written)
