from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta

import pytest

from feedsvc.web.cache import ModifiedClock, ResponseCache

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_modified_clock_keeps_time_while_etag_is_unchanged():
    clock = FakeClock()
    stamps = ModifiedClock(clock)
    first = stamps.stamp("feed", '"a"')
    clock.now += timedelta(hours=1)
    assert stamps.stamp("feed", '"a"') == first


def test_modified_clock_moves_with_the_clock_when_the_body_changes():
    clock = FakeClock()
    stamps = ModifiedClock(clock)
    first = stamps.stamp("feed", '"a"')
    clock.now += timedelta(seconds=3, microseconds=700)
    second = stamps.stamp("feed", '"b"')
    clock.now += timedelta(seconds=1)
    third = stamps.stamp("feed", '"a"')  # back to old bytes is still a change
    assert first == (T0, True)
    assert second == (T0 + timedelta(seconds=3), True)
    assert third == (T0 + timedelta(seconds=4), True)


def test_modified_clock_never_runs_ahead_of_the_clock_within_a_second():
    """RFC 9110 §8.8.2.1: Last-Modified may not be later than Date; the second body is marked inexact instead."""
    clock = FakeClock()
    stamps = ModifiedClock(clock)
    stamps.stamp("feed", '"a"')
    clock.now += timedelta(microseconds=900_000)
    assert stamps.stamp("feed", '"b"') == (T0, False)
    assert stamps.stamp("feed", '"b"') == (T0, False)  # stays inexact for as long as it is served
    clock.now -= timedelta(seconds=30)  # the system clock is stepped back
    assert stamps.stamp("feed", '"c"') == (T0, False)  # never moves back
    clock.now += timedelta(seconds=60)
    assert stamps.stamp("feed", '"d"') == (T0 + timedelta(seconds=30), True)


def test_an_inexact_last_modified_never_earns_a_304_from_if_modified_since():
    from feedsvc.web.respond import decide

    cache = ResponseCache(10_000_000, "public", FakeClock())
    first = cache.get("slot", 1, lambda: b"<a/>", "text/xml")
    second = cache.get("slot", 2, lambda: b"<b/>", "text/xml")  # same second, other body
    since = first.identity.headers["Last-Modified"]
    assert second.identity.headers["Last-Modified"] == since
    assert decide(first, None, None, since)[0] == 304
    assert decide(second, None, None, since)[0] == 200  # the reader holds the first body
    assert decide(second, None, second.etags[0], since)[0] == 304  # the ETag still tells


def test_date_header_follows_the_clock_a_second_at_a_time():
    from feedsvc.web.cache import DateHeader

    clock = FakeClock()
    date = DateHeader(clock)
    assert date() == b"Wed, 01 May 2024 12:00:00 GMT"
    clock.now += timedelta(microseconds=999_999)
    assert date() == b"Wed, 01 May 2024 12:00:00 GMT"
    clock.now += timedelta(microseconds=1)
    assert date() == b"Wed, 01 May 2024 12:00:01 GMT"


def test_not_modified_repeats_the_200s_cors_caching_and_security_headers():
    """RFC 9110 §15.4.5; without CORS headers a browser-based reader's revalidation is a network error."""
    cache = ResponseCache(10_000_000, "public, max-age=60", FakeClock())
    entry = cache.get("slot", 1, lambda: b"<feed>" + b"a" * 5000 + b"</feed>", "application/atom+xml")
    for variant in (entry.identity, entry.gzipped):
        assert variant is not None
        body_metadata = {"content-type", "content-encoding", "content-length"}
        expected = {name: value for name, value in variant.headers.items() if name not in body_metadata}
        assert dict(variant.not_modified.items()) == expected
        assert variant.not_modified["Access-Control-Allow-Origin"] == "*"


def test_cache_hit_does_not_render_compress_or_hash():
    cache = ResponseCache(10_000_000, "public, max-age=300", FakeClock())
    calls: list[int] = []

    def render() -> bytes:
        calls.append(1)
        return b"<rss>" + b"x" * 1000 + b"</rss>"

    first = cache.get("slot", 1, render, "application/rss+xml")
    second = cache.get("slot", 1, render, "application/rss+xml")
    assert first is second and len(calls) == 1
    assert cache.stats.hits == 1 and cache.stats.renders == 1


def test_cache_new_revision_renders_again():
    cache = ResponseCache(10_000_000, "public, max-age=300", FakeClock())
    bodies = iter([b"<a/>" * 100, b"<b/>" * 100])
    first = cache.get("slot", 1, lambda: next(bodies), "text/xml")
    second = cache.get("slot", 2, lambda: next(bodies), "text/xml")
    assert first.identity.body != second.identity.body
    assert first.etags[0] != second.etags[0]


def test_cache_stores_gzip_once_and_tags_it_separately():
    cache = ResponseCache(10_000_000, "public, max-age=60", FakeClock())
    entry = cache.get("slot", 1, lambda: b"<feed>" + b"a" * 5000 + b"</feed>", "application/atom+xml")
    assert entry.gzipped is not None
    assert gzip.decompress(entry.gzipped.body) == entry.identity.body
    assert entry.gzipped.headers["Content-Encoding"] == "gzip"
    assert entry.gzipped.headers["ETag"] != entry.identity.headers["ETag"]
    assert entry.identity.headers["Cache-Control"] == "public, max-age=60"


def test_cache_is_bounded_by_bytes():
    cache = ResponseCache(50_000, "public", FakeClock())
    for i in range(100):
        cache.get(("slot", i), 1, lambda i=i: bytes([i % 256]) * 5000, "text/plain")
    assert cache.current_bytes <= 50_000
    assert len(cache) < 100


@pytest.mark.parametrize("browser_type", [None, "text/xml; charset=utf-8"])
def test_an_entry_counts_at_least_what_it_holds(browser_type: str | None):
    """The byte budget bounds memory only if each entry counts what it really holds:
    its bodies, and its header lists, pairs and objects (measured here with tracemalloc)."""
    import gc
    import os
    import tracemalloc

    bodies = [os.urandom(3000).hex().encode() for _ in range(300)]  # ~6 KB each, compressible
    gc.collect()
    tracemalloc.start()
    try:
        cache = ResponseCache(10**9, "public, max-age=300", FakeClock())
        before = tracemalloc.get_traced_memory()[0]
        for number, body in enumerate(bodies):
            link = f'<http://localhost:8000/feeds/topics/topic-{number}.rss>; rel="self"'
            cache.get(("feed", number), 1, lambda body=body: body, "application/rss+xml", {"Link": link}, browser_type)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before + sum(map(len, bodies))  # the bodies came before
    finally:
        tracemalloc.stop()
    assert len(cache) == len(bodies)
    assert held <= cache.current_bytes <= held * 1.15
