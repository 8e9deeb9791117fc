"""The XML writer must say what the feedgen reference renderer says.

Compared by meaning, not by bytes: both documents are put in canonical form
(C14N 2.0, text trimmed), so attribute order, quote style and the spelling of
character references are nobody's spec; element names, nesting, attributes
and text are. That still catches a wrong enclosure type, a wrong date or text
escaped once too often or too little (the RSS Board profile's "&#x26;"
spelling has its own test in test_render.py).

Adding an element feedgen cannot express (a podcast namespace, paging
links) is a change in one place, the writer, plus its name in
BEYOND_REFERENCE and tests of its own through real clients: the comparison
then leaves it out of our document.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from xml.etree import ElementTree

import pytest

from feedsvc.content.loader import load_folder
from feedsvc.content.model import Article
from feedsvc.content.parse import parse_article
from feedsvc.core.index import ALL, FeedKind, Index
from feedsvc.core.query import FeedQuery, Position
from feedsvc.render import xmlfeeds
from feedsvc.render.spec import Site, feed_spec
from feedsvc.render.urls import Urls

from .conftest import CORPUS, FIXTURES, REPO, article, front_matter
from .reference import renderer as reference

PAIRS = {"rss": (reference.render_rss, xmlfeeds.render_rss), "atom": (reference.render_atom, xmlfeeds.render_atom)}
SITES = [
    Site(),
    Site(
        title='A & B <Feeds> "quoted"',
        language="en-GB",
        hubs=("https://hub.example/?a=1&b=2",),
        image="https://img.example/a&b/cover.png",
        owner_email="feeds+podcasts@example.com",
    ),
]


# Elements (Clark names) our writer emits that the reference renderer has no way to write.
BEYOND_REFERENCE: frozenset[str] = frozenset()


def canonical(document: bytes, beyond: frozenset[str] = frozenset()) -> list[str]:
    """The document in canonical form, a line per element, without the elements in ``beyond``."""
    root = ElementTree.fromstring(document)
    for parent in root.iter():
        for child in [child for child in parent if child.tag in beyond]:
            parent.remove(child)
    text = ElementTree.canonicalize(ElementTree.tostring(root, encoding="unicode"), strip_text=True)
    return text.replace("><", ">\n<").splitlines()


def assert_identical(articles: Sequence[Article], site: Site, limit: int = 500) -> int:
    index = Index(articles)
    refs = [ALL] + [info.ref for kind in (FeedKind.TOPIC, FeedKind.PROVIDER) for info in index.feeds(kind)]
    for ref in refs:
        info = index.info(ref)
        assert info is not None
        selected = index.select(ref, limit)
        after = Position.of(selected[-1]) if info.count > limit else None  # then both write rel="next"
        for fmt, (slow, fast) in PAIRS.items():
            spec = feed_spec(info, site, Urls("https://feeds.example.com:8443"), fmt, limit, selected, after=after)
            expected, actual = canonical(slow(spec, selected)), canonical(fast(spec, selected), BEYOND_REFERENCE)
            if expected != actual:
                for number, (left, right) in enumerate(zip(expected, actual, strict=False)):
                    assert left == right, f"{ref} {fmt} element line {number + 1}"
                assert len(expected) == len(actual), f"{ref} {fmt}: one has more elements"
    return len(refs)


@pytest.mark.parametrize("site", SITES, ids=["default", "odd-site"])
def test_identical_on_seeds(site: Site):
    assert assert_identical(load_folder(REPO / "seeds").articles, site) > 10


def test_identical_on_fixtures():
    assert_identical(load_folder(FIXTURES / "content").articles, SITES[1])


@pytest.mark.skipif(not CORPUS.is_dir(), reason="no corpus")
def test_identical_on_the_corpus():
    assert assert_identical(load_folder(CORPUS).articles, SITES[0]) == 22


def test_identical_on_hostile_text():
    weird = [
        article(
            title='Tom & "Jerry" <b>x</b> > y\tz',
            excerpt="a\r\nb & c < d > e \"q\" 'a' ]]> \x85 \u2028 😀",
            webUrl='https://e.org/a?x=1&y="2"',
            provider={"name": "A&B <C>", "domain": "ab.example", "images": [{"url": "https://e.org/l.png?a=1&b=2"}]},
            topics=["R&D", "<Tags>", 'Quote"s'],
            images=[{"url": "https://e.org/i.jpg?a=1&b=2", "width": 10, "height": 20}, {"url": "https://e.org/x.webp"}],
            related=[{"title": 'Rel & "x" <y>\t', "webUrl": "https://e.org/r?a=1&b=2"}],
        ),
        article(title="No extras", provider=None, topics=None, excerpt=None, images=None),
        article(title="Video", type="video", webUrl=None, originalUrl="https://youtube.com/watch?v=1&t=2"),
        article(
            title="Big logo",
            provider={
                "name": "Big",
                "domain": "big.example",
                "images": [{"url": "https://e.org/b.jpg", "width": 600, "height": 600}],
            },
        ),
        article(
            title="SVG logo",
            provider={"name": "Svg", "domain": "svg.example", "images": [{"url": "https://e.org/b.svg"}]},
        ),
        article(title="Provider without domain", provider={"name": "Nameless"}),
    ]
    bodies = ["", "Line one\r\nline two\twith tab & <b>bold</b>\n\n```\ncode < x\n```\n", "", "", "", ""]
    parsed = [
        parse_article(front_matter(data, body), f"{i}.md")
        for i, (data, body) in enumerate(zip(weird, bodies, strict=True))
    ]
    for site in SITES:
        assert_identical(parsed, site)


def test_identical_with_known_image_sizes_and_types():
    """Real sizes and types (front matter or the probe) reach the enclosure and media:content alike."""
    images = [
        {"url": "https://e.org/a.jpg", "width": 1400, "height": 1400},
        {"url": "https://e.org/b?format=png"},
        {"url": "https://e.org/c.PNG"},
    ]
    parsed = parse_article(front_matter(article(title="Sized", images=images)), "sized.md")
    known = [
        parsed._replace(
            images=tuple(image._replace(length=1000 + n, type="image/png") for n, image in enumerate(parsed.images))
        ),
        parsed._replace(
            source="half.md",
            guid="https://e.org/half",
            images=(parsed.images[0]._replace(length=7), *parsed.images[1:]),
        ),
    ]
    for site in SITES:
        assert_identical(known, site)


def test_identical_on_an_archive_page_with_its_paging_links():
    """A page after the first says rel="first" and rel="next" in both renderers (RFC 5005 §3)."""
    articles = [
        parse_article(front_matter(article(title=f"Item {n}", webUrl=f"https://e.org/{n}")), f"{n:02d}.md")
        for n in range(7)
    ]
    index = Index(articles)
    info = index.info(ALL)
    assert info is not None
    query = FeedQuery((ALL,), 2).next(index.articles[1])
    items, more = index.page(query)
    for site in SITES:
        for fmt, (slow, fast) in PAIRS.items():
            spec = feed_spec(info, site, Urls("https://feeds.example.com"), fmt, 2, items, query, more)
            assert [rel for rel, _ in spec.pages] == ["first", "next"]
            assert canonical(slow(spec, items)) == canonical(fast(spec, items), BEYOND_REFERENCE)


def test_identical_on_an_empty_feed():
    assert_identical([], SITES[1])


def test_identical_on_the_synthetic_corpus(tmp_path: Path):
    if not CORPUS.is_dir():
        pytest.skip("no corpus")
    from bench.corpus import generate

    folder = generate(tmp_path / "synthetic", 400, seed=7, source=CORPUS)
    assert_identical(load_folder(folder).articles, SITES[1], limit=50)


def test_identical_with_simultaneous_updates():
    """Both renderers spell repeated atom:updated instants apart the same way."""
    same = [
        parse_article(
            front_matter(
                article(title=f"Same {n}", publishedDateTime="2024-03-01T10:00:00Z", webUrl=f"https://e.org/{n}")
            ),
            f"same-{n}.md",
        )
        for n in range(4)
    ]
    assert_identical(same, SITES[0])


def test_comparison_sees_a_wrong_value_but_not_how_it_is_spelled():
    ours = b'<rss><item><enclosure url="a&amp;b" length="0" type="image/jpeg"/></item></rss>'
    same = b"<rss>\n  <item><enclosure type='image/jpeg' length='0' url='a&#x26;b'></enclosure></item></rss>"
    wrong = b'<rss><item><enclosure url="a&amp;b" length="0" type="image/png"/></item></rss>'
    assert canonical(ours) == canonical(same)
    assert canonical(ours) != canonical(wrong)


def test_comparison_leaves_out_only_what_is_declared_beyond_the_reference():
    reference_doc = b"<rss><channel><title>T</title></channel></rss>"
    ours = b'<rss xmlns:x="urn:x"><channel><title>T</title><x:extra>1</x:extra></channel></rss>'
    assert canonical(ours, frozenset({"{urn:x}extra"})) == canonical(reference_doc)
    assert canonical(ours) != canonical(reference_doc)
