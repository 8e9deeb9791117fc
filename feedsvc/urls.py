"""Absolute URLs of everything the service publishes: the URL contract in one place."""

from __future__ import annotations

from dataclasses import dataclass

from feedsvc.index import FeedKind, FeedRef


@dataclass(frozen=True, slots=True)
class Urls:
    """Builds absolute URLs below one base ("https://feeds.example.com")."""

    base: str

    def home(self) -> str:
        return f"{self.base}/"

    def feed(self, ref: FeedRef, extension: str) -> str:
        return f"{self.base}/feeds/{ref.path}.{extension}"

    def opml(self) -> str:
        return f"{self.base}/feeds.opml"

    def html(self, ref: FeedRef) -> str:
        """The human-readable page for a feed: its section of the home page."""
        return self.home() if ref.kind is FeedKind.ALL else f"{self.home()}#{anchor(ref)}"


def anchor(ref: FeedRef) -> str:
    """The id of a feed's entry on the home page ("topic-computer-vision")."""
    prefix = "topic" if ref.kind is FeedKind.TOPIC else "provider"
    return f"{prefix}-{ref.key}"
