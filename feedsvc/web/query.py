"""A feed URL's query string → a FeedQuery (core/query.py), or a 400 that says what to fix.

Pure: parsed once per routed request, from the decoded parameters in the
order given. Every parameter a feed takes is named in PARAMETERS; any other
name, a repeated one, or a value out of its range is refused rather than
ignored, so that two spellings of one document can never be two cache
entries by accident, and a mistyped filter is not silently a plain feed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time

from starlette.exceptions import HTTPException

from feedsvc.core.index import FeedKind, FeedRef
from feedsvc.core.query import DEFAULT_LIMIT, MAX_LIMIT, FeedQuery, Filters, Position
from feedsvc.text import slugify

# Every query parameter of a feed URL, in the order rel="self" writes them (FeedQuery.params).
PARAMETERS = ("topic", "q", "type", "since", "limit", "page")
KINDS = ("article", "video")
MAX_TEXT = 100  # characters of ?q=, as the home page's search
MAX_UNION = 10  # topics in /feeds/topics/a+b+....rss
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"\s+")


def bad(message: str) -> HTTPException:
    return HTTPException(400, message)


def parse_feed_query(refs: tuple[FeedRef, ...], items: Sequence[tuple[str, str]]) -> FeedQuery:
    """Given the feed(s) and the query string's (name, value) pairs, return the query or raise 400."""
    given: dict[str, list[str]] = {}
    for name, value in items:
        given.setdefault(name, []).append(value)
    for name, values in given.items():
        if name not in PARAMETERS:
            raise bad(f"{name[:40]!r} is not a parameter of a feed: use {', '.join(PARAMETERS)} (see the README)")
        if len(values) > 1:
            raise bad(f"{name}: give it once")
    one = {name: values[0] for name, values in given.items()}
    if "topic" in one and refs[0].kind is not FeedKind.PROVIDER:
        raise bad("topic: only a provider's feed can be narrowed to a topic; join topics as /feeds/topics/a+b.rss")
    filters = Filters(
        text=parse_text(one["q"]) if "q" in one else "",
        kind=parse_kind(one["type"]) if "type" in one else "",
        since=parse_since(one["since"]) if "since" in one else None,
        topic=parse_topic(one["topic"]) if "topic" in one else "",
    )
    limit = parse_limit([one["limit"]] if "limit" in one else [])
    after = parse_page(one["page"]) if "page" in one else None
    return FeedQuery(refs, limit, filters, after)


def parse_limit(given: list[str]) -> int:
    """Given the query string's ``limit`` values, return the limit or raise 400."""
    if not given:
        return DEFAULT_LIMIT
    if len(given) > 1:
        raise bad("limit: give it once, e.g. ?limit=20")
    value = given[0]
    if not (value.isascii() and value.isdigit() and len(value) <= 4) or not 1 <= int(value) <= MAX_LIMIT:
        raise bad(f"limit: must be a whole number from 1 to {MAX_LIMIT}, not {value[:40]!r}")
    return int(value)


def parse_text(value: str) -> str:
    """``q``: words to find in titles and excerpts, in any case; spaces normalised, case-folded."""
    if len(value) > MAX_TEXT:
        raise bad(f"q: at most {MAX_TEXT} characters, this one has {len(value)}")
    if _CONTROL.search(value):
        raise bad("q: control characters (tabs, line breaks and the like) cannot be searched for")
    text = _SPACES.sub(" ", value).strip().casefold()
    if not text:
        raise bad("q: give the words to look for in titles and excerpts, or leave q out")
    return text


def parse_kind(value: str) -> str:
    if value not in KINDS:
        raise bad(f"type: {' or '.join(KINDS)}, not {value[:40]!r}")
    return value


def parse_since(value: str) -> datetime:
    """``since``: an ISO 8601 date (midnight UTC) or date and time with a zone, in UTC."""
    hint = "an ISO 8601 date (2024-05-12) or date and time with a zone (2024-05-12T15:09:00Z)"
    if len(value) > 40:
        raise bad(f"since: {hint}, not {value[:40]!r}…")
    try:
        if len(value) == 10:
            moment = datetime.combine(date.fromisoformat(value), time(), UTC)
        else:
            moment = datetime.fromisoformat(value)
    except ValueError:
        raise bad(f"since: {hint}, not {value!r}") from None
    if moment.tzinfo is None:
        raise bad(f"since: give the time's zone (Z for UTC, or +02:00), as in 2024-05-12T15:09:00Z, not {value!r}")
    if moment.year < 1900:
        raise bad(f"since: a date from 1900 on, not {value!r}")
    return moment.astimezone(UTC)


def parse_topic(value: str) -> str:
    """``topic`` on a provider's feed: a topic, by its slug or its name ("Computer Vision")."""
    slug = slugify(value[:200])
    if not slug:
        raise bad(f"topic: a topic's slug, as in /feeds/topics/{{slug}}.rss, not {value[:40]!r}")
    return slug


def parse_page(value: str) -> Position:
    try:
        return Position.from_token(value)
    except ValueError:
        raise bad(
            f'page: {value[:40]!r} is not a page of any feed; follow a feed\'s rel="next" link to its older pages'
        ) from None


def parse_union(key: str) -> list[str]:
    """The topics of /feeds/topics/{a}+{b}.{fmt}, as written; 400 for too many."""
    parts = key.split("+")
    if len(parts) > MAX_UNION:
        raise bad(f"a feed joins at most {MAX_UNION} topics, this URL names {len(parts)}")
    return parts


def canonical_union(parts: list[str]) -> list[str]:
    """The topics' slugs, sorted and each once: the one spelling of a union (others are redirected)."""
    return sorted({slugify(part) for part in parts})
