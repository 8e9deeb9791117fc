"""The outermost ASGI layer: repeat feed requests straight from the cache, and
the headers every response carries.

Most requests are readers polling the same feed URLs. The first request for
a URL goes through Starlette (routing, validation, rendering) and is
remembered; later GET/HEAD requests for exactly the same scheme, path, query
and Host are answered here from the cache when the feed's current revision is
in it. Everything else (a miss, a new content revision, any other route or
method) falls through to Starlette, which decides as usual.

Either way, every response leaves through this layer, which adds the
``Date`` (from the clock that stamps ``Last-Modified``, so the one is never
earlier than the other) and, where the response has none of its own, the
security headers for data (see web/security.py).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from feedsvc.web.respond import decide
from feedsvc.web.security import raw_security_headers
from feedsvc.web.service import FeedService

_DATA_SECURITY = raw_security_headers("application/octet-stream")
# Put in the ASGI scope when this layer answers from the cache: the layers around it
# (the access log, web/accesslog.py) read the cache outcome from there.
CACHE_KEY = "feedsvc.cache"


class FastFeeds:
    def __init__(self, app: ASGIApp, service: FeedService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, self._finishing(send))
            return
        # The first occurrence of each header wins, as in Starlette's request.headers.get().
        host = accept = accept_encoding = if_none_match = if_modified_since = None
        for name, value in scope["headers"]:
            if name == b"host":
                host = value if host is None else host
            elif name == b"accept":
                accept = value.decode("latin-1") if accept is None else accept
            elif name == b"accept-encoding":
                accept_encoding = value.decode("latin-1") if accept_encoding is None else accept_encoding
            elif name == b"if-none-match":
                if_none_match = value.decode("latin-1") if if_none_match is None else if_none_match
            elif name == b"if-modified-since":
                if_modified_since = value.decode("latin-1") if if_modified_since is None else if_modified_since
        service = self.service
        rendered = service.cached_feed(service.route_key(scope["scheme"], scope["path"], scope["query_string"], host))
        if rendered is None:
            await self.app(scope, receive, self._finishing(send))
            return
        status, headers, body = decide(rendered, accept_encoding, if_none_match, if_modified_since, accept)
        headers = [*headers, (b"date", service.cache.date())]
        scope[CACHE_KEY] = True
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    def _finishing(self, send: Send) -> Send:
        """``send``, adding Date and any missing security headers to the response's start."""
        date = self.service.cache.date

        async def finish(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), (b"date", date())]
                if not any(name == b"content-security-policy" for name, _ in headers):
                    headers += _DATA_SECURITY
                message = {**message, "headers": headers}
            await send(message)

        return finish
