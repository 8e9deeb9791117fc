from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta

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


def test_modified_clock_moves_forward_when_body_changes_even_within_a_second():
    clock = FakeClock()
    stamps = ModifiedClock(clock)
    first = stamps.stamp("feed", '"a"')
    second = stamps.stamp("feed", '"b"')  # same clock second
    third = stamps.stamp("feed", '"a"')  # back to old bytes is still a change
    assert first < second < third


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
    assert first.last_modified < second.last_modified


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
