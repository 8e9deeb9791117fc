"""Watch the content folder (watchfiles, in the service's event loop) and publish changes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from watchfiles import awatch

from feedsvc.core.publisher import Publisher
from feedsvc.live.refresh import publish

log = logging.getLogger(__name__)
logging.getLogger("watchfiles").setLevel(logging.WARNING)  # it logs every batch at INFO; we log what we publish

# watchfiles yields a batch once no new event arrived for STEP ms, and at the
# latest after DEBOUNCE ms of continuous events (a big rsync or git pull), so
# a change reaches the feeds well within a second.
STEP_MS = 50
DEBOUNCE_MS = 400
POLL_DELAY_MS = 250


async def watch(
    publisher: Publisher,
    mode: str,
    stop: asyncio.Event,
    ready: asyncio.Event | None = None,
    latency: Callable[[float], None] | None = None,
) -> None:
    """Publish every change under the content folder until ``stop`` is set.

    ``mode`` is "auto" (OS file events) or "poll" (stat polling, for network
    and shared volumes where events do not arrive). ``latency`` is told how long
    each change took from file to index (see refresh.publish).
    """
    root = publisher.root
    watcher = awatch(
        root,
        stop_event=stop,
        step=STEP_MS,
        debounce=DEBOUNCE_MS,
        force_polling=mode == "poll",
        poll_delay_ms=POLL_DELAY_MS,
        recursive=True,
    )
    # Changes made between the start-up load and the first event would be
    # missed; compare the folder with what is published once the watcher runs.
    reconcile = asyncio.get_running_loop().create_task(_reconcile(publisher, ready))
    log.info("watching %s for changes (%s)", root, "polling" if mode == "poll" else "file events")
    try:
        async for changes in watcher:
            paths = {Path(path) for _, path in changes}
            try:
                await publish(publisher, paths, latency)
            except Exception:  # one bad batch must not stop publishing
                log.exception("could not apply changes to %d path(s)", len(paths))
    finally:
        reconcile.cancel()


async def _reconcile(publisher: Publisher, ready: asyncio.Event | None) -> None:
    await asyncio.sleep(0.2)  # let awatch set up its watches first
    try:
        changed = await asyncio.to_thread(publisher.catch_up)
        if changed:
            await publish(publisher, changed)
    except Exception:
        log.exception("could not reconcile the content folder")
    if ready is not None:
        ready.set()
