"""OPML 2.0 subscription list of every feed, for one-click import into a reader."""

from __future__ import annotations

from collections.abc import Sequence
from email.utils import format_datetime

from lxml import etree

from feedsvc.core.index import ALL, FeedInfo, FeedKind, Index
from feedsvc.render import FeedFormat
from feedsvc.render.spec import EMPTY_FEED_DATE, Site, feed_spec
from feedsvc.render.urls import Urls


def render_opml(index: Index, site: Site, urls: Urls, formats: Sequence[FeedFormat]) -> bytes:
    """Given the index and the formats to list, return an OPML 2.0 document.

    One format: the all-articles feed, then a Topics and a Providers folder.
    Several: one folder per format holding that layout, so importing keeps
    them apart.
    """
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = f"{site.title} — feeds"
    all_info = index.info(ALL)
    newest = (all_info.updated if all_info else None) or EMPTY_FEED_DATE
    etree.SubElement(head, "dateModified").text = format_datetime(newest, usegmt=True)
    etree.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = etree.SubElement(root, "body")
    for fmt in formats:
        parent = etree.SubElement(body, "outline", text=f"{fmt.label} feeds") if len(formats) > 1 else body
        _outlines(parent, index, site, urls, fmt)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _outlines(parent: etree._Element, index: Index, site: Site, urls: Urls, fmt: FeedFormat) -> None:
    all_info = index.info(ALL)
    if all_info is not None:
        _feed(parent, all_info, site, urls, fmt)
    for kind, label in ((FeedKind.TOPIC, "Topics"), (FeedKind.PROVIDER, "Providers")):
        feeds = index.feeds(kind)
        if feeds:
            folder = etree.SubElement(parent, "outline", text=label)
            for info in feeds:
                _feed(folder, info, site, urls, fmt)


# OPML 2.0's version attribute is optional and names RSS versions; "ATOM" is the custom for
# Atom. There is none for JSON Feed, so its outlines go without one.
_VERSIONS = {"rss": "RSS2", "atom": "ATOM"}


def _feed(parent: etree._Element, info: FeedInfo, site: Site, urls: Urls, fmt: FeedFormat) -> None:
    spec = feed_spec(info, site, urls, fmt.extension)
    outline = etree.SubElement(
        parent,
        "outline",
        # OPML's type for any feed, Atom and JSON Feed included: readers import subscriptions
        # by type="rss" and find the format from what xmlUrl serves.
        type="rss",
        text=spec.title,
        title=spec.title,
        description=spec.description,
        xmlUrl=spec.self_url,
        htmlUrl=spec.alternate_url,
    )
    version = _VERSIONS.get(fmt.extension)
    if version is not None:
        outline.set("version", version)
