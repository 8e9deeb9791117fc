"""/api/articles: create, replace, read, list and delete articles.

Writes go to the content folder first (durably), then through the same
publisher the watcher uses, so an answered write is already in the feeds.
Reading and validating a submitted document runs off the event loop: readers
never wait on a writer.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import logging
from collections.abc import Callable
from itertools import islice
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.endpoints import HTTPEndpoint
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from feedsvc.api import documents
from feedsvc.api.documents import (
    JSON_TYPES,
    MARKDOWN_TYPES,
    article_json,
    document_from_json,
    document_from_markdown,
    feed_urls,
    is_slug,
    problems_json,
    source_for,
)
from feedsvc.api.mount import PATHS
from feedsvc.api.openapi import openapi_document
from feedsvc.api.throttle import AuthThrottle
from feedsvc.content.model import Article
from feedsvc.content.parse import InvalidArticle
from feedsvc.core.storage import atomic_delete, atomic_write
from feedsvc.live.refresh import publish
from feedsvc.text import slugify
from feedsvc.web.budget import client_key
from feedsvc.web.routes import base_url, parse_limit
from feedsvc.web.service import FeedService

log = logging.getLogger(__name__)

NO_STORE = {"Cache-Control": "no-store"}
Reader = Callable[[bytes, str], tuple[Article, bytes]]


def bearer_ok(authorization: str | None, token: str) -> bool:
    """Does an Authorization header carry our bearer token? (constant time)"""
    scheme, _, credentials = (authorization or "").partition(" ")
    # Compare even when the scheme is wrong, so timing says nothing about the token.
    matches = hmac.compare_digest(credentials.strip().encode(), token.encode())
    return scheme.lower() == "bearer" and matches


def throttle_for(request: Request) -> AuthThrottle:
    """The app's failed-authentication counter (made with the app, see app.py)."""
    throttle: AuthThrottle = request.app.state.auth_throttle
    return throttle


def authorize(request: Request) -> FeedService:
    """The service, if the API is on and the request carries the token."""
    service: FeedService = request.app.state.service
    token = service.settings.api_token
    if token is None:
        raise HTTPException(404, "the write API is off: start the service with FEEDSVC_API_TOKEN set to enable it")
    throttle = throttle_for(request)
    client = client_key(request.client.host if request.client else None)
    wait = throttle.retry_after(client)
    if wait is not None:  # the token is not even looked at: no more guesses this window
        raise HTTPException(
            429,
            f"too many failed authentications from this address: try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    if not bearer_ok(request.headers.get("authorization"), token):
        throttle.failed(client)
        if throttle.retry_after(client) is not None:
            log.warning("write API: %d failed authentications from %s; refusing it for a while", throttle.limit, client)
        raise HTTPException(
            401,
            "missing or wrong token: send Authorization: Bearer <FEEDSVC_API_TOKEN>",
            headers={"WWW-Authenticate": 'Bearer realm="feedsvc"'},
        )
    return service


def checked_slug(request: Request) -> str:
    slug: str = request.path_params["slug"]
    if not is_slug(slug):
        raise HTTPException(
            400, "slug: 1 to 128 characters, lower-case letters, digits and '-', starting with a letter or digit"
        )
    return slug


def reader_for(content_type: str) -> Reader:
    """How to read a PUT body of this Content-Type, or 415."""
    media_type, *parameters = content_type.split(";")
    media_type = media_type.strip().lower()
    charsets = [
        value.strip().strip('"').lower()
        for name, _, value in (p.partition("=") for p in parameters)
        if name.strip().lower() == "charset"
    ]
    if media_type not in MARKDOWN_TYPES + JSON_TYPES or any(c not in ("utf-8", "utf8") for c in charsets):
        raise HTTPException(
            415,
            "send text/markdown (a front-matter document) or application/json (its fields), in UTF-8",
        )
    return document_from_json if media_type in JSON_TYPES else document_from_markdown


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) anything over ``limit`` bytes before it is all read,
    and (408) one that stalls for BODY_IDLE_SECONDS or takes over BODY_SECONDS (api/documents.py)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the body is larger than the limit of {limit} bytes")
    body = bytearray()
    loop = asyncio.get_running_loop()
    idle, whole = documents.BODY_IDLE_SECONDS, documents.BODY_SECONDS  # read here: tests shorten them
    deadline = loop.time() + whole
    chunks = aiter(request.stream())
    while True:
        wait = min(idle, deadline - loop.time())
        try:
            chunk = await asyncio.wait_for(anext(chunks), max(wait, 0))
        except StopAsyncIteration:
            return bytes(body)
        except TimeoutError:
            raise HTTPException(
                408,
                f"the request body stalled for {idle:g} s or took over {whole:g} s",
                headers={"Connection": "close"},
            ) from None
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"the body is larger than the limit of {limit} bytes")


def storage_error(exc: OSError, source: str, change: str) -> HTTPException:
    """A failed write or delete as an answer that says what happened (and no traceback).

    ``change`` is what was not done ("written", "deleted").
    """
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        status, reason = 507, f"the disk of the content folder is full: {source} was not {change}"
    elif code in (errno.EACCES, errno.EPERM, errno.EROFS):
        status, reason = 503, f"the content folder is not writable ({exc.strerror}): {source} was not {change}"
    elif code in (errno.ENOENT, errno.ENOTDIR):
        status, reason = 503, f"the content folder is gone: {source} was not {change}"
    else:
        status, reason = 503, f"{source} could not be {change}: {exc.strerror or 'I/O error'}"
    log.warning("write API: %s (%s)", reason, errno.errorcode.get(code or 0, code))
    return HTTPException(status, f"{reason}; the feeds keep serving what they served")


def article_response(article: Article, base: str, status: int = 200) -> JSONResponse:
    body = {
        "article": article_json(article),
        "feeds": feed_urls(article, base),
        "warnings": problems_json(list(article.warnings))["problems"],
    }
    return JSONResponse(body, status, NO_STORE)


def single(request: Request, name: str) -> str | None:
    """A query parameter given at most once (which one a repeat means is anybody's guess)."""
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise HTTPException(400, f"{name}: give it once")
    return values[0] if values else None


class ArticleResource(HTTPEndpoint):
    """/api/articles/{slug}: GET (and HEAD), PUT, DELETE; any other method is a 405 with Allow."""

    async def get(self, request: Request) -> Response:
        service = authorize(request)
        source = source_for(checked_slug(request))
        article = service.index.article(source)
        problem = service.publisher.skipped.get(source)
        if article is None and problem is None:
            raise HTTPException(404, f"no article {source!r}")
        body: dict[str, Any] = {"article": article_json(article) if article else None}
        body["feeds"] = feed_urls(article, base_url(request, service)) if article else []
        if source in service.publisher.held:
            body["scheduled"] = True  # dated in the future: published when its time comes
        if problem is not None:
            body["problem"] = problem.reason
        return JSONResponse(body, headers=NO_STORE)

    async def put(self, request: Request) -> Response:
        service = authorize(request)
        source = source_for(checked_slug(request))
        reader = reader_for(request.headers.get("content-type", ""))
        raw = await read_body(request, service.settings.api_max_bytes)
        try:
            article, stored = await run_in_threadpool(reader, raw, source)
        except InvalidArticle as exc:
            return JSONResponse(problems_json(exc.problems), 422, NO_STORE)
        publisher = service.publisher
        path = publisher.root / source
        existed = path.exists()
        try:
            await run_in_threadpool(atomic_write, path, stored)
        except OSError as exc:
            raise storage_error(exc, source, "written") from None
        await publish(publisher, [path])
        published = publisher.index.article(source) or article
        return article_response(published, base_url(request, service), 200 if existed else 201)

    async def delete(self, request: Request) -> Response:
        service = authorize(request)
        source = source_for(checked_slug(request))
        path = service.publisher.root / source
        try:
            deleted = await run_in_threadpool(atomic_delete, path)
        except OSError as exc:
            raise storage_error(exc, source, "deleted") from None
        if not deleted:
            raise HTTPException(404, f"no article {source!r}")
        await publish(service.publisher, [path])
        return Response(status_code=204, headers=NO_STORE)


class ArticleList(HTTPEndpoint):
    """/api/articles: GET (and HEAD)."""

    async def get(self, request: Request) -> Response:
        service = authorize(request)
        limit = parse_limit(request.query_params.getlist("limit"))
        topic, provider, published = single(request, "topic"), single(request, "provider"), single(request, "published")
        if published not in (None, "true", "false"):
            raise HTTPException(400, "published: true or false")

        def listed() -> tuple[int, list[Article]]:  # published or not: this is the publisher's view
            count, articles = service.index.listing(
                slugify(topic) if topic else None,
                provider.lower() if provider else None,
                None if published is None else published == "true",
            )
            return count, list(islice(articles, limit))

        # Reading every record's head of a large folder takes a while: not on the event loop.
        count, articles = await run_in_threadpool(listed)
        return JSONResponse(
            {
                "count": count,
                "articles": [article_json(a) for a in articles],
                "problems": [{"source": s.source, "reason": s.reason} for s in service.publisher.skipped.values()],
            },
            headers=NO_STORE,
        )


class OpenAPIDocument(HTTPEndpoint):
    """/api/openapi.json: GET (and HEAD), no token needed."""

    async def get(self, request: Request) -> Response:
        service: FeedService = request.app.state.service
        return JSONResponse(openapi_document(base_url(request, service), service.settings.api_max_bytes))


ENDPOINTS: dict[str, type[HTTPEndpoint]] = {
    endpoint.__name__: endpoint for endpoint in (OpenAPIDocument, ArticleList, ArticleResource)
}
# The app mounts api/mount.py's routes, which import this module on the first API request.
ROUTES = [Route(path, ENDPOINTS[name]) for path, name in PATHS]
