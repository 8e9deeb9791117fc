"""Who gets a feed as a page: the media type a feed is sent with, as a pure decision.

A browser shows a feed as a styled page only when it receives it as an XML
document type (application/xml, text/xml) and applies the stylesheet its
xml-stylesheet instruction names. Sent as application/rss+xml or
application/atom+xml, Chromium shows the source as text, and other browsers
may offer a download. Feed readers, on the other hand, are used to the feed types and
some look at them. So the same bytes go out under two types, chosen by the
request's Accept header (RFC 9110 §12.5.1), with ``Vary: Accept``:

- a browser navigating to the URL asks for ``text/html`` first
  (``text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8``) and
  names no feed type: it gets application/xml;
- everyone else (feedparser, Miniflux, FreshRSS, NetNewsWire, podcast apps,
  ``*/*``, no Accept at all) gets the feed's own type, as before.

A reader that sends a browser's Accept still gets the same bytes, so the
worst a wrong guess does is change the Content-Type header.
"""

from __future__ import annotations

from functools import lru_cache

BROWSER_TYPE = "application/xml; charset=utf-8"
_FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml"})


def browser_type(feed_type: str) -> str | None:
    """The media type a browser opening a feed of this type gets, or None for the feed's own.

    Only XML feeds become pages (their xml-stylesheet instruction names the
    XSLT stylesheet). JSON Feed has no stylesheet, and sent as XML it would
    be an XML parse error: it keeps application/feed+json, which Chromium
    shows as text (a +json type).
    """
    return BROWSER_TYPE if feed_type.endswith("+xml") else None


@lru_cache(maxsize=256)  # clients send a handful of distinct values
def wants_page(accept: str | None) -> bool:
    """Given a request's Accept value, should a feed be sent as an XML document a browser styles?

    Yes when HTML is acceptable (q > 0) and no feed type is asked for by
    name: that is a browser opening the URL. Any feed type named, even at a
    low weight, marks a feed reader.
    """
    if not accept:
        return False
    html = False
    for part in accept.lower().split(","):
        media_range, _, params = part.partition(";")
        media_range = media_range.strip()
        if media_range in _FEED_TYPES:
            return False
        if media_range == "text/html" and _weight(params) > 0:
            html = True
    return html


def _weight(params: str) -> float:
    """The q parameter of a media range's parameters ("q=0.9; level=1"): 1 when absent, 0 when unreadable."""
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip() == "q":
            try:
                return float(value.strip())
            except ValueError:
                return 0.0
    return 1.0
