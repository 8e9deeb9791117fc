"""Filtered and combined feeds: ?q=, ?type=, ?since=, a provider narrowed to a ?topic=, unions of
topics (/feeds/topics/a+b.rss); every bad parameter is a 400 that names it; every combination
has its own rel="self" and ETag; and made-up combinations cannot crowd out the plain feeds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from feedsvc.content.model import Article, Provider, Topic
from feedsvc.core.index import ALL, FeedKind, FeedRef, Index
from feedsvc.core.query import FeedQuery, Filters, Position
from feedsvc.web.query import KINDS
from feedsvc.web.service import MIB, QUERY_ROUTES, FeedService

from .conftest import CORPUS, REPO, needs_corpus
from .test_archive import BASE, lasting_headers, links, walked_ids

Keep = Callable[[Article], bool]


def text_has(words: str) -> Keep:
    return lambda a: any(words.casefold() in field.casefold() for field in (a.title, a.excerpt))


def in_topics(*slugs: str) -> Keep:
    return lambda a: any(t.slug in slugs for t in a.topics)


def from_provider(domain: str) -> Keep:
    return lambda a: a.provider is not None and a.provider.domain == domain


def published_since(moment: datetime) -> Keep:
    return lambda a: a.published_at >= moment


def is_video(a: Article) -> bool:
    return a.kind == "video"


def both(*tests: Keep) -> Keep:
    return lambda a: all(test(a) for test in tests)


def expected(index: Index, keep: Keep) -> list[str]:
    """The plain-Python answer: every published article, newest first, that ``keep`` keeps."""
    return [a.guid or a.url for a in index.articles if keep(a)]


SEED_CASES = [
    ("/feeds/all.rss?q=power%20apps", text_has("power apps")),
    ("/feeds/all.atom?q=AI", text_has("ai")),
    ("/feeds/all.rss?q=%20%20Copilot%20", text_has("copilot")),
    ("/feeds/all.rss?type=video", lambda a: a.kind == "video"),
    ("/feeds/all.rss?type=article", lambda a: a.kind == "article"),
    ("/feeds/all.rss?since=2023-06-01", published_since(datetime(2023, 6, 1, tzinfo=UTC))),
    ("/feeds/all.atom?since=2023-06-01T12:00:00%2B02:00", published_since(datetime(2023, 6, 1, 10, tzinfo=UTC))),
    ("/feeds/topics/power-apps.rss?type=video&q=app", both(in_topics("power-apps"), is_video, text_has("app"))),
    ("/feeds/topics/ai+portals.rss", in_topics("ai", "portals")),
    (
        "/feeds/topics/ai-builder+portals+teams-integration.atom",
        in_topics("ai-builder", "portals", "teams-integration"),
    ),
    ("/feeds/topics/ai+power-apps.rss?q=the", both(in_topics("ai", "power-apps"), text_has("the"))),
    ("/feeds/providers/microsoft.com.rss?topic=portals", both(from_provider("microsoft.com"), in_topics("portals"))),
    (
        "/feeds/providers/microsoft.com.atom?topic=Power%20Apps&type=video",
        both(from_provider("microsoft.com"), in_topics("power-apps"), is_video),
    ),
]


@pytest.mark.parametrize(("path", "keep"), SEED_CASES, ids=[path for path, _ in SEED_CASES])
def test_each_filter_keeps_what_a_plain_python_filter_keeps(seed_client: TestClient, path: str, keep: Keep):
    index = seed_client.app.state.service.index  # type: ignore[attr-defined]
    want = expected(index, keep)
    assert walked_ids(seed_client.get, path) == want  # one page (limit 50)
    joiner = "&" if "?" in path else "?"
    assert walked_ids(seed_client.get, f"{path}{joiner}limit=2") == want  # with paging


def test_the_seed_cases_are_not_trivial(seed_client: TestClient):
    """Each filter keeps some articles and drops some, or the comparison above proves little."""
    index = seed_client.app.state.service.index  # type: ignore[attr-defined]
    for keep in (text_has("power apps"), in_topics("ai", "portals"), published_since(datetime(2023, 6, 1, tzinfo=UTC))):
        assert 0 < len(expected(index, keep)) < len(index.articles)
    assert 0 < len(expected(index, lambda a: a.kind == "video")) < len(index.articles)


@needs_corpus
def test_filters_on_the_corpus_keep_what_a_plain_python_filter_keeps(client_for: Callable[..., TestClient]):
    client = client_for(CORPUS)
    index = client.app.state.service.index  # type: ignore[attr-defined]
    topics = sorted(index.feeds(FeedKind.TOPIC), key=lambda info: -info.count)[:4]
    provider = max(index.feeds(FeedKind.PROVIDER), key=lambda info: info.count).ref.key
    middle = index.articles[len(index.articles) // 2].published_at
    cases: list[tuple[str, Keep]] = [
        ("/feeds/all.rss?q=power", text_has("power")),
        ("/feeds/all.rss?type=video", lambda a: a.kind == "video"),
        (f"/feeds/all.atom?since={middle.strftime('%Y-%m-%dT%H:%M:%SZ')}", published_since(middle)),
        (
            f"/feeds/providers/{provider}.rss?topic={topics[0].ref.key}",
            both(from_provider(provider), in_topics(topics[0].ref.key)),
        ),
    ]
    for one in topics:
        for other in topics:
            if one.ref.key < other.ref.key:
                cases.append(
                    (f"/feeds/topics/{one.ref.key}+{other.ref.key}.rss", in_topics(one.ref.key, other.ref.key))
                )
    for path, keep in cases:
        joiner = "&" if "?" in path else "?"
        assert walked_ids(client.get, f"{path}{joiner}limit=25") == expected(index, keep), path


TOKEN = Position(0, "a.md").token()
BAD = [
    ("/feeds/all.rss?utm_source=x", "'utm_source' is not a parameter of a feed"),
    ("/feeds/all.rss?format=rss", "'format' is not a parameter of a feed"),
    ("/feeds/all.rss?Q=ai", "'Q' is not a parameter of a feed"),
    ("/feeds/all.rss?q=a&q=b", "q: give it once"),
    ("/feeds/all.rss?type=video&type=video", "type: give it once"),
    ("/feeds/all.rss?since=2024-01-01&since=2024-01-02", "since: give it once"),
    (f"/feeds/all.rss?page={TOKEN}&page={TOKEN}", "page: give it once"),
    ("/feeds/all.rss?limit=1&limit=2", "limit: give it once"),
    ("/feeds/providers/microsoft.com.rss?topic=ai&topic=ai", "topic: give it once"),
    ("/feeds/all.rss?limit=0", "limit: must be a whole number from 1 to 500"),
    ("/feeds/all.rss?limit=501", "limit: must be a whole number from 1 to 500"),
    ("/feeds/all.rss?limit=ten", "limit: must be a whole number from 1 to 500"),
    ("/feeds/all.rss?q=" + "x" * 101, "q: at most 100 characters"),
    ("/feeds/all.rss?q=", "q: give the words"),
    ("/feeds/all.rss?q=%20%20", "q: give the words"),
    ("/feeds/all.rss?q=a%0Ab", "q: control characters"),
    ("/feeds/all.rss?type=podcast", "type: article or video"),
    ("/feeds/all.rss?type=Video", "type: article or video"),
    ("/feeds/all.rss?type=", "type: article or video"),
    ("/feeds/all.rss?since=yesterday", "since: an ISO 8601 date"),
    ("/feeds/all.rss?since=2024-13-01", "since: an ISO 8601 date"),
    ("/feeds/all.rss?since=", "since: an ISO 8601 date"),
    ("/feeds/all.rss?since=2024-01-01T00:00:00", "since: give the time's zone"),
    ("/feeds/all.rss?since=1800-01-01", "since: a date from 1900 on"),
    ("/feeds/all.rss?since=" + "2" * 41, "since: an ISO 8601 date"),
    ("/feeds/all.rss?page=abc", "page: 'abc' is not a page of any feed"),
    ("/feeds/all.rss?page=", "page: '' is not a page of any feed"),
    (f"/feeds/all.rss?page={TOKEN}%3D", "is not a page of any feed"),  # padded: not our spelling
    ("/feeds/all.rss?topic=ai", "topic: only a provider's feed can be narrowed"),
    ("/feeds/topics/ai.atom?topic=portals", "topic: only a provider's feed can be narrowed"),
    ("/feeds/topics/ai+portals.rss?topic=ai", "topic: only a provider's feed can be narrowed"),
    ("/feeds/providers/microsoft.com.rss?topic=%21%21", "topic: a topic's slug"),
    ("/feeds/topics/" + "+".join(f"t{n}" for n in range(11)) + ".rss", "at most 10 topics"),
]


@pytest.mark.parametrize(("path", "message"), BAD, ids=[path[:60] for path, _ in BAD])
def test_every_bad_parameter_is_a_400_that_names_it(seed_client: TestClient, path: str, message: str):
    response = seed_client.get(path)
    assert response.status_code == 400, response.text
    assert message in response.text


NOT_FOUND = [
    ("/feeds/topics/ai+nope.rss", "no topic 'nope'"),
    ("/feeds/topics/nope+portals.atom?q=x", "no topic 'nope'"),
    ("/feeds/providers/microsoft.com.rss?topic=nope", "no topic 'nope'"),
    ("/feeds/providers/nope.example.rss?q=x", "no provider 'nope.example'"),
    (f"/feeds/all.rss?q=power&page={Position(-(10**15), 'x.md').token()}", "no older items"),
]


@pytest.mark.parametrize(("path", "message"), NOT_FOUND, ids=[path[:60] for path, _ in NOT_FOUND])
def test_unknown_feeds_and_pages_past_the_end_are_404(seed_client: TestClient, path: str, message: str):
    response = seed_client.get(path)
    assert response.status_code == 404 and message in response.text


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/feeds/topics/portals+ai.rss", "/feeds/topics/ai+portals.rss"),
        ("/feeds/topics/AI+Portals.atom?q=x&limit=3", "/feeds/topics/ai+portals.atom?q=x&limit=3"),
        ("/feeds/topics/ai+portals+ai.rss", "/feeds/topics/ai+portals.rss"),
        ("/feeds/topics/ai+AI.rss", "/feeds/topics/ai.rss"),
        ("/feeds/providers/Microsoft.COM.rss?topic=ai", "/feeds/providers/microsoft.com.rss?topic=ai"),
    ],
)
def test_a_union_is_redirected_to_its_one_spelling(seed_client: TestClient, path: str, location: str):
    response = seed_client.get(path, follow_redirects=False)
    assert response.status_code == 301 and response.headers["location"] == BASE + location
    assert seed_client.get(location).status_code == 200


def test_a_filtered_feed_names_itself_by_its_canonical_query(seed_client: TestClient):
    given = "limit=3&since=2020-01-01T02:00:00%2B02:00&type=article&q=%20Power%20%20APPS"
    path = f"/feeds/topics/portals+power-apps.rss?{given}"
    found = links(seed_client.get(path).content)
    query = "q=power%20apps&type=article&since=2020-01-01T00:00:00Z&limit=3"
    assert found["self"] == f"{BASE}/feeds/topics/portals+power-apps.rss?{query}"
    assert found["next"].startswith(f"{BASE}/feeds/topics/portals+power-apps.rss?{query}&page=")
    # the canonical URL is the same document
    assert seed_client.get(found["self"]).content == seed_client.get(path).content


def test_a_union_feed_is_titled_by_its_topics_and_links_to_the_home_page(seed_client: TestClient):
    feed = feedparser.parse(seed_client.get("/feeds/topics/ai+portals.atom").content).feed
    assert feed.title.startswith("AI + Portals")
    assert feed.link == f"{BASE}/"


def test_each_combination_has_its_own_etag_and_revalidates(seed_client: TestClient):
    paths = [
        "/feeds/all.rss",
        "/feeds/all.rss?q=power",
        "/feeds/all.rss?q=power&type=article",
        "/feeds/all.rss?type=article",
        "/feeds/topics/ai+portals.rss",
        "/feeds/topics/ai+portals.rss?limit=2",
    ]
    etags = {}
    for path in paths:
        response = seed_client.get(path)
        etags[path] = response.headers["etag"]
        assert response.headers["access-control-allow-origin"] == "*" and "last-modified" in response.headers
        assert seed_client.get(path, headers={"If-None-Match": response.headers["etag"]}).status_code == 304
    assert len(set(etags.values())) == len(paths)


def test_an_empty_filtered_first_page_is_an_empty_feed(seed_client: TestClient):
    response = seed_client.get("/feeds/all.atom?q=no%20such%20words%20anywhere")
    assert response.status_code == 200
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0 and parsed.entries == [] and "next" not in links(response.content)


@pytest.mark.parametrize(
    "path",
    ["/feeds/topics/ai+portals.atom?q=power&limit=1", "/feeds/providers/microsoft.com.rss?topic=portals&type=article"],
)
def test_filtered_feeds_are_answered_by_the_fast_path_exactly_as_routed(
    seed_client: TestClient, monkeypatch: pytest.MonkeyPatch, path: str
):
    routed = [
        seed_client.get(path, headers=headers) for headers in ({"Accept-Encoding": "identity"}, {"Accept": "text/html"})
    ]

    async def no_routing(scope: object, receive: object, send: object) -> None:
        raise AssertionError("routed a request the fast path should have answered")

    app = seed_client.app.app  # type: ignore[attr-defined]
    monkeypatch.setattr(seed_client.app, "app", no_routing)
    fast = [
        seed_client.get(path, headers=headers) for headers in ({"Accept-Encoding": "identity"}, {"Accept": "text/html"})
    ]
    for one, other in zip(routed, fast, strict=True):
        assert (one.status_code, one.content) == (other.status_code, other.content)
        assert lasting_headers(one) == lasting_headers(other)
    monkeypatch.setattr(seed_client.app, "app", app)


def test_the_fast_path_never_answers_a_request_routing_refuses(seed_client: TestClient):
    assert seed_client.get("/feeds/all.rss?q=power").status_code == 200
    assert seed_client.get("/feeds/all.rss?q=power&q=power").status_code == 400
    assert seed_client.get("/feeds/all.rss?q=power&x=1").status_code == 400
    service: FeedService = seed_client.app.state.service  # type: ignore[attr-defined]
    assert len(service.query_routes) == 1  # only what routing served is remembered


def test_a_flood_of_made_up_combinations_stays_bounded_and_keeps_the_plain_feeds(
    client_for: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
):
    client = client_for(REPO / "seeds", cache_mb=1)
    service: FeedService = client.app.state.service  # type: ignore[attr-defined]
    plain = ["/feeds/all.rss", "/feeds/topics/power-apps.atom", "/feeds/providers/microsoft.com.rss"]
    first = {path: client.get(path).headers["etag"] for path in plain}
    cached, routes = len(service.cache), dict(service.routes)
    # Big documents (every seed article, many pages of which fit nowhere) and small ones (nothing found).
    for n in range(60):
        assert (
            client.get(f"/feeds/all.rss?limit=500&since=2000-01-01T00:00:{n % 60:02d}Z&type=article").status_code == 200
        )
    for n in range(800):
        assert client.get(f"/feeds/all.atom?q={quote(f'nothing {n}')}").status_code == 200
    assert service.queries.current_bytes <= max(MIB // 4, 2 * MIB)
    assert len(service.queries) < 860 and len(service.query_routes) <= QUERY_ROUTES
    assert len(service.cache) == cached and dict(service.routes) == routes  # the plain feeds' cache is untouched

    async def no_routing(scope: object, receive: object, send: object) -> None:
        raise AssertionError("routed a request the fast path should have answered")

    monkeypatch.setattr(client.app, "app", no_routing)
    for path in plain:  # still cached, and still answered by the fast path
        response = client.get(path, headers={"If-None-Match": first[path]})
        assert response.status_code == 304


def test_pages_and_filtered_feeds_advertise_no_websub_hub(client_for: Callable[..., TestClient]):
    """Hubs are told about the plain feeds only: a subscription to a filtered feed would never hear of a change."""
    client = client_for(REPO / "seeds", websub_hub=("https://hub.example/",), base_url="https://feeds.example.com")
    plain = client.get("/feeds/all.atom?limit=5")
    assert "hub" in links(plain.content) and 'rel="hub"' in plain.headers["link"]
    for url in (links(plain.content)["next"], "https://feeds.example.com/feeds/all.atom?q=power"):
        response = client.get(url.removeprefix("https://feeds.example.com"))
        assert "hub" not in links(response.content) and "link" not in response.headers


TOPIC_NAMES = ("Alpha", "Beta", "Gamma", "Delta")


@st.composite
def indexes_and_queries(draw: st.DrawFn) -> tuple[Index, FeedQuery]:
    """A small index with many ties (few dates, shared topics) and any query over it."""
    count = draw(st.integers(0, 30))
    articles = []
    for n in range(count):
        moment = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=draw(st.integers(0, 5)))
        topics = draw(st.lists(st.sampled_from(TOPIC_NAMES), max_size=3, unique=True))
        articles.append(
            Article(
                f"{draw(st.sampled_from('abc'))}{n}.md",
                draw(st.sampled_from(["Red fox", "blue FOX", "Green", "red"])),
                f"https://e.org/{n}",
                moment,
                moment,
                excerpt=draw(st.sampled_from(["", "a fox here", "nothing"])),
                kind=draw(st.sampled_from(KINDS)),
                provider=Provider("P", draw(st.sampled_from(["p.example", "q.example"]))),
                topics=tuple(Topic(name, name.lower()) for name in topics),
            )
        )
    index = Index(articles)
    shape = draw(st.sampled_from(["all", "topic", "union", "provider"]))
    slugs = sorted(
        draw(st.lists(st.sampled_from([t.lower() for t in TOPIC_NAMES]), min_size=1, max_size=3, unique=True))
    )
    if shape == "all":
        refs: tuple[FeedRef, ...] = (ALL,)
    elif shape == "provider":
        refs = (FeedRef(FeedKind.PROVIDER, draw(st.sampled_from(["p.example", "q.example"]))),)
    else:
        refs = tuple(FeedRef(FeedKind.TOPIC, slug) for slug in (slugs if shape == "union" else slugs[:1]))
    filters = Filters(
        text=draw(st.sampled_from(["", "fox", "red"])),
        kind=draw(st.sampled_from(["", *KINDS])),
        since=draw(st.sampled_from([None, datetime(2024, 1, 1, 3, tzinfo=UTC)])),
        topic=draw(st.sampled_from(["", "beta"])) if shape == "provider" else "",
    )
    return index, FeedQuery(refs, draw(st.integers(1, 7)), filters)


def reference_selection(index: Index, query: FeedQuery) -> list[Article]:
    """The query answered the slow, obvious way: every published article, kept or not, in feed order."""
    f = query.filters

    def in_feed(a: Article) -> bool:
        return any(
            ref.kind is FeedKind.ALL
            or (ref.kind is FeedKind.TOPIC and any(t.slug == ref.key for t in a.topics))
            or (ref.kind is FeedKind.PROVIDER and a.provider is not None and a.provider.domain == ref.key)
            for ref in query.refs
        )

    return [
        a
        for a in index.articles
        if in_feed(a)
        and (not f.text or text_has(f.text)(a))
        and (not f.kind or a.kind == f.kind)
        and (f.since is None or a.published_at >= f.since)
        and (not f.topic or in_topics(f.topic)(a))
    ]


@settings(max_examples=300, deadline=None)
@given(indexes_and_queries())
def test_walking_any_query_page_by_page_gives_the_plain_python_selection(case: tuple[Index, FeedQuery]):
    index, first = case
    query = first
    walked: list[Article] = []
    for _ in range(100):
        items, more = index.page(query)
        assert len(items) <= query.limit and (not more or len(items) == query.limit)
        walked += items
        if not more:
            break
        query = query.next(items[-1])
    assert walked == reference_selection(index, first)


def test_a_filtered_feed_says_what_it_keeps_in_its_title(seed_client: TestClient):
    """A reader subscribed to several filters of one feed must tell them apart."""
    feed = feedparser.parse(seed_client.get("/feeds/all.atom?q=Power&type=video&since=2020-01-01").content).feed
    assert feed.title == "feedsvc — all articles (videos, matching “power”, since 2020-01-01T00:00:00Z)"
    feed = feedparser.parse(seed_client.get("/feeds/providers/microsoft.com.rss?topic=portals").content).feed
    assert feed.title.startswith("Microsoft") and "(about portals)" in feed.title
    assert feedparser.parse(seed_client.get("/feeds/all.atom").content).feed.title == "feedsvc — all articles"
