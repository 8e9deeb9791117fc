"""/metrics (Prometheus text format, prometheus-client) and /readyz.

Nothing on the request path touches prometheus-client: requests are counted
by the access log's writer thread (web/accesslog.py), cache hits by plain
integers (web/cache.py), the slow paths (a render, a published change) by the
plain histograms here, and this module's collector turns those into metric
families when Prometheus scrapes. prometheus-client itself is imported then,
on the first scrape: importing it (and the exposition's http.server, wsgiref
and urllib.request) was ~8 ms of a start and ~1 MB (measured).

Where metrics are served (see README, Operations): with ``--metrics-port``,
on that port only; without it, at /metrics on the main port, to loopback
clients only, so a public port does not show them to the world.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from functools import cached_property
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from feedsvc.core.index import FeedKind, Index, IndexDiff
from feedsvc.web.accesslog import AccessLog
from feedsvc.web.service import FeedService

if TYPE_CHECKING:  # prometheus-client loads at the first scrape
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import Metric

log = logging.getLogger(__name__)

RENDER_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
LIVE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def write_outcome(status: int) -> str:
    """A write-API answer as an outcome: done, refused (the client's mistake) or failed."""
    if status < 400:
        return "done"
    return "refused" if status < 500 else "failed"


class Histogram:
    """A Prometheus histogram kept as plain numbers until a scrape asks for its metric family.

    It counts as prometheus-client's Histogram does (an observation goes in the
    first bucket whose upper bound it does not exceed, any thread may observe)
    and collects to the same family: cumulative ``_bucket`` samples, ``_count``,
    ``_sum`` and ``_created`` (tests/test_metrics.py compares the two).
    """

    def __init__(self, name: str, documentation: str, buckets: tuple[float, ...]) -> None:
        self.name = name
        self.documentation = documentation
        self.bounds = (*sorted(buckets), math.inf)
        self.counts = [0.0] * len(self.bounds)
        self.sum = 0.0
        self.created = time.time()
        self._lock = threading.Lock()

    def observe(self, amount: float) -> None:
        slot = bisect_left(self.bounds, amount)
        with self._lock:
            self.sum += amount
            self.counts[slot] += 1

    def family(self) -> Metric:
        from prometheus_client import metrics as client_metrics
        from prometheus_client.core import HistogramMetricFamily
        from prometheus_client.samples import Sample
        from prometheus_client.utils import floatToGoString

        with self._lock:
            counts, total = list(self.counts), self.sum
        cumulative = zip(self.bounds, accumulate(counts), strict=True)
        buckets = [(floatToGoString(bound), count) for bound, count in cumulative]  # type: ignore[no-untyped-call]
        family = HistogramMetricFamily(self.name, self.documentation, buckets=buckets, sum_value=total)
        if client_metrics._use_created:  # as the library's own: off with PROMETHEUS_DISABLE_CREATED_SERIES
            family.samples.append(Sample(f"{self.name}_created", {}, self.created))
        return family


class Metrics:
    """Every metric of one app: plain counters read at scrape time, and two histograms."""

    def __init__(self, service: FeedService, access: AccessLog) -> None:
        self.service = service
        self.access = access
        self.render_seconds = Histogram(
            "feedsvc_render_seconds",
            "Time to render one response (feed, page) on a cache miss.",
            buckets=RENDER_BUCKETS,
        )
        self.live_update_seconds = Histogram(
            "feedsvc_live_update_seconds",
            "From a content file's modification time to the index that publishes it (watcher).",
            buckets=LIVE_BUCKETS,
        )
        self.last_change = time.time()  # the start-up load is the first content change
        self.websub: dict[str, tuple[int, int]] = {}  # hub -> (pushes, failures), set by the notifier's owner
        self.notifier: Any = None  # the HubNotifier, when hubs are configured
        self.prober: Any = None  # the enclosure Prober, unless --enclosure-probe off
        for cache in service.caches().values():
            cache.stats.on_render = self.render_seconds.observe
        service.publisher.listeners.append(self.on_index_change)

    def on_index_change(self, index: Index, diff: IndexDiff) -> None:
        """Publisher listener (maybe in a worker thread): the content changed now."""
        self.last_change = time.time()

    @cached_property
    def registry(self) -> CollectorRegistry:
        """prometheus-client's registry of this app's metrics, made (and the library loaded) when first scraped."""
        from prometheus_client import CollectorRegistry

        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)  # a collector is anything with collect()
        return registry

    def collect(self) -> Iterator[Metric]:
        yield self.render_seconds.family()
        yield self.live_update_seconds.family()
        yield from self._requests()
        yield from self._caches()
        yield from self._content()
        yield from self._websub()
        yield from self._probe()

    def _requests(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily

        access = self.access
        access.flush()  # count what is queued: a scrape sees every request answered before it
        requests = CounterMetricFamily(
            "feedsvc_http_requests",
            "Requests answered, by route, method and status.",
            labels=("route", "method", "status"),
        )
        writes = CounterMetricFamily(
            "feedsvc_api_writes",
            "Write-API calls, by method and outcome (done, refused, failed).",
            labels=("method", "outcome"),
        )
        by_outcome: dict[tuple[str, str], int] = {}
        with access.lock:
            counts = list(access.counts.items())
        for (route, method, status), number in sorted(counts):
            requests.add_metric((route, method, str(status)), number)
            if method in WRITES and route.startswith("/api/"):
                key = (method, write_outcome(status))
                by_outcome[key] = by_outcome.get(key, 0) + number
        for key, number in sorted(by_outcome.items()):
            writes.add_metric(key, number)
        yield requests
        yield writes
        yield CounterMetricFamily(
            "feedsvc_access_log_dropped",
            "Requests neither logged nor counted because the access log writer fell behind.",
            value=access.dropped,
        )

    def _caches(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        hits = CounterMetricFamily("feedsvc_cache_hits", "Responses found in a cache.", labels=("cache",))
        misses = CounterMetricFamily("feedsvc_cache_misses", "Responses rendered for a cache.", labels=("cache",))
        evictions = CounterMetricFamily(
            "feedsvc_cache_evictions", "Entries evicted to stay in budget.", labels=("cache",)
        )
        size = GaugeMetricFamily("feedsvc_cache_bytes", "Bytes held by a cache.", labels=("cache",))
        entries = GaugeMetricFamily("feedsvc_cache_entries", "Entries held by a cache.", labels=("cache",))
        for label, cache in self.service.caches().items():
            stats = cache.stats
            hits.add_metric((label,), stats.hits)
            misses.add_metric((label,), stats.renders)
            evictions.add_metric((label,), stats.evictions)
            size.add_metric((label,), cache.current_bytes)
            entries.add_metric((label,), len(cache))
        yield from (hits, misses, evictions, size, entries)

    def _content(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        service = self.service
        index = service.index
        yield GaugeMetricFamily("feedsvc_articles", "Published articles.", value=len(index.articles))
        yield GaugeMetricFamily(
            "feedsvc_unpublished_articles", "Articles held back (draft or future-dated).", value=index.unpublished_count
        )
        yield GaugeMetricFamily("feedsvc_topics", "Topics with a feed.", value=len(index.feeds(FeedKind.TOPIC)))
        yield GaugeMetricFamily(
            "feedsvc_providers", "Providers with a feed.", value=len(index.feeds(FeedKind.PROVIDER))
        )
        yield GaugeMetricFamily(
            "feedsvc_skipped_files", "Content files skipped because of errors.", value=len(service.publisher.skipped)
        )
        yield GaugeMetricFamily(
            "feedsvc_last_content_change_timestamp_seconds",
            "When the published content last changed (Unix time; the start-up load counts).",
            value=self.last_change,
        )

    def _websub(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily

        pushes = CounterMetricFamily("feedsvc_websub_pushes", "Publish notifications a hub accepted.", labels=("hub",))
        failures = CounterMetricFamily(
            "feedsvc_websub_failures", "Publish notifications that failed (retried later).", labels=("hub",)
        )
        notifier = self.notifier
        if notifier is not None:
            for hub in notifier.hubs:
                pushes.add_metric((hub,), notifier.pushes.get(hub, 0))
                failures.add_metric((hub,), notifier.failures.get(hub, 0))
        yield pushes
        yield failures

    def _probe(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily

        results = CounterMetricFamily(
            "feedsvc_enclosure_probes",
            "Image URLs asked for their size and type, by result (found, failed).",
            labels=("result",),
        )
        prober = self.prober
        if prober is not None:
            for result, number in sorted(prober.results.items()):
                results.add_metric((result,), number)
        yield results

    def exposition(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)

    def serve(self, host: str, port: int) -> Callable[[], None]:
        """Serve /metrics on a port of its own (prometheus-client's server, in a thread);
        return what stops it."""
        from prometheus_client import start_http_server

        server, _ = start_http_server(port, addr=host, registry=self.registry)
        log.info("metrics on http://%s:%d/metrics", host, port)

        def stop() -> None:
            server.shutdown()
            server.server_close()

        return stop


def is_loopback(client: tuple[str, int] | None) -> bool:
    if client is None:
        return False
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


async def metrics(request: Request) -> Response:
    """/metrics on the main port: loopback clients only, and not at all with --metrics-port."""
    app_metrics: Metrics = request.app.state.metrics
    if request.app.state.service.settings.metrics_port or not is_loopback(request.client):
        return PlainTextResponse("no such page: metrics are not served here\n", status_code=404)
    body = await asyncio.to_thread(app_metrics.exposition)  # a scrape must not stall readers
    from prometheus_client import CONTENT_TYPE_LATEST  # loaded by the exposition

    return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})


async def readyz(request: Request) -> Response:
    """200 once the index is loaded and the watcher has caught up; 503 before, or when the watcher died."""
    state = request.app.state
    ready = getattr(state, "ready", None)
    watcher = getattr(state, "watcher", None)
    if ready is None or not ready.is_set():
        problem = "loading: the content folder is not published yet"
    elif watcher is not None and watcher.done():
        problem = "the content folder watcher stopped: changes are no longer published"
    else:
        return JSONResponse({"status": "ready"}, headers={"Cache-Control": "no-store"})
    return JSONResponse(
        {"status": "unavailable", "reason": problem}, status_code=503, headers={"Cache-Control": "no-store"}
    )


ROUTES = [Route("/metrics", metrics), Route("/readyz", readyz)]
