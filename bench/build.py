"""`feedsvc build` at scale (issue 13): time and peak memory of a static export of every feed.

    python -m bench --only build --sizes 20000,100000,1000000 [--work /tmp/feedsvc-bench]

Per size: a cold build (no snapshot), then a build from the snapshot of the
unchanged folder (the first build with a snapshot makes it, untimed). Each is
`python -m feedsvc build` in its own process, timed from start to exit; its
peak memory is sampled from /proc every 50 ms, of the build process alone and
of it with its loading workers. The build's debug log says how many items of
each format were rendered and how many reused (export.SharedItems).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.clients import corpus, warm_page_cache

MB = 1024 * 1024


@dataclass
class Build:
    seconds: float
    peak: int  # bytes: the build process alone
    peak_tree: int  # bytes: with its loading workers, summed
    items: list[str]  # the export's "rss items: ... rendered, ... reused" lines


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass  # gone meanwhile
    return 0


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def timed_build(folder: Path, out: Path, snapshot: str) -> Build:
    """One `feedsvc build` of ``folder`` into ``out`` (removed before and after)."""
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "feedsvc", "build", str(out), "--content", str(folder)]
    env = {**os.environ, "FEEDSVC_SNAPSHOT": snapshot, "FEEDSVC_LOG_LEVEL": "debug"}
    started = time.perf_counter()
    process = subprocess.Popen(
        [*command, "--base-url", "https://feeds.example.com"], env=env, stderr=subprocess.PIPE, text=True
    )
    peaks = [0, 0]

    def sample() -> None:
        while process.poll() is None:
            own = _rss(process.pid)
            peaks[0] = max(peaks[0], own)
            peaks[1] = max(peaks[1], own + sum(_rss(child) for child in _children(process.pid)))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, log = process.communicate()
    seconds = time.perf_counter() - started
    sampler.join()
    shutil.rmtree(out, ignore_errors=True)
    if process.returncode != 0:
        raise RuntimeError(f"feedsvc build failed ({process.returncode}): {log[-2000:]}")
    return Build(seconds, peaks[0], peaks[1], re.findall(r"\w+ items: .*", log))


def run(sizes: list[int], work: Path, out: Path) -> None:
    """A cold and a snapshot build at every size; print the table and each format's item reuse."""
    rows = []
    for size in sorted(sizes):
        folder = corpus(work, size)
        warm_page_cache(folder)
        print(f"feedsvc build of {size} articles ...", file=sys.stderr)
        cold = timed_build(folder, out, "off")
        snapshot = work / f"build-snapshot-{size}"
        snapshot.unlink(missing_ok=True)
        timed_build(folder, out, str(snapshot))  # makes the snapshot
        warm = timed_build(folder, out, str(snapshot))
        rows.append((size, cold, warm))
        for line in warm.items:
            print(f"  {size}: {line}", file=sys.stderr)
    print("| articles | cold build | µs/article | peak RSS (with workers) | from snapshot | µs/article | peak RSS |")
    print("|---|---|---|---|---|---|---|")
    for size, cold, warm in rows:
        print(
            f"| {size:,} | {cold.seconds:.1f} s | {cold.seconds / size * 1e6:.0f} "
            f"| {cold.peak / MB:,.0f} MB ({cold.peak_tree / MB:,.0f} MB) | {warm.seconds:.1f} s "
            f"| {warm.seconds / size * 1e6:.0f} | {warm.peak / MB:,.0f} MB |"
        )
