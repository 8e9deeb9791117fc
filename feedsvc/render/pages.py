"""Pages for people: the home page (and its search), a page per topic and
provider, the not-found page; and the site's files (favicon, robots.txt).

Pure: (index, site, urls, formats) -> UTF-8 bytes. The HTML templates live in
feedsvc/templates/ and jinja2 escapes every value put into them, so a title
holding ``<script>`` is shown as text. Every feed link comes from the formats
given (the ``FORMATS`` registry), so a new format appears on every page by itself.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING

from feedsvc.content.model import Article, Image
from feedsvc.core.index import ALL, FeedInfo, FeedKind, FeedRef, Index
from feedsvc.render import FeedFormat
from feedsvc.render.spec import Site, feed_spec
from feedsvc.render.urls import DEFAULT_LIMIT, Urls, anchor
from feedsvc.text import xml_safe

if TYPE_CHECKING:
    from jinja2 import Environment

PAGE_ITEMS = DEFAULT_LIMIT  # a topic or provider page shows what its feed carries by default
MAX_QUERY = 100  # characters of a search; longer is a 400 (see web/routes.py)
EXCERPT_CHARS = 320  # an excerpt on a page is a teaser; the article is a link away
SUGGESTIONS = 5  # names a not-found page offers


# Files of feedsvc/static/ served at the root, by their media type: the site icon (an
# SVG for browsers that take one, and /favicon.ico, which browsers and feed readers
# ask for by that name whether a page links it or not) and robots.txt.
SITE_FILES = {"favicon.svg": "image/svg+xml", "favicon.ico": "image/x-icon", "robots.txt": "text/plain; charset=utf-8"}


def static_file(name: str) -> bytes:
    """A file of feedsvc/static/, as installed with the package."""
    return files("feedsvc").joinpath("static", name).read_bytes()


@dataclass(frozen=True, slots=True)
class FeedLink:
    """One feed of a topic, provider or everything, in one format."""

    extension: str
    label: str
    media_type: str
    url: str
    title: str


@dataclass(frozen=True, slots=True)
class Row:
    """A topic or provider as the home page lists it."""

    name: str
    key: str
    anchor: str
    page_url: str
    count: int
    newest: Article | None
    feeds: list[FeedLink]


@dataclass(frozen=True, slots=True)
class Item:
    """An article as a page shows it."""

    title: str
    url: str
    published: datetime
    excerpt: str
    image: Image | None
    kind: str
    provider: tuple[str, str] | None  # name, page URL
    topics: list[tuple[str, str]]  # name, page URL


@cache
def _templates() -> Environment:
    """The template environment, made on first use (keeps jinja2 off the start-up path)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=PackageLoader("feedsvc", "templates"),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,  # a misspelt name fails the tests instead of vanishing from the page
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _render(template: str, **values: object) -> bytes:
    return _templates().get_template(template).render(**values).encode("utf-8")


def feed_links(info: FeedInfo, site: Site, urls: Urls, formats: Sequence[FeedFormat]) -> list[FeedLink]:
    """A feed's URL in every format, with what autodiscovery and buttons need."""
    links = []
    for fmt in formats:
        spec = feed_spec(info, site, urls, fmt.extension)
        links.append(FeedLink(fmt.extension, fmt.label, fmt.media_type, spec.self_url, spec.title))
    return links


def matches(query: str, info: FeedInfo) -> bool:
    """Does a search match this topic or provider? Part of its name, slug or domain, in any case."""
    wanted = query.casefold()
    return wanted in info.name.casefold() or wanted in info.ref.key.casefold()


def normal_query(query: str) -> str:
    """A search as matched and shown: surrounding space trimmed, inner runs of space made one."""
    return " ".join(query.split())


def render_home(index: Index, site: Site, urls: Urls, formats: Sequence[FeedFormat], query: str = "") -> bytes:
    """Given the index, return the home page; with a query, the topics and providers it matches."""
    all_info = index.info(ALL)
    assert all_info is not None
    query = normal_query(query)

    def rows(kind: FeedKind) -> list[Row]:
        return [
            Row(
                name=info.name,
                key=info.ref.key,
                anchor=anchor(info.ref),
                page_url=urls.html(info.ref),
                count=info.count,
                newest=next(iter(index.select(info.ref, 1)), None),
                feeds=feed_links(info, site, urls, formats),
            )
            for info in index.feeds(kind)
            if not query or matches(query, info)
        ]

    return _render(
        "home.html",
        site=site,
        urls=urls,
        query=query,
        max_query=MAX_QUERY,
        all_count=all_info.count,
        updated=all_info.updated,
        all_feeds=feed_links(all_info, site, urls, formats),
        opml=[(fmt.label, urls.opml(fmt.extension)) for fmt in formats],
        topics=rows(FeedKind.TOPIC),
        providers=rows(FeedKind.PROVIDER),
        topic_total=len(index.feeds(FeedKind.TOPIC)),
        provider_total=len(index.feeds(FeedKind.PROVIDER)),
    )


def _excerpt(text: str) -> str:
    """An excerpt cut at a word boundary near EXCERPT_CHARS."""
    if len(text) <= EXCERPT_CHARS:
        return text
    return text[:EXCERPT_CHARS].rsplit(" ", 1)[0].rstrip(" ,.;:—-") + "…"


def _item(article: Article, urls: Urls) -> Item:
    provider = article.provider
    return Item(
        title=article.title,
        url=article.url,
        published=article.published_at,
        excerpt=_excerpt(article.excerpt),
        image=article.images[0] if article.images else None,
        kind=article.kind,
        provider=(
            (provider.name or provider.domain, urls.html(FeedRef(FeedKind.PROVIDER, provider.domain)))
            if provider and provider.domain
            else None
        ),
        topics=[(topic.name, urls.html(FeedRef(FeedKind.TOPIC, topic.slug))) for topic in article.topics],
    )


def render_feed_page(index: Index, ref: FeedRef, site: Site, urls: Urls, formats: Sequence[FeedFormat]) -> bytes | None:
    """Given a topic or provider, return its page (None when the index has no such feed)."""
    info = index.info(ref)
    if info is None:
        return None
    return _render(
        "feed.html",
        site=site,
        urls=urls,
        info=info,
        what="Topic" if ref.kind is FeedKind.TOPIC else "Provider",
        description=feed_spec(info, site, urls, formats[0].extension).description if formats else "",
        feeds=feed_links(info, site, urls, formats),
        items=[_item(article, urls) for article in index.select(ref, PAGE_ITEMS)],
    )


def suggestions(index: Index, ref: FeedRef) -> list[FeedInfo]:
    """Topics or providers whose slug or domain is close to an unknown one (a typo, a part of it)."""
    feeds = {info.ref.key: info for info in index.feeds(ref.kind)}
    key = ref.key.lower()[:MAX_QUERY]
    close = difflib.get_close_matches(key, list(feeds), n=SUGGESTIONS, cutoff=0.6)
    close += [other for other in feeds if key and (key in other or other in key) and other not in close]
    return [feeds[other] for other in close[:SUGGESTIONS]]


def render_not_found(index: Index, ref: FeedRef, site: Site, urls: Urls) -> bytes:
    """The 404 page for an unknown topic or provider: what was asked, names close to it, where to look."""
    return _render(
        "not_found.html",
        site=site,
        urls=urls,
        what="topic" if ref.kind is FeedKind.TOPIC else "provider",
        key=xml_safe(ref.key[:MAX_QUERY]),  # from the URL: no control characters in the page
        max_query=MAX_QUERY,
        suggestions=[(info.name, urls.html(info.ref)) for info in suggestions(index, ref)],
    )
