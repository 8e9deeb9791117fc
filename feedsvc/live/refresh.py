"""Drive the publisher from the event loop: refresh off the loop, retry files caught mid-write."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

from feedsvc.core.index import IndexDiff
from feedsvc.core.publisher import Publisher


async def publish(publisher: Publisher, paths: Iterable[Path]) -> IndexDiff | None:
    """Re-read ``paths`` in a worker thread (readers keep being served), then schedule
    another try for the files that looked half-written; the diff, or None."""
    diff, retry = await asyncio.to_thread(publisher.refresh, list(paths))
    if retry:
        asyncio.get_running_loop().create_task(_retry(publisher, retry))
    return diff


async def _retry(publisher: Publisher, paths: list[Path]) -> None:
    await asyncio.sleep(publisher.retry_delay(paths))
    await publish(publisher, paths)
