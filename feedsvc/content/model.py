"""The one article model every loader produces and every renderer reads.

Named tuples: immutable, compact in memory (100,000 articles are held at
once) and quick to pickle, which parallel loading and the start-up snapshot
both do for every article.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple


class Problem(NamedTuple):
    """Something wrong in an article document: which field, why, and how bad.

    An "error" keeps the article from being published; a "warning" means a
    part of it (an image, a related link) was left out.
    """

    field: str
    reason: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}" if self.field else self.reason


class Image(NamedTuple):
    url: str
    width: int | None = None
    height: int | None = None
    # The image file's size in bytes and media type, when known: given in the
    # front matter, or found by asking the image's server (RSS enclosures and
    # podcast apps want both). None / "" while unknown.
    length: int | None = None
    type: str = ""


class Provider(NamedTuple):
    name: str
    domain: str
    images: tuple[Image, ...] = ()


class Related(NamedTuple):
    title: str
    url: str
    excerpt: str = ""
    published: datetime | None = None
    provider: Provider | None = None


class Topic(NamedTuple):
    """A topic as written in an article ("Computer Vision") and its URL slug."""

    name: str
    slug: str


class Article(NamedTuple):
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
    # Parts of the document that were left out, and why.
    warnings: tuple[Problem, ...] = ()
