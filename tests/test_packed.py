"""A full load packs each article where it was parsed (core.packed): the index built from
what the workers send must be the one built from the articles themselves."""

from __future__ import annotations

import pickle
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsvc.content import loader
from feedsvc.content.loader import load_folder
from feedsvc.content.model import Article, Image, Provider, Topic
from feedsvc.core.index import ALL, FeedKind, Index
from feedsvc.core.packed import Packer, packed, unpacked
from feedsvc.core.sizes import Entry, SizeBook

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"


def _feeds(index: Index) -> dict[object, tuple[object, ...]]:
    """Every feed as readers see it: its name, logo, size, and its articles in order."""
    return {
        info.ref: (info.name, info.logo, info.count, info.updated, tuple(index.select(info.ref, 10_000)))
        for kind in FeedKind
        for info in index.feeds(kind)
    }


def _book_for(articles: list[Article]) -> SizeBook:
    """Sizes known for the first image of every other article."""
    urls = [article.images[0].url for article in articles[::2] if article.images]
    return SizeBook({url: Entry(1000 + n, "image/jpeg", 0.0) for n, url in enumerate(urls)})


def test_a_parallel_load_packed_by_its_workers_builds_the_index_the_articles_build(monkeypatch: pytest.MonkeyPatch):
    serial = load_folder(SEEDS, workers=1)
    book = _book_for(serial.articles)
    assert len(book) > 3
    monkeypatch.setattr("feedsvc.content.loader.PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr("feedsvc.content.loader.CHUNK", 5)  # many chunks: topics arrive as equal, distinct objects
    read_chunk, here = loader._read_chunk, []

    def slow_first_chunk(root: str, files: list[str], convert: object) -> list[object]:
        here.append(len(files))  # this process waits on its first chunk, so that the worker reads most
        if len(here) == 1:
            time.sleep(2)
        return read_chunk(root, files, convert)  # type: ignore[arg-type]

    monkeypatch.setattr("feedsvc.content.loader._read_chunk", slow_first_chunk)
    parallel = load_folder(SEEDS, workers=2, convert=Packer(book))
    assert sum(here) < len(serial.articles) + len(serial.skipped)  # the worker sent some
    assert parallel.signatures == serial.signatures
    assert parallel.skipped == serial.skipped
    from_workers = Index.from_records(parallel.articles)
    from_articles = Index([book.fill(article) for article in serial.articles])
    assert _feeds(from_workers) == _feeds(from_articles)
    assert len(_feeds(from_articles)) > 10
    # The sizes were filled in by the workers.
    lengths = {image.length for article in from_workers.all_articles() for image in article.images}
    assert len(lengths & set(range(1000, 1000 + len(book)))) >= 3


def test_a_packer_travels_with_its_sizes():
    image = Image("https://img.example/a.jpg")
    article = _article("a.md", images=(image,))
    packer = pickle.loads(pickle.dumps(Packer(SizeBook({image.url: Entry(4321, "image/png", 0.0)}))))
    found = unpacked(packer(article))
    assert found.images == (Image(image.url, None, None, 4321, "image/png"),)
    assert found == article._replace(images=found.images)


def _article(
    source: str, day: int = 1, url: str = "", topic: Topic | None = None, images: tuple[Image, ...] = ()
) -> Article:
    when = datetime(2024, 1, day, tzinfo=UTC)
    url = url or f"https://e.org/{source}"
    return Article(
        source,
        source,
        url,
        when,
        when,
        topics=(topic,) if topic else (),
        images=images,
        provider=Provider("E", "e.org"),
        guid=url,
    )


def test_articles_sharing_a_url_get_unique_guids_when_built_from_records():
    shared = "https://e.org/same"
    items = [packed(_article(name, day, shared)) for name, day in (("new.md", 3), ("old.md", 1), ("mid.md", 2))]
    index = Index.from_records(items)
    guids = {article.source: article.guid for article in index.select(ALL, 10)}
    assert guids == {"old.md": shared, "mid.md": f"{shared}#mid-md", "new.md": f"{shared}#new-md"}


def test_a_guid_the_parser_did_not_set_to_the_url_is_set_when_built_from_records():
    item = packed(_article("a.md")._replace(guid="something-else"))
    assert not item.guid_is_url
    (article,) = Index.from_records([item]).select(ALL, 10)
    assert article.guid == article.url


def test_equal_topics_from_different_workers_are_not_counted_as_spellings(monkeypatch: pytest.MonkeyPatch):
    """Topics parsed in different chunks are equal but distinct objects: one spelling, no count."""
    from feedsvc.core import index as index_module

    counted: list[object] = []
    spellings = index_module._spellings
    monkeypatch.setattr(index_module, "_spellings", lambda *args: counted.append(args) or spellings(*args))
    first, second = Topic("Power Apps", "power-apps"), Topic("Power Apps", "power-apps")
    assert first is not second
    items = [packed(_article(f"{n}.md", n + 1, topic=topic)) for n, topic in enumerate((first, second))]
    (info,) = Index.from_records(items).feeds(FeedKind.TOPIC)
    assert (info.name, info.count, counted) == ("Power Apps", 2, [])


def test_equal_topics_from_different_workers_name_the_feed_as_one_object_does():
    # Two chunks' topics: equal values, distinct objects; then a second spelling outvoted.
    first, second, other = (
        Topic("Power Apps", "power-apps"),
        Topic("Power Apps", "power-apps"),
        Topic("power apps", "power-apps"),
    )
    assert first is not second
    items = [packed(_article(f"{n}.md", n + 1, topic=t)) for n, t in enumerate((first, second, other, first))]
    (info,) = Index.from_records(items).feeds(FeedKind.TOPIC)
    assert (info.name, info.count) == ("Power Apps", 4)


_SOURCES = [f"{name}.md" for name in "abcdefg"]
_URLS = [f"https://e.org/{n}" for n in range(3)]
_TOPICS = [None, Topic("Power Apps", "power-apps"), Topic("power apps", "power-apps"), Topic("AI", "ai")]
_LOGO = (Image("https://e.org/logo.png"),)
_PROVIDERS = [
    None,
    Provider("E", "e.org"),
    Provider("e", "e.org"),
    Provider("E", "e.org", _LOGO),
    Provider("F", "f.org"),
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(_SOURCES),
            st.integers(1, 4),  # equal dates: ordered by file name
            st.sampled_from(_URLS),  # shared URLs: guids with fragments
            st.booleans(),
            st.sampled_from(_TOPICS),  # two spellings of one topic
            st.sampled_from(_PROVIDERS),
        ),
        max_size=25,
    )
)
def test_an_index_built_from_records_is_the_one_built_by_changes(specs: list[tuple[object, ...]]) -> None:
    """A full load's build (from_records, a walk in file order) against the edit path (apply),
    which shares none of its code: same feeds, names, logos, order and guids."""
    articles = [
        _article(source, day, url, topic)._replace(published=published, provider=provider)  # type: ignore[arg-type]
        for source, day, url, published, topic, provider in specs
    ]
    built = Index.from_records([packed(article) for article in articles])  # a file given twice: the last counts
    changed, _ = Index([]).apply({article.source: article for article in articles})
    assert _feeds(built) == _feeds(changed)
    assert [(a.source, a.guid) for a in built.all_articles()] == [(a.source, a.guid) for a in changed.all_articles()]
    assert built.unpublished_count == changed.unpublished_count
