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

    def opml(self) -> str:
        return f"{self.base}/feeds.opml"

    def html(self, ref: FeedRef) -> str:
        """The human-readable page for a feed: its section of the home page."""
        return self.home() if ref.kind is FeedKind.ALL else f"{self.home()}#{anchor(ref)}"


def anchor(ref: FeedRef) -> str:
    """The id of a feed's entry on the home page ("topic-computer-vision")."""
    prefix = "topic" if ref.kind is FeedKind.TOPIC else "provider"
    return f"{prefix}-{ref.key}"
