"""The cost of one edited file next to a full load, and its latency on a real server.

    python -m bench.update FOLDER [--edits 20] [--server]

FOLDER is a content folder, e.g. one made by ``python -m bench.corpus``. The
bench edits files in place and restores them afterwards; probe files it adds
are removed again. ``python -m bench`` uses the same two measurements.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import httpx

from bench.peers import feedsvc
from feedsvc.content.folder import article_paths
from feedsvc.core.publisher import Publisher


def edit_costs(folder: Path, edits: int) -> tuple[float, list[float]]:
    """(CPU seconds of a full load, CPU seconds of publishing each of ``edits`` edited files)."""
    publisher = Publisher(folder)
    started = time.process_time()
    publisher.load(workers=1)  # one process, so that process_time is the whole CPU cost
    full = time.process_time() - started
    paths = article_paths(folder)
    costs = []
    for number, path in enumerate(paths[:: max(1, len(paths) // edits)][:edits]):
        original = path.read_text(encoding="utf-8")
        path.write_text(original.replace("title: ", f"title: EDIT{number} ", 1), encoding="utf-8")
        try:
            started = time.process_time()
            publisher.refresh([path])
            costs.append(time.process_time() - started)
        finally:
            path.write_text(original, encoding="utf-8")
            publisher.refresh([path])
    return full, costs


def visible_latencies(folder: Path, probes: int = 5) -> list[float]:
    """Seconds from writing a new file to its feed answering, on a watching server.

    Each probe has a topic of its own, so it is visible in that topic's feed
    whatever the rest of the corpus holds.
    """
    latencies = []
    with feedsvc(folder, watch="auto") as (base, _, _):
        time.sleep(1.0)  # let the watcher settle
        for number in range(probes):
            probe = folder / f"bench-probe-{number}.md"
            started = time.perf_counter()
            probe.write_text(
                f"---\ntitle: Probe {number}\nwebUrl: https://bench.example/{number}\n"
                f"publishedDateTime: 2025-06-01T00:00:00Z\ntopics: [Bench probe {number}]\n---\n"
            )
            try:
                while httpx.get(f"{base}/feeds/topics/bench-probe-{number}.rss").status_code != 200:
                    if time.perf_counter() - started > 10:
                        raise RuntimeError("probe not visible after 10 s")
                    time.sleep(0.005)
                latencies.append(time.perf_counter() - started)
            finally:
                probe.unlink()
                time.sleep(0.3)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--server", action="store_true", help="also measure write-to-visible latency on a real server")
    args = parser.parse_args()
    full, costs = edit_costs(args.folder, args.edits)
    median = statistics.median(costs)
    print(f"full load (one process)  CPU {full * 1000:9.1f} ms")
    print(
        f"one edited file          CPU {median * 1000:9.3f} ms median over {len(costs)}, "
        f"{max(costs) * 1000:.3f} ms max = {median / full:.3%} of a full load"
    )
    if args.server:
        latencies = visible_latencies(args.folder)
        print(
            f"write → visible          median {statistics.median(latencies) * 1000:7.1f} ms, "
            f"max {max(latencies) * 1000:.1f} ms (real server, file events)"
        )


if __name__ == "__main__":
    main()
