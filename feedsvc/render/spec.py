"""Feed-level metadata: everything a renderer needs besides the articles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from feedsvc import __version__
from feedsvc.content.model import Article, Image
from feedsvc.core.index import FeedInfo, FeedKind
from feedsvc.core.query import FeedQuery, Filters, Position, since_text
from feedsvc.render.media import podcast_cover, rss_image_allowed
from feedsvc.render.urls import DEFAULT_LIMIT, Urls

if TYPE_CHECKING:
    from feedsvc.settings import Settings

# An empty feed has no newest item to date it by; a fixed date keeps its bytes
# stable. Not 1970: validators flag dates before 1990 as implausible.
EMPTY_FEED_DATE = datetime(2000, 1, 1, tzinfo=UTC)
GENERATOR = ("feedsvc", __version__)
# The service's own cover art (feedsvc/static/cover.png, 1400x1400), served at /cover.png:
# what a feed without an image of its own shows when --site-image is not set.
COVER = "cover.png"
# The podcast directory category of every feed (Apple's list; "News" fits a news service).
PODCAST_CATEGORY = "News"
# iTunes text limits the W3C validator checks (itunes:author 255, itunes:summary 4000 characters).
AUTHOR_MAX, SUMMARY_MAX = 255, 4000


@dataclass(frozen=True, slots=True)
class Site:
    """Site-wide settings that appear in feeds."""

    title: str = "feedsvc"
    language: str = "en"
    hubs: tuple[str, ...] = ()  # WebSub hubs every feed advertises
    image: str | None = None  # cover art of feeds without a logo; None: the service's own /cover.png
    owner_email: str | None = None  # the podcast owner's address (itunes:owner), when configured

    @property
    def podcast(self) -> bool:
        """Whether RSS feeds carry the iTunes podcast namespace: when the site has an owner.

        Podcast directories reach the owner at that address (Apple for notices,
        Spotify to verify ownership), and the W3C validator warns about every
        itunes-tagged feed without one; an address cannot be made up. Without
        it, podcast apps still get the cover (RSS <image>), each episode's art
        (media:thumbnail) and its image once (the enclosure).
        """
        return bool(self.owner_email)

    @classmethod
    def from_settings(cls, settings: Settings) -> Site:
        """The site as the settings describe it (the server and `feedsvc build` alike)."""
        return cls(settings.title, settings.language, settings.websub_hub, settings.site_image, settings.owner_email)


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
    # The feed's image (RSS <image>, Atom logo and icon): the provider's logo, else the site's cover.
    logo: Image | None = None
    hubs: tuple[str, ...] = ()  # WebSub hubs
    # Podcast apps (itunes: elements in RSS): the cover art, a square JPEG or PNG (the logo when
    # it is one, else the site's cover), who makes the feed, and the owner to contact.
    cover: str = ""
    author: str = ""
    owner_email: str | None = None
    # Links to the feed's other pages (RFC 5005), as (rel, absolute URL) pairs: "next" (older
    # items), "previous", "first", "last", "prev-archive", "current"... Every format writes them
    # (Atom and RSS as atom:link, JSON Feed its next_url); empty for a feed of one page.
    pages: tuple[tuple[str, str], ...] = ()

    @property
    def podcast(self) -> bool:
        """Whether the RSS feed carries the iTunes podcast namespace (see Site.podcast)."""
        return bool(self.owner_email)


def feed_spec(
    info: FeedInfo,
    site: Site,
    urls: Urls,
    extension: str,
    limit: int = DEFAULT_LIMIT,
    articles: Sequence[Article] = (),
    query: FeedQuery | None = None,
    after: Position | None = None,
) -> FeedSpec:
    """Given a feed, the site and the base URL, return what the feed says about itself.

    With ``articles`` (the items it will carry), the feed is dated by the
    latest change among them, so it is never older than one of its entries.
    With a ``query`` (a page or a filtered feed), the document names itself by
    it; ``after`` is where the next page starts, when older items follow (rel="next").
    """
    query = query or FeedQuery((info.ref,), limit)
    narrowed = narrowed_by(query.filters)
    if info.ref.kind is FeedKind.TOPIC:
        title = f"{info.name}{narrowed} — {site.title}"
        description = f"The latest articles about {info.name}{narrowed}, from {site.title}."
    elif info.ref.kind is FeedKind.PROVIDER:
        title = f"{info.name}{narrowed} — {site.title}"
        description = f"The latest articles from {info.name} ({info.ref.key}){narrowed}, from {site.title}."
    else:
        title = f"{site.title} — all articles{narrowed}"
        description = f"Every article published on {site.title}{narrowed}, newest first."
    site_cover = Image(site.image or urls.home() + COVER)
    logo = info.logo or site_cover
    return FeedSpec(
        info=info,
        title=title,
        description=description,
        self_url=urls.query_feed(query, extension),
        alternate_url=urls.html(info.ref),
        updated=max((a.updated_at for a in articles), default=None) or info.updated or EMPTY_FEED_DATE,
        language=site.language,
        site_title=site.title,
        urls=urls,
        logo=logo,
        hubs=site.hubs,
        cover=(logo if podcast_cover(logo) else site_cover).url,
        author=(info.name if info.ref.kind is FeedKind.PROVIDER else site.title)[:AUTHOR_MAX],
        owner_email=site.owner_email,
        pages=urls.pages(query, extension, after),
    )


def narrowed_by(filters: Filters) -> str:
    """What a filtered feed keeps, for its title (' (videos, matching "fox")'): a reader subscribed
    to several filters of one feed must be able to tell them apart. "" for no filter."""
    parts = []
    if filters.topic:
        parts.append(f"about {filters.topic}")
    if filters.kind:
        parts.append("videos" if filters.kind == "video" else "articles without videos")
    if filters.text:
        parts.append(f"matching “{filters.text}”")
    if filters.since is not None:
        parts.append(f"since {since_text(filters.since)}")
    return f" ({', '.join(parts)})" if parts else ""


def rss_logo(spec: FeedSpec) -> Image | None:
    """The RSS <image>: the feed's logo when RSS allows it (GIF, JPEG, PNG), else the cover art."""
    if spec.logo is None or rss_image_allowed(spec.logo.url):
        return spec.logo
    return Image(spec.cover) if spec.cover else None
