"""Security headers: what a browser may do with each kind of response.

Feeds, OPML, JSON and error texts are data: nothing in them may run, load or
be framed. The pages for people are HTML with one inline style sheet, images and no script.
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


def security_headers(content_type: str) -> dict[str, str]:
    """Given a response's Content-Type, the security headers it carries."""
    html = content_type.startswith("text/html")
    return {
        "Content-Security-Policy": PAGE_POLICY if html else DATA_POLICY,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",  # frame-ancestors, for browsers that predate it
        "Referrer-Policy": "no-referrer",
    }


def raw_security_headers(content_type: str) -> list[tuple[bytes, bytes]]:
    """security_headers in ASGI form."""
    return [(name.lower().encode(), value.encode()) for name, value in security_headers(content_type).items()]
