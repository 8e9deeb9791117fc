"""What the benchmarks do as clients: the corpus they serve, every feed once, first requests."""

from __future__ import annotations

import http.client
import sys
import time
from itertools import count
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from lxml import etree

from bench.corpus import generate


def corpus(work: Path, count: int) -> Path:
    folder = work / f"corpus-{count}"
    marker = folder / ".complete"
    if not marker.exists():
        print(f"generating {count} articles in {folder} ...", file=sys.stderr)
        generate(folder, count, seed=1)
        marker.write_text("seed=1\n")
    return folder


def feed_urls(base: str) -> list[str]:
    opml = etree.fromstring(httpx.get(f"{base}/feeds.opml").content)
    return [str(o.get("xmlUrl")) for o in opml.iter("outline") if o.get("xmlUrl")]


def serve_every_feed(base: str) -> dict[str, int]:
    """Request every feed once, as a reader would after a start; return each
    feed URL with the number of items it holds."""
    items = {}
    with httpx.Client() as client:
        for url in feed_urls(base):
            body = client.get(url).raise_for_status().content
            items[url] = body.count(b"<item>") + body.count(b"<entry>")
    return items


def first_requests(base: str, urls: list[str], samples: int = 400) -> list[float]:
    """Latencies (ms) of ``samples`` first, uncached requests for ``urls``.

    Each pass over the URLs names another host, which is part of every
    response (its links) and so of the cache key: each request is routed,
    rendered, compressed and hashed afresh, as a first request is. The client
    is the standard library's (feedparser's, through urllib), on one
    keep-alive connection, asking for gzip as readers do; httpx adds ~0.45 ms
    of its own to every request (measured), which is not the server's time.
    """
    address = urlsplit(base)
    connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=30)
    latencies: list[float] = []
    try:
        for number in count(1):
            for url in urls:
                if len(latencies) == samples:
                    return latencies
                started = time.perf_counter()
                headers = {"Host": f"pass-{number}.bench.test", "Accept-Encoding": "gzip"}
                connection.request("GET", urlsplit(url).path, headers=headers)
                response = connection.getresponse()
                response.read()
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status != 200:
                    raise RuntimeError(f"{url} answered {response.status}")
    finally:
        connection.close()
    return latencies


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def warm_page_cache(folder: Path) -> None:
    """Read every file once, so that "cold start" means a cold process, not a cold disk
    (this VM's disk makes the difference swing by seconds; Hugo gets the same treatment)."""
    for path in folder.rglob("*"):
        if path.is_file():
            path.read_bytes()
