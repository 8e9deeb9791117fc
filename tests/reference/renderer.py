"""The reference RSS 2.0 and Atom 1.0 renderers, built on feedgen.

The service serves the output of :mod:`feedsvc.render.xmlfeeds`, which
says the same about ten times faster; the tests hold the two equal in
canonical form, so feedgen remains the definition of our XML.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator

from feedsvc.content.model import Article, Image
from feedsvc.core.index import FeedKind, FeedRef
from feedsvc.render.content import article_html, excerpt_html
from feedsvc.render.media import media_type, podcast_image_allowed
from feedsvc.render.spec import GENERATOR, PODCAST_CATEGORY, SUMMARY_MAX, FeedSpec, rss_logo
from feedsvc.render.xmlfeeds import entry_updated_stamps

from .feedgen_ext import NAMESPACE, FeedsvcEntryExtension, FeedsvcExtension, Link


def render_rss(spec: FeedSpec, articles: Sequence[Article]) -> bytes:
    """Given a feed spec and its articles (newest first), return RSS 2.0 bytes."""
    fg = _feed(spec, articles, rss=True)
    return rss_profile_escapes(fg.rss_str(pretty=True))


def rss_profile_escapes(xml: bytes) -> bytes:
    """Write "&" and "<" in text as hexadecimal character references.

    The RSS Best Practices Profile asks for this, so that readers cannot
    mistake escaped text for markup. lxml writes "&amp;" and "&lt;" only as
    escapes, never as markup, so the swap is exact: the XML is unchanged.
    """
    return xml.replace(b"&amp;", b"&#x26;").replace(b"&lt;", b"&#x3C;")


def render_atom(spec: FeedSpec, articles: Sequence[Article]) -> bytes:
    """Given a feed spec and its articles (newest first), return Atom 1.0 bytes."""
    fg = _feed(spec, articles, rss=False)
    document: bytes = fg.atom_str(pretty=True)
    return _respell_entry_updated(document, entry_updated_stamps(articles))


def _respell_entry_updated(document: bytes, stamps: list[str]) -> bytes:
    """feedgen formats each datetime itself: give its entries' atom:updated the spellings
    entry_updated_stamps chose (the first <updated> is the feed's own)."""
    found = iter(stamps)
    first = True

    def replace(match: re.Match[bytes]) -> bytes:
        nonlocal first
        if first:
            first = False
            return match.group(0)
        return b"<updated>" + next(found).encode() + b"</updated>"

    return re.sub(rb"<updated>[^<]*</updated>", replace, document)


def _feed(spec: FeedSpec, articles: Sequence[Article], rss: bool) -> FeedGenerator:
    fg = FeedGenerator()
    fg.load_extension("media")
    if rss:
        fg.load_extension("dc", atom=False, rss=True)  # RSS <author> needs an e-mail; dc:creator does not
    fg.register_extension(NAMESPACE, FeedsvcExtension, FeedsvcEntryExtension)
    if rss and spec.podcast:
        fg.load_extension("podcast", atom=False, rss=True)  # last: the itunes elements end channel and item
    fg.id(spec.self_url)
    fg.title(spec.title)
    fg.subtitle(spec.description)
    fg.description(spec.description)
    fg.link(href=spec.self_url, rel="self", type=_self_type(rss))
    if rss:
        getattr(fg, NAMESPACE).hubs = spec.hubs
        getattr(fg, NAMESPACE).pages = spec.pages
    else:
        for hub in spec.hubs:
            fg.link(href=hub, rel="hub")
        for rel, href in spec.pages:  # RFC 5005 paging links: feedgen knows these relations
            fg.link(href=href, rel=rel)
    fg.link(href=spec.alternate_url, rel="alternate", type="text/html")  # last: it is RSS <link>
    fg.language(spec.language)
    fg.author(name=spec.site_title, uri=spec.urls.home())
    fg.generator(*GENERATOR)
    fg.updated(spec.updated)
    if rss:
        _logo(fg, rss_logo(spec), spec)
        if spec.podcast:
            _podcast(fg, spec)
    elif spec.logo:
        fg.logo(spec.logo.url)
        fg.icon(spec.logo.url)
    for article in articles:
        _entry(fg.add_entry(order="append"), article, spec, rss)
    return fg


def _self_type(rss: bool) -> str:
    return "application/rss+xml" if rss else "application/atom+xml"


def _logo(fg: FeedGenerator, logo: Image | None, spec: FeedSpec) -> None:
    if logo is None:
        return
    # RSS caps the image at 144x400; omit a size that would break the cap.
    fits = bool(logo.width and logo.height and logo.width <= 144 and logo.height <= 400)
    fg.image(
        url=logo.url,
        title=spec.title,
        link=spec.alternate_url,
        width=str(logo.width) if fits else None,
        height=str(logo.height) if fits else None,
    )


def _podcast(fg: FeedGenerator, spec: FeedSpec) -> None:
    """The channel's itunes elements, through feedgen's podcast extension (itunes:explicit
    through ours: feedgen 1.0 knows only yes/no/clean, Apple and the W3C validator want false)."""
    getattr(fg, NAMESPACE).explicit = "false"
    fg.podcast.itunes_author(spec.author)
    fg.podcast.itunes_category(PODCAST_CATEGORY)
    if spec.cover:
        fg.podcast.itunes_image(spec.cover)
    if spec.owner_email:
        fg.podcast.itunes_owner(name=spec.author, email=spec.owner_email)
    fg.podcast.itunes_summary(spec.description[:SUMMARY_MAX])


def _entry(fe: FeedEntry, article: Article, spec: FeedSpec, rss: bool) -> None:
    fe.id(article.guid or article.url)
    fe.guid(article.guid or article.url, permalink=True)
    fe.title(article.title)
    fe.link(href=article.url, rel="alternate")
    fe.published(article.published_at)
    fe.updated(article.updated_at)
    ext: FeedsvcEntryExtension = getattr(fe, NAMESPACE)
    if article.excerpt:
        fe.summary(excerpt_html(article), type="html")
    if rss and article.excerpt:
        ext.content(article_html(article))
    elif rss:
        fe.description(article_html(article))  # no synopsis: the full content is the description
    else:
        fe.content(article_html(article), type="html")
    for topic in article.topics:
        fe.category(term=topic.name)
    if article.provider:
        _provider(fe, ext, article, spec, rss)
    if article.images:
        _images(fe, ext, article.images, rss)
    for related in article.related:
        ext.add_link(Link(href=related.url, rel="related", title=related.title))
    if rss and spec.podcast:
        _episode(fe, article)


def _episode(fe: FeedEntry, article: Article) -> None:
    """The item's itunes elements, through feedgen's podcast extension."""
    artwork = next((image.url for image in article.images if podcast_image_allowed(image.url)), None)
    if artwork is not None:
        fe.podcast.itunes_image(artwork)
    if article.excerpt:
        fe.podcast.itunes_summary(article.excerpt[:SUMMARY_MAX])
    fe.podcast.itunes_title(article.title)
    fe.podcast.itunes_episode_type("full")


def _provider(fe: FeedEntry, ext: FeedsvcEntryExtension, article: Article, spec: FeedSpec, rss: bool) -> None:
    provider = article.provider
    assert provider is not None
    if rss:
        fe.dc.dc_creator(provider.name)
        if provider.domain:
            ext.source(spec.urls.feed(FeedRef(FeedKind.PROVIDER, provider.domain), "rss"), provider.name)
    else:
        author: dict[str, Any] = {"name": provider.name}
        if provider.domain:
            author["uri"] = f"https://{provider.domain}/"
        fe.author(author)


def _images(fe: FeedEntry, ext: FeedsvcEntryExtension, images: Sequence[Image], rss: bool) -> None:
    """Each image once: the first is the enclosure, the others media:content (a podcast app
    lists both as the episode's files); every image is a media:thumbnail."""
    first = images[0]
    if rss:  # feedgen's own: before the extensions' elements, so a podcast app lists it first
        fe.enclosure(first.url, str(first.length or 0), media_type(first))
    else:
        ext.add_link(Link(href=first.url, rel="enclosure", type=media_type(first), length=first.length))
    for number, image in enumerate(images):
        content: dict[str, str] = {"url": image.url, "medium": "image", "type": media_type(image)}
        thumbnail: dict[str, str] = {"url": image.url}
        if image.width and image.height:
            for size in (content, thumbnail):
                size["width"], size["height"] = str(image.width), str(image.height)
        if image.length:
            content["fileSize"] = str(image.length)
        if number:
            fe.media.content(content, group=None)
        fe.media.thumbnail(thumbnail, group=None)
