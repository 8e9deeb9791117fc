"""The one article model every loader produces and every renderer reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong in an article document: which field, why, and how bad.

    An "error" keeps the article from being published; a "warning" means a
    part of it (an image, a related link) was left out.
    """

    field: str
    reason: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}" if self.field else self.reason


@dataclass(frozen=True, slots=True)
class Image:
    url: str
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    domain: str
    images: tuple[Image, ...] = ()


@dataclass(frozen=True, slots=True)
class Related:
    title: str
    url: str
    excerpt: str = ""
    published: datetime | None = None
    provider: Provider | None = None


@dataclass(frozen=True, slots=True)
class Topic:
    """A topic as written in an article ("Computer Vision") and its URL slug."""

    name: str
    slug: str


@dataclass(frozen=True, slots=True)
class Article:
    """One published-or-not article, cleaned and validated.

    Every string is already free of characters XML 1.0 forbids, so renderers
    never have to think about them. The opaque ``secured`` field is not kept
    at all: what is not in the model cannot leak into a feed.
    """

    source: str  # the file name it came from, for logs and ordering ties
    title: str
    url: str  # webUrl, else originalUrl: the permalink and the guid
    published_at: datetime  # always timezone-aware (UTC)
    updated_at: datetime
    excerpt: str = ""
    kind: str = "article"  # "article" or "video"
    published: bool = True
    provider: Provider | None = None
    topics: tuple[Topic, ...] = ()
    images: tuple[Image, ...] = ()
    related: tuple[Related, ...] = ()
    body_html: str = ""  # sanitised HTML rendered from the Markdown body
    category: str = ""
    original_url: str = ""
    # The feed guid / Atom id: the URL, unless an earlier article already has
    # that URL (see index._guids). Set by the index, not by the file.
    guid: str = ""
    # Parts of the document that were left out, and why (not content).
    warnings: tuple[Problem, ...] = field(default=(), compare=False)
