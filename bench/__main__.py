"""Every benchmark of issue 4, side by side with its peer, as one table.

    python -m bench [--sizes 1000,20000,100000] [--work /tmp/feedsvc-bench] [--seconds 5]

Peers run in the same invocation on the same machine: Hugo builds the same
articles' term feeds; nginx (one worker) and a bare Starlette app (same
uvicorn settings as feedsvc) serve the same feed bytes; wrk makes the load.
Only ratios are comparable between runs. Needs hugo, nginx and wrk on PATH.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

import feedsvc as feedsvc_package
from bench import build, capacity, hugo, observe, sizebook
from bench.clients import corpus, first_requests, percentile, serve_every_feed, warm_page_cache
from bench.peers import bare_starlette, feedsvc, nginx, rss_kib, wrk
from bench.update import edit_costs, visible_latencies
from feedsvc.render.urls import DEFAULT_LIMIT


@dataclass
class Row:
    what: str
    ours: str
    peer: str
    ratio: float | None
    target: str
    met: bool | None

    def cells(self) -> list[str]:
        ratio = "" if self.ratio is None else f"{self.ratio:.2f}"
        met = "" if self.met is None else ("yes" if self.met else "NO")
        return [self.what, self.ours, self.peer, ratio, self.target, met]


def run_size(folder: Path, work: Path) -> dict[str, float]:
    figures: dict[str, float] = {}
    warm_page_cache(folder)
    with feedsvc(folder) as (base, process, ready):
        figures["cold"] = ready
        items = serve_every_feed(base)
        figures["rss_mb"] = rss_kib(process.pid) / 1024  # after every feed was served once
        figures["feeds"] = len(items)
        # "A 50-item feed": the feeds that fill the default page. Every feed would
        # compare feeds of 1 item (the median at 1k) with feeds of 6 (at 100k).
        full = [url for url, held in items.items() if held == DEFAULT_LIMIT]
        latencies = first_requests(base, full)
        figures["p50"], figures["p99"] = percentile(latencies, 0.5), percentile(latencies, 0.99)
        figures["full_feeds"], figures["requests"] = len(full), len(latencies)
    snapshot = work / f"snapshot-{folder.name}"
    snapshot.unlink(missing_ok=True)
    with feedsvc(folder, snapshot=str(snapshot)):
        deadline = time.monotonic() + 120
        while not snapshot.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    warm = []
    for _ in range(5):
        with feedsvc(folder, snapshot=str(snapshot)) as (_, _, ready):
            warm.append(ready)
    figures["warm"] = statistics.median(warm)
    return figures


def side_by_side(folder: Path, site: Path, work: Path, rounds: int = 3) -> tuple[float, float, float]:
    """Hugo's build, a cold start and two warm starts, round after round; the
    median of each. This machine's speed drifts over minutes (the same warm
    start measured 0.31 and 0.36 s ten minutes apart): a ratio should divide
    figures taken next to each other. Needs the snapshot ``run_size`` made."""
    snapshot = work / f"snapshot-{folder.name}"
    builds, cold, warm = [], [], []
    for _ in range(rounds):
        builds.append(hugo.build(site, output_folder(work, "hugo-out")))
        with feedsvc(folder) as (_, _, ready):
            cold.append(ready)
        for _ in range(2):
            with feedsvc(folder, snapshot=str(snapshot)) as (_, _, ready):
                warm.append(ready)
    return statistics.median(builds), statistics.median(cold), statistics.median(warm)


def timed_build(folder: Path, out: Path, snapshot: str) -> float:
    if out.exists():
        shutil.rmtree(out)  # as for Hugo: removing the last export is not part of the timing
    command = [sys.executable, "-m", "feedsvc", "build", str(out), "--content", str(folder)]
    started = time.perf_counter()
    subprocess.run(
        [*command, "--base-url", "https://feeds.example.com"],
        check=True,
        capture_output=True,
        env={**os.environ, "FEEDSVC_SNAPSHOT": snapshot},
    )
    return time.perf_counter() - started


def output_folder(work: Path, name: str) -> Path:
    """Where builds write: tmpfs when there is one, for Hugo and feedsvc alike.

    This VM's disk makes writing ~90 MB of small files take anywhere from 1 to
    3 s from run to run; on tmpfs the build measures the tools, not the disk.
    """
    shm = Path("/dev/shm")
    return shm / f"feedsvc-bench-{name}" if shm.is_dir() else work / name


def http_rows(folder: Path, seconds: int) -> list[Row]:
    rows = []
    with feedsvc(folder) as (base, _, _):
        url = f"{base}/feeds/all.rss"
        body = httpx.get(url).content
        etag = httpx.get(url).headers["etag"]
        ours = wrk(url, seconds)
        ours_304 = wrk(url, seconds, header=f"If-None-Match: {etag}")
    with bare_starlette(body) as bare_url:
        floor = wrk(bare_url, seconds)
    with nginx(body) as nginx_url:
        static = wrk(nginx_url, seconds)
        nginx_etag = httpx.head(nginx_url).headers["etag"]
        static_304 = wrk(nginx_url, seconds, header=f"If-None-Match: {nginx_etag}")
    rows.append(
        Row(
            "cached feed hit, req/s vs bare Starlette",
            f"{ours:,.0f}",
            f"{floor:,.0f}",
            ours / floor,
            "≥ 0.9",
            ours / floor >= 0.9,
        )
    )
    rows.append(
        Row(
            "cached feed hit, req/s vs nginx",
            f"{ours:,.0f}",
            f"{static:,.0f}",
            ours / static,
            "≥ 0.25",
            ours / static >= 0.25,
        )
    )
    rows.append(
        Row(
            "revalidation 304, req/s vs nginx",
            f"{ours_304:,.0f}",
            f"{static_304:,.0f}",
            ours_304 / static_304,
            "≥ 0.3",
            ours_304 / static_304 >= 0.3,
        )
    )
    return rows


def logging_rows(folder: Path, seconds: int, rounds: int) -> list[Row]:
    """Cached hit and 304 against nginx, both logging every request as shipped, then both without
    (bench/observe.py); each ratio the median of ``rounds`` side-by-side rounds."""
    rows = []
    for logging, how in ((True, "as shipped, access logs on"), (False, "access logs off")):
        hits, not_modified = observe.measure(folder, logging, seconds, rounds)
        for what, pair, target in (("cached feed hit", hits, 0.55), ("revalidation 304", not_modified, 0.35)):
            rows.append(
                Row(
                    f"{what} vs nginx, {how}",
                    f"{statistics.median(pair.ours):,.0f}/s",
                    f"{statistics.median(pair.peer):,.0f}/s",
                    pair.ratio,
                    f"≥ {target}",
                    pair.ratio >= target,
                )
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,20000,100000", help="corpus sizes; the middle one is 'the 20k'")
    parser.add_argument("--work", type=Path, default=Path("/tmp/feedsvc-bench"))
    parser.add_argument("--seconds", type=int, default=5, help="duration of each wrk run")
    parser.add_argument(
        "--only",
        choices=["logging", "capacity", "build", "sizebook"],
        help="just these rows: logging = hit and 304 vs nginx, access logs on and off; "
        "capacity = cold, warm, memory and first request per article at each size (bench/capacity.py); "
        "build = time and peak memory of feedsvc build at each size (bench/build.py); "
        "sizebook = the image sizes book at a million URLs, old design vs new (bench/sizebook.py)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="side-by-side rounds of the logging rows")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    main_size = sizes[len(sizes) // 2] if len(sizes) > 1 else sizes[0]
    args.work.mkdir(parents=True, exist_ok=True)
    if args.only == "capacity":
        capacity.run(sizes, args.work)
        return
    if args.only == "sizebook":
        sizebook.main(["--work", str(args.work)])
        return
    if args.only == "build":
        build.run(sizes, args.work, output_folder(args.work, "build-at-scale"))
        return
    if args.only == "logging":
        print_table(logging_rows(corpus(args.work, main_size), args.seconds, args.rounds))
        return
    # Byte-compile feedsvc as `pip install` does for an installed package: from a
    # source checkout with PYTHONDONTWRITEBYTECODE set, every process (each loading
    # worker too) would compile its modules again, ~25 ms of each start.
    compileall.compile_dir(Path(feedsvc_package.__file__).parent, quiet=1)
    folders = {size: corpus(args.work, size) for size in sizes}

    site = hugo.prepare(folders[main_size], args.work / "hugo-site")
    warm_page_cache(site)
    print(f"feedsvc on {sizes} ...", file=sys.stderr)
    per_size = {size: run_size(folders[size], args.work) for size in sizes}
    print(f"Hugo and feedsvc side by side on {main_size} articles ...", file=sys.stderr)
    hugo_time, cold, warm = side_by_side(folders[main_size], site, args.work)
    per_size[main_size].update(cold=cold, warm=warm)
    export = output_folder(args.work, "export")
    build_time = statistics.median(timed_build(folders[main_size], export, "off") for _ in range(3))
    build_snapshot = str(args.work / "build-snapshot")
    timed_build(folders[main_size], export, build_snapshot)  # makes the snapshot
    warm_build = statistics.median(timed_build(folders[main_size], export, build_snapshot) for _ in range(3))
    full_cpu, edit_costs_ = edit_costs(folders[main_size], 15)
    edit_cpu = statistics.median(edit_costs_)
    visible = statistics.median(visible_latencies(folders[main_size]))
    main = per_size[main_size]

    label = f"{main_size // 1000}k"
    rows = [
        Row(
            f"cold start to ready, {label}",
            f"{main['cold']:.2f} s",
            f"Hugo {hugo_time:.2f} s",
            main["cold"] / hugo_time,
            "≤ 0.6",
            main["cold"] / hugo_time <= 0.6,
        ),
        Row(
            f"warm restart (snapshot), {label}",
            f"{main['warm']:.2f} s",
            f"Hugo {hugo_time:.2f} s",
            main["warm"] / hugo_time,
            "≤ 0.1",
            main["warm"] / hugo_time <= 0.1,
        ),
        Row(
            f"feedsvc build (RSS+Atom), {label}, cold",
            f"{build_time:.2f} s",
            f"Hugo {hugo_time:.2f} s (RSS)",
            build_time / hugo_time,
            "≤ 1.0",
            build_time / hugo_time <= 1.0,
        ),
        Row(
            f"feedsvc build (RSS+Atom), {label}, snapshot",
            f"{warm_build:.2f} s",
            f"Hugo {hugo_time:.2f} s (RSS)",
            warm_build / hugo_time,
            "≤ 1.0",
            warm_build / hugo_time <= 1.0,
        ),
        *http_rows(folders[main_size], args.seconds),
        *logging_rows(folders[main_size], args.seconds, args.rounds),
    ]
    for size in sizes:
        figures = per_size[size]
        rows.append(
            Row(
                f"first request of a 50-item feed, {size // 1000}k (p50 / p99)",
                f"{figures['p50']:.1f} / {figures['p99']:.1f} ms",
                f"{int(figures['requests'])} over {int(figures['full_feeds'])} URLs",
                None,
                "p50 ≤ 3, p99 ≤ 10 ms",
                figures["p50"] <= 3 and figures["p99"] <= 10,
            )
        )
    small, large = per_size[sizes[0]], per_size[sizes[-1]]
    rows.append(
        Row(
            f"first-request p50, {sizes[-1] // 1000}k vs {sizes[0] // 1000}k",
            f"{large['p50']:.1f} ms",
            f"{small['p50']:.1f} ms",
            large["p50"] / small["p50"],
            "≤ 1.5",
            large["p50"] / small["p50"] <= 1.5,
        )
    )
    rows.append(
        Row(
            f"one edited file, CPU vs full load, {label}",
            f"{edit_cpu * 1000:.1f} ms",
            f"full load {full_cpu:.2f} s",
            edit_cpu / full_cpu,
            "≤ 0.01",
            edit_cpu / full_cpu <= 0.01,
        )
    )
    rows.append(
        Row(f"one new file visible in its feed, {label}", f"{visible * 1000:.0f} ms", "", None, "≤ 1 s", visible <= 1.0)
    )
    rows.append(
        Row(
            f"memory after serving every feed, {sizes[-1] // 1000}k",
            f"{large['rss_mb']:.0f} MB",
            f"{int(large['feeds'])} feeds",
            None,
            "≤ 350 MB",
            large["rss_mb"] <= 350,
        )
    )
    for size in sizes:
        figures = per_size[size]
        rows.append(
            Row(
                f"growth: {size // 1000}k cold start / memory",
                f"{figures['cold']:.2f} s / {figures['rss_mb']:.0f} MB",
                f"{figures['cold'] / size * 1e6:.0f} µs/article",
                None,
                "linear",
                None,
            )
        )
    print_table(rows)


def print_table(rows: list[Row]) -> None:
    header = ["what", "feedsvc", "peer (same run)", "ratio", "target", "met"]
    cells = [header, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    for number, line in enumerate(cells):
        print("| " + " | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) + " |")
        if number == 0:
            print("|" + "|".join("-" * (width + 2) for width in widths) + "|")


if __name__ == "__main__":
    main()
