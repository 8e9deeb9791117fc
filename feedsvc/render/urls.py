"""Absolute URLs of everything the service publishes: the URL contract in one place."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from feedsvc.core.index import FeedKind, FeedRef
from feedsvc.core.query import DEFAULT_LIMIT, MAX_LIMIT, FeedQuery, Position

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "Urls", "anchor"]


@dataclass(frozen=True, slots=True)
class Urls:
    """Builds absolute URLs below one base ("https://feeds.example.com")."""

    base: str

    def home(self) -> str:
        return f"{self.base}/"

    def feed(self, ref: FeedRef, extension: str, limit: int = DEFAULT_LIMIT) -> str:
        """A feed's URL; a non-default limit is part of it, so rel="self" names this very document."""
        query = "" if limit == DEFAULT_LIMIT else f"?limit={limit}"
        return f"{self.base}/feeds/{ref.path}.{extension}{query}"

    def query_feed(self, query: FeedQuery, extension: str) -> str:
        """The URL of one document of a query: its feed (a union of topics as ``topics/a+b``) and
        its parameters in canonical form and order. A plain query gives :meth:`feed`'s URL."""
        path = "topics/" + "+".join(ref.key for ref in query.refs) if len(query.refs) > 1 else query.refs[0].path
        params = query.params()
        string = f"?{urlencode(params, quote_via=quote, safe=':')}" if params else ""
        return f"{self.base}/feeds/{path}.{extension}{string}"

    def pages(self, query: FeedQuery, extension: str, after: Position | None) -> tuple[tuple[str, str], ...]:
        """A document's paging links (RFC 5005 §3, FeedSpec.pages): "first" on every page after it,
        "next" (older items, starting after ``after``) when there are any."""
        links = []
        if query.after is not None:
            links.append(("first", self.query_feed(query.first(), extension)))
        if after is not None:
            links.append(("next", self.query_feed(query.resume(after), extension)))
        return tuple(links)

    def opml(self, extension: str | None = None) -> str:
        """The OPML list of every feed; with a format, of that format only (one subscription per feed)."""
        query = "" if extension is None else f"?format={extension}"
        return f"{self.base}/feeds.opml{query}"

    def html(self, ref: FeedRef) -> str:
        """The human-readable page for a feed (a feed's alternate link): its topic or provider page."""
        # A union of topics has no page of its own: the home page lists them all.
        return self.home() if ref.kind is FeedKind.ALL or "+" in ref.key else f"{self.base}/{ref.path}"

    def asset(self, name: str) -> str:
        """A file the service serves at its root ("favicon.svg", "robots.txt")."""
        return f"{self.base}/{name}"


def anchor(ref: FeedRef) -> str:
    """The id of a feed's row on the home page ("topic-computer-vision"), which older alternate links name."""
    prefix = "topic" if ref.kind is FeedKind.TOPIC else "provider"
    return f"{prefix}-{ref.key}"
