"""The HTTP contract, exercised through the real ASGI app."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import feedparser
import pytest
from lxml import etree
from starlette.testclient import TestClient

from .conftest import article, call_asgi, front_matter

FEEDS = ["/feeds/all.rss", "/feeds/all.atom", "/feeds/topics/computer-vision.rss", "/feeds/providers/reuters.com.atom"]
IDENTITY = {"Accept-Encoding": "identity"}


@pytest.mark.parametrize("path", FEEDS)
def test_feed_is_served_with_type_validators_and_cache_control(seed_client: TestClient, path: str):
    response = seed_client.get(path, headers=IDENTITY)
    assert response.status_code == 200
    kind = "rss" if path.endswith(".rss") else "atom"
    assert response.headers["content-type"] == f"application/{kind}+xml; charset=utf-8"
    assert response.headers["etag"].startswith('"') and not response.headers["etag"].startswith("W/")
    assert "last-modified" in response.headers
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["vary"] == "Accept, Accept-Encoding"  # browsers get it as application/xml
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0 and parsed.entries


def test_feed_if_none_match_round_trip(seed_client: TestClient):
    first = seed_client.get("/feeds/all.rss", headers=IDENTITY)
    again = seed_client.get("/feeds/all.rss", headers={**IDENTITY, "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["cache-control"] == "public, max-age=300"
    assert again.headers["last-modified"] == first.headers["last-modified"]


def test_feed_if_modified_since_round_trip(seed_client: TestClient):
    first = seed_client.get("/feeds/all.atom")
    again = seed_client.get("/feeds/all.atom", headers={"If-Modified-Since": first.headers["last-modified"]})
    assert again.status_code == 304
    older = seed_client.get("/feeds/all.atom", headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})
    assert older.status_code == 200


def test_feed_if_none_match_takes_precedence_over_if_modified_since(seed_client: TestClient):
    first = seed_client.get("/feeds/all.rss")
    response = seed_client.get(
        "/feeds/all.rss", headers={"If-None-Match": '"stale"', "If-Modified-Since": first.headers["last-modified"]}
    )
    assert response.status_code == 200


def test_feed_gzip_when_accepted(seed_client: TestClient):
    plain = seed_client.get("/feeds/all.rss", headers=IDENTITY)
    zipped = seed_client.get("/feeds/all.rss", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) < len(plain.content)
    assert zipped.content == plain.content  # httpx decoded it
    assert zipped.headers["etag"] != plain.headers["etag"]
    # Either tag identifies the current version, so either revalidates.
    for tag in (plain.headers["etag"], zipped.headers["etag"]):
        assert seed_client.get("/feeds/all.rss", headers={"If-None-Match": tag}).status_code == 304


def test_feed_head_has_headers_and_no_body(seed_client: TestClient):
    get = seed_client.get("/feeds/all.rss", headers=IDENTITY)
    head = seed_client.head("/feeds/all.rss", headers=IDENTITY)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == get.headers["etag"]
    assert head.headers["content-length"] == str(len(get.content))


@pytest.mark.parametrize("limit", ["0", "501", "abc", "1.5", "-1", "", "٣"])
def test_feed_bad_limit_is_400_with_a_clear_message(seed_client: TestClient, limit: str):
    response = seed_client.get(f"/feeds/all.rss?limit={limit}")
    assert response.status_code == 400
    assert "limit" in response.text and "1 to 500" in response.text


def test_feed_repeated_limit_is_400(seed_client: TestClient):
    assert seed_client.get("/feeds/all.rss?limit=2&limit=3").status_code == 400


@pytest.mark.parametrize("limit", [1, 3, 500])
def test_feed_limit_caps_items(seed_client: TestClient, limit: int):
    entries = feedparser.parse(seed_client.get(f"/feeds/all.atom?limit={limit}").content).entries
    assert len(entries) == min(limit, 39)  # seeds/ has 39 published articles


def test_feed_default_limit_is_50(content: Callable[..., Path], client_for: Callable[..., TestClient]):
    for i in range(60):
        folder = content(f"a{i:02d}.md", article(title=f"Item {i}", publishedDateTime=f"2024-01-01T00:{i:02d}:00Z"))
    entries = feedparser.parse(client_for(folder).get("/feeds/all.rss").content).entries
    assert len(entries) == 50
    assert entries[0].title == "Item 59" and entries[-1].title == "Item 10"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/feeds/topics/no-such-topic.rss", "no topic 'no-such-topic'"),
        ("/feeds/providers/nowhere.example.atom", "no provider 'nowhere.example'"),
        ("/feeds/all.xml", "no feed format 'xml'"),
        ("/feeds/topics/ai.html", "no feed format 'html'"),
        ("/feeds/topics/ai", "no such page"),
        ("/nothing-here", "no such page"),
    ],
)
def test_unknown_feeds_are_404_with_a_clear_message(seed_client: TestClient, path: str, message: str):
    response = seed_client.get(path)
    assert response.status_code == 404
    assert message in response.text


def test_non_canonical_names_redirect_to_the_feed(seed_client: TestClient):
    response = seed_client.get("/feeds/providers/Reuters.COM.rss?limit=5", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == "http://feeds.test/feeds/providers/reuters.com.rss?limit=5"
    response = seed_client.get("/feeds/topics/Computer_Vision.atom", follow_redirects=False)
    assert response.headers["location"] == "http://feeds.test/feeds/topics/computer-vision.atom"


def test_post_is_not_allowed(seed_client: TestClient):
    assert seed_client.post("/feeds/all.rss").status_code == 405


def test_absolute_urls_follow_the_request_host_by_default(client_for: Callable[..., TestClient]):
    from .conftest import REPO

    client = client_for(REPO / "seeds", allowed_hosts=("feeds.test", "other.example"))
    feed = feedparser.parse(client.get("/feeds/all.rss", headers={"Host": "other.example:8080"}).content).feed
    assert [link.href for link in feed.links if link.rel == "self"] == ["http://other.example:8080/feeds/all.rss"]


def test_absolute_urls_use_the_configured_base_url(client_for: Callable[..., TestClient]):
    from .conftest import REPO

    client = client_for(REPO / "seeds", base_url="https://feeds.example.com", allowed_hosts=None)  # any Host
    body = client.get("/feeds/all.atom", headers={"Host": "evil.example"}).content
    feed = feedparser.parse(body).feed
    assert [link.href for link in feed.links if link.rel == "self"] == ["https://feeds.example.com/feeds/all.atom"]
    assert b"evil.example" not in body


def test_hostile_host_header_is_refused(seed_client: TestClient):
    response = seed_client.get("/feeds/all.rss", headers={"Host": 'x"><script>'})
    assert response.status_code == 400


def test_cache_hit_does_no_rendering(seed_client: TestClient, monkeypatch: pytest.MonkeyPatch):
    seed_client.get("/feeds/all.rss")
    service = seed_client.app.state.service  # type: ignore[attr-defined]

    def explode(*args: object) -> bytes:
        raise AssertionError("rendered on a cache hit")

    monkeypatch.setattr(service.cache, "_build", explode)
    for _ in range(3):
        assert seed_client.get("/feeds/all.rss").status_code == 200


def test_different_limits_are_different_cache_entries(seed_client: TestClient):
    a = seed_client.get("/feeds/all.rss?limit=1")
    b = seed_client.get("/feeds/all.rss?limit=2")
    assert a.headers["etag"] != b.headers["etag"]


def test_unknown_query_parameters_are_refused_by_name(seed_client: TestClient):
    """Not ignored: a mistyped filter would otherwise be the whole feed (tests/test_filters.py has the rest)."""
    response = seed_client.get("/feeds/all.rss?utm_source=x")
    assert response.status_code == 400 and "'utm_source' is not a parameter" in response.text


def test_opml_lists_every_feed(seed_client: TestClient):
    response = seed_client.get("/feeds.opml")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/x-opml; charset=utf-8"
    root = etree.fromstring(response.content)
    assert root.get("version") == "2.0"
    urls = {o.get("xmlUrl") for o in root.iter("outline") if o.get("xmlUrl")}
    for path in FEEDS:
        assert f"http://feeds.test{path}" in urls
    assert all(o.get("htmlUrl") and o.get("text") for o in root.iter("outline") if o.get("xmlUrl"))
    # every listed feed answers
    for url in sorted(urls):
        assert seed_client.get(url.removeprefix("http://feeds.test")).status_code == 200


def test_opml_for_one_format(seed_client: TestClient):
    root = etree.fromstring(seed_client.get("/feeds.opml?format=atom").content)
    urls = [o.get("xmlUrl") for o in root.iter("outline") if o.get("xmlUrl")]
    assert urls and all(url.endswith(".atom") for url in urls)
    assert seed_client.get("/feeds.opml?format=html").status_code == 400


def test_home_page_lists_topics_providers_and_autodiscovery(seed_client: TestClient):
    response = seed_client.get("/")
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = etree.fromstring(response.content, etree.HTMLParser())
    alternates = {(link.get("type"), link.get("href")) for link in html.iter("link") if link.get("rel") == "alternate"}
    assert alternates == {
        ("application/rss+xml", "http://feeds.test/feeds/all.rss"),
        ("application/atom+xml", "http://feeds.test/feeds/all.atom"),
        ("application/feed+json", "http://feeds.test/feeds/all.json"),
    }
    row = html.find(".//tr[@id='topic-computer-vision']")  # the anchor older alternate links name
    assert row is not None
    assert ["".join(td.itertext()) for td in row.findall("td")][:2] == ["Computer Vision", "1"]
    hrefs = [a.get("href") for a in row.iter("a")]
    assert hrefs[0] == "http://feeds.test/topics/computer-vision"  # its page (tests/test_pages.py)
    assert hrefs[-3:] == [
        "http://feeds.test/feeds/topics/computer-vision.rss",
        "http://feeds.test/feeds/topics/computer-vision.atom",
        "http://feeds.test/feeds/topics/computer-vision.json",
    ]
    assert html.find(".//tr[@id='provider-reuters.com']") is not None


def test_healthz_reports_counts(content: Callable[..., Path], client_for: Callable[..., TestClient]):
    content("a.md", article(title="A", topics=["One", "Two"]))
    content("b.md", article(title="B", published=False))
    folder = content("bad.md", "---\ntitle: [\n---\n")
    response = client_for(folder).get("/healthz")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    health = response.json()
    assert health["status"] == "ok"
    assert (health["articles"], health["unpublished"], health["topics"], health["providers"]) == (1, 1, 2, 1)
    assert health["skipped_files"] == 1


def test_service_starts_and_serves_with_only_bad_files(
    content: Callable[..., Path], client_for: Callable[..., TestClient]
):
    folder = content("bad.md", "not front matter")
    client = client_for(folder)
    assert client.get("/healthz").json()["skipped_files"] == 1
    assert feedparser.parse(client.get("/feeds/all.rss").content).bozo == 0


def test_unpublished_articles_are_never_served(content: Callable[..., Path], client_for: Callable[..., TestClient]):
    content("a.md", article(title="Visible"))
    folder = content("b.md", article(title="Hidden draft", published=False, topics=["Secret Topic"]))
    client = client_for(folder)
    assert b"Hidden draft" not in client.get("/feeds/all.rss").content
    assert client.get("/feeds/topics/secret-topic.rss").status_code == 404


def test_secured_never_appears_in_any_response(seed_client: TestClient):
    secret = b"EwypnhubM16YNg3x3OEECidd"
    for path in [*FEEDS, "/feeds/topics/ai.rss", "/feeds.opml", "/", "/healthz"]:
        assert secret not in seed_client.get(path, headers=IDENTITY).content


def test_feed_self_link_names_the_document_including_its_limit(seed_client: TestClient):
    for query, expected in (
        ("", "http://feeds.test/feeds/all.atom"),
        ("?limit=5", "http://feeds.test/feeds/all.atom?limit=5"),
    ):
        feed = feedparser.parse(seed_client.get(f"/feeds/all.atom{query}").content).feed
        assert [link.href for link in feed.links if link.rel == "self"] == [expected]


def test_fast_path_answers_repeat_requests_exactly_like_the_first(
    seed_client: TestClient, monkeypatch: pytest.MonkeyPatch
):
    first = seed_client.get("/feeds/topics/ai.atom?limit=5", headers=IDENTITY)
    app = seed_client.app.starlette  # type: ignore[attr-defined]

    async def no_routing(scope: object, receive: object, send: object) -> None:
        raise AssertionError("routed a request the fast path should have answered")

    monkeypatch.setattr(seed_client.app, "app", no_routing)
    again = seed_client.get("/feeds/topics/ai.atom?limit=5", headers=IDENTITY)
    # Every response has its own request id (web/accesslog.py), and its Date the second it is sent.
    assert "date" in again.headers and "date" in first.headers
    same = {"x-request-id": "", "date": ""}
    assert (again.status_code, again.content, {**again.headers, **same}) == (
        first.status_code,
        first.content,
        {**first.headers, **same},
    )
    assert (
        seed_client.get("/feeds/topics/ai.atom?limit=5", headers={"If-None-Match": first.headers["etag"]}).status_code
        == 304
    )
    head = seed_client.head("/feeds/topics/ai.atom?limit=5", headers=IDENTITY)
    assert head.content == b"" and head.headers["content-length"] == first.headers["content-length"]
    zipped = seed_client.get("/feeds/topics/ai.atom?limit=5", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.content == first.content
    monkeypatch.setattr(seed_client.app, "app", app)


def test_fast_path_never_serves_another_hosts_or_an_old_revision(
    content: Callable[..., Path], client_for: Callable[..., TestClient]
):
    folder = content("a.md", article(title="First version"))
    client = client_for(folder, allowed_hosts=("feeds.test", "other.example"))
    assert "First version" in client.get("/feeds/all.rss").text
    other = client.get("/feeds/all.rss", headers={"Host": "other.example"})
    assert "http://other.example/feeds/all.rss" in other.text
    # publish a change the way the watcher does, then ask again: the fast path must not answer from the old revision
    (folder / "a.md").write_text(front_matter(article(title="Second version")))
    client.app.state.service.publisher.refresh([folder / "a.md"])  # type: ignore[attr-defined]
    assert "Second version" in client.get("/feeds/all.rss").text


def test_fast_path_takes_the_first_of_repeated_headers_like_starlette(client_for: Callable[..., TestClient]):
    from .conftest import REPO

    client = client_for(REPO / "seeds", allowed_hosts=("a.test",))
    assert client.get("/feeds/all.rss", headers={"Host": "a.test"}).status_code == 200  # now known to the fast path
    headers = [(b"host", b"bad!host"), (b"host", b"a.test")]
    assert call_asgi(client.app, "GET", "/feeds/all.rss", headers) == 400


def test_cors_preflight_lets_browser_readers_revalidate(seed_client: TestClient):
    response = seed_client.options(
        "/feeds/all.rss",
        headers={
            "Origin": "https://reader.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "if-none-match",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "If-None-Match" in response.headers["access-control-allow-headers"]
    feed = seed_client.get("/feeds/all.rss")
    assert "ETag" in feed.headers["access-control-expose-headers"]


# What a 304 must repeat of the 200 (RFC 9110 §15.4.5), and what browser-based readers need to revalidate.
REPEATED_ON_304 = (
    "access-control-allow-origin",
    "access-control-expose-headers",
    "cache-control",
    "etag",
    "vary",
    "last-modified",
    "content-security-policy",
    "x-content-type-options",
)


@pytest.mark.parametrize("path", [*FEEDS, "/feeds.opml", "/"])
@pytest.mark.parametrize("encoding", ["gzip", "identity"])
def test_not_modified_carries_the_same_cors_and_caching_headers_as_the_200(
    client_for: Callable[..., TestClient], path: str, encoding: str
):
    from .conftest import REPO

    client = client_for(REPO / "seeds")
    full = client.get(path, headers={"Accept-Encoding": encoding})
    # A new client: its first request is conditional, so it is answered by routing, the next by the fast path.
    for _ in range(2):
        revalidated = client.get(path, headers={"Accept-Encoding": encoding, "If-None-Match": full.headers["etag"]})
        assert revalidated.status_code == 304
        for name in REPEATED_ON_304:
            assert revalidated.headers.get(name) == full.headers[name], name
        assert "content-type" not in revalidated.headers and "content-encoding" not in revalidated.headers


def test_every_response_has_a_date_never_earlier_than_its_last_modified(seed_client: TestClient):
    """RFC 9110 §8.8.2.1; first requests of new URLs spread over a few seconds, each stamped as it renders."""
    import time
    from email.utils import parsedate_to_datetime

    deadline = time.monotonic() + 2.5
    limit = 1
    while time.monotonic() < deadline and limit <= 500:
        for path in (f"/feeds/all.rss?limit={limit}", f"/feeds/all.rss?limit={limit}"):  # render, then fast path
            response = seed_client.get(path)
            date = parsedate_to_datetime(response.headers["date"])
            assert parsedate_to_datetime(response.headers["last-modified"]) <= date, path
        limit += 1
        time.sleep(0.01)
    for path in ("/healthz", "/no-such-page", "/feeds/topics/nothing.rss"):
        assert "date" in seed_client.get(path).headers, path


def test_home_page_forbids_script_framing_and_referrers(seed_client: TestClient):
    headers = seed_client.get("/").headers
    policy = headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "script-src" not in policy  # so default-src 'none' forbids every script, inline or not
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/feeds/all.rss", "/feeds.opml", "/healthz", "/nothing", "/feeds/all.rss?limit=0"])
def test_data_responses_may_not_run_or_load_anything(seed_client: TestClient, path: str):
    headers = seed_client.get(path).headers
    assert headers["content-security-policy"].startswith("default-src 'none'; frame-ancestors 'none'")
    assert headers["x-content-type-options"] == "nosniff"
    assert headers.get_list("content-security-policy") == [headers["content-security-policy"]]  # once only
