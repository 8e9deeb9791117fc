"""One article as one compact record of bytes, and back.

The index keeps every article as a record (its text as UTF-8, dates as
integers, no object per field) and makes the :class:`Article` a renderer
reads only when it is read: a 50-item feed makes 50. A million articles
then cost about their text, not a dozen Python objects each, and the
start-up snapshot is these records laid end to end, mapped, not parsed.

A record is two ``marshal`` values behind a 4-byte length: the *head*, what
keeping the index up to date reads (published, URL, guid, topics, provider,
images), and the *body*, the rest. Reading the head alone costs a fraction of
the whole. ``marshal`` builds only plain values (tuples, strings, numbers), in
C, and never runs code; its format belongs to this Python version, which is
part of the snapshot's identity. It is not hardened against hostile bytes,
so records are only ever read from this process's own memory or from a
snapshot this user alone can write, checked whole before use (core.snapshot). The file name and the publication time are
not in the record: the index keeps them in its own columns, for sorting.
"""

from __future__ import annotations

import marshal
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from feedsvc.content.model import Article, Image, Problem, Provider, Related, Topic
from feedsvc.content.sharing import one_image, one_provider, one_topic

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_HEAD_LENGTH = 4  # bytes, little-endian: the head's length


def microseconds(moment: datetime) -> int:
    """A UTC datetime as whole microseconds since 1970 (exact, unlike a float timestamp)."""
    return (moment - _EPOCH) // _MICROSECOND


def moment(microseconds: int) -> datetime:
    """The UTC datetime of a number of microseconds since 1970 (exactly: a float
    holds whole microseconds exactly up to 2**52 of them, the year 2112)."""
    if -_EXACT < microseconds < _EXACT:
        return datetime.fromtimestamp(microseconds / 1e6, UTC)  # twice as fast as adding a timedelta
    return _EPOCH + timedelta(microseconds=microseconds)


_EXACT = 2**52


class Head(NamedTuple):
    """What index maintenance reads of an article without making all of it."""

    published: bool
    url: str
    guid: str
    topics: tuple[Topic, ...]
    provider: Provider | None
    images: tuple[Image, ...]


def pack(article: Article) -> bytes:
    """The record of an article (without its file name and publication time, which the index keeps)."""
    head = marshal.dumps(
        (
            article.published,
            article.url,
            article.guid,
            tuple(tuple(topic) for topic in article.topics),
            _provider_value(article.provider),
            tuple(tuple(image) for image in article.images),
        )
    )
    body = marshal.dumps(
        (
            article.title,
            microseconds(article.updated_at),
            article.excerpt,
            article.kind,
            tuple(
                (
                    r.title,
                    r.url,
                    r.excerpt,
                    None if r.published is None else microseconds(r.published),
                    _provider_value(r.provider),
                )
                for r in article.related
            ),
            article.body_html,
            article.category,
            article.original_url,
            tuple(tuple(problem) for problem in article.warnings),
        )
    )
    return len(head).to_bytes(_HEAD_LENGTH, "little") + head + body


def head(record: bytes | memoryview) -> Head:
    """The head of a record alone."""
    published, url, guid, topics, provider, images = marshal.loads(memoryview(record)[_HEAD_LENGTH:])  # noqa: S302 (module docstring)
    return Head(
        published,
        url,
        guid,
        _topics(topics),
        _provider(provider),
        tuple([one_image(*image) for image in images]),
    )


def unpack(source: str, published_us: int, record: bytes | memoryview) -> Article:
    """The article a record holds, with its file name and publication time given back."""
    view = memoryview(record)
    split = _HEAD_LENGTH + int.from_bytes(view[:_HEAD_LENGTH], "little")
    published, url, guid, topics, provider, images = marshal.loads(view[_HEAD_LENGTH:split])  # noqa: S302
    title, updated_us, excerpt, kind, related, body_html, category, original_url, warnings = marshal.loads(view[split:])  # noqa: S302
    published_at = moment(published_us)
    # Made as tuples, not through the named tuples' __new__ (a Python function taking every
    # field by name): a first request at a million articles makes each of its items here.
    return _tuple(
        Article,
        (
            source,
            title,
            url,
            published_at,
            published_at if updated_us == published_us else moment(updated_us),  # most are never updated
            excerpt,
            kind,
            published,
            None if provider is None else _one_provider(provider),
            _topics(topics),
            tuple([one_image(*image) for image in images]) if images else (),
            tuple([_related(*r) for r in related]) if related else (),
            body_html,
            category,
            original_url,
            guid,
            tuple([_tuple(Problem, problem) for problem in warnings]) if warnings else (),
        ),
    )


_tuple = tuple.__new__


def _provider_value(provider: Provider | None) -> Any:
    if provider is None:
        return None
    return (provider.name, provider.domain, tuple(tuple(image) for image in provider.images))


def _provider(value: Any) -> Provider | None:
    return None if value is None else _one_provider(value)


# A few thousand providers and topic lists recur across a million articles: made once each.
@lru_cache(maxsize=16384)
def _one_provider(value: tuple[str, str, tuple[Any, ...]]) -> Provider:
    name, domain, images = value
    return one_provider(name, domain, tuple([one_image(*image) for image in images]))


@lru_cache(maxsize=16384)
def _topics(value: tuple[tuple[str, str], ...]) -> tuple[Topic, ...]:
    return tuple([one_topic(*topic) for topic in value])


def _related(title: str, url: str, excerpt: str, published_us: int | None, provider: Any) -> Related:
    published = None if published_us is None else moment(published_us)
    return _tuple(Related, (title, url, excerpt, published, None if provider is None else _one_provider(provider)))
