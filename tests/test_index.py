from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from feedsvc.content.model import Article, Image, Provider, Topic
from feedsvc.core.index import ALL, FeedKind, FeedRef, Index


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


def test_index_selected_sources_name_what_select_gives():
    index = Index([make(str(i), i, topics=("Even" if i % 2 == 0 else "Odd",)) for i in range(1, 21)])
    for ref in [ALL, FeedRef(FeedKind.TOPIC, "even"), FeedRef(FeedKind.TOPIC, "missing")]:
        for limit in (0, 3, 50):
            assert index.selected_sources(ref, limit) == [a.source for a in index.select(ref, limit)]
    assert index.selected_sources(FeedRef(FeedKind.TOPIC, "even"), 2) == ["20", "18"]


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


def snapshot(index: Index) -> dict[object, object]:
    """Everything a reader can see, for comparing an incremental index with a rebuilt one."""
    feeds = {}
    for kind in FeedKind:
        for info in index.feeds(kind):
            members = index.select(info.ref, 10_000)
            feeds[info.ref] = (info.name, info.count, info.updated, info.logo, [(a.source, a.guid) for a in members])
    return {"feeds": feeds, "unpublished": index.unpublished_count, "sources": sorted(index.sources())}


SPELLINGS = {"ai": ["AI", "Ai", "AI"], "cloud": ["Cloud"], "data": ["Data", "data"], "apps": ["Apps"]}
TOPIC_POOL = {slug: [Topic(name, slug) for name in names] for slug, names in SPELLINGS.items()}
PROVIDER_POOL = {
    domain: [
        Provider(domain[0].upper(), domain),
        Provider(domain[0].upper(), domain, (Image(f"https://{domain}/logo.png"),)),
        Provider(f"{domain[0].upper()} Inc", domain, (Image(f"https://{domain}/new.png"),)),
        Provider(domain[0].upper(), domain),  # equal to the first, another object
    ]
    for domain in ("a.com", "b.org")
}


@pytest.mark.parametrize(("fold", "keys"), [(3, 2**64), (8192, 2**64), (8192, 3)])
def test_index_apply_matches_a_full_rebuild_over_random_changes(monkeypatch: pytest.MonkeyPatch, fold: int, keys: int):
    import random

    from feedsvc.core import packed as packed_module

    # Folded often, and now and then restored from its parts (what a snapshot saves): neither changes what readers see.
    monkeypatch.setattr("feedsvc.core.layered.FOLD", fold)
    # With 3 keys, most URLs share their key with others, as two URLs in 2**64 would.
    url_key = packed_module.url_key
    monkeypatch.setattr(packed_module, "url_key", lambda url: url_key(url) % keys)
    rng = random.Random(20261126)
    files: dict[str, Article] = {}
    index = Index([])
    for step in range(400):
        source = f"f{rng.randrange(40)}.md"
        if source in files and rng.random() < 0.25:
            del files[source]
            change: Article | None = None
        else:
            change = make(
                source,
                rng.randrange(1, 28),
                url=f"https://e.org/{rng.randrange(30)}",  # collisions exercise guid assignment
                topics=tuple(rng.sample(["AI", "Cloud", "Data", "Apps"], rng.randrange(0, 3))),
                domain=rng.choice(["", "a.com", "b.org"]),
                published=rng.random() > 0.2,
            )
            # Spellings and logos differ now and then; objects are mostly shared, as parsed ones are.
            topics = tuple(
                rng.choice(TOPIC_POOL[t.slug]) if rng.random() < 0.9 else Topic(t.name.upper(), t.slug)
                for t in change.topics
            )
            provider = change.provider and rng.choice(PROVIDER_POOL[change.provider.domain])
            change = change._replace(topics=topics, provider=provider)
            files[source] = change
        index, _ = index.apply({source: change})
        if step % 37 == 36:
            index = Index.restore(index.parts())
        assert snapshot(index) == snapshot(Index(files.values())), f"step {step}"


def test_index_counts_an_article_once_in_a_topic_it_lists_twice():
    twice = make("a.md", 1, topics=("AI",))
    twice = twice._replace(topics=twice.topics * 2)
    index = Index([twice, make("b.md", 2, topics=("AI",))])
    assert [a.source for a in index.select(FeedRef(FeedKind.TOPIC, "ai"), 10)] == ["b.md", "a.md"]
    assert index.info(FeedRef(FeedKind.TOPIC, "ai")).count == 2  # type: ignore[union-attr]


def test_index_apply_revises_only_feeds_whose_output_changes():
    a = make("a.md", 1, topics=("AI",), domain="x.com")
    b = make("b.md", 2, topics=("Cloud",), domain="y.com")
    index = Index([a, b])
    before = {ref: index.info(ref).revision for ref in (ALL, *(i.ref for k in FeedKind for i in index.feeds(k)))}  # type: ignore[union-attr]
    edited = make("b.md", 3, topics=("Cloud",), domain="y.com")
    after, diff = index.apply({"b.md": edited})
    cloud, ai = FeedRef(FeedKind.TOPIC, "cloud"), FeedRef(FeedKind.TOPIC, "ai")
    assert diff.revised == {ALL, cloud, FeedRef(FeedKind.PROVIDER, "y.com")}
    assert diff.visible == diff.revised
    assert after.info(ai).revision == before[ai]  # type: ignore[union-attr]
    assert after.info(cloud).revision != before[cloud]  # type: ignore[union-attr]
    assert [x.source for x in index.select(ALL, 5)] == ["b.md", "a.md"]  # the old snapshot is untouched


def test_index_apply_same_content_changes_nothing():
    a = make("a.md", 1, topics=("AI",))
    index = Index([a])
    after, diff = index.apply({"a.md": make("a.md", 1, topics=("AI",))})
    assert diff.revised == frozenset() and after.info(ALL).revision == index.info(ALL).revision  # type: ignore[union-attr]


def test_index_apply_removes_empty_feeds_and_keeps_all():
    index = Index([make("a.md", 1, topics=("AI",), domain="x.com")])
    after, diff = index.apply({"a.md": None})
    assert after.info(FeedRef(FeedKind.TOPIC, "ai")) is None
    assert diff.removed == {FeedRef(FeedKind.TOPIC, "ai"), FeedRef(FeedKind.PROVIDER, "x.com")}
    assert after.info(ALL) is not None and after.select(ALL, 5) == []


def test_index_apply_beyond_the_default_window_is_not_visible():
    articles = [make(f"{i:03d}.md", 1 + i % 27, url=f"https://e.org/{i}") for i in range(120)]
    index = Index(articles)
    oldest = index.select(ALL, 500)[-1]
    retitled = make(oldest.source, oldest.published_at.day, url=oldest.url)._replace(title="New title")
    _, diff = index.apply({oldest.source: retitled})
    assert ALL in diff.revised and ALL not in diff.visible


def test_index_orders_dates_to_the_microsecond_in_full_and_incremental_builds():
    """Float timestamps lose microseconds far from 1970; the order must not."""
    base = datetime(2300, 1, 1, tzinfo=UTC)
    articles = [
        make(source, 1)._replace(published_at=base + timedelta(microseconds=n), updated_at=base)
        for source, n in (("a.md", 1), ("b.md", 2), ("c.md", 3))
    ]
    full = Index(articles)
    incremental = Index([])
    for article in reversed(articles):
        incremental, _ = incremental.apply({article.source: article})
    assert [a.source for a in full.articles] == ["c.md", "b.md", "a.md"]
    assert [a.source for a in incremental.articles] == ["c.md", "b.md", "a.md"]


def test_index_listing_matches_filtering_every_article():
    import random

    from feedsvc.core.index import sort_key

    rng = random.Random(7)
    articles = [
        make(
            f"f{n}.md",
            rng.randrange(1, 28),
            topics=tuple(rng.sample(["AI", "Cloud", "Data"], rng.randrange(0, 3))),
            domain=rng.choice(["", "a.com", "b.org"]),
            published=rng.random() > 0.3,
        )
        for n in range(120)
    ]
    index = Index(articles)
    index, _ = index.apply({"f3.md": None, "new.md": make("new.md", 5, topics=("AI",), published=False)})
    everything = sorted(index.all_articles(), key=sort_key)
    for topic in (None, "ai", "cloud", "nope"):
        for provider in (None, "a.com", "b.org"):
            for published in (None, True, False):
                expected = [
                    a.source
                    for a in everything
                    if (topic is None or any(t.slug == topic for t in a.topics))
                    and (provider is None or (a.provider is not None and a.provider.domain == provider))
                    and (published is None or a.published is published)
                ]
                count, found = index.listing(topic, provider, published)
                assert (count, [a.source for a in found]) == (len(expected), expected), (topic, provider, published)
