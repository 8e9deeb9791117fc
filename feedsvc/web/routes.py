"""Routes: the public URL contract (see README) mapped onto the service."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Scope

from feedsvc.core.index import ALL, FeedKind, FeedRef
from feedsvc.core.query import FeedQuery
from feedsvc.render import FORMATS, FeedFormat
from feedsvc.render.pages import MAX_QUERY, SITE_FILES, normal_query
from feedsvc.render.spec import COVER
from feedsvc.render.stylesheet import STYLESHEET, STYLESHEET_TYPE
from feedsvc.render.urls import Urls
from feedsvc.text import slugify
from feedsvc.web.budget import WorkBudget, client_key
from feedsvc.web.cache import Rendered
from feedsvc.web.hosts import ANY, host_allowed, host_name
from feedsvc.web.query import canonical_union, parse_feed_query, parse_limit, parse_union
from feedsvc.web.respond import RawResponse, decide
from feedsvc.web.security import security_headers
from feedsvc.web.service import HOME, HTML, OPML, FeedService, PastTheEnd

__all__ = ["ROUTES", "base_url", "parse_limit", "respond"]

T = TypeVar("T")

# A Host header is echoed into every absolute URL; refuse anything that is not host[:port].
_HOST = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])"
    r"(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?$"
)


# Control characters (C0, DEL, C1) are in no topic or provider name; a search holding one is a mistake.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def parse_query(given: list[str]) -> str:
    """Given the query string's ``q`` values, return the search ("" for none) or raise 400."""
    if not given:
        return ""
    if len(given) > 1:
        raise HTTPException(400, "q: give it once, e.g. /?q=vision")
    value = given[0]
    if len(value) > MAX_QUERY:
        raise HTTPException(400, f"q: a search is at most {MAX_QUERY} characters, this one has {len(value)}")
    if _CONTROL.search(value):
        raise HTTPException(400, "q: control characters (tabs, line breaks and the like) cannot be searched for")
    return value


def base_url(request: Request, service: FeedService) -> str:
    """The base of every absolute URL: the configured one, else this request's.

    Raises 400 for a Host that is not a host name or not on the allow-list,
    before anything is rendered or cached for it.
    """
    configured = service.settings.base_url
    if configured and service.allowed_hosts == ANY:
        return configured
    host = request.headers.get("host", "").lower()  # host names are case-insensitive: one cache entry
    if len(host) > 260 or not _HOST.match(host):
        raise HTTPException(400, "Host header: missing or not a host name")
    if not host_allowed(host_name(host), service.allowed_hosts):
        raise HTTPException(
            400,
            f"Host header: {host!r} is not a name this service answers to "
            "(see --allowed-hosts / FEEDSVC_ALLOWED_HOSTS, or set --base-url)",
        )
    return configured or f"{request.url.scheme}://{host}"


def respond(request: Request, rendered: Rendered) -> Response:
    """Serve a rendered document, or 304 when the client's copy is current."""
    headers = request.headers
    return RawResponse(
        decide(
            rendered,
            headers.get("accept-encoding"),
            headers.get("if-none-match"),
            headers.get("if-modified-since"),
            headers.get("accept"),
        )
    )


def feed_format(extension: str) -> FeedFormat:
    fmt = FORMATS.get(extension)
    if fmt is None:
        known = ", ".join(f".{name}" for name in FORMATS)
        raise HTTPException(404, f"no feed format {extension[:40]!r}: use {known}")
    return fmt


def serve_feed(request: Request, ref: FeedRef) -> Response:
    service: FeedService = request.app.state.service
    fmt = feed_format(request.path_params["fmt"])
    query = parse_feed_query((ref,), request.query_params.multi_items())
    base = base_url(request, service)
    if query.plain:  # the feeds readers poll: the main cache, as before filters and pages
        rendered = service.feed(ref, fmt, query.limit, base)
        if rendered is not None:
            service.remember_route(route_key(request.scope, service), ref, fmt, query.limit, base)
            return respond(request, rendered)
    elif service.index.query_revision(query) is not None:
        return serve_query(request, service, query, fmt, base)
    canonical = _canonical(ref)
    if canonical != ref and service.index.info(canonical) is not None:
        return _redirect(request, Urls(base).feed(canonical, fmt.extension))
    what = "topic" if ref.kind is FeedKind.TOPIC else "provider"
    raise HTTPException(404, f"no {what} {ref.key[:100]!r}: every feed is listed at /feeds.opml and on /")


def serve_query(request: Request, service: FeedService, query: FeedQuery, fmt: FeedFormat, base: str) -> Response:
    """An archive page or a filtered feed, from the cache partition for them (see FeedService.feed_query)."""
    topic = query.filters.topic
    if topic and service.index.info(FeedRef(FeedKind.TOPIC, topic)) is None:
        raise HTTPException(404, f"topic: no topic {topic[:100]!r}: every topic is listed at /feeds.opml and on /")
    try:
        rendered = budgeted(request, lambda: service.feed_query(query, fmt, base))
    except PastTheEnd:
        raise HTTPException(
            404, "page: past the end of this feed, there are no older items; start again from its first page"
        ) from None
    if rendered is None:  # the feed went away since it was looked up
        raise HTTPException(404, "no such feed: every feed is listed at /feeds.opml and on /")
    service.remember_query(route_key(request.scope, service), query, fmt, base)
    return respond(request, rendered)


def budgeted(request: Request, work: Callable[[], T]) -> T:
    """``work`` (a filtered feed or a search), if the client and the server have the time
    for it (web/budget.py), charged with the time it took; else 429 or 503 saying when to retry."""
    budget: WorkBudget = request.app.state.work_budget
    client = client_key(request.client.host if request.client else None)
    refusal = budget.refusal(client)
    if refusal is not None:
        raise HTTPException(refusal.status, refusal.reason, headers={"Retry-After": str(refusal.retry_after)})
    started = time.perf_counter()
    try:
        return work()
    finally:
        budget.charge(client, time.perf_counter() - started)


def serve_union(request: Request, key: str) -> Response:
    """Several topics as one feed (/feeds/topics/a+b.rss): their articles merged, each once."""
    service: FeedService = request.app.state.service
    fmt = feed_format(request.path_params["fmt"])
    parts = parse_union(key)
    slugs = canonical_union(parts)
    query = parse_feed_query(tuple(FeedRef(FeedKind.TOPIC, slug) for slug in slugs), request.query_params.multi_items())
    base = base_url(request, service)
    index = service.index
    for part in parts:
        if index.info(FeedRef(FeedKind.TOPIC, slugify(part))) is None:
            raise HTTPException(404, f"no topic {part[:100]!r}: every topic is listed at /feeds.opml and on /")
    canonical = "+".join(slugs)
    if canonical != key:  # one URL per union: sorted slugs, each once (one topic alone is its own feed)
        return _redirect(request, Urls(base).feed(FeedRef(FeedKind.TOPIC, canonical), fmt.extension))
    return serve_query(request, service, query, fmt, base)


def _redirect(request: Request, target: str) -> Response:
    """301 to a feed's canonical URL, keeping the query string."""
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(target + query, status_code=301)


def route_key(scope: Scope, service: FeedService) -> Hashable:
    """What identifies a feed request before routing (see FeedService.route_key)."""
    host = next((value for name, value in scope["headers"] if name == b"host"), None)
    return service.route_key(scope["scheme"], scope["path"], scope["query_string"], host)


def _canonical(ref: FeedRef) -> FeedRef:
    key = slugify(ref.key) if ref.kind is FeedKind.TOPIC else ref.key.lower()
    return FeedRef(ref.kind, key)


async def all_feed(request: Request) -> Response:
    return serve_feed(request, ALL)


async def topic_feed(request: Request) -> Response:
    key = request.path_params["topic"]
    if "+" in key:
        return serve_union(request, key)
    return serve_feed(request, FeedRef(FeedKind.TOPIC, key))


async def provider_feed(request: Request) -> Response:
    return serve_feed(request, FeedRef(FeedKind.PROVIDER, request.path_params["domain"]))


async def opml(request: Request) -> Response:
    service: FeedService = request.app.state.service
    wanted = request.query_params.getlist("format")
    if not wanted:
        formats = list(FORMATS.values())
    elif len(wanted) == 1 and wanted[0] in FORMATS:
        formats = [FORMATS[wanted[0]]]
    else:
        raise HTTPException(400, f"format: one of {', '.join(FORMATS)}, or leave it out to list every format")
    slot, rendered = service.page(OPML, formats, base_url(request, service))
    service.remember_page(route_key(request.scope, service), slot)
    return respond(request, rendered)


async def home(request: Request) -> Response:
    service: FeedService = request.app.state.service
    query = parse_query(request.query_params.getlist("q"))
    base = base_url(request, service)
    formats = list(FORMATS.values())
    if normal_query(query):
        # Not remembered for the fast path either: made-up queries must not crowd out the feeds.
        return respond(request, budgeted(request, lambda: service.search(query, formats, base)))
    slot, rendered = service.page(HOME, formats, base)
    service.remember_page(route_key(request.scope, service), slot)
    return respond(request, rendered)


def serve_page(request: Request, ref: FeedRef) -> Response:
    """A topic's or provider's page; a non-canonical name is redirected, an unknown one gets a helpful 404."""
    service: FeedService = request.app.state.service
    base = base_url(request, service)
    found = service.feed_page(ref, list(FORMATS.values()), base)
    if found is None:
        canonical = _canonical(ref)
        if canonical != ref and service.index.info(canonical) is not None:
            query = f"?{request.url.query}" if request.url.query else ""
            return RedirectResponse(Urls(base).html(canonical) + query, status_code=301)
        return Response(service.not_found_page(ref, base), 404, security_headers(HTML), media_type=HTML)
    slot, rendered = found
    service.remember_page(route_key(request.scope, service), slot)
    return respond(request, rendered)


async def topic_page(request: Request) -> Response:
    return serve_page(request, FeedRef(FeedKind.TOPIC, request.path_params["topic"]))


async def provider_page(request: Request) -> Response:
    return serve_page(request, FeedRef(FeedKind.PROVIDER, request.path_params["domain"]))


async def site_file(request: Request) -> Response:
    """The favicon or robots.txt (see pages.SITE_FILES)."""
    service: FeedService = request.app.state.service
    base_url(request, service)  # the same Host rule as every other URL
    name = request.url.path.removeprefix("/")
    return respond(request, service.static(name, SITE_FILES[name]))


async def cover(request: Request) -> Response:
    """The cover art of feeds without an image of their own (see --site-image)."""
    service: FeedService = request.app.state.service
    base_url(request, service)  # the same Host rule as every other URL
    return respond(request, service.static(COVER, "image/png"))


async def stylesheet(request: Request) -> Response:
    """The XSLT stylesheet every feed names, which makes a page of it in a browser (see web/browser.py)."""
    service: FeedService = request.app.state.service
    base_url(request, service)  # the same Host rule as every other URL
    return respond(request, service.static(STYLESHEET, STYLESHEET_TYPE))


async def healthz(request: Request) -> Response:
    service: FeedService = request.app.state.service
    return JSONResponse(service.health(), headers={"Cache-Control": "no-store"})


# A browser-based reader that revalidates sets If-None-Match itself, which is not
# a CORS-safelisted header: its browser asks first with an OPTIONS preflight.
PREFLIGHT_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD",
    "Access-Control-Allow-Headers": "If-None-Match, If-Modified-Since",
    "Access-Control-Max-Age": "86400",
    "Allow": "GET, HEAD, OPTIONS",
}


async def preflight(request: Request) -> Response:
    return Response(status_code=204, headers=PREFLIGHT_HEADERS)


def _feed_route(path: str, endpoint: Callable[[Request], Awaitable[Response]]) -> list[Route]:
    return [Route(path, endpoint, methods=["GET", "HEAD"]), Route(path, preflight, methods=["OPTIONS"])]


ROUTES = [
    Route("/", home),
    Route("/topics/{topic}", topic_page),
    Route("/providers/{domain}", provider_page),
    *(Route(f"/{name}", site_file) for name in SITE_FILES),
    *_feed_route("/feeds.opml", opml),
    *_feed_route("/feeds/all.{fmt}", all_feed),
    *_feed_route("/feeds/topics/{topic}.{fmt}", topic_feed),
    *_feed_route("/feeds/providers/{domain}.{fmt}", provider_feed),
    Route(f"/{COVER}", cover),
    Route(f"/{STYLESHEET}", stylesheet),
    Route("/healthz", healthz),
]
