from __future__ import annotations

from datetime import UTC, datetime

from feedsvc.index import ALL, FeedKind, FeedRef, Index
from feedsvc.model import Article, Provider, Topic


def make(
    source: str, day: int, url: str = "", topics: tuple[str, ...] = (), domain: str = "", published: bool = True
) -> Article:
    when = datetime(2024, 1, day, tzinfo=UTC)
    return Article(
        source=source,
        title=source,
        url=url or f"https://e.org/{source}",
        published_at=when,
        updated_at=when,
        published=published,
        topics=tuple(Topic(t, t.lower().replace(" ", "-")) for t in topics),
        provider=Provider(domain.split(".")[0].title(), domain) if domain else None,
    )


def test_index_orders_newest_first_and_breaks_ties_by_file_name():
    index = Index([make("b", 1), make("c", 3), make("a", 1), make("d", 2)])
    assert [a.source for a in index.select(ALL, 10)] == ["c", "d", "a", "b"]


def test_index_select_honours_limit():
    index = Index([make(str(i), i) for i in range(1, 21)])
    assert [a.source for a in index.select(ALL, 3)] == ["20", "19", "18"]


def test_index_leaves_out_unpublished_but_counts_them():
    index = Index([make("a", 1), make("b", 2, published=False)])
    assert [a.source for a in index.articles] == ["a"]
    assert index.unpublished_count == 1


def test_index_groups_by_topic_and_provider():
    index = Index(
        [
            make("a", 1, topics=("AI", "Computer Vision"), domain="reuters.com"),
            make("b", 2, topics=("AI",), domain="x.com"),
        ]
    )
    assert [a.source for a in index.select(FeedRef(FeedKind.TOPIC, "ai"), 10)] == ["b", "a"]
    assert [a.source for a in index.select(FeedRef(FeedKind.TOPIC, "computer-vision"), 10)] == ["a"]
    assert [a.source for a in index.select(FeedRef(FeedKind.PROVIDER, "reuters.com"), 10)] == ["a"]
    assert index.info(FeedRef(FeedKind.TOPIC, "nope")) is None
    topics = index.feeds(FeedKind.TOPIC)
    assert [(t.name, t.count) for t in topics] == [("AI", 2), ("Computer Vision", 1)]


def test_index_topic_name_is_the_most_used_spelling():
    index = Index(
        [
            make("a", 1, topics=("Power Apps",)),
            make("b", 2, topics=("power apps",)),
            make("c", 3, topics=("Power Apps",)),
        ]
    )
    info = index.info(FeedRef(FeedKind.TOPIC, "power-apps"))
    assert info is not None and info.name == "Power Apps"


def test_index_gives_duplicate_urls_distinct_stable_guids():
    first = make("first.md", 1, url="https://e.org/same")
    second = make("second.md", 2, url="https://e.org/same")
    guids = {a.source: a.guid for a in Index([second, first]).articles}
    assert guids == {"first.md": "https://e.org/same", "second.md": "https://e.org/same#second-md"}


def test_index_info_dates_feed_by_newest_item():
    index = Index([make("a", 1), make("b", 5)])
    info = index.info(ALL)
    assert info is not None and info.updated == datetime(2024, 1, 5, tzinfo=UTC)
    assert Index([]).info(ALL) is not None  # the all-articles feed exists even when empty


def test_index_duplicate_url_with_fragment_keeps_one_fragment():
    first = make("first.md", 1, url="https://e.org/same#top")
    second = make("second.md", 2, url="https://e.org/same#top")
    guids = sorted(a.guid for a in Index([first, second]).articles)
    assert guids == ["https://e.org/same#top", "https://e.org/same#top-second-md"]
