"""/api/articles: create, replace, read, list and delete articles.

Writes go to the content folder first (durably), then through the same
publisher the watcher uses, so an answered write is already in the feeds.
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

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
from feedsvc.api.openapi import openapi_document
from feedsvc.index import sort_key
from feedsvc.live.storage import atomic_delete, atomic_write
from feedsvc.model import Article
from feedsvc.parse import InvalidArticle
from feedsvc.text import slugify
from feedsvc.web.routes import base_url, parse_limit
from feedsvc.web.service import FeedService

NO_STORE = {"Cache-Control": "no-store"}


def bearer_ok(authorization: str | None, token: str) -> bool:
    """Does an Authorization header carry our bearer token? (constant time)"""
    scheme, _, credentials = (authorization or "").partition(" ")
    # Compare even when the scheme is wrong, so timing says nothing about the token.
    matches = hmac.compare_digest(credentials.strip().encode(), token.encode())
    return scheme.lower() == "bearer" and matches


def authorize(request: Request) -> FeedService:
    """The service, if the API is on and the request carries the token."""
    service: FeedService = request.app.state.service
    token = service.settings.api_token
    if token is None:
        raise HTTPException(404, "the write API is off: start the service with FEEDSVC_API_TOKEN set to enable it")
    if not bearer_ok(request.headers.get("authorization"), token):
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


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) anything over ``limit`` bytes before it is all read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the body is larger than the limit of {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"the body is larger than the limit of {limit} bytes")
    return bytes(body)


def article_response(article: Article, base: str, status: int = 200) -> JSONResponse:
    body = {
        "article": article_json(article),
        "feeds": feed_urls(article, base),
        "warnings": problems_json(list(article.warnings))["problems"],
    }
    return JSONResponse(body, status, NO_STORE)


async def put_article(request: Request) -> Response:
    service = authorize(request)
    slug = checked_slug(request)
    source = source_for(slug)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in MARKDOWN_TYPES + JSON_TYPES:
        raise HTTPException(415, "send text/markdown (a front-matter document) or application/json (its fields)")
    raw = await read_body(request, service.settings.api_max_bytes)
    try:
        reader = document_from_json if media_type in JSON_TYPES else document_from_markdown
        article, stored = reader(raw, source)
    except InvalidArticle as exc:
        return JSONResponse(problems_json(exc.problems), 422, NO_STORE)
    publisher = service.publisher
    path = publisher.root / source
    existed = path.exists()
    await run_in_threadpool(atomic_write, path, stored)
    await publisher.update([path])
    published = publisher.index.article(source) or article
    return article_response(published, base_url(request, service), 200 if existed else 201)


async def get_article(request: Request) -> Response:
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


async def delete_article(request: Request) -> Response:
    service = authorize(request)
    source = source_for(checked_slug(request))
    path = service.publisher.root / source
    if not await run_in_threadpool(atomic_delete, path):
        raise HTTPException(404, f"no article {source!r}")
    await service.publisher.update([path])
    return Response(status_code=204, headers=NO_STORE)


async def list_articles(request: Request) -> Response:
    service = authorize(request)
    params = request.query_params
    limit = parse_limit(params.getlist("limit"))
    articles = list(service.index.all_articles())  # published or not: this is the publisher's view
    if topic := params.get("topic"):
        slug = slugify(topic)
        articles = [a for a in articles if any(t.slug == slug for t in a.topics)]
    if provider := params.get("provider"):
        domain = provider.lower()
        articles = [a for a in articles if a.provider is not None and a.provider.domain == domain]
    if "published" in params:
        if params["published"] not in ("true", "false"):
            raise HTTPException(400, "published: true or false")
        articles = [a for a in articles if a.published is (params["published"] == "true")]
    articles.sort(key=sort_key)
    return JSONResponse(
        {
            "count": len(articles),
            "articles": [article_json(a) for a in articles[:limit]],
            "problems": [{"source": s.source, "reason": s.reason} for s in service.publisher.skipped.values()],
        },
        headers=NO_STORE,
    )


async def openapi(request: Request) -> Response:
    service: FeedService = request.app.state.service
    return JSONResponse(openapi_document(base_url(request, service), service.settings.api_max_bytes))


ROUTES = [
    Route("/api/openapi.json", openapi),
    Route("/api/articles", list_articles),
    Route("/api/articles/{slug:path}", get_article, methods=["GET", "HEAD"]),
    Route("/api/articles/{slug:path}", put_article, methods=["PUT"]),
    Route("/api/articles/{slug:path}", delete_article, methods=["DELETE"]),
]
