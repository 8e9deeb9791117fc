"""Feed formats as pluggable renderers over one article model.

A format is a name, a file extension, a media type and a pure render
function; adding JSON Feed means adding one entry to :data:`FORMATS`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from feedsvc.model import Article
from feedsvc.render.spec import FeedSpec
from feedsvc.render.xmlfeeds import render_atom, render_rss


@dataclass(frozen=True, slots=True)
class FeedFormat:
    extension: str
    label: str
    media_type: str  # what the feed is (link rel=alternate type=...)
    content_type: str  # what we send in Content-Type
    render: Callable[[FeedSpec, Sequence[Article]], bytes]


FORMATS: dict[str, FeedFormat] = {
    "rss": FeedFormat("rss", "RSS 2.0", "application/rss+xml", "application/rss+xml; charset=utf-8", render_rss),
    "atom": FeedFormat("atom", "Atom 1.0", "application/atom+xml", "application/atom+xml; charset=utf-8", render_atom),
}
