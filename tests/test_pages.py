"""Pages for people: the home page and its search, topic and provider pages,
robots.txt and the favicon, as a browser, a feed reader and a robot see them."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import feedparser
import html5lib
import pytest
from lxml import etree
from starlette.testclient import TestClient

from feedsvc.cli import main
from feedsvc.render import FORMATS, FeedFormat
from feedsvc.render.xmlfeeds import render_rss
from feedsvc.web.security import PAGE_POLICY
from feedsvc.web.service import SEARCH_CACHE_BYTES

from .conftest import REPO, Server, article
from .test_jsonfeed import check_json_feed

HOST = "http://feeds.test"
PAGES = ["/", "/topics/computer-vision", "/providers/reuters.com", "/?q=power"]


def html_tree(body: bytes) -> etree._Element:
    """Parse a page the way a validator's basic checks would; fail on any problem."""
    # html5lib's strict mode raises on every parse error the HTML standard defines.
    html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(body)
    root = etree.fromstring(body, etree.HTMLParser())
    assert root.get("lang"), "<html> needs a lang attribute"
    ids = [element.get("id") for element in root.iter() if element.get("id")]
    assert len(ids) == len(set(ids)), f"duplicate ids: {sorted(i for i in ids if ids.count(i) > 1)}"
    assert len(root.findall(".//h1")) == 1, "one h1 per page"
    assert root.find(".//script") is None
    for img in root.iter("img"):
        assert img.get("alt") is not None, etree.tostring(img)
    labelled = {label.get("for") for label in root.iter("label")}
    for field in root.iter("input"):
        assert field.get("id") in labelled, f"input without a label: {etree.tostring(field)!r}"
    return root


def links(root: etree._Element) -> list[str]:
    """Every URL a page points at: anchors, link elements, images, form actions."""
    found = [a.get("href") for a in root.iter("a", "link")]
    found += [img.get("src") for img in root.iter("img")]
    found += [form.get("action") for form in root.iter("form")]
    return [url for url in found if url]


def alternates(root: etree._Element) -> dict[str, str]:
    return {link.get("type"): link.get("href") for link in root.iter("link") if link.get("rel") == "alternate"}


@pytest.mark.parametrize("path", PAGES)
def test_pages_parse_cleanly_and_carry_the_page_security_headers(seed_client: TestClient, path: str):
    response = seed_client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html_tree(response.content)
    assert response.headers["content-security-policy"] == PAGE_POLICY
    assert "script-src" not in PAGE_POLICY and "default-src 'none'" in PAGE_POLICY
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/", "/topics/computer-vision"])
def test_pages_every_link_of_ours_answers_200(seed_client: TestClient, path: str):
    root = html_tree(seed_client.get(path).content)
    ours = sorted({url.split("#")[0] for url in links(root) if url.startswith(HOST)})
    assert len(ours) > 5
    for url in ours:
        assert seed_client.get(url.removeprefix(HOST)).status_code == 200, url


def test_home_links_every_topic_and_provider_page_with_newest_headline_and_feeds(seed_client: TestClient):
    root = html_tree(seed_client.get("/").content)
    row = root.find(".//tr[@id='topic-computer-vision']")
    assert row is not None
    hrefs = [a.get("href") for a in row.iter("a")]
    assert hrefs[0] == f"{HOST}/topics/computer-vision"
    # the newest headline, linked to the article
    assert "https://www.reuters.com/" in hrefs[1]
    assert "facial recognition" in "".join(row.itertext())
    assert row.find(".//time").get("datetime").startswith("2022-05-12")
    assert hrefs[2:] == [f"{HOST}/feeds/topics/computer-vision.{fmt}" for fmt in FORMATS]
    provider = root.find(".//tr[@id='provider-reuters.com']")
    assert provider is not None
    assert provider.find(".//a").get("href") == f"{HOST}/providers/reuters.com"


def test_home_offers_the_one_format_opml_lists(seed_client: TestClient):
    root = html_tree(seed_client.get("/").content)
    opml = [url for url in links(root) if "feeds.opml" in url]
    assert opml == [f"{HOST}/feeds.opml?format={fmt}" for fmt in FORMATS]
    for url in opml:
        listed = etree.fromstring(seed_client.get(url.removeprefix(HOST)).content)
        feeds = [o.get("xmlUrl") for o in listed.iter("outline") if o.get("xmlUrl")]
        assert len(feeds) == len(set(feeds)) == 1 + 8 + 6  # each feed once: all, 8 topics, 6 providers


def test_pages_list_every_format_of_the_registry(seed_client: TestClient, monkeypatch: pytest.MonkeyPatch):
    """A format added to FORMATS (as JSON Feed was) appears on the pages by itself."""
    extra = FeedFormat("test", "Test Feed", "application/x-test+xml", "application/xml; charset=utf-8", render_rss)
    monkeypatch.setitem(FORMATS, "test", extra)
    home = html_tree(seed_client.get("/").content)
    assert f"{HOST}/feeds/all.test" in links(home)
    assert f"{HOST}/feeds.opml?format=test" in links(home)
    page = html_tree(seed_client.get("/topics/ai").content)
    assert alternates(page)["application/x-test+xml"] == f"{HOST}/feeds/topics/ai.test"
    assert seed_client.get("/feeds/topics/ai.test").status_code == 200


@pytest.mark.parametrize(("path", "feed"), [("/topics/computer-vision", "topics/computer-vision"), ("/", "all")])
def test_autodiscovery_names_feeds_that_parse_in_every_format(seed_client: TestClient, path: str, feed: str):
    root = html_tree(seed_client.get(path).content)
    found = alternates(root)
    assert found == {fmt.media_type: f"{HOST}/feeds/{feed}.{fmt.extension}" for fmt in FORMATS.values()}
    for url in found.values():
        body = seed_client.get(url.removeprefix(HOST)).content
        if url.endswith(".json"):  # feedparser does not read JSON Feed
            assert check_json_feed(body)["items"], url
            continue
        parsed = feedparser.parse(body)
        assert parsed.bozo == 0 and parsed.entries, url


def test_feeds_alternate_link_is_the_page(seed_client: TestClient):
    for fmt in FORMATS:
        body = seed_client.get(f"/feeds/topics/computer-vision.{fmt}").content
        link = check_json_feed(body)["home_page_url"] if fmt == "json" else feedparser.parse(body).feed.link
        assert link == f"{HOST}/topics/computer-vision"


def test_topic_page_shows_items_with_images_excerpts_and_feed_urls(seed_client: TestClient):
    root = html_tree(seed_client.get("/topics/computer-vision").content)
    assert root.find(".//h1").text == "Computer Vision"
    items = root.findall(".//li[@class='item']")
    assert len(items) == 1
    item = items[0]
    title = item.find(".//h3/a")
    assert title.get("href").startswith("https://www.reuters.com/") and "facial recognition" in title.text
    img = item.find(".//img")
    assert (img.get("loading"), img.get("width"), img.get("height"), img.get("alt")) == ("lazy", "728", "381", "")
    assert "Facial recognition is making a comeback" in "".join(item.itertext())
    topic_links = [a.get("href") for a in item.iter("a")]
    assert f"{HOST}/providers/reuters.com" in topic_links and f"{HOST}/topics/ai" in topic_links
    copyable = [code.text for code in root.iter("code") if code.get("class") == "copy"]
    assert copyable == [f"{HOST}/feeds/topics/computer-vision.{fmt}" for fmt in FORMATS]


def test_provider_page_shows_its_logo_and_articles(seed_client: TestClient):
    root = html_tree(seed_client.get("/providers/microsoft.com").content)
    assert "".join(root.find(".//h1").itertext()).strip() == "Microsoft"
    assert len(root.findall(".//li[@class='item']")) == 33
    assert alternates(root)["application/atom+xml"] == f"{HOST}/feeds/providers/microsoft.com.atom"


def rows(root: etree._Element) -> list[str]:
    return [row.get("id") for row in root.iter("tr") if row.get("id")]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("VISION", ["topic-computer-vision"]),
        ("  Computer   vision ", ["topic-computer-vision"]),
        ("reut", ["provider-reuters.com"]),
        ("ai", ["topic-ai", "topic-ai-builder"]),
        ("zzz-nothing", []),
    ],
)
def test_search_finds_topics_and_providers_by_part_of_their_name(
    seed_client: TestClient, query: str, expected: list[str]
):
    response = seed_client.get("/", params={"q": query})
    assert response.status_code == 200
    root = html_tree(response.content)
    assert rows(root) == expected
    assert root.find(".//input[@id='q']").get("value") == " ".join(query.split())
    assert root.find(".//meta[@name='robots']").get("content") == "noindex"


def test_search_echoes_the_query_as_text(seed_client: TestClient):
    query = '"><script>alert(1)</script><b>x'
    root = html_tree(seed_client.get("/", params={"q": query}).content)
    assert root.find(".//b") is None
    assert root.find(".//input[@id='q']").get("value") == query
    assert query in root.findtext(".//title")


def test_pages_answer_head_without_a_body(seed_client: TestClient):
    for path in PAGES:
        response = seed_client.head(path)
        assert (response.status_code, response.content) == (200, b""), path
        assert response.headers["etag"] == seed_client.get(path).headers["etag"]


def test_search_form_works_without_script(seed_client: TestClient):
    root = html_tree(seed_client.get("/").content)
    form = root.find(".//form")
    assert (form.get("method"), form.get("action")) == ("get", f"{HOST}/")
    assert form.find(".//input").get("name") == "q"
    assert rows(root)  # without a search: everything


@pytest.mark.parametrize(
    ("query", "message"),
    [("x" * 101, "at most 100 characters"), ("a\x00b", "control characters"), ("tab\there", "control characters")],
)
def test_search_refuses_bad_queries_with_a_message(seed_client: TestClient, query: str, message: str):
    response = seed_client.get("/", params={"q": query})
    assert response.status_code == 400
    assert message in response.text
    assert seed_client.get("/?q=a&q=b").status_code == 400


def test_search_flood_stays_out_of_the_feed_cache_and_the_fast_path(seed_client: TestClient):
    service = seed_client.app.state.service  # type: ignore[attr-defined]
    feed = seed_client.get("/feeds/all.rss")
    seed_client.get("/")
    entries, routes = len(service.cache), len(service.routes)
    for i in range(300):
        assert seed_client.get("/", params={"q": f"made up {i}"}).status_code == 200
    assert (len(service.cache), len(service.routes)) == (entries, routes)
    assert service.searches.current_bytes <= SEARCH_CACHE_BYTES
    # and the feed is still served from the cache, unchanged
    assert service.cache.stats.renders == 2
    assert seed_client.get("/feeds/all.rss").headers["etag"] == feed.headers["etag"]
    assert service.cache.stats.renders == 2


def test_search_results_revalidate(seed_client: TestClient):
    first = seed_client.get("/?q=vision")
    again = seed_client.get("/?q=vision", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304


SCRIPT = '<script>alert("x")</script> & <b>bold</b>'


def test_renderer_escapes_whatever_it_is_given():
    """The parser already turns titles and names into plain text; the pages escape anyway."""
    from datetime import UTC, datetime

    from feedsvc.content.model import Article, Image, Provider, Topic
    from feedsvc.core.index import FeedKind, FeedRef, Index
    from feedsvc.render.pages import render_feed_page, render_home, render_not_found
    from feedsvc.render.spec import Site
    from feedsvc.render.urls import Urls

    when = datetime(2024, 1, 2, tzinfo=UTC)
    evil = Article(
        source="evil.md",
        title=SCRIPT,
        url='https://example.org/a?"onmouseover="alert(1)',
        published_at=when,
        updated_at=when,
        excerpt="<img src=x onerror=alert(1)>",
        provider=Provider(SCRIPT, "evil.example", (Image('https://img.example/logo.png" onload="alert(1)'),)),
        topics=(Topic(SCRIPT, "evil"),),
        images=(Image('https://img.example/a.jpg" onerror="alert(1)', 10, 10),),
    )
    index, site, urls = Index([evil]), Site(title=SCRIPT), Urls("https://feeds.example.com")
    formats = list(FORMATS.values())
    pages = [
        render_home(index, site, urls, formats),
        render_home(index, site, urls, formats, "evil"),
        render_feed_page(index, FeedRef(FeedKind.TOPIC, "evil"), site, urls, formats),
        render_feed_page(index, FeedRef(FeedKind.PROVIDER, "evil.example"), site, urls, formats),
        render_not_found(index, FeedRef(FeedKind.TOPIC, SCRIPT), site, urls),
    ]
    for page in pages:
        assert page is not None
        root = html_tree(page)  # no <script> element, and it parses cleanly
        assert root.find(".//b") is None
        assert SCRIPT in "".join(root.find(".//body").itertext())
        for element in root.iter():
            assert not any(name.startswith("on") for name in element.attrib), etree.tostring(element)


@pytest.fixture
def odd(content: Callable[..., Path], client_for: Callable[..., TestClient]) -> TestClient:
    """Plain text that only escaping keeps right: "<" and "&" that are not markup."""
    content(
        "odd.md",
        article(title='x < y & "z" <3', topics=["R&D <3"], provider={"name": "AT&T <3", "domain": "att.example"}),
    )
    return client_for(content("plain.md", article(title="Plain")))


@pytest.mark.parametrize("path", ["/", "/topics/r-d-3", "/providers/att.example", "/?q=r%26d"])
def test_text_with_markup_characters_shows_as_written(odd: TestClient, path: str):
    response = odd.get(path)
    assert response.status_code == 200
    text = "".join(html_tree(response.content).find(".//body").itertext())
    assert "R&D <3" in text
    if path != "/?q=r%26d":  # a search lists the topics and providers it matches, not headlines
        assert "AT&T <3" in text and 'x < y & "z" <3' in text


def test_unknown_topic_gets_a_helpful_html_404(seed_client: TestClient):
    response = seed_client.get("/topics/computr-vision")
    assert response.status_code == 404
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == PAGE_POLICY
    root = html_tree(response.content)
    assert "computr-vision" in root.find(".//h1").text
    assert f"{HOST}/topics/computer-vision" in links(root)  # the close match
    assert f"{HOST}/" in links(root)
    assert seed_client.get("/providers/nowhere.example").status_code == 404
    hostile_name = seed_client.get("/topics/%3Cscript%3Ex%01")
    assert hostile_name.status_code == 404
    html_tree(hostile_name.content)


def test_non_canonical_page_names_redirect(seed_client: TestClient):
    for path, target in (
        ("/topics/Computer_Vision", "/topics/computer-vision"),
        ("/providers/Reuters.COM", "/providers/reuters.com"),
        ("/topics/ai/", "/topics/ai"),
    ):
        response = seed_client.get(path, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (301, f"{HOST}{target}")


@pytest.mark.parametrize("path", [*PAGES[:3], "/robots.txt", "/favicon.ico", "/favicon.svg"])
@pytest.mark.parametrize("encoding", ["gzip", "identity"])
def test_pages_revalidate_with_304_by_etag_and_date(client_for: Callable[..., TestClient], path: str, encoding: str):
    client = client_for(REPO / "seeds")
    full = client.get(path, headers={"Accept-Encoding": encoding})
    assert full.status_code == 200 and full.headers["etag"] and full.headers["last-modified"]
    assert full.headers["cache-control"].startswith("public, max-age=")
    # twice: the first is routed, the second answered by the fast path
    for _ in range(2):
        by_tag = client.get(path, headers={"Accept-Encoding": encoding, "If-None-Match": full.headers["etag"]})
        assert by_tag.status_code == 304
        assert by_tag.headers["content-security-policy"] == full.headers["content-security-policy"]
        by_date = client.get(
            path, headers={"Accept-Encoding": encoding, "If-Modified-Since": full.headers["last-modified"]}
        )
        assert by_date.status_code == 304
    if encoding == "gzip" and path.startswith("/") and not path.startswith("/favicon"):
        assert full.headers.get("content-encoding") == "gzip"


def test_pages_are_on_the_fast_path(seed_client: TestClient):
    service = seed_client.app.state.service  # type: ignore[attr-defined]
    for path in PAGES[:3]:
        seed_client.get(path)
    renders, hits = service.cache.stats.renders, service.cache.stats.hits
    for path in PAGES[:3]:
        seed_client.get(path)
    assert service.cache.stats.renders == renders
    assert service.cache.stats.hits == hits + 3


def test_pages_change_when_the_content_does(folder: Path, client_for: Callable[..., TestClient]):
    client = client_for(folder)
    service: Any = client.app.state.service  # type: ignore[attr-defined]
    before = {path: client.get(path) for path in ("/", "/topics/computer-vision")}
    new = folder / "zz-new.md"
    from .conftest import front_matter

    new.write_text(front_matter(article(title="A brand new vision piece", topics=["Computer Vision"])))
    service.publisher.refresh([new])
    for path, old in before.items():
        response = client.get(path, headers={"If-None-Match": old.headers["etag"]})
        assert response.status_code == 200, path
        assert b"A brand new vision piece" in response.content, path


def test_robots_txt_allows_pages_and_feeds_but_not_searches(seed_client: TestClient):
    response = seed_client.get("/robots.txt")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    lines = [line for line in response.text.splitlines() if line and not line.startswith("#")]
    assert lines == ["User-agent: *", "Allow: /", "Disallow: /?q=", "Disallow: /api/"]
    assert response.text.startswith("#")  # says what it does


def test_favicons(seed_client: TestClient):
    ico = seed_client.get("/favicon.ico")
    assert ico.headers["content-type"] == "image/x-icon"
    assert ico.content[:4] == b"\x00\x00\x01\x00" and b"PNG" in ico.content[:40]
    svg = seed_client.get("/favicon.svg")
    assert svg.headers["content-type"] == "image/svg+xml"
    assert etree.fromstring(svg.content).tag == "{http://www.w3.org/2000/svg}svg"
    # an SVG opened on its own is a document: it may run nothing
    assert svg.headers["content-security-policy"].startswith("default-src 'none'")
    root = html_tree(seed_client.get("/").content)
    icons = [link.get("href") for link in root.iter("link") if link.get("rel") == "icon"]
    assert icons == [f"{HOST}/favicon.svg", f"{HOST}/favicon.ico"]


def test_export_writes_the_pages_the_server_serves(tmp_path: Path, client_for: Callable[..., TestClient]):
    base = "https://feeds.example.com"
    out = tmp_path / "site"
    assert main(["build", str(out), "--content", str(REPO / "seeds"), "--base-url", base]) == 0
    client = client_for(REPO / "seeds", base_url=base)
    for path, file in (
        ("/", "index.html"),
        ("/topics/computer-vision", "topics/computer-vision/index.html"),
        ("/providers/reuters.com", "providers/reuters.com/index.html"),
        ("/robots.txt", "robots.txt"),
        ("/favicon.ico", "favicon.ico"),
        ("/favicon.svg", "favicon.svg"),
    ):
        assert (out / file).read_bytes() == client.get(path, headers={"Accept-Encoding": "identity"}).content, file
    assert len(list(out.glob("topics/*/index.html"))) == 8
    assert len(list(out.glob("providers/*/index.html"))) == 6


# Headless Chromium: the pages as a browser renders them (no script is needed, none runs).

needs_chromium = pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")


def dump_dom(url: str) -> etree._Element:
    result = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", url],
        capture_output=True,
        timeout=120,
        check=True,
    )
    return etree.fromstring(result.stdout, etree.HTMLParser())


@needs_chromium
@pytest.mark.slow
def test_chromium_renders_home_and_topic_page_with_their_links(tmp_path: Path):
    content = tmp_path / "content"
    shutil.copytree(REPO / "seeds", content)
    server = Server(content, watch="off", snapshot="off")
    try:
        home = dump_dom(f"{server.url}/")
        assert home.find(".//h1").text == "feedsvc"
        hrefs = [a.get("href") for a in home.iter("a")]
        assert f"{server.url}/topics/computer-vision" in hrefs
        assert f"{server.url}/feeds/all.rss" in hrefs and f"{server.url}/feeds.opml?format=rss" in hrefs
        assert len(rows(home)) == 8 + 6
        page = dump_dom(f"{server.url}/topics/computer-vision")
        assert page.find(".//h1").text == "Computer Vision"
        titles = [a.text for a in page.iterfind(".//li[@class='item']//h3/a")]
        assert titles == ["U.S. cities are backing off banning facial recognition as crime rises"]
        found = dump_dom(f"{server.url}/?q=vision")
        assert rows(found) == ["topic-computer-vision"]
    finally:
        server.stop()
