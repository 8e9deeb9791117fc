"""The service's state, made once at start-up: index, settings and cache.

Every response is produced from one snapshot of the index (``self.index``
is read once per call), so a reader never sees a half-updated state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from cachetools import LRUCache

from feedsvc.core import snapshot
from feedsvc.core.clock import Clock, utc_now
from feedsvc.core.index import ALL, FeedKind, FeedRef, Index
from feedsvc.core.publisher import Publisher
from feedsvc.core.query import FeedQuery, Position
from feedsvc.render import FeedFormat
from feedsvc.render.pages import static_file
from feedsvc.render.spec import Site, feed_spec
from feedsvc.render.urls import Urls
from feedsvc.settings import Settings
from feedsvc.web.browser import browser_type
from feedsvc.web.cache import Rendered, ResponseCache
from feedsvc.web.hosts import ANY, allowed_hosts

log = logging.getLogger(__name__)

MIB = 1024 * 1024
# Files shipped in the package (the cover art) change only with a release: clients may
# keep them a week, then revalidate with the ETag.
STATIC_CACHE_CONTROL = f"public, max-age={7 * 24 * 3600}"


def feed_slot(ref: FeedRef, fmt: FeedFormat, limit: int, base_url: str) -> Hashable:
    """Everything that names a feed response except the content revision."""
    return ("feed", ref, fmt.extension, limit, base_url)


def query_slot(query: FeedQuery, fmt: FeedFormat, base_url: str) -> Hashable:
    """Everything that names an archive page or filtered feed except the content revision."""
    return ("query", query, fmt.extension, base_url)


class PastTheEnd(LookupError):
    """A page that starts after the feed's oldest item: there is nothing older to show."""


@dataclass(frozen=True, slots=True)
class Page:
    """A non-feed document: OPML or the home page."""

    name: str
    content_type: str


OPML = Page("opml", "text/x-opml; charset=utf-8")
HOME = Page("home", "text/html; charset=utf-8")
HTML = HOME.content_type
# Searches of the home page get a small cache of their own: a flood of made-up
# queries can then never push the feeds readers poll out of the main cache.
SEARCH_CACHE_BYTES = 2 * MIB
# Archive pages and filtered feeds (any URL with parameters other than limit) get a partition
# of their own, a quarter of --cache-mb on top of it: clients can make up endless combinations,
# and none of them may push the plain feeds readers poll out of the main cache.
QUERY_CACHE_SHARE = 4
QUERY_CACHE_MIN_BYTES = 2 * MIB
QUERY_ROUTES = 4_096  # raw requests for them the fast path remembers


class FeedService:
    def __init__(self, settings: Settings, publisher: Publisher, clock: Clock = utc_now):
        self.settings = settings
        self.publisher = publisher
        self.site = Site.from_settings(settings)
        self.cache = ResponseCache(settings.cache_mb * MIB, f"public, max-age={settings.max_age}", clock)
        self.searches = ResponseCache(SEARCH_CACHE_BYTES, f"public, max-age={settings.max_age}", clock, slots=1_000)
        self.static_files = ResponseCache(4 * MIB, STATIC_CACHE_CONTROL, clock)
        query_bytes = max(settings.cache_mb * MIB // QUERY_CACHE_SHARE, QUERY_CACHE_MIN_BYTES)
        self.queries = ResponseCache(query_bytes, f"public, max-age={settings.max_age}", clock, slots=10_000)
        self.allowed_hosts = allowed_hosts(settings)
        # With a base URL and any Host allowed, the Host changes nothing in a response.
        self._host_matters = not (settings.base_url and self.allowed_hosts == ANY)
        # Raw requests already routed to a feed (or, with None, to a page): lets the fast path skip routing.
        self.routes: LRUCache[Hashable, tuple[FeedRef | None, Hashable]] = LRUCache(maxsize=20_000)
        # The same for archive pages and filtered feeds, apart: made-up queries cannot evict the feeds'.
        self.query_routes: LRUCache[Hashable, tuple[FeedQuery, Hashable]] = LRUCache(maxsize=QUERY_ROUTES)

    def caches(self) -> dict[str, ResponseCache]:
        """The response caches, by the label /metrics gives them."""
        return {"feeds": self.cache, "queries": self.queries, "searches": self.searches, "static": self.static_files}

    def evicted_bytes(self) -> int:
        """What the response caches have evicted so far, in bytes."""
        return sum(cache.stats.evicted_bytes for cache in self.caches().values())

    @property
    def index(self) -> Index:
        """The current snapshot. Read it once per response: it may be replaced at any time."""
        return self.publisher.index

    @classmethod
    def load(cls, settings: Settings) -> tuple[FeedService, str]:
        """Load the content folder and build the index; also say how ("snapshot" or "full").

        Nothing here tunes the process or writes files: that is for the
        server's composition root (app.serving_app), not for every app a test makes.
        """
        started = time.perf_counter()
        publisher = Publisher(settings.content)
        # With a watcher, its first step compares the folder with the snapshot (Publisher.catch_up,
        # before /readyz says ready): a restart serves the snapshot as soon as it is mapped.
        how = publisher.load(snapshot.path_for(settings), verify=settings.watch == "off", apart=True)
        index = publisher.index
        log.info(
            "loaded %d published and %d unpublished articles, %d files skipped, from %s in %.2fs (%s)",
            len(index.articles),
            index.unpublished_count,
            len(publisher.skipped),
            settings.content,
            time.perf_counter() - started,
            "from the snapshot" if how == "snapshot" else "full load",
        )
        return cls(settings, publisher), how

    def feed(self, ref: FeedRef, fmt: FeedFormat, limit: int, base_url: str) -> Rendered | None:
        """The rendered feed, or None when the index has no such feed."""
        index = self.index
        info = index.info(ref)
        if info is None:
            return None

        urls = Urls(base_url)

        def render() -> bytes:
            articles = index.select(ref, limit)
            # Whether an older page follows (rel="next"): the feed's count says, without making one more article.
            after = Position.of(articles[-1]) if info.count > limit and len(articles) == limit else None
            spec = feed_spec(info, self.site, urls, fmt.extension, limit, articles, after=after)
            return fmt.render(spec, articles)

        slot = feed_slot(ref, fmt, limit, base_url)
        cached = self.cache.peek(slot, info.revision)
        if cached is not None:
            return cached
        link = self._link_header(urls, ref, fmt, limit)
        return self.cache.get(slot, info.revision, render, fmt.content_type, link, browser_type(fmt.media_type))

    def feed_query(self, query: FeedQuery, fmt: FeedFormat, base_url: str) -> Rendered | None:
        """An archive page or filtered feed, from its own cache partition; None when a feed it
        names does not exist. Raises PastTheEnd for a page with nothing in it."""
        index = self.index
        revision = index.query_revision(query)
        if revision is None:
            return None
        slot = query_slot(query, fmt, base_url)
        cached = self.queries.peek(slot, revision)
        if cached is not None:
            return cached
        info = index.query_info(query)
        assert info is not None  # the same snapshot has every feed of the query
        articles, after = index.page(query)
        if not articles and after is None and query.after is not None:
            raise PastTheEnd(query.after)
        urls = Urls(base_url)

        def render() -> bytes:
            spec = feed_spec(info, self.site, urls, fmt.extension, query.limit, articles, query, after)
            # No WebSub hubs: hubs are told about the plain feeds only, so a subscription
            # to a page or a filtered feed would never hear of a change.
            return fmt.render(replace(spec, hubs=()), articles)

        as_page = browser_type(fmt.media_type)
        return self.queries.get(slot, revision, render, fmt.content_type, None, as_page)

    def route_key(self, scheme: str, path: str, query: bytes, host: bytes | None) -> Hashable:
        """What identifies a feed request before routing: scheme, path, query and, when it matters, Host.

        Only requests that routing served are remembered under a key, so a
        Host that is not allowed never gets one.
        """
        return scheme, path, query, host if self._host_matters else None

    def remember_route(self, key: Hashable, ref: FeedRef, fmt: FeedFormat, limit: int, base_url: str) -> None:
        """Note that a raw request (see routes.route_key) asked for this feed, for the fast path."""
        if key not in self.routes:
            self.routes[key] = (ref, feed_slot(ref, fmt, limit, base_url))

    def remember_query(self, key: Hashable, query: FeedQuery, fmt: FeedFormat, base_url: str) -> None:
        """Note that a raw request asked for an archive page or filtered feed, for the fast path."""
        if key not in self.query_routes:
            self.query_routes[key] = (query, query_slot(query, fmt, base_url))

    def remember_page(self, key: Hashable, slot: Hashable) -> None:
        """Note that a raw request asked for a page or file cached under ``slot`` (by index generation)."""
        if key not in self.routes:
            self.routes[key] = (None, slot)

    def cached_feed(self, key: Hashable) -> Rendered | None:
        """The current cached feed or page for a raw request seen before, or None (then route it normally)."""
        known = self.routes.get(key)
        if known is None:
            return self._cached_query(key)
        ref, slot = known
        index = self.index
        if ref is None:  # a page: it shows many feeds, so any change to the index may change it
            return self.cache.peek(slot, index.generation)
        info = index.info(ref)
        return None if info is None else self.cache.peek(slot, info.revision)

    def _cached_query(self, key: Hashable) -> Rendered | None:
        """The current cached archive page or filtered feed for a raw request seen before, or None."""
        known = self.query_routes.get(key)
        if known is None:
            return None
        query, slot = known
        revision = self.index.query_revision(query)
        return None if revision is None else self.queries.peek(slot, revision)

    def _link_header(self, urls: Urls, ref: FeedRef, fmt: FeedFormat, limit: int) -> dict[str, str]:
        """WebSub discovery in HTTP: the hubs and the feed's own URL (RFC 8288 Link)."""
        if not self.site.hubs:
            return {}
        links = [f'<{hub}>; rel="hub"' for hub in self.site.hubs]
        links.append(f'<{urls.feed(ref, fmt.extension, limit)}>; rel="self"')
        return {"Link": ", ".join(links)}

    def page(self, page: Page, formats: Sequence[FeedFormat], base_url: str) -> tuple[Hashable, Rendered]:
        """The OPML list or the home page, and the slot it is cached under (see remember_page)."""
        index = self.index

        def render() -> bytes:
            # Imported on first use: lxml and jinja2 are not on the start-up path.
            from feedsvc.render.opml import render_opml
            from feedsvc.render.pages import render_home

            renderer = render_opml if page is OPML else render_home
            return renderer(index, self.site, Urls(base_url), formats)

        slot = (page.name, tuple(fmt.extension for fmt in formats), base_url)
        return slot, self.cache.get(slot, index.generation, render, page.content_type)

    def search(self, query: str, formats: Sequence[FeedFormat], base_url: str) -> Rendered:
        """The home page showing the topics and providers a search matches, from the search cache."""
        from feedsvc.render.pages import normal_query, render_home

        index = self.index
        query = normal_query(query)

        def render() -> bytes:
            return render_home(index, self.site, Urls(base_url), formats, query)

        slot = ("search", query.casefold(), tuple(fmt.extension for fmt in formats), base_url)
        return self.searches.get(slot, index.generation, render, HTML)

    def feed_page(self, ref: FeedRef, formats: Sequence[FeedFormat], base_url: str) -> tuple[Hashable, Rendered] | None:
        """A topic's or provider's page and its cache slot, or None when the index has no such feed."""
        from feedsvc.render.pages import render_feed_page

        index = self.index
        if index.info(ref) is None:
            return None

        def render() -> bytes:
            page = render_feed_page(index, ref, self.site, Urls(base_url), formats)
            assert page is not None  # the same snapshot has the feed
            return page

        slot = ("page", ref, tuple(fmt.extension for fmt in formats), base_url)
        return slot, self.cache.get(slot, index.generation, render, HTML)

    def not_found_page(self, ref: FeedRef, base_url: str) -> bytes:
        """The helpful 404 page for an unknown topic or provider; never cached (the names are anyone's)."""
        from feedsvc.render.pages import render_not_found

        return render_not_found(self.index, ref, self.site, Urls(base_url))

    def static(self, name: str, content_type: str) -> Rendered:
        """A file of feedsvc/static/, read on first use, then served from memory with its validators."""
        # Revision 0: the package's files have one version per process.
        return self.static_files.get(("static", name), 0, lambda: static_file(name), content_type)

    def health(self) -> dict[str, Any]:
        index = self.index
        return {
            "status": "ok",
            "articles": len(index.articles),
            "unpublished": index.unpublished_count,
            "topics": len(index.feeds(FeedKind.TOPIC)),
            "providers": len(index.feeds(FeedKind.PROVIDER)),
            "skipped_files": len(self.publisher.skipped),
            "newest": info.updated.isoformat() if (info := index.info(ALL)) and info.updated else None,
            "cache": {
                "entries": len(self.cache),
                "bytes": self.cache.current_bytes,
                "hits": self.cache.stats.hits,
                "renders": self.cache.stats.renders,
            },
            "query_cache": {"entries": len(self.queries), "bytes": self.queries.current_bytes},
            # Where the articles' records are: mapped from the snapshot file, or in the heap.
            "records": {"count": len(index.store), "bytes": index.store.size(), "mapped": index.store.mapped},
        }
