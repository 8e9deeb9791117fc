"""Absolute URLs of everything the service publishes: the URL contract in one place."""

from __future__ import annotations

from dataclasses import dataclass

from feedsvc.core.index import FeedKind, FeedRef

DEFAULT_LIMIT = 50  # items in a feed when the URL does not say ?limit=
MAX_LIMIT = 500


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

    def opml(self, extension: str | None = None) -> str:
        """The OPML list of every feed; with a format, of that format only (one subscription per feed)."""
        query = "" if extension is None else f"?format={extension}"
        return f"{self.base}/feeds.opml{query}"

    def html(self, ref: FeedRef) -> str:
        """The human-readable page for a feed (a feed's alternate link): its topic or provider page."""
        return self.home() if ref.kind is FeedKind.ALL else f"{self.base}/{ref.path}"

    def asset(self, name: str) -> str:
        """A file the service serves at its root ("favicon.svg", "robots.txt")."""
        return f"{self.base}/{name}"


def anchor(ref: FeedRef) -> str:
    """The id of a feed's row on the home page ("topic-computer-vision"), which older alternate links name."""
    prefix = "topic" if ref.kind is FeedKind.TOPIC else "provider"
    return f"{prefix}-{ref.key}"
