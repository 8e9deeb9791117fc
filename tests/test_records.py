"""Article records (core.records) and the store (core.store): what goes in comes out, exactly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from feedsvc.content.loader import load_folder
from feedsvc.content.model import Article, Image, Problem, Provider, Related, Topic
from feedsvc.core import records
from feedsvc.core.store import MEMO, Store

from .conftest import CORPUS, REPO, needs_corpus

WHEN = datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=UTC)
FULL = Article(
    source="sub/dir/a file.md",
    title="Ünïcode — “quotes” & <tags>",
    url="https://e.org/a?x=1&y=2#frag",
    published_at=WHEN,
    updated_at=datetime(1969, 7, 20, 20, 17, tzinfo=UTC),  # before 1970: negative microseconds
    excerpt="An excerpt\nover lines \U0001f600",
    kind="video",
    published=False,
    provider=Provider("Reuters", "reuters.com", (Image("https://r.com/l.png", 50, 50, 1234, "image/png"),)),
    topics=(Topic("AI", "ai"), Topic("Computer Vision", "computer-vision")),
    images=(Image("https://e.org/1.jpg", 1200, None, None, ""), Image("https://e.org/2.png")),
    related=(
        Related("R1", "https://e.org/r1", "ex", datetime(2020, 1, 1, tzinfo=UTC), Provider("P", "p.org")),
        Related("R2", "https://e.org/r2"),
    ),
    body_html="<p>Body</p>",
    category="news",
    original_url="https://orig.example/a",
    guid="https://e.org/a?x=1&y=2#frag-a-file-md",
    warnings=(Problem("images[1]", "not an image URL", "warning"),),
)


def round_trip(article: Article) -> Article:
    return records.unpack(article.source, records.microseconds(article.published_at), records.pack(article))


def test_a_record_gives_back_every_field():
    assert round_trip(FULL) == FULL
    minimal = Article("m.md", "T", "https://e.org/", WHEN, WHEN)
    assert round_trip(minimal) == minimal


def test_a_record_gives_back_utc_datetimes_that_render_the_same():
    back = round_trip(FULL)
    assert back.published_at.isoformat() == FULL.published_at.isoformat()
    assert back.updated_at.utcoffset() == FULL.updated_at.utcoffset()
    assert back.related[0].published is not None and back.related[0].published.tzinfo is not None


def test_the_head_alone_has_what_keeping_the_index_reads():
    head = records.head(records.pack(FULL))
    assert head == records.Head(FULL.published, FULL.url, FULL.guid, FULL.topics, FULL.provider, FULL.images)


def test_records_share_topics_providers_and_images():
    one, two = round_trip(FULL), round_trip(FULL._replace(source="b.md"))
    assert one.topics[0] is two.topics[0] and one.provider is two.provider and one.images[0] is two.images[0]


def test_every_seed_article_survives_a_record():
    articles = load_folder(REPO / "seeds").articles
    assert articles and all(round_trip(article) == article for article in articles)


@needs_corpus
def test_every_corpus_article_survives_a_record():
    articles = load_folder(CORPUS).articles
    assert len(articles) > 400 and all(round_trip(article) == article for article in articles)


def test_the_store_numbers_articles_and_makes_them_on_demand():
    store = Store()
    first, second = store.add(FULL), store.add(FULL._replace(source="b.md", title="Other"))
    assert (first, second) == (0, 1) and len(store) == 2
    assert store.article(first) == FULL and store.article(second).title == "Other"
    assert store.article(first) is store.article(first)  # remembered while recent
    assert store.key(first) == (-records.microseconds(WHEN), FULL.source)
    assert store.head(second).url == FULL.url


def test_the_store_memo_is_bounded():
    store = Store()
    numbers = [store.add(FULL._replace(source=f"{n}.md")) for n in range(MEMO + 10)]
    for number in numbers:
        store.article(number)
    assert len(store._memo) == MEMO


def test_a_store_let_go_is_freed_without_the_cyclic_collector():
    import gc
    import weakref

    store = Store()
    store.article(store.add(FULL))
    gone = weakref.ref(store)
    gc.disable()  # as in a server, where everything loaded is frozen out of the collector's sight
    try:
        del store
        assert gone() is None
    finally:
        gc.enable()


def test_a_store_over_a_buffer_reads_records_in_place():
    packed = [records.pack(FULL), records.pack(FULL._replace(title="Second"))]
    from array import array
    from itertools import accumulate

    offsets = array("Q", accumulate(map(len, packed), initial=0))
    published = array("q", [records.microseconds(WHEN)] * 2)
    store = Store(memoryview(b"".join(packed)), offsets, [FULL.source, "b.md"], published)
    assert store.article(1).title == "Second" and store.article(0) == FULL
    assert store.add(FULL._replace(source="c.md")) == 2 and store.article(2).source == "c.md"
    with pytest.raises(ValueError, match="one entry per record"):
        Store(b"", offsets, [FULL.source], published)
