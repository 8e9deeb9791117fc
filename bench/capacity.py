"""Capacity (issue 13): how start-up, memory and first requests grow with the folder.

    python -m bench --only capacity --sizes 1000,100000,1000000 [--work /tmp/feedsvc-bench]
    python -m bench.capacity profile FOLDER [--top 25]     # where a load's time and memory go

Per size: a cold start to ready, a warm restart from the snapshot to the first
/feeds/all.rss with the cold start's bytes, the resident memory after serving
every feed once (less the response cache, per article beyond the smallest
size), and the first request of an uncached 50-item feed. Each figure is per
article, so that growth shows as a number that rises with the size.

Every server runs as shipped: log level info, and the access log on, written
to a file in the work folder as a deployment's standard output would be.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import statistics
import sys
import threading
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import httpx

from bench.clients import corpus, first_requests, percentile, serve_every_feed, warm_page_cache
from bench.peers import feedsvc, rss_kib
from feedsvc.content.model import Article
from feedsvc.core.publisher import Publisher
from feedsvc.render.urls import DEFAULT_LIMIT

MB = 1024 * 1024
# Warm starts per size: the median of these. One above this many articles, where one takes seconds.
WARM_RUNS, WARM_RUNS_LARGE, LARGE = 3, 1, 300_000
SNAPSHOT_PATIENCE = 900  # seconds for the background snapshot of the cold start to appear


@dataclass
class Figures:
    size: int
    cold: float
    warm: float
    rss: int  # bytes, after every feed was served once
    cache: int  # bytes held by the response caches then
    feeds: int
    p50: float
    p99: float
    requests: int
    verified: float = float("nan")  # warm restart until /readyz: the folder compared with the snapshot
    warm_rss: int = 0  # after a warm restart and serving every feed once
    warm_cache: int = 0
    load_rss: int = 0  # bytes: the peak resident size of the cold start's loading process (0: none)
    load_anon: int = 0  # and of its anonymous memory alone


class LoaderPeak:
    """The peak memory of the process a cold start reads the folder in (core.coldload, from
    2,000 files), from /proc every 0.2 s while it runs: its resident size (VmHWM: anonymous and
    file-backed; the records it spools are file pages) and its anonymous memory alone."""

    MARKER = b"feedsvc.core.coldload\0"  # in its command line (NUL-separated)

    def __init__(self) -> None:
        self.rss = self.anon = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> LoaderPeak:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    if self.MARKER not in (entry / "cmdline").read_bytes():
                        continue
                    status = (entry / "status").read_text()
                except OSError:  # gone meanwhile
                    continue
                fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
                if "VmHWM" in fields and "RssAnon" in fields:
                    self.rss = max(self.rss, int(fields["VmHWM"].split()[0]) * 1024)
                    self.anon = max(self.anon, int(fields["RssAnon"].split()[0]) * 1024)


def all_rss(base: str) -> bytes:
    """/feeds/all.rss with its own address left out (every server gets another port)."""
    return httpx.get(f"{base}/feeds/all.rss", timeout=60).content.replace(base.encode(), b"http://server")


# What bench.peers turns off for the rows measured against bare peers, back to the defaults:
# logging at info, the access log on (to a file), watching on, and a snapshot, which a cold start
# writes in the background and then serves its articles from.
AS_SHIPPED = {"log_level": "info", "access_log": "on", "watch": "auto"}


def measure(folder: Path, size: int, work: Path) -> Figures:
    warm_page_cache(folder)
    snapshot = work / f"snapshot-{folder.name}"
    snapshot.unlink(missing_ok=True)
    log = work / f"access-{folder.name}.log"
    log.unlink(missing_ok=True)
    with LoaderPeak() as loader, feedsvc(folder, log, snapshot=str(snapshot), **AS_SHIPPED) as (base, process, cold):
        reference = all_rss(base)
        deadline = time.monotonic() + SNAPSHOT_PATIENCE
        while not health(base)["records"]["mapped"]:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{size}: the cold start did not write its snapshot in {SNAPSHOT_PATIENCE} s")
            time.sleep(0.2)
        items = served_twice(base)
        rss = rss_kib(process.pid) * 1024
        cache = cached_bytes(base)
        full = [url for url, held in items.items() if held == DEFAULT_LIMIT]
        latencies = first_requests(base, full)
    print(f"  {size}: cold {cold:.2f} s, {rss / MB:.0f} MB, {len(items)} feeds", file=sys.stderr)
    warm, verified = [], []
    for _ in range(WARM_RUNS if size < LARGE else WARM_RUNS_LARGE):
        started = time.perf_counter()
        with feedsvc(folder, log, snapshot=str(snapshot), **AS_SHIPPED) as (base, process, ready):
            if all_rss(base) != reference:
                raise RuntimeError(f"{size}: the warm start's /feeds/all.rss differs from the cold start's")
            warm.append(ready)
            verified.append(until_ready(base, started))
        # The last run again, to measure memory after a restart too.
    with feedsvc(folder, log, snapshot=str(snapshot), **AS_SHIPPED) as (base, process, _):
        served_twice(base)
        warm_rss = rss_kib(process.pid) * 1024
        warm_cache = cached_bytes(base)
    print(
        f"  {size}: warm {statistics.median(warm):.2f} s, verified {statistics.median(verified):.2f} s", file=sys.stderr
    )
    return Figures(
        size,
        cold,
        statistics.median(warm),
        rss,
        cache,
        len(items),
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
        len(latencies),
        statistics.median(verified),
        warm_rss,
        warm_cache,
        loader.rss,
        loader.anon,
    )


def served_twice(base: str) -> dict[str, int]:
    """Every feed requested twice over: memory is measured once the response cache has been
    churned (it holds a few thousand of the feeds), not after its first filling. At 100,000
    articles the second pass raised the resident size by ~20 MB, and further ones no more."""
    serve_every_feed(base)
    return serve_every_feed(base)


def health(base: str) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(f"{base}/healthz", timeout=60).json()
    return found


def cached_bytes(base: str) -> int:
    """The bytes the response caches hold (left out of the memory per article)."""
    found = health(base)
    return int(found["cache"]["bytes"]) + int(found["query_cache"]["bytes"])


def until_ready(base: str, started: float, patience: float = 600) -> float:
    """Seconds from ``started`` until /readyz says ready."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        if httpx.get(f"{base}/readyz", timeout=60).status_code == 200:
            return time.perf_counter() - started
        time.sleep(0.02)
    raise RuntimeError(f"{base} was not ready after {patience} s")


def run(sizes: list[int], work: Path) -> None:
    """Measure every size (smallest first: it is the memory baseline) and print the growth table."""
    sizes = sorted(sizes)
    folders = {size: corpus(work, size) for size in sizes}
    measured = []
    for size in sizes:
        print(f"capacity at {size} articles ...", file=sys.stderr)
        measured.append(measure(folders[size], size, work))
    print_table(measured)


def print_table(measured: list[Figures]) -> None:
    base = measured[0]
    header = (
        "| articles | feeds | cold start | µs/article (beyond base) | warm restart | µs/article | verified "
        "| RSS (cache) | bytes/article beyond base and cache | after a restart | first 50-item feed p50 / p99 "
        "| loading process peak RSS (anonymous) |"
    )
    print(header)
    print("|" + "|".join("---" for _ in range(header.count("|") - 1)) + "|")
    for f in measured:
        beyond = (
            ((f.rss - f.cache) - (base.rss - base.cache)) / (f.size - base.size) if f.size > base.size else float("nan")
        )
        warm_beyond = (
            ((f.warm_rss - f.warm_cache) - (base.warm_rss - base.warm_cache)) / (f.size - base.size)
            if f.size > base.size
            else float("nan")
        )
        # The cold start's cost an article past the smallest size's (its fixed cost: the interpreter,
        # the imports, the child process): what must not grow with the folder.
        marginal = f" ({(f.cold - base.cold) / (f.size - base.size) * 1e6:.0f})" if f.size > base.size else ""
        print(
            f"| {f.size:,} | {f.feeds:,} | {f.cold:.2f} s | {f.cold / f.size * 1e6:.0f}{marginal} | {f.warm:.2f} s "
            f"| {f.warm / f.size * 1e6:.1f} | {f.verified:.2f} s | {f.rss / MB:.0f} MB ({f.cache / MB:.0f} MB) "
            f"| {beyond:,.0f} | {f.warm_rss / MB:.0f} MB, {warm_beyond:,.0f} "
            f"| {f.p50:.1f} / {f.p99:.1f} ms ({f.requests}) "
            f"| {f'{f.load_rss / MB:,.0f} MB ({f.load_anon / MB:,.0f} MB)' if f.load_rss else 'in the server'} |"
        )


def profiled_load(publisher: Publisher, snapshot: Path | None, label: str, top: int) -> Publisher:
    """``publisher.load`` in this one process under cProfile; print its top functions by own time."""
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.runcall(publisher.load, snapshot, 1)
    seconds = time.perf_counter() - started
    count = len(list(publisher.index.sources()))
    print(f"== {label}: {seconds:.2f} s under cProfile, {count} articles, {seconds / count * 1e6:.1f} µs/article")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    print(out.getvalue())
    return publisher


def profile(folder: Path, top: int) -> None:
    """One process loads ``folder`` as a cold start does (workers=1, so every call is seen), under
    cProfile; then again from a snapshot; then the live objects by type and the allocating lines."""
    snapshot = Path("/tmp") / f"feedsvc-profile-{folder.name}.snapshot"
    snapshot.unlink(missing_ok=True)
    profiled_load(Publisher(folder), None, "cold load (one process)", top).save_snapshot(snapshot)
    publisher = profiled_load(Publisher(folder), snapshot, "warm load (snapshot)", top)
    del publisher
    gc.collect()
    tracemalloc.start(1)
    publisher = Publisher(folder)
    publisher.load(snapshot, 1)
    snap = tracemalloc.take_snapshot()
    tracemalloc.stop()
    count = len(list(publisher.index.sources()))
    total = sum(stat.size for stat in snap.statistics("filename"))
    print(f"== memory after a warm load: {total / MB:.0f} MB traced, {total / count:,.0f} bytes/article")
    for stat in snap.statistics("lineno")[:top]:
        print(f"{stat.size / count:8.0f} B/article {stat.count / count:6.2f} blocks/article  {stat.traceback}")
    store = publisher.index.store
    print(f"== the records (kept in the snapshot file, mapped): {store.size() / count:,.0f} bytes/article")
    print("== what an article holds once made, by field (each object counted once, with what it holds)")
    sample = list(islice(publisher.index.all_articles(), 20_000))
    for name, size in by_field(sample).most_common():
        print(f"{name:16} {size / len(sample):8.0f} B/article")
    by_type: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    for obj in gc.get_objects():
        by_type[type(obj).__name__] += 1
        sizes[type(obj).__name__] += sys.getsizeof(obj)
    print("== tracked objects by type (strings and numbers are untracked; see the lines above)")
    for name, number in by_type.most_common(top):
        print(f"{name:24} {number / count:6.2f}/article {sizes[name] / count:8.0f} B/article")
    snapshot.unlink(missing_ok=True)


def by_field(articles: list[Article]) -> Counter[str]:
    """Bytes per Article field, each object counted once (shared topics and providers are cheap)."""
    seen: set[int] = set()
    sizes: Counter[str] = Counter({"Article tuple": sum(sys.getsizeof(a) for a in articles)})
    for name in Article._fields:
        sizes[name] = sum(_deep_size(getattr(article, name), seen) for article in articles)
    return sizes


def _deep_size(value: object, seen: set[int]) -> int:
    if id(value) in seen or value is None or isinstance(value, bool):
        return 0
    seen.add(id(value))
    size = sys.getsizeof(value)
    if isinstance(value, tuple):
        size += sum(_deep_size(item, seen) for item in value)
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    table = sub.add_parser("table", help="the growth table")
    table.add_argument("--sizes", default="1000,100000,1000000")
    table.add_argument("--work", type=Path, default=Path("/tmp/feedsvc-bench"))
    prof = sub.add_parser("profile", help="cProfile of a cold and a warm load, and memory by allocating line")
    prof.add_argument("folder", type=Path)
    prof.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    if args.command == "table":
        args.work.mkdir(parents=True, exist_ok=True)
        run([int(size) for size in args.sizes.split(",")], args.work)
    else:
        profile(args.folder, args.top)


if __name__ == "__main__":
    main()
