"""JSON Feed 1.1 rendering (https://jsonfeed.org/version/1.1): (spec, articles) -> bytes.

Pure, like the XML renderers: the same spec and articles always give the
same bytes (keys in a fixed order, no clock), so ETags stay put. Each item
says what the RSS item and the Atom entry say: its ``id`` is their guid/id,
its ``content_html`` their HTML content, its ``summary`` the excerpt. Items
are rendered one by one to JSON text (:func:`json_item`), so the static
export renders each article once for all the feeds it is in.

What JSON Feed has no field for goes into the ``_feedsvc`` extension object
(the spec's rule: custom keys start with an underscore, and readers that do
not know one ignore it): an item's related articles, and the feed's paging
links other than ``next_url``. Its ``about`` is the service's home page; the
README's JSON Feed section documents it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from feedsvc.content.model import Article, Image, Provider, Related
from feedsvc.core.index import FeedKind
from feedsvc.render.content import article_html
from feedsvc.render.media import media_type
from feedsvc.render.spec import FeedSpec
from feedsvc.render.urls import Urls
from feedsvc.render.xmlfeeds import ItemRenderer

VERSION = "https://jsonfeed.org/version/1.1"
# The spec's media type. JSON is UTF-8 by definition (RFC 8259 §8.1): it takes no charset.
MEDIA_TYPE = "application/feed+json"
# The extension object's name (JSON Feed: custom keys start with "_" and a letter, no ".").
EXTENSION = "_feedsvc"

# Compact and UTF-8 as it is: the spec asks for UTF-8, and escaping every non-ASCII
# character would only make the body larger. Insertion order, not sorted keys: "version"
# first, as the spec asks, and the same order every time.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


def render_json(spec: FeedSpec, articles: Sequence[Article], item: ItemRenderer | None = None) -> bytes:
    """Given a feed spec and its articles (newest first), return JSON Feed 1.1 bytes."""
    render_item = item or json_item
    head = _encode(feed_object(spec))
    items = ",".join(render_item(article, spec.urls) for article in articles)
    # The items are JSON texts already: splice them in rather than parse and encode them again.
    return f'{head[:-1]},"items":[{items}]}}'.encode()


def feed_object(spec: FeedSpec) -> dict[str, Any]:
    """Everything of the top-level object but ``items`` (which the caller appends last)."""
    pages = dict(spec.pages)
    # An archive page is not what to subscribe to: its feed's first page is.
    subscribe = pages.get("first", spec.self_url)
    feed: dict[str, Any] = {
        "version": VERSION,
        "title": spec.title,
        "home_page_url": spec.alternate_url,
        "feed_url": spec.self_url,
        "description": spec.description,
        "user_comment": (
            f"A JSON Feed (https://jsonfeed.org): to follow it, add {subscribe} to a feed reader. "
            f"{EXTENSION} objects hold what JSON Feed has no field for (related articles, paging links)."
        ),
    }
    if "next" in pages:
        feed["next_url"] = pages["next"]
    # icon: square and large (the cover art podcast apps get: a square logo, else the site's
    # 1400 px cover). favicon: what Atom's <icon> is, the provider's logo, else the cover art;
    # the site's own favicon.ico is 32 px, below the 64 px the spec asks for.
    if spec.cover:
        feed["icon"] = spec.cover
    if spec.logo is not None:
        feed["favicon"] = spec.logo.url
    provider_feed = spec.info.ref.kind is FeedKind.PROVIDER
    home = _provider_site(spec.info.ref.key) if provider_feed else spec.urls.home()
    feed["authors"] = [{"name": spec.author, "url": home} if spec.author else {"url": home}]
    feed["language"] = spec.language
    if spec.hubs:
        # When using WebSub, the hub's topic is the feed_url (spec: Subscribing to Real-time Notifications).
        feed["hubs"] = [{"type": "WebSub", "url": hub} for hub in spec.hubs]
    # "about" is for a person reading the raw JSON: the site, whose README documents _feedsvc.
    extension: dict[str, Any] = {"about": spec.urls.home()}
    other_pages = {rel: url for rel, url in spec.pages if rel != "next"}
    if other_pages:
        extension["pages"] = other_pages
    feed[EXTENSION] = extension
    return feed


def json_item(article: Article, urls: Urls) -> str:
    """One item of a JSON Feed, as JSON text."""
    return _encode(item_object(article))


def item_object(article: Article) -> dict[str, Any]:
    """One item: the same id, link, dates, content and images as the RSS item and the Atom entry."""
    item: dict[str, Any] = {"id": article.guid or article.url, "url": article.url}
    if article.original_url and article.original_url != article.url:
        # url is the article's page (webUrl); the original publisher's page is "elsewhere".
        item["external_url"] = article.original_url
    item["title"] = article.title
    if article.excerpt:
        item["summary"] = article.excerpt  # plain text, as the spec wants it
    item["content_html"] = article_html(article)
    if article.images:
        item["image"] = article.images[0].url
    modified = article.updated_at.isoformat()
    # One datetime for both when the article was never updated (core/records.py): spelled once.
    item["date_published"] = (
        modified if article.published_at is article.updated_at else article.published_at.isoformat()
    )
    item["date_modified"] = modified
    author = _author(article.provider)
    if author:
        item["authors"] = [author]
    if article.topics:
        item["tags"] = [topic.name for topic in article.topics]
    if article.images:
        item["attachments"] = _attachments(article.images)
    if article.related:
        item[EXTENSION] = {"related": [_related(related) for related in article.related]}
    return item


def _attachments(images: Sequence[Image]) -> list[dict[str, Any]]:
    """Every image once, as the XML feeds list them (enclosure and media:content): the same URL
    listed twice in a file is one file to fetch. The size only when it is known."""
    attachments = []
    seen: set[str] = set()
    for image in images:
        if image.url in seen:
            continue
        seen.add(image.url)
        attachment: dict[str, Any] = {"url": image.url, "mime_type": media_type(image)}
        if image.length:
            attachment["size_in_bytes"] = image.length
        attachments.append(attachment)
    return attachments


def _author(provider: Provider | None) -> dict[str, str]:
    """The provider as a JSON Feed author, with its site as the URL (as in Atom); {} when it says nothing."""
    if provider is None:
        return {}
    author = {}
    if provider.name:
        author["name"] = provider.name
    if provider.domain:
        author["url"] = _provider_site(provider.domain)
    return author


def _related(related: Related) -> dict[str, Any]:
    """A related article: what the XML feeds' rel="related" links and the item's HTML list say."""
    link: dict[str, Any] = {"title": related.title, "url": related.url}
    if related.excerpt:
        link["summary"] = related.excerpt
    if related.published is not None:
        link["date_published"] = related.published.isoformat()
    if related.provider is not None and related.provider.name:
        link["provider"] = related.provider.name
    return link


def _provider_site(domain: str) -> str:
    return f"https://{domain}/"
