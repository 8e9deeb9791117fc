"""Turn a rendered document and a request's headers into status, headers and body."""

from __future__ import annotations

from starlette.background import BackgroundTask
from starlette.responses import Response

from feedsvc.web.browser import wants_page
from feedsvc.web.cache import Rendered
from feedsvc.web.conditional import accepts_gzip, is_not_modified

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


def decide(
    rendered: Rendered,
    accept_encoding: str | None,
    if_none_match: str | None,
    if_modified_since: str | None,
    accept: str | None = None,
) -> Answer:
    """Pick the media type and the encoding, then answer 304 if the client's copy is current, else 200 with the body.

    Only the chosen media type's tags revalidate (RFC 9110 §13.1.2: the
    selected representation's): a reader's copy is not a browser's.
    """
    if rendered.for_browsers is not None and wants_page(accept):
        rendered = rendered.for_browsers
    variant = rendered.variant(accepts_gzip(accept_encoding))
    last_modified = rendered.last_modified if rendered.modified_exactly else None
    if is_not_modified(if_none_match, if_modified_since, rendered.etags, last_modified):
        return 304, variant.raw_not_modified, b""
    return 200, variant.raw, variant.body


class RawResponse(Response):
    """A Response whose headers are already in ASGI form (no per-request encoding)."""

    def __init__(self, answer: Answer, background: BackgroundTask | None = None) -> None:
        self.status_code, self.raw_headers, self.body = answer
        self.background = background
