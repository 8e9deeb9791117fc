"""The OpenAPI 3.1 description of the write API, served at /api/openapi.json.

tests/test_api_schema.py runs schemathesis against this document and the
live app: every status code, header and body here is what the API answers.
"""

from __future__ import annotations

from typing import Any

from feedsvc import __version__
from feedsvc.api.documents import (
    ARTICLE_FIELDS,
    BODY_IDLE_SECONDS,
    BODY_SECONDS,
    JSON_TYPES,
    MARKDOWN_TYPES,
    MAX_NUMBER_CHARS,
    MAX_VALUES,
    SLUG,
)
from feedsvc.content.parse import MAX_DEPTH

_PROBLEM = {
    "type": "object",
    "required": ["field", "reason", "severity"],
    "properties": {
        "field": {"type": ["string", "null"], "description": "images[0].url; null for the whole document"},
        "reason": {"type": "string"},
        "severity": {
            "enum": ["error", "warning"],
            "description": "error: the article cannot be published; warning: one part of it was left out",
        },
    },
}
_PROBLEMS = {
    "type": "object",
    "required": ["problems"],
    "properties": {"problems": {"type": "array", "items": {"$ref": "#/components/schemas/Problem"}}},
}
_IMAGE_OUT = {
    "type": "object",
    "required": ["url", "width", "height", "size", "type"],
    "properties": {
        "url": {"type": "string"},
        "width": {"type": ["integer", "null"]},
        "height": {"type": ["integer", "null"]},
        "size": {"type": ["integer", "null"], "description": "bytes, from the front matter or the enclosure probe"},
        "type": {"type": ["string", "null"], "description": "media type, from the front matter or the enclosure probe"},
    },
}
_PROVIDER_OUT = {
    "type": ["object", "null"],
    "required": ["name", "domain", "images"],
    "properties": {
        "name": {"type": "string"},
        "domain": {"type": ["string", "null"]},
        "images": {"type": "array", "items": _IMAGE_OUT},
    },
}
_ARTICLE_OUT = {
    "type": "object",
    "required": [
        "slug",
        "source",
        "title",
        "url",
        "guid",
        "published",
        "publishedDateTime",
        "updatedDateTime",
        "excerpt",
        "type",
        "category",
        "provider",
        "topics",
        "images",
        "related",
        "bodyHtml",
    ],
    "properties": {
        "slug": {"type": ["string", "null"], "description": "null for a file the API cannot address"},
        "source": {"type": "string", "description": "the file, relative to the content folder"},
        "title": {"type": "string"},
        "url": {"type": "string"},
        "guid": {"type": "string"},
        "published": {"type": "boolean"},
        "publishedDateTime": {"type": "string", "format": "date-time"},
        "updatedDateTime": {"type": "string", "format": "date-time"},
        "excerpt": {"type": "string"},
        "type": {"enum": ["article", "video"]},
        "category": {"type": ["string", "null"]},
        "provider": _PROVIDER_OUT,
        "topics": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "slug"],
                "properties": {"name": {"type": "string"}, "slug": {"type": "string"}},
            },
        },
        "images": {"type": "array", "items": _IMAGE_OUT},
        "related": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["title", "url", "excerpt", "publishedDateTime", "provider"],
                "properties": {
                    "title": {"type": "string"},
                    "url": {"type": "string"},
                    "excerpt": {"type": "string"},
                    "publishedDateTime": {"type": ["string", "null"], "format": "date-time"},
                    "provider": _PROVIDER_OUT,
                },
            },
        },
        "bodyHtml": {"type": "string", "description": "the Markdown body as sanitised HTML; empty without one"},
    },
}
_FEEDS = {
    "type": "array",
    "items": {"type": "string", "format": "uri"},
    "description": "every feed the article is in, in every format",
}
_PUBLISHED = {
    "type": "object",
    "required": ["article", "feeds", "warnings"],
    "properties": {
        "article": {"$ref": "#/components/schemas/Article"},
        "feeds": _FEEDS,
        "warnings": {"type": "array", "items": {"$ref": "#/components/schemas/Problem"}},
    },
}
_STATE = {
    "type": "object",
    "required": ["article", "feeds"],
    "properties": {
        "article": {
            "anyOf": [{"$ref": "#/components/schemas/Article"}, {"type": "null"}],
            "description": "null when the file on disk cannot be published (see problem)",
        },
        "feeds": _FEEDS,
        "scheduled": {"const": True, "description": "dated in the future: published when its time comes"},
        "problem": {"type": "string", "description": "why the file on disk cannot be published"},
    },
}
_LIST = {
    "type": "object",
    "required": ["count", "articles", "problems"],
    "properties": {
        "count": {"type": "integer", "minimum": 0, "description": "how many articles match, before the limit"},
        "articles": {"type": "array", "items": {"$ref": "#/components/schemas/Article"}},
        "problems": {
            "type": "array",
            "description": "every file in the content folder that cannot be published",
            "items": {
                "type": "object",
                "required": ["source", "reason"],
                "properties": {"source": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}


def _text(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """An error answer: one line of plain text saying what to do."""
    response: dict[str, Any] = {
        "description": description,
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
    if headers:
        response["headers"] = headers
    return response


def _json(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


_INTEGER_HEADER = {"schema": {"type": "integer", "minimum": 1}}
_GUARDED = {
    "401": _text(
        "Missing or wrong bearer token",
        {"WWW-Authenticate": {"required": True, "schema": {"type": "string", "const": 'Bearer realm="feedsvc"'}}},
    ),
    "404": _text("No such article, or the API is off (no FEEDSVC_API_TOKEN)"),
    "429": _text(
        "Too many failed authentications from this address: wait Retry-After seconds",
        {"Retry-After": {"required": True, **_INTEGER_HEADER, "description": "seconds"}},
    ),
}
_BAD_SLUG = _text("The slug is not 1 to 128 characters of a-z, 0-9 and '-' starting with a letter or digit")
_NOT_WRITABLE = _text(
    "The content folder cannot be written (permission denied, read-only, gone): "
    "nothing changed, the feeds keep serving what they served"
)
_DISK_FULL = _text("The disk of the content folder is full: nothing changed, the previous version is still served")


def openapi_document(base_url: str, max_bytes: int) -> dict[str, Any]:
    """Given the service's base URL and body limit, return the API description."""
    slug = {
        "name": "slug",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": f"^{SLUG.pattern}$"},
        "description": "The article's file is {slug}.md at the top of the content folder.",
    }
    markdown = {"type": "string", "description": "A front-matter document, stored byte for byte"}
    body_content: dict[str, Any] = {media_type: {"schema": markdown} for media_type in MARKDOWN_TYPES}
    body_content.update(
        {media_type: {"schema": {"$ref": "#/components/schemas/ArticleFields"}} for media_type in JSON_TYPES}
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "feedsvc write API",
            "version": __version__,
            "description": "Publish, replace and retract articles. Every change is written durably to the "
            "content folder before the answer, and is in the feeds when the answer arrives. Other methods on "
            "these paths get 405 with an Allow header.",
        },
        "servers": [{"url": base_url}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/articles": {
                "get": {
                    "summary": "List articles, newest first (unpublished ones too)",
                    "parameters": [
                        {"name": "topic", "in": "query", "schema": {"type": "string"}, "description": "a topic name"},
                        {"name": "provider", "in": "query", "schema": {"type": "string"}, "description": "a domain"},
                        {"name": "published", "in": "query", "schema": {"enum": ["true", "false"]}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
                    ],
                    "responses": {
                        "200": _json("Matching articles, and the files that cannot be published", "ArticleList"),
                        "400": _text("A query parameter is not valid, or is given more than once"),
                        **_GUARDED,
                    },
                }
            },
            "/api/articles/{slug}": {
                "parameters": [slug],
                "get": {
                    "summary": "Read one article as the feeds see it",
                    "responses": {"200": _json("The article", "ArticleState"), "400": _BAD_SLUG, **_GUARDED},
                },
                "put": {
                    "summary": "Create or replace an article",
                    "requestBody": {
                        "required": True,
                        "description": f"At most {max_bytes} bytes of UTF-8. A JSON body is nested at most "
                        f"{MAX_DEPTH} levels, with at most {MAX_VALUES} values, numbers of at most {MAX_NUMBER_CHARS} "
                        "characters and no key twice in one object.",
                        "content": body_content,
                    },
                    "responses": {
                        "200": _json("Replaced", "Published"),
                        "201": _json("Created", "Published"),
                        "400": _BAD_SLUG,
                        "408": _text(
                            f"The body stalled for {BODY_IDLE_SECONDS:g} s, or took over {BODY_SECONDS:g} s to arrive"
                        ),
                        "413": _text(f"The body is larger than {max_bytes} bytes"),
                        "415": _text(
                            f"The media type is not one of {', '.join(MARKDOWN_TYPES + JSON_TYPES)}, "
                            "or the charset is not UTF-8"
                        ),
                        "422": _json("The document cannot be published: every problem, nothing written", "Problems"),
                        "503": _NOT_WRITABLE,
                        "507": _DISK_FULL,
                        **_GUARDED,
                    },
                },
                "delete": {
                    "summary": "Retract an article (deletes its file)",
                    "responses": {
                        "204": {"description": "Deleted: the article has left every feed"},
                        "400": _BAD_SLUG,
                        "503": _NOT_WRITABLE,
                        **_GUARDED,
                    },
                },
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "ArticleFields": ARTICLE_FIELDS,
                "Article": _ARTICLE_OUT,
                "ArticleState": _STATE,
                "ArticleList": _LIST,
                "Published": _PUBLISHED,
                "Problem": _PROBLEM,
                "Problems": _PROBLEMS,
            },
        },
    }
