"""RSS 2.0 and Atom 1.0 rendering: (spec, articles) -> bytes.

Pure functions: the same spec and articles always give the same bytes (no
clock: dates come from the content).

This writes the XML directly as text. It says what the feedgen-based
reference renderer says (``tests/reference/renderer.py``; the tests compare
the two in canonical form), about ten times faster: feedgen builds an lxml tree
per feed, copies every field through its extension machinery and switches
the process locale for every date it formats. Items are rendered one by one
(:func:`rss_item`, :func:`atom_entry`), so a caller that renders many feeds
from the same articles (the static export) can reuse them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache

from feedsvc.content.model import Article
from feedsvc.core.index import FeedKind, FeedRef
from feedsvc.render.content import article_html, excerpt_html
from feedsvc.render.media import media_type, podcast_image_allowed
from feedsvc.render.spec import GENERATOR, PODCAST_CATEGORY, SUMMARY_MAX, FeedSpec, rss_logo
from feedsvc.render.stylesheet import xml_prologue
from feedsvc.render.urls import Urls

ItemRenderer = Callable[[Article, Urls], str]

_MEDIA_NS = "http://search.yahoo.com/mrss/"
ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
_RSS_NAMESPACES = (
    f'xmlns:media="{_MEDIA_NS}" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:atom="http://www.w3.org/2005/Atom" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
)
# After the prologue (render/stylesheet.py); a podcast feed also declares the itunes namespace.
_RSS_OPEN = f'<rss {_RSS_NAMESPACES} version="2.0">\n  <channel>\n'
_PODCAST_RSS_OPEN = f'<rss {_RSS_NAMESPACES} xmlns:itunes="{ITUNES_NS}" version="2.0">\n  <channel>\n'

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def render_rss(spec: FeedSpec, articles: Sequence[Article], item: ItemRenderer | None = None) -> bytes:
    """Given a feed spec and its articles (newest first), return RSS 2.0 bytes."""
    render_item = item or rss_item_renderer(spec.podcast)
    parts = [rss_channel(spec)]
    parts.extend(render_item(article, spec.urls) for article in articles)
    parts.append("  </channel>\n</rss>\n")
    return "".join(parts).encode("utf-8")


def render_atom(spec: FeedSpec, articles: Sequence[Article], item: ItemRenderer | None = None) -> bytes:
    """Given a feed spec and its articles (newest first), return Atom 1.0 bytes."""
    render_item = item or atom_entry
    parts = [atom_head(spec)]
    entries = [render_item(article, spec.urls) for article in articles]
    if len({article.updated_at for article in articles}) < len(articles):  # rare: respell the repeats
        for number, (article, stamp) in enumerate(zip(articles, entry_updated_stamps(articles), strict=True)):
            written = article.updated_at.isoformat()
            if stamp != written:
                entries[number] = entries[number].replace(
                    f"<updated>{written}</updated>", f"<updated>{stamp}</updated>", 1
                )
    parts.extend(entries)
    parts.append("</feed>\n")
    return "".join(parts).encode("utf-8")


def entry_updated_stamps(articles: Sequence[Article]) -> list[str]:
    """Each entry's atom:updated, spelled so that no two entries of a feed spell it alike.

    Two articles can really be updated in the same second, but the W3C
    validator warns about two entries with the same atom:updated text. RFC
    3339 allows any number of digits of fractional seconds, so the n-th
    repeat of an instant gets n more zeros: the same instant, spelled apart
    ("…T15:09:00+00:00", "…T15:09:00.0+00:00", "…T15:09:00.00+00:00").
    """
    seen: dict[datetime, int] = {}
    stamps = []
    for article in articles:
        moment = article.updated_at
        repeats = seen.get(moment, 0)
        seen[moment] = repeats + 1
        stamp = moment.isoformat()
        if repeats:
            clock, zone = stamp[:-6], stamp[-6:]  # UTC: "+00:00"
            stamp = f"{clock}{'' if '.' in clock else '.'}{'0' * repeats}{zone}"
        stamps.append(stamp)
    return stamps


# RSS


def rss_channel(spec: FeedSpec) -> str:
    """Everything of an RSS document before its first item."""
    t = _rss_text
    parts = [
        xml_prologue(spec.urls) + (_PODCAST_RSS_OPEN if spec.podcast else _RSS_OPEN),
        f"    <title>{t(spec.title)}</title>\n",
        f"    <link>{t(spec.alternate_url)}</link>\n",
        f"    <description>{t(spec.description)}</description>\n",
        f'    <atom:link href="{_rss_attr(spec.self_url)}" rel="self" type="application/rss+xml"/>\n',
        "    <docs>http://www.rssboard.org/rss-specification</docs>\n",
        f"    <generator>{t(GENERATOR[0])}</generator>\n",
    ]
    logo = rss_logo(spec)
    if logo is not None:
        parts.append(
            f"    <image>\n      <url>{t(logo.url)}</url>\n      <title>{t(spec.title)}</title>\n"
            f"      <link>{t(spec.alternate_url)}</link>\n"
        )
        # RSS caps the image at 144x400; omit a size that would break the cap.
        if logo.width and logo.height and logo.width <= 144 and logo.height <= 400:
            parts.append(f"      <width>{logo.width}</width>\n      <height>{logo.height}</height>\n")
        parts.append("    </image>\n")
    parts.append(f"    <language>{t(spec.language)}</language>\n")
    parts.append(f"    <lastBuildDate>{rfc822(spec.updated)}</lastBuildDate>\n")
    parts.extend(f'    <atom:link href="{_rss_attr(hub)}" rel="hub"/>\n' for hub in spec.hubs)
    parts.extend(f'    <atom:link href="{_rss_attr(href)}" rel="{rel}"/>\n' for rel, href in spec.pages)
    if spec.podcast:
        parts.append(_itunes_channel(spec))
    return "".join(parts)


def _itunes_channel(spec: FeedSpec) -> str:
    """The podcast namespace of a channel, the way podcast apps and directories read it.

    Not explicit: a news service. The owner needs an e-mail address, so it
    appears only when one is configured (--owner-email).
    """
    t = _rss_text
    parts = [
        # feedgen 1.0 writes only yes/no/clean; Apple and the W3C validator now want true/false.
        "    <itunes:explicit>false</itunes:explicit>\n",
        f"    <itunes:author>{t(spec.author)}</itunes:author>\n",
        f'    <itunes:category text="{PODCAST_CATEGORY}"/>\n',
    ]
    if spec.cover:
        parts.append(f'    <itunes:image href="{_rss_attr(spec.cover)}"/>\n')
    if spec.owner_email:
        parts.append(
            f"    <itunes:owner>\n      <itunes:name>{t(spec.author)}</itunes:name>\n"
            f"      <itunes:email>{t(spec.owner_email)}</itunes:email>\n    </itunes:owner>\n"
        )
    parts.append(f"    <itunes:summary>{t(spec.description[:SUMMARY_MAX])}</itunes:summary>\n")
    return "".join(parts)


def rss_item_renderer(podcast: bool) -> ItemRenderer:
    """How each item of an RSS feed is written: with the podcast namespace's
    item elements when the site is a podcast (it has an owner, --owner-email)."""
    return podcast_rss_item if podcast else rss_item


def rss_item(article: Article, urls: Urls) -> str:
    """One RSS <item>, indented for its place in the channel."""
    return _rss_item(article, urls, podcast=False)


def podcast_rss_item(article: Article, urls: Urls) -> str:
    """One RSS <item> with the podcast namespace's elements (itunes:image, title, summary, episodeType)."""
    return _rss_item(article, urls, podcast=True)


def _rss_item(article: Article, urls: Urls, podcast: bool) -> str:
    t, a, name = _rss_text, _rss_attr, _rss_name
    link = t(article.url)
    guid = link if not article.guid or article.guid == article.url else t(article.guid)
    parts = [f"    <item>\n      <title>{t(article.title)}</title>\n      <link>{link}</link>\n"]
    # The description is the synopsis; content:encoded the full content. An article
    # with no excerpt has no synopsis: its full content goes in the description alone
    # (content:encoded without a description before it is a W3C validator warning).
    synopsis = bool(article.excerpt)
    description = excerpt_html(article) if synopsis else article_html(article)
    parts.append(f"      <description>{t(description)}</description>\n")
    parts.append(f'      <guid isPermaLink="true">{guid}</guid>\n')
    parts.extend(f"      <category>{name(topic.name)}</category>\n" for topic in article.topics)
    if article.images:
        # Before media:content, so that a podcast app lists the first image first.
        # RSS requires the length: 0 while the size is unknown, as is the custom.
        first = article.images[0]
        length = first.length or 0
        parts.append(
            f'      <enclosure url="{a(first.url)}" length="{length}" type="{_rss_attr_name(media_type(first))}"/>\n'
        )
    parts.append(f"      <pubDate>{rfc822(article.published_at)}</pubDate>\n")
    parts.extend(_media(article, a, "      "))
    provider = article.provider
    if provider is not None:
        parts.append(f"      <dc:creator>{name(provider.name)}</dc:creator>\n")
    parts.extend(
        f'      <atom:link href="{a(related.url)}" rel="related" title="{a(related.title)}"/>\n'
        for related in article.related
    )
    if provider is not None and provider.domain:
        parts.append(f'      <source url="{_provider_rss(urls, provider.domain)}">{name(provider.name)}</source>\n')
    if synopsis:
        parts.append(f"      <content:encoded>{t(article_html(article))}</content:encoded>\n")
    if podcast:
        parts.append(_itunes_item(article))
    parts.append("    </item>\n")
    return "".join(parts)


def _provider_rss(urls: Urls, domain: str) -> str:
    """The URL of a provider's RSS feed (an item's <source>), as an attribute."""
    return _rss_attr(urls.base + _provider_rss_path(domain))


@lru_cache(maxsize=16384)  # a few thousand providers
def _provider_rss_path(domain: str) -> str:
    """The URL of a provider's RSS feed below the base URL: the same under every Host."""
    return _NO_BASE.feed(FeedRef(FeedKind.PROVIDER, domain), "rss")


_NO_BASE = Urls("")


def _itunes_item(article: Article) -> str:
    """The podcast namespace of an item: its artwork (the first JPEG or PNG image), title, summary and type.

    Last in the item: podcastparser takes the last of itunes:image and
    media:thumbnail as the episode's artwork.
    """
    t = _rss_text
    parts = []
    artwork = next((image.url for image in article.images if podcast_image_allowed(image.url)), None)
    if artwork is not None:
        parts.append(f'      <itunes:image href="{_rss_attr(artwork)}"/>\n')
    if article.excerpt:
        parts.append(f"      <itunes:summary>{t(article.excerpt[:SUMMARY_MAX])}</itunes:summary>\n")
    parts.append(f"      <itunes:title>{t(article.title)}</itunes:title>\n")
    parts.append("      <itunes:episodeType>full</itunes:episodeType>\n")
    return "".join(parts)


# Atom


def atom_head(spec: FeedSpec) -> str:
    """Everything of an Atom document before its first entry."""
    t, a = _atom_text, _atom_attr
    parts = [
        xml_prologue(spec.urls),
        f'<feed xmlns:media="{_MEDIA_NS}" xmlns="http://www.w3.org/2005/Atom" xml:lang="{a(spec.language)}">\n',
        f"  <id>{t(spec.self_url)}</id>\n",
        f"  <title>{t(spec.title)}</title>\n",
        f"  <updated>{spec.updated.isoformat()}</updated>\n",
        f"  <author>\n    <name>{t(spec.site_title)}</name>\n    <uri>{t(spec.urls.home())}</uri>\n  </author>\n",
        f'  <link href="{a(spec.self_url)}" rel="self" type="application/atom+xml"/>\n',
    ]
    parts.extend(f'  <link href="{a(hub)}" rel="hub"/>\n' for hub in spec.hubs)
    parts.extend(f'  <link href="{a(href)}" rel="{rel}"/>\n' for rel, href in spec.pages)  # RFC 5005
    parts.append(f'  <link href="{a(spec.alternate_url)}" rel="alternate" type="text/html"/>\n')
    parts.append(f'  <generator version="{a(GENERATOR[1])}">{t(GENERATOR[0])}</generator>\n')
    if spec.logo is not None:
        parts.append(f"  <icon>{t(spec.logo.url)}</icon>\n  <logo>{t(spec.logo.url)}</logo>\n")
    parts.append(f"  <subtitle>{t(spec.description)}</subtitle>\n")
    return "".join(parts)


def atom_entry(article: Article, urls: Urls) -> str:
    """One Atom <entry>, indented for its place in the feed."""
    t, a = _atom_text, _atom_attr
    guid = article.guid or article.url
    updated, published = _stamps(article)
    parts = [
        f"  <entry>\n    <id>{t(guid)}</id>\n    <title>{t(article.title)}</title>\n    <updated>{updated}</updated>\n"
    ]
    provider = article.provider
    if provider is not None:
        uri = f"\n      <uri>https://{_atom_name(provider.domain)}/</uri>" if provider.domain else ""
        parts.append(f"    <author>\n      <name>{_atom_name(provider.name)}</name>{uri}\n    </author>\n")
    parts.append(f'    <content type="html">{t(article_html(article))}</content>\n')
    parts.append(f'    <link href="{a(article.url)}"/>\n')
    if article.excerpt:
        parts.append(f'    <summary type="html">{t(excerpt_html(article))}</summary>\n')
    parts.extend(f'    <category term="{_atom_attr_name(topic.name)}"/>\n' for topic in article.topics)
    parts.append(f"    <published>{published}</published>\n")
    parts.extend(_media(article, a, "    "))
    if article.images:
        first = article.images[0]
        length = f' length="{first.length}"' if first.length else ""
        media = _atom_attr_name(media_type(first))
        parts.append(f'    <link href="{a(first.url)}" rel="enclosure" type="{media}"{length}/>\n')
    parts.extend(
        f'    <link href="{a(related.url)}" rel="related" title="{a(related.title)}"/>\n' for related in article.related
    )
    parts.append("  </entry>\n")
    return "".join(parts)


# Shared


def _media(article: Article, attr: Callable[[str], str], indent: str) -> list[str]:
    """Media RSS: every image but the first as media:content, then every image as media:thumbnail.

    Each image once: the first is the enclosure, and podcast apps list
    enclosures and media:content alike as the episode's files.
    """
    contents, thumbnails = [], []
    for number, image in enumerate(article.images):
        url = attr(image.url)
        size = f' height="{image.height}" width="{image.width}"' if image.width and image.height else ""
        if number:
            file_size = f' fileSize="{image.length}"' if image.length else ""
            contents.append(
                f'{indent}<media:content url="{url}" type="{attr(media_type(image))}" medium="image"'
                f"{size}{file_size}/>\n"
            )
        thumbnails.append(f'{indent}<media:thumbnail url="{url}"{size}/>\n')
    return contents + thumbnails


def _stamps(article: Article) -> tuple[str, str]:
    """An article's updated and published times as RFC 3339 (isoformat), spelled once when they are one."""
    updated = article.updated_at.isoformat()
    return updated, updated if article.published_at is article.updated_at else article.published_at.isoformat()


def rfc822(moment: datetime) -> str:
    """RSS dates ("Thu, 12 May 2022 15:09:00 +0000"), without the process locale."""
    # Every date of the model is UTC; strftime("%z") alone costs as much as the rest (2 µs).
    zone = "+0000" if moment.tzinfo is UTC else moment.strftime("%z")
    return (
        f"{_WEEKDAYS[moment.weekday()]}, {moment.day:02d} {_MONTHS[moment.month - 1]} {moment.year:04d} "
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} {zone}"
    )


# Escaping as lxml serialises it. In RSS, "&" and "<" are hexadecimal character
# references, as the RSS Best Practices Profile asks (see reference.rss_profile_escapes).


def _escapers(amp: str, lt: str) -> tuple[Callable[[str], str], Callable[[str], str]]:
    """(text, attribute) escaping, given how "&" and "<" are written."""

    def text(value: str) -> str:
        value = value.replace("&", amp).replace("<", lt).replace(">", "&gt;")
        return value.replace("\r", "&#13;") if "\r" in value else value

    def attribute(value: str) -> str:
        value = value.replace("&", amp).replace("<", lt).replace(">", "&gt;").replace('"', "&quot;")
        if "\n" in value or "\r" in value or "\t" in value:  # rare: whitespace other than spaces
            return value.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
        return value

    return text, attribute


_atom_text, _atom_attr = _escapers("&amp;", "&lt;")
_rss_text, _rss_attr = _escapers("&#x26;", "&#x3C;")
# Values that recur across items (topic and provider names, domains, media types): escaped once each.
_rss_name, _rss_attr_name = lru_cache(maxsize=16384)(_rss_text), lru_cache(maxsize=16384)(_rss_attr)
_atom_name, _atom_attr_name = lru_cache(maxsize=16384)(_atom_text), lru_cache(maxsize=16384)(_atom_attr)
