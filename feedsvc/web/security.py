"""Security headers: what a browser may do with each kind of response.

Feeds, OPML, JSON and error texts are data: nothing in them may run, load or
be framed. The pages for people are HTML with one inline style sheet, images and no script.
A feed sent to a browser (as application/xml, see web/browser.py) becomes such a page
through the service's XSLT stylesheet.
"""

from __future__ import annotations

# Nothing loads, nothing runs, no one frames it: for every response that is not the home page.
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Pages for people (home, topics, providers): their own inline <style>, the articles' images
# from wherever they are hosted, the site icon, and the search form (a GET to the home page);
# no script of any kind.
PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: http:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# A feed shown in a browser: the page its XSLT stylesheet makes keeps this policy.
# CSP 3 counts an XSLT stylesheet as script ("script-like" destination, script-src):
# 'self' lets the stylesheet load, and nothing else can run. No inline script or
# event handler (no 'unsafe-inline'), and the origin serves nothing of a JavaScript
# type, which nosniff requires of any script. Inline <style> of the stylesheet, and
# the items' images from wherever they are hosted.
FEED_PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src https: http:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def security_headers(content_type: str) -> dict[str, str]:
    """Given a response's Content-Type, the security headers it carries."""
    if content_type.startswith("text/html"):
        policy = PAGE_POLICY
    elif content_type.startswith("application/xml"):  # only feeds for browsers are sent as application/xml
        policy = FEED_PAGE_POLICY
    else:
        policy = DATA_POLICY
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",  # frame-ancestors, for browsers that predate it
        "Referrer-Policy": "no-referrer",
    }


def raw_security_headers(content_type: str) -> list[tuple[bytes, bytes]]:
    """security_headers in ASGI form."""
    return [(name.lower().encode(), value.encode()) for name, value in security_headers(content_type).items()]
