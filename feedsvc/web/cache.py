"""The rendered-response cache: bytes, their gzip form and validators, per version.

A cache key is the *slot* (everything that names a response: route, feed,
format, limit, base URL) plus the *revision* of the content it was rendered
from. A content change bumps the revision, so a stale entry can never be
found again; it simply ages out of the LRU.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cachetools import LRUCache

from feedsvc.web.conditional import gzipped, http_date, strong_etag

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Variant:
    """One encoding of a response, with every header precomputed."""

    body: bytes
    headers: dict[str, str]
    not_modified: dict[str, str]  # what a 304 for this variant carries (RFC 9110 §15.4.5)
    raw: list[tuple[bytes, bytes]] = field(default_factory=list)  # ASGI form of headers, with Content-Length
    raw_not_modified: list[tuple[bytes, bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.raw.extend(_raw({**self.headers, "Content-Length": str(len(self.body))}))
        self.raw_not_modified.extend(_raw(self.not_modified))


def _raw(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]


@dataclass(frozen=True, slots=True)
class Rendered:
    """A response body as rendered once, ready to be served many times."""

    identity: Variant
    gzipped: Variant | None
    etags: tuple[str, ...]  # every tag that names this version, in any encoding
    last_modified: datetime
    size: int = field(default=0)

    def variant(self, gzip_ok: bool) -> Variant:
        return self.gzipped if gzip_ok and self.gzipped is not None else self.identity


class ModifiedClock:
    """Last-Modified per slot: the time this server first produced each body.

    Content dates cannot serve as Last-Modified: removing or editing an
    article can change a feed without making any date newer, and a reader
    sending If-Modified-Since would then get a wrong 304. So a slot's time
    moves forward (strictly, by at least one second, the header's
    resolution) exactly when its ETag changes, and never moves back.
    """

    def __init__(self, clock: Clock = utc_now, max_slots: int = 100_000) -> None:
        self._clock = clock
        self._seen: LRUCache[Hashable, tuple[str, datetime]] = LRUCache(maxsize=max_slots)

    def stamp(self, slot: Hashable, etag: str) -> datetime:
        previous = self._seen.get(slot)
        if previous is not None and previous[0] == etag:
            return previous[1]
        moment = self._clock().replace(microsecond=0)
        if previous is not None and moment <= previous[1]:
            moment = previous[1] + timedelta(seconds=1)
        self._seen[slot] = (etag, moment)
        return moment


@dataclass(slots=True)
class CacheStats:
    hits: int = 0
    renders: int = 0


class ResponseCache:
    """A byte-bounded LRU of rendered responses (cachetools)."""

    def __init__(self, max_bytes: int, cache_control: str, clock: Clock = utc_now) -> None:
        self._entries: LRUCache[Hashable, Rendered] = LRUCache(maxsize=max_bytes, getsizeof=_size)
        self._clock = ModifiedClock(clock)
        self._cache_control = cache_control
        self.stats = CacheStats()

    def get(
        self,
        slot: Hashable,
        revision: Hashable,
        render: Callable[[], bytes],
        content_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> Rendered:
        """Return the cached response for (slot, revision), rendering it on a miss.

        ``headers`` are extra response headers; like the body, they must be
        determined by the slot and revision. A hit does no rendering, no
        compression and no hashing.
        """
        key = (slot, revision)
        entry = self._entries.get(key)
        if entry is not None:
            self.stats.hits += 1
            return entry
        self.stats.renders += 1
        entry = self._build(slot, render(), content_type, headers or {})
        if entry.size <= self._entries.maxsize:  # larger than the whole budget: serve, don't keep
            self._entries[key] = entry
        return entry

    def peek(self, slot: Hashable, revision: Hashable) -> Rendered | None:
        """The cached response for (slot, revision), or None; never renders."""
        entry = self._entries.get((slot, revision))
        if entry is not None:
            self.stats.hits += 1
        return entry

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def current_bytes(self) -> int:
        return int(self._entries.currsize)

    def _build(self, slot: Hashable, body: bytes, content_type: str, headers: Mapping[str, str]) -> Rendered:
        etag = strong_etag(body)
        last_modified = self._clock.stamp(slot, etag)
        common = {
            **headers,
            "Cache-Control": self._cache_control,
            "ETag": etag,
            "Last-Modified": http_date(last_modified),
            "Vary": "Accept-Encoding",
        }
        extra = {
            "X-Content-Type-Options": "nosniff",
            # Public feeds: let browser-based readers fetch them cross-origin,
            # and read the validators they need to poll cheaply.
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Expose-Headers": "ETag, Last-Modified, Link",
        }
        identity = Variant(body, {**common, **extra, "Content-Type": content_type}, common)
        compressed = gzipped(body)
        compressed_variant = None
        etags: tuple[str, ...] = (etag,)
        if len(compressed) < len(body):
            # A strong tag names one representation, so the gzip one gets its own.
            gzip_etag = etag[:-1] + '-gzip"'
            etags = (etag, gzip_etag)
            gzip_common = {**common, "ETag": gzip_etag}
            compressed_variant = Variant(
                compressed,
                {**gzip_common, **extra, "Content-Type": content_type, "Content-Encoding": "gzip"},
                gzip_common,
            )
        return Rendered(identity, compressed_variant, etags, last_modified, len(body) + len(compressed) + 512)


def _size(entry: Rendered) -> int:
    return entry.size
