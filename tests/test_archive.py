"""The whole archive (RFC 5005 §3 paged feeds): every feed links to its older items with
rel="next", and walking those links reaches every article exactly once, also while
articles are added and removed during the walk."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest
from starlette.testclient import TestClient

from feedsvc.content.model import Article, Topic
from feedsvc.core.index import ALL, DEFAULT_WINDOW, FeedKind, FeedRef, Index
from feedsvc.core.query import FeedQuery, Filters, Position
from feedsvc.render.spec import Site, feed_spec
from feedsvc.render.urls import Urls
from feedsvc.render.xmlfeeds import render_atom, render_rss

from .conftest import CORPUS, Server, article, front_matter, needs_corpus, poll_until

BASE = "http://feeds.test"
Get = Callable[[str], httpx.Response]


def links(document: bytes) -> dict[str, str]:
    """A feed document's links by rel (self, next, first...), as feedparser reads them."""
    parsed = feedparser.parse(document)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return {link.rel: link.href for link in parsed.feed.get("links", []) if link.rel != "alternate"}


def walk(get: Get, path: str, base: str = BASE) -> Iterator[tuple[str, Any]]:
    """Follow rel="next" from a feed's first page; yield each page's URL and its feedparser result."""
    url: str | None = base + path
    start = None
    for _ in range(10_000):  # bounded: a loop in the links would otherwise never end
        if url is None:
            return
        response = get(url.removeprefix(base))
        assert response.status_code == 200, (url, response.text)
        parsed = feedparser.parse(response.content)
        assert parsed.bozo == 0, (url, parsed.get("bozo_exception"))
        found = {link.rel: link.href for link in parsed.feed.links}
        if start is None:  # the first page names itself in canonical form, which the next pages link to
            start = found["self"]
        else:
            assert found["self"] == url and found["first"] == start  # each page names itself and the first
        yield url, parsed
        url = found.get("next")
    raise AssertionError("the walk did not end")


def walked_ids(get: Get, path: str) -> list[str]:
    return [entry.id for _, parsed in walk(get, path) for entry in parsed.entries]


# Headers that name one response, not the document: the time, and a request id if a proxy or logger adds one.
PER_RESPONSE = frozenset({"date", "x-request-id"})


def lasting_headers(response: httpx.Response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name not in PER_RESPONSE}


def every_feed(index: Index) -> list[FeedRef]:
    return [ALL] + [info.ref for kind in (FeedKind.TOPIC, FeedKind.PROVIDER) for info in index.feeds(kind)]


def guids(articles: list[Article]) -> list[str]:
    return [a.guid or a.url for a in articles]


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_walk_reaches_every_article_of_every_seed_feed_once(seed_client: TestClient, fmt: str):
    index = seed_client.app.state.service.index  # type: ignore[attr-defined]
    for ref in every_feed(index):
        expected = guids(index.select(ref, 10_000))
        ids = walked_ids(seed_client.get, f"/feeds/{ref.path}.{fmt}?limit=3")
        assert ids == expected, ref  # in feed order: each exactly once, none missing


@needs_corpus
def test_walk_reaches_every_article_of_every_corpus_feed_once(client_for: Callable[..., TestClient]):
    client = client_for(CORPUS)
    index = client.app.state.service.index  # type: ignore[attr-defined]
    for ref in every_feed(index):
        assert walked_ids(client.get, f"/feeds/{ref.path}.rss?limit=20") == guids(index.select(ref, 10_000)), ref
    # the default page size too, on the feed with the most pages
    assert walked_ids(client.get, "/feeds/all.atom") == guids(index.articles)


def test_a_feed_of_one_page_has_no_paging_links(seed_client: TestClient):
    found = links(seed_client.get("/feeds/topics/ai-builder.rss").content)
    assert set(found) == {"self"}
    found = links(seed_client.get("/feeds/all.atom?limit=500").content)
    assert "next" not in found and "first" not in found


def test_the_first_page_links_to_the_second_only_when_older_items_exist(seed_client: TestClient):
    index = seed_client.app.state.service.index  # type: ignore[attr-defined]
    count = index.info(ALL).count
    assert "next" in links(seed_client.get(f"/feeds/all.rss?limit={count - 1}").content)
    assert "next" not in links(seed_client.get(f"/feeds/all.rss?limit={count}").content)


def test_a_page_past_the_end_is_404_not_an_empty_feed(seed_client: TestClient):
    index = seed_client.app.state.service.index  # type: ignore[attr-defined]
    oldest = index.articles[-1]
    response = seed_client.get(f"/feeds/all.rss?page={Position.of(oldest).token()}")
    assert response.status_code == 404
    assert "no older items" in response.text
    ancient = Position(-(10**15), "x.md").token()  # 1938: before every article
    assert seed_client.get(f"/feeds/topics/power-apps.atom?page={ancient}").status_code == 404


def test_a_page_after_a_position_no_article_holds_starts_after_it(seed_client: TestClient):
    """A page names a position, not an article: one deleted during a walk still has a next page."""
    index = seed_client.app.state.service.index  # type: ignore[attr-defined]
    third = index.articles[2]
    gone = Position(Position.of(third).published_us, third.source + "-deleted")  # just after the third
    ids = [
        e.id for e in feedparser.parse(seed_client.get(f"/feeds/all.rss?limit=2&page={gone.token()}").content).entries
    ]
    assert ids == guids(index.articles[3:5])


def test_pages_are_cached_conditional_and_compressed_like_feeds(seed_client: TestClient):
    second = links(seed_client.get("/feeds/all.rss?limit=5").content)["next"].removeprefix(BASE)
    page = seed_client.get(second, headers={"Accept-Encoding": "identity"})
    assert page.status_code == 200
    for header in ("etag", "last-modified", "cache-control", "access-control-allow-origin"):
        assert header in page.headers
    assert seed_client.get(second, headers={"If-None-Match": page.headers["etag"]}).status_code == 304
    since = {"If-Modified-Since": page.headers["last-modified"]}
    assert seed_client.get(second, headers=since).status_code == 304
    zipped = seed_client.get(second, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.content == page.content
    other = seed_client.get(links(page.content)["next"].removeprefix(BASE))
    assert other.headers["etag"] != page.headers["etag"]


def test_a_page_is_answered_by_the_fast_path_exactly_as_routed(
    seed_client: TestClient, monkeypatch: pytest.MonkeyPatch
):
    second = links(seed_client.get("/feeds/topics/power-apps.atom?limit=4").content)["next"].removeprefix(BASE)
    identity = {"Accept-Encoding": "identity"}
    routed = seed_client.get(second, headers=identity)

    async def no_routing(scope: object, receive: object, send: object) -> None:
        raise AssertionError("routed a request the fast path should have answered")

    app = seed_client.app.app  # type: ignore[attr-defined]
    monkeypatch.setattr(seed_client.app, "app", no_routing)
    fast = seed_client.get(second, headers=identity)
    assert (fast.status_code, fast.content) == (routed.status_code, routed.content)
    assert lasting_headers(fast) == lasting_headers(routed)
    assert seed_client.get(second, headers={"If-None-Match": routed.headers["etag"]}).status_code == 304
    monkeypatch.setattr(seed_client.app, "app", app)


def dated(name: str, day: datetime, title: str | None = None) -> dict[str, Any]:
    return article(title or name, publishedDateTime=day.isoformat(), webUrl=f"https://example.org/{name}")


JANUARY = datetime(2024, 1, 1, tzinfo=UTC)


def test_a_change_deep_in_the_archive_revises_that_page_not_the_first(
    content: Callable[..., Path], client_for: Callable[..., TestClient]
):
    for day in range(12):
        folder = content(f"a{day:02d}.md", dated(f"a{day:02d}", JANUARY + timedelta(days=day)))
    client = client_for(folder)
    first = client.get("/feeds/all.rss?limit=3")
    pages = [url.removeprefix(BASE) for url, _ in walk(client.get, "/feeds/all.rss?limit=3")]
    last = client.get(pages[-1])
    (folder / "a01.md").write_text(front_matter(dated("a01", JANUARY + timedelta(days=1), title="Retitled")))
    client.app.state.service.publisher.refresh([folder / "a01.md"])  # type: ignore[attr-defined]
    again = client.get(pages[-1])
    assert "Retitled" in again.text and again.headers["etag"] != last.headers["etag"]
    assert client.get("/feeds/all.rss?limit=3").headers["etag"] == first.headers["etag"]


def test_walk_while_articles_are_added_and_removed_reaches_each_once(tmp_path: Path):
    """On a real server watching its folder: newer articles land on the first page, never
    shifting the older pages; a backdated one is reached at the end; a removed one is not."""
    folder = tmp_path / "content"
    folder.mkdir()
    names = [f"a{day:02d}" for day in range(12)]
    for day, name in enumerate(names):
        (folder / f"{name}.md").write_text(front_matter(dated(name, JANUARY + timedelta(days=day))))
    server = Server(folder)
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            pages = walk(http.get, "/feeds/topics/testing.atom?limit=3", server.url)
            _, first = next(pages)
            walked = [entry.title for entry in first.entries]
            assert walked == ["a11", "a10", "a09"]
            (folder / "new.md").write_text(front_matter(dated("new", JANUARY + timedelta(days=100))))
            (folder / "old.md").write_text(front_matter(dated("old", JANUARY - timedelta(days=100))))
            (folder / "a04.md").unlink()  # on a page not walked yet
            (folder / "a10.md").unlink()  # on the page already walked

            def titles() -> list[str]:
                feed = feedparser.parse(http.get("/feeds/topics/testing.atom?limit=500").content)
                return [entry.title for entry in feed.entries]

            poll_until(titles, lambda found: "new" in found and "old" in found and "a04" not in found, timeout=20)
            walked += [entry.title for _, parsed in pages for entry in parsed.entries]
    finally:
        server.stop()
    assert walked == ["a11", "a10", "a09", "a08", "a07", "a06", "a05", "a03", "a02", "a01", "a00", "old"]


def make(source: str, day: int, **fields: Any) -> Article:
    moment = JANUARY + timedelta(days=day)
    return Article(source, source, f"https://e.org/{source}", moment, moment, **fields)


def test_index_page_bisects_to_the_position_and_reports_more():
    index = Index([make(f"{n:03d}.md", n % 7) for n in range(40)])
    order = list(index.articles)
    query = FeedQuery((ALL,), 5)
    seen: list[Article] = []
    while True:
        items, more = index.page(query)
        seen += items
        if not more:
            break
        query = query.next(items[-1])
    assert seen == order


def test_a_feed_gains_its_next_link_when_an_older_article_makes_it_longer_than_a_page():
    index = Index([make(f"{n:03d}.md", 10) for n in range(DEFAULT_WINDOW)])
    after, diff = index.apply({"old.md": make("old.md", 1)})  # older than all: beyond the first page
    assert ALL in diff.revised and ALL in diff.visible  # the first page now says rel="next"
    assert after.info(ALL).changed != index.info(ALL).changed  # type: ignore[union-attr]


def test_a_change_beyond_every_first_page_keeps_the_revision_but_not_changed():
    index = Index([make(f"{n:03d}.md", n) for n in range(600)])
    oldest = index.articles[-1]
    after, diff = index.apply({oldest.source: oldest._replace(title="New title")})
    assert ALL not in diff.revised
    assert after.info(ALL).revision == index.info(ALL).revision  # type: ignore[union-attr]
    assert after.info(ALL).changed != index.info(ALL).changed  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "position", [Position(0, "a.md"), Position(-(10**12), "dir/ü b.md"), Position(10**17, "x" * 1024)]
)
def test_a_page_token_names_its_position_in_one_spelling(position: Position):
    token = position.token()
    assert Position.from_token(token) == position
    assert token.replace("-", "").replace("_", "").isalnum()  # nothing to escape in a URL


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",  # not a whole base64 quantum of "stamp~source"
        "MTIzfmEubWQ=",  # padded: another spelling of MTIzfmEubWQ
        "MTIzfmEubWQ==",
        "MTIz",  # "123": no source
        "eDEyM35hLm1k",  # "x123~a.md": not a number
        "MTIzfgphLm1k",  # a line break in the source
        "MTIzfmEubWQ" * 200,  # too long
        "MTIzfmEubWQ+",  # standard base64, not URL-safe
        "w6k",  # not "stamp~source"
    ],
)
def test_a_page_token_not_made_by_us_is_refused(token: str):
    with pytest.raises(ValueError):
        Position.from_token(token)


@pytest.mark.parametrize("render", [render_rss, render_atom])
def test_paging_links_are_written_as_atom_links(render: Callable[..., bytes]):
    index = Index([make(f"{n:03d}.md", n) for n in range(10)])
    info = index.info(ALL)
    assert info is not None
    query = FeedQuery((ALL,), 3).next(index.articles[2])
    items, more = index.page(query)
    spec = feed_spec(info, Site(), Urls("https://f.example"), "rss", 3, items, query, more)
    assert [rel for rel, _ in spec.pages] == ["first", "next"]
    found = links(render(spec, items))
    assert found["first"] == "https://f.example/feeds/all.rss?limit=3"
    assert found["next"] == f"https://f.example/feeds/all.rss?limit=3&page={Position.of(items[-1]).token()}"
    assert found["self"] == f"https://f.example/feeds/all.rss?limit=3&page={Position.of(index.articles[2]).token()}"


def test_a_json_feed_walk_by_next_url_reaches_every_article_once(seed_client: TestClient):
    index = seed_client.app.state.service.index  # type: ignore[attr-defined]
    url: str | None = f"{BASE}/feeds/topics/power-apps.json?limit=4"
    ids: list[str] = []
    for _ in range(1_000):
        if url is None:
            break
        response = seed_client.get(url.removeprefix(BASE))
        assert response.status_code == 200
        document = response.json()
        assert document["feed_url"] == url or not ids  # every page after the first names itself
        ids += [item["id"] for item in document["items"]]
        url = document.get("next_url")
    assert ids == guids(index.select(FeedRef(FeedKind.TOPIC, "power-apps"), 10_000))


def test_a_static_export_writes_first_pages_without_paging_links(content: Callable[..., Path], tmp_path: Path):
    """A static host ignores ?page=: a rel="next" there would serve the first page again, and a reader would loop."""
    from feedsvc.content.loader import load_folder
    from feedsvc.export import export

    for day in range(60):
        folder = content(f"a{day:02d}.md", dated(f"a{day:02d}", JANUARY + timedelta(days=day)))
    out = tmp_path / "out"
    export(Index(load_folder(folder).articles), Site(), "https://feeds.example.com", out)
    for name in ("all.rss", "all.atom", "topics/testing.rss"):
        found = links((out / "feeds" / name).read_bytes())
        assert "next" not in found and "first" not in found
    assert "next_url" not in (out / "feeds" / "all.json").read_text()
    assert len(feedparser.parse((out / "feeds" / "all.rss").read_bytes()).entries) == DEFAULT_WINDOW


def test_a_union_is_revised_when_any_of_its_topics_changes_and_only_then():
    a, b, c = (make(f"{name}.md", day, topics=(Topic(name.upper(), name),)) for day, name in enumerate("abc", 1))
    index = Index([a, b, c])
    union = FeedQuery((FeedRef(FeedKind.TOPIC, "a"), FeedRef(FeedKind.TOPIC, "b")))
    before = index.query_revision(union)
    unrelated, _ = index.apply({"c.md": c._replace(title="New")})
    assert unrelated.query_revision(union) == before
    changed, _ = unrelated.apply({"b.md": b._replace(title="New")})
    assert changed.query_revision(union) not in (None, before)
    gone, _ = changed.apply({"a.md": None})
    assert gone.query_revision(union) is None  # topic a has no articles left: no such union


def test_a_rare_search_reads_a_bounded_number_of_articles_a_page_and_the_walk_finds_them_all(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr("feedsvc.core.index.SCAN_BUDGET", 7)
    articles = [make(f"{n:03d}.md", n % 9, excerpt="needle" if n % 10 == 3 else "hay") for n in range(60)]
    index = Index(articles)
    wanted = [a.source for a in index.articles if a.excerpt == "needle"]
    query = FeedQuery((ALL,), 2, Filters(text="needle"))
    seen, pages, empty = [], 0, 0
    while True:
        pages += 1
        items, after = index.page(query)
        assert len(items) <= 2
        seen += [a.source for a in items]
        empty += not items
        if after is None:
            break
        query = query.resume(after)
    assert seen == wanted and empty > 0  # some pages read their 7 articles and found nothing: they still go on
    assert pages >= len(articles) // 7


def test_a_search_page_that_found_nothing_yet_is_served_with_its_next_link(
    content: Callable[..., Path], client_for: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr("feedsvc.core.index.SCAN_BUDGET", 3)
    for n in range(12):  # the oldest alone is a needle
        title = "Needle" if n == 0 else f"Hay {n}"
        folder = content(f"a{n:02d}.md", article(title=title, publishedDateTime=f"2024-01-{n + 1:02d}T00:00:00Z"))
    client = client_for(folder)
    ids = walked_ids(client.get, "/feeds/all.atom?q=needle")
    assert len(ids) == 1
    first = client.get("/feeds/all.atom?q=needle")
    assert first.status_code == 200 and not feedparser.parse(first.content).entries  # nothing in the newest 3
    assert any(link.rel == "next" for link in feedparser.parse(first.content).feed.links)
