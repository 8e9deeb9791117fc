"""The rendered-response cache: bytes, their gzip form and validators, per version.

A cache key is the *slot* (everything that names a response: route, feed,
format, limit, base URL) plus the *revision* of the content it was rendered
from. A content change bumps the revision, so a stale entry can never be
found again; it simply ages out of the LRU.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache

from cachetools import LRUCache
from starlette.datastructures import Headers

from feedsvc.core.clock import Clock, utc_now
from feedsvc.render.compress import gzipped
from feedsvc.web.conditional import http_date, strong_etag
from feedsvc.web.security import security_headers


@dataclass(frozen=True, slots=True)
class Variant:
    """One encoding of a response, with every header precomputed in ASGI form."""

    body: bytes
    raw: list[tuple[bytes, bytes]]  # its headers, Content-Length included
    raw_not_modified: list[tuple[bytes, bytes]]  # what a 304 for this variant carries (RFC 9110 §15.4.5)

    @classmethod
    def of(
        cls, body: bytes, headers: dict[str, str], not_modified: dict[str, str], pairs: Pairs | None = None
    ) -> Variant:
        """``pairs``: the header pairs made for the other variants of the same entry, shared."""
        pairs = {} if pairs is None else pairs
        return cls(body, _raw({**headers, "Content-Length": str(len(body))}, pairs), _raw(not_modified, pairs))

    @property
    def headers(self) -> Headers:
        """The headers of a 200, by name in any case (for tests and logs; the server sends ``raw``)."""
        return Headers(raw=self.raw)

    @property
    def not_modified(self) -> Headers:
        return Headers(raw=self.raw_not_modified)


# What an entry holds beyond its bodies, as counted against the budget (measured with tracemalloc,
# and tests/test_cache.py holds the count honest): its own objects, its key, the LRU's and the
# Last-Modified clock's bookkeeping; then each representation's identity and gzip variants
# (header lists, the entry's own header pairs).
ENTRY_BYTES = 1024
REPRESENTATION_BYTES = 1536
Pairs = dict[tuple[str, str], tuple[bytes, bytes]]
# Headers whose values belong to one response; every other header's pair is made once and
# shared by every cached variant, and an entry's own (its ETag, Last-Modified, Link) are shared
# by its variants: ~15 fresh pairs a variant, four variants an entry, were most of what the
# response cache held at small sizes (~3.6 KB an entry more than its bodies, counted as 1 KB).
_OWN = frozenset({"etag", "last-modified", "content-length", "link"})
_SHARED_MAX = 4096  # distinct shared pairs kept (a value we did not foresee varying stays bounded)
_shared: Pairs = {}


def _raw(headers: dict[str, str], pairs: Pairs) -> list[tuple[bytes, bytes]]:
    return [_pair(name, value, pairs) for name, value in headers.items()]


def _pair(name: str, value: str, pairs: Pairs) -> tuple[bytes, bytes]:
    key = (name, value)
    found = _shared.get(key) or pairs.get(key)
    if found is None:
        lower = name.lower()
        found = (_name(lower), value.encode("latin-1"))
        if lower in _OWN:
            pairs[key] = found
        elif len(_shared) < _SHARED_MAX:
            _shared[key] = found
    return found


@cache
def _name(lower: str) -> bytes:
    return lower.encode("latin-1")


@dataclass(frozen=True, slots=True)
class Rendered:
    """A response body as rendered once, ready to be served many times."""

    identity: Variant
    gzipped: Variant | None
    etags: tuple[str, ...]  # every tag that names this version, in any encoding
    last_modified: datetime
    size: int = field(default=0)
    # False when an earlier body of the same URL had the same Last-Modified second:
    # If-Modified-Since cannot then tell the two apart, so it never earns a 304.
    modified_exactly: bool = True
    # The same bytes as a page for browsers (web/browser.py): another media type,
    # so other tags; None for responses that have one representation only.
    for_browsers: Rendered | None = None

    def variant(self, gzip_ok: bool) -> Variant:
        return self.gzipped if gzip_ok and self.gzipped is not None else self.identity


class ModifiedClock:
    """Last-Modified per slot: the time this server first produced each body.

    Content dates cannot serve as Last-Modified: removing or editing an
    article can change a feed without making any date newer, and a reader
    sending If-Modified-Since would then get a wrong 304. So a slot's time
    is the clock's second at which its current ETag first appeared. It never
    moves back, and never ahead of the clock: RFC 9110 §8.8.2.1 forbids a
    Last-Modified later than the response's Date. Two bodies in one second
    share their Last-Modified; the later one is then marked inexact, and
    If-Modified-Since alone never gets a 304 for it (the ETag still does).
    """

    def __init__(self, clock: Clock = utc_now, max_slots: int = 100_000) -> None:
        self._clock = clock
        self._seen: LRUCache[Hashable, tuple[str, datetime, bool]] = LRUCache(maxsize=max_slots)

    def stamp(self, slot: Hashable, etag: str) -> tuple[datetime, bool]:
        """The Last-Modified of this body of the slot, and whether it names this body alone."""
        previous = self._seen.get(slot)
        if previous is not None and previous[0] == etag:
            return previous[1], previous[2]
        moment = self._clock().replace(microsecond=0)
        exact = True
        if previous is not None and moment <= previous[1]:
            moment, exact = previous[1], False  # the clock did not move on (or went back)
        self._seen[slot] = (etag, moment, exact)
        return moment, exact


class DateHeader:
    """The Date header (RFC 9110 §6.6.1), from the same clock as Last-Modified, formatted once a second.

    Sent by us rather than by the server, whose Date is refreshed on its own
    schedule and can lag behind a Last-Modified stamped a moment ago.
    """

    def __init__(self, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._second = -1
        self._value = b""

    def __call__(self) -> bytes:
        now = self._clock()
        second = int(now.timestamp())
        if second != self._second:
            self._second, self._value = second, http_date(now).encode("latin-1")
        return self._value


@dataclass(slots=True)
class CacheStats:
    """Plain counters, bumped on the hot path without a lock; /metrics reads them (web/metrics.py)."""

    hits: int = 0
    renders: int = 0
    evictions: int = 0
    evicted_bytes: int = 0  # what the evicted entries held (memory.trim_after_churn)
    # Called with the seconds each render took (a /metrics histogram); renders are the slow path.
    on_render: Callable[[float], None] | None = None


class _CountingLRU(LRUCache[Hashable, "Rendered"]):
    """cachetools' LRU, counting the entries it evicts to stay within its budget."""

    def __init__(self, max_bytes: int, stats: CacheStats) -> None:
        super().__init__(maxsize=max_bytes, getsizeof=_size)
        self._stats = stats

    def popitem(self) -> tuple[Hashable, Rendered]:
        key, entry = super().popitem()
        self._stats.evictions += 1
        self._stats.evicted_bytes += entry.size
        return key, entry


class ResponseCache:
    """A byte-bounded LRU of rendered responses (cachetools)."""

    def __init__(self, max_bytes: int, cache_control: str, clock: Clock = utc_now, slots: int = 100_000) -> None:
        """``slots``: how many URLs' Last-Modified times are remembered (see ModifiedClock)."""
        self.stats = CacheStats()
        self._entries: LRUCache[Hashable, Rendered] = _CountingLRU(max_bytes, self.stats)
        self._clock = ModifiedClock(clock, slots)
        self.date = DateHeader(clock)
        self._cache_control = cache_control

    def get(
        self,
        slot: Hashable,
        revision: Hashable,
        render: Callable[[], bytes],
        content_type: str,
        headers: Mapping[str, str] | None = None,
        browser_type: str | None = None,
    ) -> Rendered:
        """Return the cached response for (slot, revision), rendering it on a miss.

        ``headers`` are extra response headers; like the body, they must be
        determined by the slot and revision. ``browser_type``: the media type
        of the same bytes for browsers, when it differs (then both vary on
        Accept). A hit does no rendering, no compression and no hashing.
        """
        key = (slot, revision)
        entry = self._entries.get(key)
        if entry is not None:
            self.stats.hits += 1
            return entry
        self.stats.renders += 1
        started = time.perf_counter()
        body = render()
        if self.stats.on_render is not None:
            self.stats.on_render(time.perf_counter() - started)
        entry = self._build(slot, body, content_type, headers or {}, browser_type)
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

    def _build(
        self, slot: Hashable, body: bytes, content_type: str, headers: Mapping[str, str], browser_type: str | None
    ) -> Rendered:
        etag = strong_etag(body)
        last_modified, exactly = self._clock.stamp(slot, etag)
        compressed = gzipped(body)
        vary = "Accept, Accept-Encoding" if browser_type else "Accept-Encoding"
        pairs: Pairs = {}  # the header pairs this entry's variants share
        rendered = self._representation(
            body, compressed, etag, last_modified, exactly, content_type, headers, vary, pairs
        )
        if browser_type is None:
            return rendered
        # Another media type is another representation, so its tags differ too (RFC 9110 §8.8.3):
        # a cache in front must never answer a reader's revalidation with the browser's copy.
        browser_etag = etag[:-1] + '-xml"'
        browser = self._representation(
            body, compressed, browser_etag, last_modified, exactly, browser_type, headers, vary, pairs
        )
        return replace(rendered, for_browsers=browser, size=rendered.size + REPRESENTATION_BYTES)

    def _representation(
        self,
        body: bytes,
        compressed: bytes,
        etag: str,
        last_modified: datetime,
        exactly: bool,
        content_type: str,
        headers: Mapping[str, str],
        vary: str,
        pairs: Pairs,
    ) -> Rendered:
        """One media type of a body: its identity and gzip variants, with every header."""
        common = {
            **headers,
            "Cache-Control": self._cache_control,
            "ETag": etag,
            "Last-Modified": http_date(last_modified),
            "Vary": vary,
        }
        extra = {
            **security_headers(content_type),
            # Public feeds: let browser-based readers fetch them cross-origin,
            # and read the validators they need to poll cheaply.
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Expose-Headers": "ETag, Last-Modified, Link",
        }
        # A 304 repeats what a 200 would carry except the body's own metadata (RFC 9110 §15.4.5):
        # without the CORS headers, a browser-based reader's revalidation fails.
        identity = Variant.of(body, {**common, **extra, "Content-Type": content_type}, {**common, **extra}, pairs)
        compressed_variant = None
        etags: tuple[str, ...] = (etag,)
        if len(compressed) < len(body):
            # A strong tag names one representation, so the gzip one gets its own.
            gzip_etag = etag[:-1] + '-gzip"'
            etags = (etag, gzip_etag)
            gzip_common = {**common, "ETag": gzip_etag}
            compressed_variant = Variant.of(
                compressed,
                {**gzip_common, **extra, "Content-Type": content_type, "Content-Encoding": "gzip"},
                {**gzip_common, **extra},
                pairs,
            )
        size = len(body) + len(compressed) + ENTRY_BYTES + REPRESENTATION_BYTES
        return Rendered(identity, compressed_variant, etags, last_modified, size, exactly)


def _size(entry: Rendered) -> int:
    return entry.size
