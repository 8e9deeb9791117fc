"""The OpenAPI 3.1 description of the write API, served at /api/openapi.json."""

from __future__ import annotations

from typing import Any

from feedsvc import __version__

_PROBLEMS = {
    "type": "object",
    "required": ["problems"],
    "properties": {
        "problems": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "reason"],
                "properties": {"field": {"type": ["string", "null"]}, "reason": {"type": "string"}},
            },
        }
    },
}
_IMAGE = {
    "type": "object",
    "required": ["url"],
    "properties": {
        "url": {"type": "string", "format": "uri"},
        "width": {"type": ["integer", "null"]},
        "height": {"type": ["integer", "null"]},
    },
}
_PROVIDER = {
    "type": ["object", "null"],
    "properties": {
        "name": {"type": "string"},
        "domain": {"type": ["string", "null"]},
        "images": {"type": "array", "items": _IMAGE},
    },
}
_ARTICLE_IN = {
    "type": "object",
    "description": "The front-matter fields of an article file, plus an optional Markdown body. "
    "Fields not listed are stored as sent and ignored by the feeds.",
    "required": ["title", "publishedDateTime"],
    "properties": {
        "title": {"type": "string"},
        "excerpt": {"type": "string"},
        "publishedDateTime": {"type": "string", "format": "date-time"},
        "updatedDateTime": {"type": "string", "format": "date-time"},
        "webUrl": {"type": "string", "format": "uri"},
        "originalUrl": {"type": "string", "format": "uri"},
        "type": {"enum": ["article", "video"]},
        "published": {"type": "boolean", "default": True},
        "provider": _PROVIDER,
        "topics": {"type": "array", "items": {"type": "string"}},
        "images": {"type": "array", "items": _IMAGE},
        "related": {"type": "array", "items": {"type": "object"}},
        "body": {"type": "string", "description": "Markdown, published as part of the item's HTML content"},
    },
}
_ARTICLE_OUT = {
    "type": "object",
    "properties": {
        "slug": {"type": ["string", "null"]},
        "source": {"type": "string"},
        "title": {"type": "string"},
        "url": {"type": "string"},
        "guid": {"type": "string"},
        "published": {"type": "boolean"},
        "publishedDateTime": {"type": "string", "format": "date-time"},
        "updatedDateTime": {"type": "string", "format": "date-time"},
        "excerpt": {"type": "string"},
        "type": {"type": "string"},
        "category": {"type": ["string", "null"]},
        "provider": _PROVIDER,
        "topics": {"type": "array", "items": {"type": "object"}},
        "images": {"type": "array", "items": _IMAGE},
        "related": {"type": "array", "items": {"type": "object"}},
        "bodyHtml": {"type": ["string", "null"]},
    },
}
_PUBLISHED = {
    "type": "object",
    "properties": {
        "article": {"$ref": "#/components/schemas/Article"},
        "feeds": {"type": "array", "items": {"type": "string", "format": "uri"}},
        "warnings": {"type": "array", "items": {"type": "object"}},
    },
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}


def openapi_document(base_url: str, max_bytes: int) -> dict[str, Any]:
    """Given the service's base URL and body limit, return the API description."""
    slug = {
        "name": "slug",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,127}$"},
        "description": "The article's file is {slug}.md at the top of the content folder.",
    }
    common = {
        "401": _error("Missing or wrong bearer token"),
        "404": _error("No such article, or the API is off (no FEEDSVC_API_TOKEN)"),
    }
    published = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Published"}}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "feedsvc write API",
            "version": __version__,
            "description": "Publish, replace and retract articles. Every change is written durably to the "
            "content folder before the answer, and is in the feeds when the answer arrives.",
        },
        "servers": [{"url": base_url}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/articles": {
                "get": {
                    "summary": "List articles, newest first",
                    "parameters": [
                        {"name": "topic", "in": "query", "schema": {"type": "string"}},
                        {"name": "provider", "in": "query", "schema": {"type": "string"}},
                        {"name": "published", "in": "query", "schema": {"enum": ["true", "false"]}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
                    ],
                    "responses": {
                        "200": {
                            "description": "Matching articles and the files that could not be published",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        "400": _error("Bad query parameter"),
                        **common,
                    },
                }
            },
            "/api/articles/{slug}": {
                "parameters": [slug],
                "get": {
                    "summary": "Read one article",
                    "responses": {"200": {"description": "The article", **published}, **common},
                },
                "put": {
                    "summary": "Create or replace an article",
                    "requestBody": {
                        "required": True,
                        "description": f"At most {max_bytes} bytes.",
                        "content": {
                            "text/markdown": {"schema": {"type": "string"}},
                            "application/json": {"schema": {"$ref": "#/components/schemas/ArticleFields"}},
                        },
                    },
                    "responses": {
                        "200": {"description": "Replaced", **published},
                        "201": {"description": "Created", **published},
                        "400": _error("Bad slug"),
                        "413": _error("Body too large"),
                        "415": _error("Neither text/markdown nor application/json"),
                        "422": {
                            "description": "Invalid article: every problem, nothing written",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problems"}}},
                        },
                        **common,
                    },
                },
                "delete": {
                    "summary": "Retract an article (deletes its file)",
                    "responses": {"204": {"description": "Deleted"}, "400": _error("Bad slug"), **common},
                },
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "ArticleFields": _ARTICLE_IN,
                "Article": _ARTICLE_OUT,
                "Published": _PUBLISHED,
                "Problems": _PROBLEMS,
            },
        },
    }
