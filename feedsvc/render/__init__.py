"""Feed formats as pluggable renderers over one article model.

A format is a name, a file extension, a media type and a pure render
function; a new format is one entry in :data:`FORMATS` (RSS, Atom, JSON Feed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from feedsvc.content.model import Article
from feedsvc.render.jsonfeed import MEDIA_TYPE as JSON_FEED
from feedsvc.render.jsonfeed import render_json
from feedsvc.render.spec import FeedSpec
from feedsvc.render.xmlfeeds import ItemRenderer, render_atom, render_rss


class Renderer(Protocol):
    def __call__(self, spec: FeedSpec, articles: Sequence[Article], item: ItemRenderer | None = None) -> bytes:
        """Given a feed's spec and items, return the document; ``item`` may replace the item renderer."""


@dataclass(frozen=True, slots=True)
class FeedFormat:
    extension: str
    label: str
    media_type: str  # what the feed is (link rel=alternate type=...)
    content_type: str  # what we send in Content-Type
    render: Renderer


FORMATS: dict[str, FeedFormat] = {
    "rss": FeedFormat("rss", "RSS 2.0", "application/rss+xml", "application/rss+xml; charset=utf-8", render_rss),
    "atom": FeedFormat("atom", "Atom 1.0", "application/atom+xml", "application/atom+xml; charset=utf-8", render_atom),
    "json": FeedFormat("json", "JSON Feed 1.1", JSON_FEED, JSON_FEED, render_json),
}
