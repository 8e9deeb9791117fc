"""What the first request of a feed does faster gives what it gave before: dates, escaping, records, next links."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import feedparser
import pytest
from starlette.testclient import TestClient

from feedsvc.content.model import Article, Image, Problem, Provider, Related, Topic
from feedsvc.core import records
from feedsvc.core.store import MEMO, Store
from feedsvc.render.content import article_html
from feedsvc.render.urls import Urls
from feedsvc.render.xmlfeeds import atom_entry, rfc822, rss_item

from .conftest import article

WHEN = datetime(2024, 5, 12, 15, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "spelled"),
    [
        (WHEN, "Sun, 12 May 2024 15:09:00 +0000"),
        (datetime(2024, 5, 12, 17, 9, tzinfo=timezone(timedelta(hours=2))), "Sun, 12 May 2024 17:09:00 +0200"),
        (datetime(2024, 5, 12, 15, 9, tzinfo=timezone.utc), "Sun, 12 May 2024 15:09:00 +0000"),  # noqa: UP017
    ],
)
def test_rfc822_spells_each_zone_as_strftime_does(moment: datetime, spelled: str):
    assert rfc822(moment) == spelled
    assert spelled.endswith(moment.strftime("%z"))


@pytest.mark.parametrize("year", [999, 1000, 2024])
def test_a_related_links_date_is_spelled_as_strftime_spells_it(year: int):
    published = datetime(year, 3, 4, tzinfo=UTC)
    html = article_html(
        Article("a.md", "T", "https://e.org/a", WHEN, WHEN, related=(Related("R", "https://e.org/r", "", published),))
    )
    assert f"({published.strftime('%Y-%m-%d')})" in html


def test_names_escaped_once_each_are_escaped_in_every_item():
    # Topic and provider names, domains and media types are escaped through small caches: the same
    # value escaped for one format must never reach another format's item.
    provider = Provider("A & B <News>", "a-b.example")
    tricky = Article(
        "a.md",
        "T",
        "https://e.org/a?x=1&y=2",
        WHEN,
        WHEN,
        excerpt="E",
        provider=provider,
        topics=(Topic("R&D <Labs>", "r-d-labs"),),
        images=(Image("https://e.org/i.jpg", type="image/x&y"),),
    )
    urls = Urls("https://feeds.example")
    for _ in range(2):  # the second time from the caches
        rss = rss_item(tricky, urls)
        atom = atom_entry(tricky, urls)
        assert "<category>R&#x26;D &#x3C;Labs&gt;</category>" in rss
        assert "<dc:creator>A &#x26; B &#x3C;News&gt;</dc:creator>" in rss
        assert 'type="image/x&#x26;y"' in rss
        assert "<link>https://e.org/a?x=1&#x26;y=2</link>" in rss
        assert '<guid isPermaLink="true">https://e.org/a?x=1&#x26;y=2</guid>' in rss
        assert '<category term="R&amp;D &lt;Labs&gt;"/>' in atom
        assert "<name>A &amp; B &lt;News&gt;</name>" in atom
        assert 'type="image/x&amp;y"' in atom
        assert "on A &amp;amp; B &amp;lt;News&amp;gt;&lt;/a&gt;&lt;/p&gt;" in atom  # escaped as HTML, then as XML


def test_an_items_guid_differs_from_its_link_when_the_file_names_it_apart():
    urls = Urls("https://feeds.example")
    apart = Article("b.md", "T", "https://e.org/a&b", WHEN, WHEN, guid="https://e.org/a&b#b-md")
    assert '<guid isPermaLink="true">https://e.org/a&#x26;b#b-md</guid>' in rss_item(apart, urls)
    assert "<link>https://e.org/a&#x26;b</link>" in rss_item(apart, urls)


def test_a_record_made_without_named_tuple_constructors_has_every_field_and_type():
    full = Article(
        "a.md",
        "T",
        "https://e.org/a",
        WHEN,
        WHEN + timedelta(hours=1),
        related=(Related("R", "https://e.org/r", "x", WHEN, Provider("P", "p.org")), Related("S", "https://e.org/s")),
        warnings=(Problem("images[0]", "bad", "warning"), Problem("", "no field")),
    )
    for original in (full, full._replace(updated_at=WHEN, related=(), warnings=())):
        back = records.unpack(original.source, records.microseconds(WHEN), records.pack(original))
        assert back == original and type(back) is Article
        assert [type(r) for r in back.related] == [Related] * len(original.related)
        assert [type(p) for p in back.warnings] == [Problem] * len(original.warnings)
        assert back.updated_at == original.updated_at and back.warnings == original.warnings
        assert back._replace(title="U").title == "U"  # a real named tuple


def test_the_store_memo_lets_the_oldest_made_go_first():
    store = Store()
    numbers = [store.add(Article(f"{n}.md", "T", f"https://e.org/{n}", WHEN, WHEN)) for n in range(MEMO + 2)]
    first = store.article(numbers[0])
    assert store.article(numbers[0]) is first  # remembered
    for number in numbers[1 : MEMO + 1]:
        store.article(number)
    assert store.article(numbers[-1]) is not None
    assert store.article(numbers[0]) is not first  # the oldest went first, and is made again
    assert store.article(numbers[-1]) is store.article(numbers[-1])


@pytest.mark.parametrize("count", [2, 3])
def test_a_feed_links_to_its_next_page_only_when_older_items_follow(
    count: int, content: Callable[..., Path], client_for: Callable[..., TestClient]
):
    folder = content("a0.md", article(title="A0", publishedDateTime="2024-01-01T00:00:00Z"))
    for n in range(1, count):
        content(f"a{n}.md", article(title=f"A{n}", publishedDateTime=f"2024-01-0{n + 1}T00:00:00Z"))
    feed = feedparser.parse(client_for(folder).get("/feeds/all.atom?limit=2").content)
    assert [e.title for e in feed.entries] == [f"A{count - 1}", f"A{count - 2}"]
    following = [link.href for link in feed.feed.links if link.rel == "next"]
    assert len(following) == (1 if count > 2 else 0)
    if following:  # the page after the last item shown: the oldest article, alone
        older = feedparser.parse(client_for(folder).get(following[0].removeprefix("http://feeds.test")).content)
        assert [e.title for e in older.entries] == ["A0"]


def test_attributes_keep_tabs_and_line_breaks_as_character_references():
    related = Related('Tab\there\nand "there"\r', "https://e.org/r?a=1&b=2")
    with_link = Article("a.md", "T", "https://e.org/a", WHEN, WHEN, related=(related,))
    expected = 'href="https://e.org/r?a=1&{amp}b=2" rel="related" title="Tab&#9;here&#10;and &quot;there&quot;&#13;"'
    assert expected.format(amp="#x26;") in rss_item(with_link, Urls("https://feeds.example"))
    assert expected.format(amp="amp;") in atom_entry(with_link, Urls("https://feeds.example"))


@pytest.mark.parametrize("updated", [WHEN, WHEN + timedelta(hours=1), datetime(2024, 5, 12, 15, 9, tzinfo=UTC)])
def test_an_entry_spells_its_published_and_updated_times_apart(updated: datetime):
    from feedsvc.render.jsonfeed import json_item

    dated = Article("a.md", "T", "https://e.org/a", WHEN, updated)
    urls = Urls("https://feeds.example")
    entry = atom_entry(dated, urls)
    assert f"<published>{WHEN.isoformat()}</published>" in entry
    assert f"<updated>{updated.isoformat()}</updated>" in entry
    item = json_item(dated, urls)
    assert f'"date_published":"{WHEN.isoformat()}","date_modified":"{updated.isoformat()}"' in item
