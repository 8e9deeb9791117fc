"""Article documents as the API receives and returns them (pure functions)."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from feedsvc.index import feed_refs
from feedsvc.model import Article, Image, Provider, Related
from feedsvc.parse import InvalidArticle, Problem, article_from_mapping, parse_article
from feedsvc.render import FORMATS
from feedsvc.urls import Urls

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,127}")
MARKDOWN_TYPES = ("text/markdown", "text/x-markdown", "text/plain")
JSON_TYPES = ("application/json",)


def is_slug(value: str) -> bool:
    return SLUG.fullmatch(value) is not None


def source_for(slug: str) -> str:
    """The file the API keeps an article in, relative to the content folder."""
    return f"{slug}.md"


def slug_of(source: str) -> str | None:
    """The API slug of a file, or None when the API cannot address it."""
    if "/" not in source and source.endswith(".md") and is_slug(source[:-3]):
        return source[:-3]
    return None


def document_from_markdown(raw: bytes, source: str) -> tuple[Article, bytes]:
    """Given a front-matter document, return the article and the exact bytes to store."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidArticle([Problem("", f"the document is not UTF-8 text (byte {exc.start})")]) from None
    return parse_article(text, source), raw


def document_from_json(raw: bytes, source: str) -> tuple[Article, bytes]:
    """Given the front-matter fields as JSON (plus an optional Markdown
    ``body``), return the article and the front-matter file to store.

    Every field sent is stored, known or not, so nothing is silently dropped.
    """
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidArticle([Problem("", f"not valid JSON: {exc}")]) from None
    if not isinstance(data, dict):
        raise InvalidArticle([Problem("", "the JSON document must be an object of article fields")])
    body = data.pop("body", "")
    if not isinstance(body, str):
        raise InvalidArticle([Problem("body", "must be Markdown text")])
    article = article_from_mapping(data, source, body)
    front = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
    separator = "\n" if body and not body.startswith("\n") else ""
    stored = f"---\n{front}---\n{separator}{body}"
    parse_article(stored, source)  # what we store must read back as what we validated
    return article, stored.encode("utf-8")


def problems_json(problems: list[Problem]) -> dict[str, Any]:
    return {"problems": [{"field": p.field or None, "reason": p.reason} for p in problems]}


def feed_urls(article: Article, base_url: str) -> list[str]:
    """Every feed URL the article appears in (none when unpublished)."""
    urls = Urls(base_url)
    refs = sorted(feed_refs(article), key=lambda ref: (ref.kind.value != "all", ref.kind.value, ref.key))
    return [urls.feed(ref, extension) for ref in refs for extension in FORMATS]


def article_json(article: Article) -> dict[str, Any]:
    """Given an article, return it as the API shows it (never the secret)."""
    return {
        "slug": slug_of(article.source),
        "source": article.source,
        "title": article.title,
        "url": article.url,
        "guid": article.guid or article.url,
        "published": article.published,
        "publishedDateTime": article.published_at.isoformat().replace("+00:00", "Z"),
        "updatedDateTime": article.updated_at.isoformat().replace("+00:00", "Z"),
        "excerpt": article.excerpt,
        "type": article.kind,
        "category": article.category or None,
        "provider": _provider(article.provider),
        "topics": [{"name": t.name, "slug": t.slug} for t in article.topics],
        "images": [_image(i) for i in article.images],
        "related": [_related(r) for r in article.related],
        "bodyHtml": article.body_html,
    }


def _provider(provider: Provider | None) -> dict[str, Any] | None:
    if provider is None:
        return None
    return {"name": provider.name, "domain": provider.domain or None, "images": [_image(i) for i in provider.images]}


def _image(image: Image) -> dict[str, Any]:
    return {"url": image.url, "width": image.width, "height": image.height}


def _related(related: Related) -> dict[str, Any]:
    return {
        "title": related.title,
        "url": related.url,
        "excerpt": related.excerpt,
        "publishedDateTime": related.published.isoformat().replace("+00:00", "Z") if related.published else None,
        "provider": _provider(related.provider),
    }
