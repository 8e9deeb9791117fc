"""The XSLT stylesheet that shows a feed as a web page in a browser, and the
processing instruction that points every RSS and Atom document at it.

Feed readers ignore the instruction. A browser that receives a feed as an
XML document (web/browser.py decides who does) fetches the stylesheet and
shows the page it makes: the feed's title, how to subscribe, and its items.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from urllib.parse import urlsplit
from xml.sax.saxutils import quoteattr

from feedsvc.render.urls import Urls

STYLESHEET = "feed.xsl"  # at the root of the service, and of a static export
STYLESHEET_TYPE = "text/xsl; charset=utf-8"  # the type every browser with XSLT accepts


def stylesheet_href(urls: Urls) -> str:
    """Given the base URL, the stylesheet's URL as a feed names it: root-relative, below the base URL's path.

    Not absolute: a browser applies only a stylesheet from the feed's own
    origin, and that is the one the reader typed, which need not be the base
    URL's (a mirror, a static export served elsewhere, an SSH tunnel).
    """
    return f"{urlsplit(urls.base).path}/{STYLESHEET}"


@lru_cache(maxsize=64)  # one per base URL
def xml_prologue(urls: Urls) -> str:
    """The XML declaration and the xml-stylesheet instruction that open every RSS and Atom document."""
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        f'<?xml-stylesheet type="text/xsl" href={quoteattr(stylesheet_href(urls))}?>\n'
    )


def stylesheet_bytes() -> bytes:
    """The stylesheet as shipped in the package (feedsvc/static/feed.xsl)."""
    return files("feedsvc").joinpath("static", STYLESHEET).read_bytes()
