"""Publish future-dated articles when their time comes."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.concurrency import run_in_threadpool

from feedsvc.core.publisher import Publisher

log = logging.getLogger(__name__)

LONGEST_SLEEP = 60.0  # look again at least this often (a held article may be added meanwhile)


async def release_when_due(publisher: Publisher, stop: asyncio.Event) -> None:
    """Until ``stop`` is set, publish each held article at its date (by the
    publisher's clock, the one it holds and releases by)."""
    while not stop.is_set():
        due = publisher.next_due()
        wait = LONGEST_SLEEP
        if due is not None:
            wait = min(LONGEST_SLEEP, max(0.0, (due - publisher.now()).total_seconds()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait + 0.01)
        if stop.is_set():
            return
        try:
            await run_in_threadpool(publisher.release_due)
        except Exception:  # one failure must not end scheduled publishing
            log.exception("could not publish the articles that came due")
