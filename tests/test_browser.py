"""Feeds in a browser: the XSLT stylesheet, who gets a feed as a page, and what Chromium shows.

The fast tests transform feeds with lxml, which uses libxslt, the XSLT
processor Chromium has. The slow ones open feeds in real headless Chromium
against a real server, and skip when `chromium` is not on PATH.
"""

from __future__ import annotations

import gzip
import http.server
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import feedparser
import pytest
from lxml import etree, html
from starlette.testclient import TestClient

from feedsvc.export import export
from feedsvc.render.spec import Site
from feedsvc.render.stylesheet import STYLESHEET, stylesheet_bytes, stylesheet_href, xml_prologue
from feedsvc.render.urls import Urls
from feedsvc.web.browser import wants_page
from feedsvc.web.security import FEED_PAGE_POLICY

from .conftest import REPO, Server, article, front_matter

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not on PATH (apt-get install chromium; .ci/run installs it)"
)

# What real clients send (their source, or a capture on loopback for Chromium 156).
BROWSERS = {
    "chromium": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,"
    "*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
    "firefox": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "safari": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
}
READERS = {
    "feedparser": "application/atom+xml,application/rdf+xml,application/rss+xml,application/x-netcdf,"
    "application/xml;q=0.9,text/xml;q=0.2,*/*;q=0.1",
    "simplepie (FreshRSS)": "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, text/html;q=0.7, unknown/unknown;q=0.1, application/unknown;q=0.1, "
    "*/*;q=0.1",
    "miniflux": "application/rss+xml, application/rdf+xml;q=0.9, application/atom+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.7",
    "anything (fetch() in a page, many readers and podcast apps)": "*/*",
    "xml only": "application/xml, text/xml",
    "html refused": "text/html;q=0, */*",
    "html with an unreadable weight": "text/html;q=x",
    "none": "",
}
FEEDS = ["/feeds/all.rss", "/feeds/all.atom", "/feeds/topics/computer-vision.rss", "/feeds/providers/reuters.com.atom"]


@pytest.mark.parametrize("accept", BROWSERS.values(), ids=BROWSERS.keys())
def test_browsers_opening_a_feed_want_a_page(accept: str):
    assert wants_page(accept)


@pytest.mark.parametrize("accept", READERS.values(), ids=READERS.keys())
def test_readers_want_the_feed(accept: str):
    assert not wants_page(accept)


def test_a_request_without_accept_wants_the_feed():
    assert not wants_page(None)


def test_the_stylesheet_is_named_root_relative_below_the_base_path():
    assert stylesheet_href(Urls("http://feeds.test")) == "/feed.xsl"
    assert stylesheet_href(Urls("https://example.com/news")) == "/news/feed.xsl"
    assert xml_prologue(Urls("https://example.com/news")) == (
        "<?xml version='1.0' encoding='UTF-8'?>\n<?xml-stylesheet type=\"text/xsl\" href=\"/news/feed.xsl\"?>\n"
    )


@pytest.mark.parametrize("path", FEEDS)
def test_feeds_name_the_stylesheet_and_readers_still_parse_them_cleanly(seed_client: TestClient, path: str):
    body = seed_client.get(path).content
    assert body.startswith(
        b"<?xml version='1.0' encoding='UTF-8'?>\n<?xml-stylesheet type=\"text/xsl\" href=\"/feed.xsl\"?>\n"
    )
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0 and parsed.entries


@pytest.mark.parametrize("path", FEEDS)
def test_browsers_get_the_same_bytes_as_xml_with_their_own_tags(seed_client: TestClient, path: str):
    kind = "rss" if path.endswith(".rss") else "atom"
    seen: dict[str, str] = {}
    for client, accept in {**READERS, **BROWSERS}.items():
        for encoding in ("gzip", "identity"):
            response = seed_client.get(path, headers={"Accept": accept, "Accept-Encoding": encoding})
            browser = client in BROWSERS
            expected = "application/xml" if browser else f"application/{kind}+xml"
            assert response.headers["content-type"] == f"{expected}; charset=utf-8", client
            assert response.headers["vary"] == "Accept, Accept-Encoding"
            assert response.content == seed_client.get(path).content
            policy = response.headers["content-security-policy"]
            if browser:
                assert policy == FEED_PAGE_POLICY
            else:
                assert policy.startswith("default-src 'none'; frame-ancestors")
            seen.setdefault(response.headers["etag"], f"{expected} {encoding}")
    # One tag per media type and encoding: no cache can hand a browser's copy to a reader.
    assert sorted(seen.values()) == sorted(
        f"{media} {encoding}"
        for media in ("application/xml", f"application/{kind}+xml")
        for encoding in ("gzip", "identity")
    )


def test_a_browsers_copy_revalidates_for_browsers_only(seed_client: TestClient, client_for: Callable[..., TestClient]):
    browser = {"Accept": BROWSERS["firefox"], "Accept-Encoding": "gzip"}
    reader = {"Accept": READERS["miniflux"], "Accept-Encoding": "gzip"}
    page = seed_client.get("/feeds/all.atom", headers=browser)
    feed = seed_client.get("/feeds/all.atom", headers=reader)
    client = client_for(REPO / "seeds")  # same bytes, same tags; its first request is conditional
    revalidated = []
    for _ in range(2):  # routed, then the fast path
        again = client.get("/feeds/all.atom", headers={**browser, "If-None-Match": page.headers["etag"]})
        assert again.status_code == 304 and "content-type" not in again.headers
        revalidated.append(again)
        # A reader's tag names the reader's copy, and a browser's the browser's (RFC 9110 §13.1.2).
        crossed = client.get("/feeds/all.atom", headers={**browser, "If-None-Match": feed.headers["etag"]})
        assert crossed.status_code == 200 and crossed.headers["content-type"].startswith("application/xml")
        crossed = client.get("/feeds/all.atom", headers={**reader, "If-None-Match": page.headers["etag"]})
        assert crossed.status_code == 200 and crossed.headers["content-type"].startswith("application/atom+xml")
        assert (
            client.get("/feeds/all.atom", headers={**reader, "If-None-Match": feed.headers["etag"]}).status_code == 304
        )
    full = client.get("/feeds/all.atom", headers=browser)
    for again in revalidated:  # what the 200 carries but the body's own metadata (RFC 9110 §15.4.5)
        for name in ("etag", "vary", "content-security-policy", "cache-control", "last-modified"):
            assert again.headers[name] == full.headers[name], name


@pytest.mark.parametrize("accept", [BROWSERS["chromium"], READERS["feedparser"], None])
@pytest.mark.parametrize("encoding", ["gzip", "identity"])
def test_the_fast_path_decides_like_routing(
    client_for: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch, accept: str | None, encoding: str
):
    client = client_for(REPO / "seeds")
    headers = {"Accept-Encoding": encoding, **({"Accept": accept} if accept else {})}
    first = client.get("/feeds/topics/ai.rss?limit=5", headers=headers)  # routed, rendered, remembered

    async def no_routing(scope: object, receive: object, send: object) -> None:
        raise AssertionError("routed a request the fast path should have answered")

    monkeypatch.setattr(client.app, "app", no_routing)
    again = client.get("/feeds/topics/ai.rss?limit=5", headers=headers)
    assert (again.status_code, again.content) == (first.status_code, first.content)
    same = {"date": "", "x-request-id": ""}  # every response has its own (web/accesslog.py)
    assert {**again.headers, **same} == {**first.headers, **same}
    # The first of repeated Accept headers decides, as routing's request.headers.get() does.
    raw = [(b"accept", (accept or "*/*").encode()), (b"accept", b"text/html")]
    assert _content_type(client.app, "/feeds/topics/ai.rss", raw) == first.headers["content-type"].encode()


def _content_type(app: object, path: str, headers: list[tuple[bytes, bytes]]) -> bytes:
    """Send one raw GET (limit 5, host feeds.test) to an ASGI app; return its Content-Type."""
    import asyncio

    sent: list[dict[str, object]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"limit=5",
        "root_path": "",
        "headers": [(b"host", b"feeds.test"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("feeds.test", 80),
    }

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))  # type: ignore[operator]
    return dict(sent[0]["headers"])[b"content-type"]  # type: ignore[call-overload,no-any-return]


def test_the_stylesheet_is_served_with_validators_and_long_caching(seed_client: TestClient):
    response = seed_client.get(f"/{STYLESHEET}", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/xsl; charset=utf-8"
    assert response.content == stylesheet_bytes()
    assert int(response.headers["cache-control"].partition("max-age=")[2]) >= 86400
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    again = seed_client.get(f"/{STYLESHEET}", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
    zipped = seed_client.get(f"/{STYLESHEET}", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"


def test_the_stylesheet_uses_no_script_and_never_unescapes():
    stylesheet = etree.fromstring(stylesheet_bytes())
    assert not stylesheet.xpath("//@disable-output-escaping")
    assert not stylesheet.xpath("//*[translate(local-name(), 'SCRIPT', 'script') = 'script']")
    assert not stylesheet.xpath("//@*[starts-with(local-name(), 'on')] | //@*[contains(., 'javascript:')]")
    etree.XSLT(stylesheet)  # compiles


def transform(feed: bytes) -> html.HtmlElement:
    """The page a browser makes of a feed with our stylesheet (libxslt, as in Chromium)."""
    page = etree.XSLT(etree.fromstring(stylesheet_bytes()))(etree.fromstring(feed))
    return html.fromstring(str(page))


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_the_page_shows_the_feed_the_hint_and_every_item_as_a_link(seed_client: TestClient, fmt: str):
    body = seed_client.get(f"/feeds/topics/computer-vision.{fmt}").content
    parsed = feedparser.parse(body)
    page = transform(body)
    assert page.get_element_by_id("feed-title").text_content() == parsed.feed.title
    assert page.get_element_by_id("feed-url").text_content() == f"http://feeds.test/feeds/topics/computer-vision.{fmt}"
    assert page.get_element_by_id("feed-page").get("href") == "http://feeds.test/topics/computer-vision"
    items = page.get_element_by_id("items").findall("li")
    assert [(a.get("href"), a.text_content()) for li in items for a in li.iterfind(".//h3/a")] == [
        (entry.link, entry.title) for entry in parsed.entries
    ]
    first, entry = items[0], parsed.entries[0]
    assert first.find(".//img").get("src") == entry.media_thumbnail[0]["url"]
    assert first.find(".//*[@class='provider']").text_content() == entry.author
    assert [li.text_content() for li in first.iterfind(".//ul[@class='topics']/li")] == [tag.term for tag in entry.tags]
    assert first.find(".//*[@class='excerpt']").text_content() == entry.summary
    day = entry.published_parsed
    assert first.find(".//*[@class='date']").text_content() == f"{day.tm_mday} {_MONTHS[day.tm_mon - 1]} {day.tm_year}"


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

HOSTILE = '<b id="injected">bold</b> & <img id="injected-img" src="x"> "AT&amp;T"'


def _hostile_rss() -> bytes:
    """A feed whose every text carries markup (as text, escaped once like any feed writer does), and links
    that are not http(s): a page must show text only."""
    from xml.sax.saxutils import escape

    text = escape(HOSTILE)
    return f"""<?xml version='1.0' encoding='UTF-8'?>
<?xml-stylesheet type="text/xsl" href="/feed.xsl"?>
<rss xmlns:atom="http://www.w3.org/2005/Atom" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0"><channel>
  <title>{text}</title><link>javascript:alert(1)</link><description>{text}</description>
  <atom:link rel="self" href="http://feeds.test/x&quot;&gt;&lt;b id=&quot;injected-attr&quot;&gt;"/>
  <item><title>{text}</title><link>javascript:alert(1)</link>
    <description>&amp;lt;b id="injected-excerpt"&amp;gt;x&amp;lt;/b&amp;gt;</description>
    <content:encoded>&lt;b id="injected-content"&gt;x&lt;/b&gt;</content:encoded>
    <dc:creator>{text}</dc:creator><category>{text}</category>
    <pubDate>Thu, 05 May 2022 15:09:00 +0000</pubDate></item>
</channel></rss>""".encode()


def _assert_shown_as_text(page: html.HtmlElement) -> None:
    assert not page.xpath("//*[starts-with(@id, 'injected')] | //b | //script")
    assert page.get_element_by_id("feed-title").text_content() == HOSTILE
    assert page.xpath("//h3")[0].text_content() == HOSTILE  # shown, not linked: the link is not http(s)
    assert not page.xpath("//a[starts-with(@href, 'javascript')]")
    assert page.xpath("//*[@class='excerpt']")[0].text_content() == '<b id="injected-excerpt">x</b>'
    assert "injected-attr" in page.get_element_by_id("feed-url").text_content()


def test_hostile_text_in_a_feed_shows_as_text():
    _assert_shown_as_text(transform(_hostile_rss()))


def test_an_excerpt_with_very_many_escapes_is_shown_as_written():
    body = _hostile_rss().replace(b'&amp;lt;b id="injected-excerpt"&amp;gt;x&amp;lt;/b&amp;gt;', b"&amp;amp;" * 5000)
    page = transform(body)  # no recursion past libxslt's limit
    assert page.xpath("//*[@class='excerpt']")[0].text_content() == "&amp;" * 5000


def test_a_static_export_carries_the_stylesheet(folder: Path, tmp_path: Path):
    from feedsvc.core.publisher import Publisher

    publisher = Publisher(folder)
    publisher.load(None)
    export(publisher.index, Site("feedsvc", "en"), "https://feeds.example.com", tmp_path / "out", compress=True)
    assert (tmp_path / "out" / STYLESHEET).read_bytes() == stylesheet_bytes()
    assert gzip.decompress((tmp_path / "out" / f"{STYLESHEET}.gz").read_bytes()) == stylesheet_bytes()
    assert b'href="/feed.xsl"' in (tmp_path / "out" / "feeds" / "all.atom").read_bytes()


# Real headless Chromium


def open_in_chromium(url: str, profile: Path, *extra: str) -> html.HtmlElement:
    """The DOM Chromium has once the page at ``url`` has loaded."""
    assert CHROMIUM is not None
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={profile}",
            *extra,
            "--dump-dom",
            url,
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    return html.fromstring(done.stdout.decode("utf-8") or "<html></html>")  # --dump-dom writes UTF-8


@pytest.fixture
def server(folder: Path, tmp_path: Path) -> Iterator[Server]:
    (folder / "zz-hostile.md").write_text(
        front_matter(
            article(
                title='1 < 2 && "3" > 2 <3',
                webUrl="https://example.org/hostile",
                excerpt="Fish & chips < 5 € > 4",
                topics=["R&D"],
            )
        )
    )
    running = Server(folder, snapshot="off", enclosure_probe="off")  # no requests to image hosts
    yield running
    running.stop()


@needs_chromium
@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_chromium_shows_a_feed_as_a_page_with_its_items_as_links(server: Server, tmp_path: Path, fmt: str):
    import httpx

    url = f"{server.url}/feeds/all.{fmt}"
    parsed = feedparser.parse(httpx.get(url).content)
    page = open_in_chromium(url, tmp_path / "profile")
    assert page.get_element_by_id("feed-title").text_content() == parsed.feed.title
    assert page.get_element_by_id("feed-url").text_content() == url
    links = [(a.get("href"), a.text_content()) for a in page.xpath("//ol[@id='items']/li//h3/a")]
    assert links == [(entry.link, entry.title) for entry in parsed.entries]
    # The article whose text looks like markup is shown as that text.
    assert ("https://example.org/hostile", '1 < 2 && "3" > 2 <3') in links
    assert "Fish & chips < 5 € > 4" in [p.text_content() for p in page.xpath("//*[@class='excerpt']")]
    assert not page.xpath("//script")


@needs_chromium
@pytest.mark.slow
def test_chromium_keeps_hostile_feed_text_as_text_under_our_policy(tmp_path: Path):
    """A feed of markup everywhere, served the way feedsvc serves feeds to browsers."""
    files = {
        "/feed.rss": (_hostile_rss(), "application/xml; charset=utf-8"),
        f"/{STYLESHEET}": (stylesheet_bytes(), "text/xsl; charset=utf-8"),
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body, content_type = files.get(self.path, (b"", "text/plain"))
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Security-Policy", FEED_PAGE_POLICY)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        page = open_in_chromium(f"http://127.0.0.1:{httpd.server_port}/feed.rss", tmp_path / "profile")
    finally:
        httpd.shutdown()
    _assert_shown_as_text(page)


@needs_chromium
@pytest.mark.slow
def test_chromium_without_xslt_shows_the_feed_as_xml(server: Server, tmp_path: Path):
    """When Chromium drops XSLT (deprecated), a feed is still readable: its XML tree viewer."""
    import httpx

    url = f"{server.url}/feeds/all.atom"
    title = feedparser.parse(httpx.get(url).content).feed.title
    page = open_in_chromium(url, tmp_path / "profile", "--disable-features=XSLT")
    assert page.get_element_by_id("xml-viewer-style") is not None
    assert title in page.text_content()
