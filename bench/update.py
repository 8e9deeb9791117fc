"""The cost of one edited file next to a full load, and its latency on a real server.

    python -m bench.update FOLDER [--edits 20] [--server]

FOLDER is a content folder, e.g. one made by ``python -m bench.corpus``. The
bench edits copies of files in place and restores them afterwards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from feedsvc.live.publisher import Publisher
from feedsvc.loader import article_paths


def cpu(action: object) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one call."""
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    action()  # type: ignore[operator]
    return time.process_time() - cpu_start, time.perf_counter() - wall_start


def edit(path: Path, marker: str) -> str:
    original = path.read_text(encoding="utf-8")
    path.write_text(original.replace("title: ", f"title: {marker} ", 1), encoding="utf-8")
    return original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--server", action="store_true", help="also measure write-to-visible latency on a real server")
    args = parser.parse_args()

    publisher = Publisher(args.folder)
    load_cpu, load_wall = cpu(publisher.load)
    files = len(publisher.index._by_source) + len(publisher.skipped)
    print(f"full load        {files:>7} files   CPU {load_cpu * 1000:9.1f} ms   wall {load_wall * 1000:9.1f} ms")

    paths = article_paths(args.folder)[:: max(1, len(article_paths(args.folder)) // args.edits)][: args.edits]
    costs = []
    for number, path in enumerate(paths):
        original = edit(path, f"EDIT{number}")
        try:
            used, _ = cpu(lambda path=path: publisher.refresh([path]))
            costs.append(used)
        finally:
            path.write_text(original, encoding="utf-8")
            publisher.refresh([path])
    median = statistics.median(costs)
    print(
        f"one edited file  {len(costs):>7} edits   CPU {median * 1000:9.3f} ms median, "
        f"{max(costs) * 1000:.3f} ms max = {median / load_cpu:.3%} of a full load"
    )
    if args.server:
        server_latency(args.folder, paths[:5])


def server_latency(folder: Path, paths: list[Path]) -> None:
    import socket

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "FEEDSVC_LOG_LEVEL": "warning"}
    command = [sys.executable, "-m", "feedsvc", "serve", "--content", str(folder), "--port", str(port)]
    process = subprocess.Popen(command, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/healthz", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        time.sleep(0.5)
        latencies = []
        for number in range(len(paths)):
            # A new file with a topic of its own: visible in that topic's feed whatever the corpus.
            probe = folder / f"bench-latency-{number}.md"
            feed = f"{url}/feeds/topics/latency-probe-{number}.rss"
            started = time.perf_counter()
            probe.write_text(
                f"---\ntitle: Latency probe {number}\nwebUrl: https://bench.example/{number}\n"
                f"publishedDateTime: 2025-06-01T00:00:00Z\ntopics: [Latency probe {number}]\n---\n",
                encoding="utf-8",
            )
            try:
                while httpx.get(feed).status_code != 200:
                    if time.perf_counter() - started > 10:
                        raise RuntimeError(f"{feed} not visible after 10 s")
                    time.sleep(0.005)
                latencies.append(time.perf_counter() - started)
            finally:
                probe.unlink()
                time.sleep(0.3)
        print(
            f"write → visible  {len(latencies):>7} files   median {statistics.median(latencies) * 1000:7.1f} ms, "
            f"max {max(latencies) * 1000:.1f} ms (real server, file events)"
        )
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
