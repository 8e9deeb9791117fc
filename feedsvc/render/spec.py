"""Feed-level metadata: everything a renderer needs besides the articles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from feedsvc import __version__
from feedsvc.content.model import Article, Image
from feedsvc.core.index import FeedInfo, FeedKind
from feedsvc.render.urls import DEFAULT_LIMIT, Urls

# An empty feed has no newest item to date it by; a fixed date keeps its bytes
# stable. Not 1970: validators flag dates before 1990 as implausible.
EMPTY_FEED_DATE = datetime(2000, 1, 1, tzinfo=UTC)
GENERATOR = ("feedsvc", __version__)


@dataclass(frozen=True, slots=True)
class Site:
    """Site-wide settings that appear in feeds."""

    title: str = "feedsvc"
    language: str = "en"
    hubs: tuple[str, ...] = ()  # WebSub hubs every feed advertises


@dataclass(frozen=True, slots=True)
class FeedSpec:
    info: FeedInfo
    title: str
    description: str
    self_url: str
    alternate_url: str
    updated: datetime
    language: str
    site_title: str
    urls: Urls
    logo: Image | None = None
    hubs: tuple[str, ...] = ()  # WebSub hubs


def feed_spec(
    info: FeedInfo,
    site: Site,
    urls: Urls,
    extension: str,
    limit: int = DEFAULT_LIMIT,
    articles: Sequence[Article] = (),
) -> FeedSpec:
    """Given a feed, the site and the base URL, return what the feed says about itself.

    With ``articles`` (the items it will carry), the feed is dated by the
    latest change among them, so it is never older than one of its entries.
    """
    if info.ref.kind is FeedKind.TOPIC:
        title = f"{info.name} — {site.title}"
        description = f"The latest articles about {info.name}, from {site.title}."
    elif info.ref.kind is FeedKind.PROVIDER:
        title = f"{info.name} — {site.title}"
        description = f"The latest articles from {info.name} ({info.ref.key}), from {site.title}."
    else:
        title = f"{site.title} — all articles"
        description = f"Every article published on {site.title}, newest first."
    return FeedSpec(
        info=info,
        title=title,
        description=description,
        self_url=urls.feed(info.ref, extension, limit),
        alternate_url=urls.html(info.ref),
        updated=max((a.updated_at for a in articles), default=None) or info.updated or EMPTY_FEED_DATE,
        language=site.language,
        site_title=site.title,
        urls=urls,
        logo=info.logo,
        hubs=site.hubs,
    )
