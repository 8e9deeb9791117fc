"""Drive the publisher from the event loop: refresh off the loop, retry files caught mid-write."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from feedsvc.core.index import IndexDiff
from feedsvc.core.publisher import Publisher


async def publish(
    publisher: Publisher, paths: Iterable[Path], latency: Callable[[float], None] | None = None
) -> IndexDiff | None:
    """Re-read ``paths`` in a worker thread (readers keep being served), then schedule
    another try for the files that looked half-written; the diff, or None.

    ``latency``, when given, is told the seconds from the newest file's modification
    to the index that publishes it (for /metrics)."""
    paths = list(paths)
    diff, retry = await asyncio.to_thread(publisher.refresh, paths)
    if diff is not None and latency is not None:
        written = await asyncio.to_thread(newest_write, paths)
        if written is not None:
            latency(max(0.0, time.time() - written))
    if retry:
        asyncio.get_running_loop().create_task(_retry(publisher, retry, latency))
    return diff


def newest_write(paths: Iterable[Path]) -> float | None:
    """The newest modification time of the files that still exist, or None."""
    times = []
    for path in paths:
        try:
            times.append(path.stat().st_mtime)
        except OSError:  # removed: its removal time is not on record
            continue
    return max(times, default=None)


async def _retry(publisher: Publisher, paths: list[Path], latency: Callable[[float], None] | None) -> None:
    await asyncio.sleep(publisher.retry_delay(paths))
    await publish(publisher, paths, latency)
