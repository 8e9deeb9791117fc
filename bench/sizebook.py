"""The enclosure probe's book of image sizes at a million URLs: the JSON book against the packed one.

    python -m bench.sizebook [--count 1000000] [--work /tmp/feedsvc-bench] [--old-ref 8e46d4b]

Builds each design's book from the same COUNT distinct image URLs (half
sized, half failing, with a few hundred distinct reasons, as dead hosts give)
and prints, side by side: memory per URL (tracemalloc, the URL text the book
keeps included), a new URL recorded, an answer recorded again, a lookup, a
probe pass's look at an image (SizeBook.due), an article's images filled in,
the digest, save and load (seconds and bytes),
and pickling for the loading workers. The old design is feedsvc/core/sizes.py
as of OLD_REF (git show), imported under another name, with its cap of
200,000 URLs lifted so that it holds them all as the new one does. Every loop
is bounded by COUNT.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import pickle
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from feedsvc.content.model import Article, Image, Provider
from feedsvc.core import sizes

REPO = Path(__file__).resolve().parent.parent
OLD_REF = "8e46d4b"  # the last commit with the JSON book (one dict of URL -> dataclass)
SAMPLE = 200_000  # lookups, records and fills timed, each
NOW = 1_764_000_000.0


def url(number: int) -> str:
    """A plausible news image URL (~75 characters), distinct for each number."""
    month, photo = number % 12 + 1, number * 7919 % 99991
    return f"https://img{number % 3000}.news-example.com/2025/{month:02d}/{number:08d}-photo-{photo}.jpg"


def reason(number: int) -> str:
    """A failure's reason: a few hundred distinct ones, as unreachable hosts and status codes give."""
    if number % 4 == 1:
        return f"unreachable: cannot resolve img{number % 300}.news-example.com: [Errno -2] Name or service not known"
    return f"answered {400 + number % 20}"


def record_all(book: Any, count: int, start: int = 0) -> None:
    """Half the URLs get a size, the other half a failure."""
    for number in range(start, start + count):
        if number % 2:
            book.record(url(number), None, "", NOW, reason(number))
        else:
            book.record(url(number), 1_000 + number % 900_000, "image/jpeg", NOW)


def old_module(ref: str, work: Path) -> ModuleType:
    """feedsvc/core/sizes.py as of ``ref``, imported as ``old_sizes`` (its imports are feedsvc's own)."""
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{ref}:feedsvc/core/sizes.py"], check=True, capture_output=True, text=True
    ).stdout
    path = work / "old_sizes.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_sizes", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_sizes"] = module  # for its dataclass and for pickle to find it
    spec.loader.exec_module(module)
    module.MAX_ENTRIES = 10**8  # hold them all, as the new one does (it forgot the oldest past 200,000)
    module.MAX_FILE_BYTES = 10**10
    return module


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def article(number: int) -> Article:
    """An article with two images whose sizes the front matter did not give."""
    when = datetime(2025, 1, 1, tzinfo=UTC)
    images = (Image(url(number)), Image(url(number + 2)))
    link = f"https://e.org/{number}"
    return Article(f"{number}.md", "t", link, when, when, images=images, provider=Provider("E", "e.org"), guid=link)


def measure(module: ModuleType, count: int, work: Path, name: str) -> dict[str, float]:
    figures: dict[str, float] = {}
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    book = module.SizeBook()
    record_all(book, count)
    gc.collect()
    figures["bytes per URL"] = (tracemalloc.get_traced_memory()[0] - before) / count
    tracemalloc.stop()
    sample = min(SAMPLE, count)
    seconds, _ = timed(lambda: record_all(book, sample, count))  # new URLs
    figures["record a new URL, µs"] = seconds / sample * 1e6
    seconds, _ = timed(lambda: record_all(book, sample))  # answered again
    figures["record an answer again, µs"] = seconds / sample * 1e6
    urls = [url(number * 3 % count) for number in range(sample)]
    seconds, _ = timed(lambda: [book.get(u) for u in urls])
    figures["look up a URL, µs"] = seconds / sample * 1e6
    images = [Image(u) for u in urls]
    seconds, due = timed(lambda: book.due(images, NOW + 1, sample))  # none is due: every image looked at
    assert due == []
    figures["a probe pass's look at an image, µs"] = seconds / sample * 1e6
    articles = [article(number * 10 % count) for number in range(sample // 4)]
    seconds, filled = timed(lambda: [book.fill(a) for a in articles])
    assert all(a.images[0].length is not None or a.images[1].length is not None for a in filled)
    figures["fill an article (2 images), µs"] = seconds / len(articles) * 1e6
    figures["digest, s"], first = timed(book.digest)
    path = work / f"{name}.sizes"
    figures["save, s"], _ = timed(lambda: book.save(path))
    figures["file, MB"] = path.stat().st_size / 1e6
    figures["load, s"], loaded = timed(lambda: module.SizeBook.load(path))
    assert len(loaded) == len(book) and loaded.digest() == first, "the book did not come back whole"
    figures["pickle and unpickle, s"], state = timed(lambda: pickle.loads(pickle.dumps(book, protocol=5)))  # noqa: S301 (its own)
    figures["pickled, MB"] = len(pickle.dumps(book, protocol=5)) / 1e6
    assert len(state) == len(book)
    return figures


def main(arguments: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000, help="distinct image URLs")
    parser.add_argument("--work", type=Path, default=Path("/tmp/feedsvc-bench"))
    parser.add_argument("--old-ref", default=OLD_REF, help="the commit whose sizes.py is the old design")
    args = parser.parse_args(arguments)
    args.work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.work) as folder:
        work = Path(folder)
        print(f"{args.count:,} URLs, old design ({args.old_ref}) ...", file=sys.stderr)
        old = measure(old_module(args.old_ref, work), args.count, work, "old")
        print("new design ...", file=sys.stderr)
        new = measure(sizes, args.count, work, "new")
    print(f"| {args.count:,} URLs | old (JSON, dict) | new (packed) | old / new |")
    print("|---|---:|---:|---:|")
    for what, before in old.items():
        after = new[what]
        ratio = before / after if after else float("inf")
        print(f"| {what} | {before:,.3f} | {after:,.3f} | {ratio:,.1f} |")


if __name__ == "__main__":
    main()
