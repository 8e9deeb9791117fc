"""Access logging's cost: cached hits and 304s against nginx, with logs on and off.

    python -m bench --only logging [--seconds 5] [--rounds 3]

Both servers as shipped write an access line per request: feedsvc its own
(on by default, to standard output, here a file) and nginx its default access
log (combined format, to a file). Then both again with the access log off.
Each round measures feedsvc and nginx next to each other, and a ratio divides
the figures of one round; the median ratio of the rounds is reported, since
this machine's two cores are shared and its speed drifts over minutes.
"""

from __future__ import annotations

import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.peers import feedsvc, nginx, wrk


@dataclass
class Pair:
    """Requests per second of feedsvc and nginx, per round, for one kind of request."""

    ours: list[float]
    peer: list[float]

    @property
    def ratio(self) -> float:
        return statistics.median(o / p for o, p in zip(self.ours, self.peer, strict=True))


def measure(folder: Path, logging: bool, seconds: int, rounds: int) -> tuple[Pair, Pair]:
    """Cached hits and 304s of /feeds/all.rss, feedsvc then nginx, ``rounds`` times."""
    hits, not_modified = Pair([], []), Pair([], [])
    with tempfile.TemporaryDirectory() as logs:
        for round_ in range(rounds):
            settings = {"log_level": "info", "access_log": "on" if logging else "off"}
            with feedsvc(folder, log=Path(logs) / f"feedsvc-{round_}.log", **settings) as (base, _, _):
                url = f"{base}/feeds/all.rss"
                response = httpx.get(url)
                body, etag = response.content, response.headers["etag"]
                hits.ours.append(wrk(url, seconds))
                not_modified.ours.append(wrk(url, seconds, header=f"If-None-Match: {etag}"))
            with nginx(body, access_log=logging) as nginx_url:
                hits.peer.append(wrk(nginx_url, seconds))
                nginx_etag = httpx.head(nginx_url).headers["etag"]
                not_modified.peer.append(wrk(nginx_url, seconds, header=f"If-None-Match: {nginx_etag}"))
    return hits, not_modified
