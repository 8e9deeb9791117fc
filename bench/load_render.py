"""Time to load a content folder, and to render a 50-item feed in each format.

    python -m bench.load_render [FOLDER] [--repeat N]

Prints the median and min of N runs. Rendering is timed uncached (the
renderer alone), which is what the first request for a feed costs.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from feedsvc.content.loader import load_folder
from feedsvc.core.index import ALL, Index
from feedsvc.render import FORMATS
from feedsvc.render.spec import Site, feed_spec
from feedsvc.render.urls import Urls

DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "everyday-powerapps"


def timed(action: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Run ``action`` ``repeat`` times; return (median, min) in milliseconds."""
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs), min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    loaded = load_folder(args.folder)
    files = len(loaded.articles) + len(loaded.skipped)
    median, best = timed(lambda: Index(load_folder(args.folder).articles), max(3, args.repeat // 4))
    print(f"{'load + index':<24} {files:>6} files  median {median:8.2f} ms  min {best:8.2f} ms")
    index = Index(loaded.articles)
    info = index.info(ALL)
    assert info is not None
    articles = index.select(ALL, 50)
    for name, fmt in FORMATS.items():
        spec = feed_spec(info, Site(), Urls("https://feeds.example.com"), name)
        size = len(fmt.render(spec, articles))
        median, best = timed(lambda fmt=fmt, spec=spec: fmt.render(spec, articles), args.repeat)
        label = f"render {len(articles)} items {name}"
        print(f"{label:<24} {size:>6} bytes  median {median:8.2f} ms  min {best:8.2f} ms")


if __name__ == "__main__":
    main()
