"""A feed request as a query over the index: which feeds, which filters, where the page starts, how many items.

Pure values, parsed once at the HTTP edge (web/query.py) and read by the
index (selection), the URL builder (rel="self", rel="next") and the cache
(one slot per distinct query).

Pages are keyset pages: a page names the position it starts after (the
publication time and file name of the last item of the page before it,
the index's own sort key), not an offset. Articles added during a walk
land in front of that position, so older pages never shift, and finding a
deep page is a bisection, as cheap as finding the first.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from feedsvc.content.model import Article

if TYPE_CHECKING:  # core.index imports this module
    from feedsvc.core.index import FeedRef

# The items a feed shows by default, and the most a URL can ask for (core.index's windows).
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# A page token holds a file name; paths longer than this are not article files we would have read.
MAX_SOURCE = 1024

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class Position(NamedTuple):
    """A place in a feed's order (newest first, ties by file name): just after this article."""

    published_us: int  # microseconds since 1970 (UTC); negative before it
    source: str

    @property
    def key(self) -> tuple[int, str]:
        """The index's sort key (core.index.sort_key) of the article it names."""
        return (-self.published_us, self.source)

    @classmethod
    def of(cls, article: Article) -> Position:
        return cls((article.published_at - _EPOCH) // _MICROSECOND, article.source)

    def token(self) -> str:
        """The opaque ``page`` value naming this position: URL-safe base64, no padding."""
        raw = f"{self.published_us}~{self.source}".encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    @classmethod
    def from_token(cls, token: str) -> Position:
        """The position a ``page`` value names; ValueError for anything :meth:`token` cannot have made."""
        if not token or len(token) > (MAX_SOURCE + 32) * 4 // 3 or not token.isascii():
            raise ValueError("not a page token")
        try:
            raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
            stamp, tilde, source = raw.decode("utf-8").partition("~")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise ValueError("not a page token") from error
        digits = stamp.removeprefix("-")
        if not (tilde and digits.isascii() and digits.isdigit() and len(digits) <= 18 and source):
            raise ValueError("not a page token")
        if len(source) > MAX_SOURCE or not source.isprintable():
            raise ValueError("not a page token")
        position = cls(int(stamp), source)
        if position.token() != token:  # one spelling per position: one cache entry, one URL
            raise ValueError("not a page token")
        return position


@dataclass(frozen=True, slots=True)
class Filters:
    """What narrows a feed; the empty value means no narrowing."""

    text: str = ""  # ?q=: in the title or excerpt, case-folded, spaces normalised
    kind: str = ""  # ?type=: "article" or "video"
    since: datetime | None = None  # ?since=: published at or after (UTC)
    topic: str = ""  # ?topic=: a provider's articles about this topic (a slug)

    def __bool__(self) -> bool:
        return bool(self.text or self.kind or self.since or self.topic)

    def predicate(self) -> Callable[[Article], bool] | None:
        """Whether an article passes (``since`` aside: the index stops at it), or None when all do."""
        text, kind, topic = self.text, self.kind, self.topic
        if not (text or kind or topic):
            return None

        def passes(article: Article) -> bool:
            if kind and article.kind != kind:
                return False
            if topic and not any(t.slug == topic for t in article.topics):
                return False
            return not text or text in article.title.casefold() or text in article.excerpt.casefold()

        return passes


@dataclass(frozen=True, slots=True)
class FeedQuery:
    """One feed document: the feed (or union of topic feeds), its filters, where it starts, and its size."""

    refs: tuple[FeedRef, ...]  # one feed; several only for a union of topics, sorted by slug
    limit: int = DEFAULT_LIMIT
    filters: Filters = Filters()
    after: Position | None = None  # None: the first page, the feed readers subscribe to

    @property
    def plain(self) -> bool:
        """A feed as it was before filters and pages: served from the main cache and the fast path."""
        return len(self.refs) == 1 and not self.filters and self.after is None

    def first(self) -> FeedQuery:
        return FeedQuery(self.refs, self.limit, self.filters)

    def next(self, last: Article) -> FeedQuery:
        return self.resume(Position.of(last))

    def resume(self, after: Position) -> FeedQuery:
        """The same query, starting after a position."""
        return FeedQuery(self.refs, self.limit, self.filters, after)

    def params(self) -> list[tuple[str, str]]:
        """The query string's parameters in canonical form and a fixed order (what rel="self" says)."""
        f = self.filters
        found = [("topic", f.topic), ("q", f.text), ("type", f.kind), ("since", f.since and since_text(f.since))]
        params = [(name, value) for name, value in found if value]
        if self.limit != DEFAULT_LIMIT:
            params.append(("limit", str(self.limit)))
        if self.after is not None:
            params.append(("page", self.after.token()))
        return params


def since_text(moment: datetime) -> str:
    """A ``since`` in its one canonical spelling: UTC, "Z", seconds (fractions only when given)."""
    text = moment.astimezone(UTC).replace(tzinfo=None).isoformat()
    return f"{text}Z"
