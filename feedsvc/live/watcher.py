"""Watch the content folder (watchfiles, in a process of its own: live/watchproc.py) and publish changes."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path

from watchfiles import awatch

from feedsvc.core.publisher import Publisher
from feedsvc.live.refresh import publish
from feedsvc.live.watchproc import command as watch_command

log = logging.getLogger(__name__)
logging.getLogger("watchfiles").setLevel(logging.WARNING)  # it logs every batch at INFO; we log what we publish

# watchfiles yields a batch once no new event arrived for STEP ms, and at the
# latest after DEBOUNCE ms of continuous events (a big rsync or git pull), so
# a change reaches the feeds well within a second.
STEP_MS = 50
DEBOUNCE_MS = 400
POLL_DELAY_MS = 250
# The longest line the watching process may write: one batch's paths (a big git pull).
LINE_LIMIT = 64 * 1024 * 1024


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

    The watching runs in a process of its own (live/watchproc.py): setting it
    up walks the folder holding Python's GIL, seconds at a million files. If
    that process cannot start, watchfiles runs here instead.
    """
    root = publisher.root
    try:
        process = await asyncio.create_subprocess_exec(
            *watch_command(str(root), mode, STEP_MS, DEBOUNCE_MS, POLL_DELAY_MS),
            stdout=asyncio.subprocess.PIPE,
            limit=LINE_LIMIT,
        )
    except OSError as exc:
        log.warning("watching %s in this process: %s", root, exc)
        await _watch_here(publisher, mode, stop, ready, latency)
        return
    log.info("watching %s for changes (%s)", root, "polling" if mode == "poll" else "file events")
    reconcile: asyncio.Task[None] | None = None
    stopping = asyncio.create_task(stop.wait())
    try:
        assert process.stdout is not None
        while True:
            line = asyncio.create_task(process.stdout.readline())
            await asyncio.wait({line, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not line.done():
                line.cancel()
                return
            text = line.result()
            if not text:  # the watching process ended
                raise RuntimeError(f"the watcher of {root} exited with {await process.wait()}")
            if text == b"ready\n":
                # Changes made between the start-up load and now would be missed:
                # compare the folder with what is published, now that the watches are in place.
                reconcile = asyncio.get_running_loop().create_task(_reconcile(publisher, ready))
                continue
            await _publish_batch(publisher, {Path(path) for path in json.loads(text)}, latency)
    finally:
        stopping.cancel()
        if reconcile is not None:
            reconcile.cancel()
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=5)
            except TimeoutError:
                process.kill()


async def _watch_here(
    publisher: Publisher,
    mode: str,
    stop: asyncio.Event,
    ready: asyncio.Event | None,
    latency: Callable[[float], None] | None,
) -> None:
    """watch() with watchfiles in this process (the GIL held while it sets up)."""
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
    reconcile = asyncio.get_running_loop().create_task(_reconcile(publisher, ready, settle=0.2))
    try:
        async for changes in watcher:
            await _publish_batch(publisher, {Path(path) for _, path in changes}, latency)
    finally:
        reconcile.cancel()


async def _publish_batch(publisher: Publisher, paths: set[Path], latency: Callable[[float], None] | None) -> None:
    try:
        await publish(publisher, paths, latency)
    except Exception:  # one bad batch must not stop publishing
        log.exception("could not apply changes to %d path(s)", len(paths))


async def _reconcile(publisher: Publisher, ready: asyncio.Event | None, settle: float = 0.0) -> None:
    await asyncio.sleep(settle)  # in this process: let awatch set up its watches first
    try:
        changed = await asyncio.to_thread(publisher.catch_up)
        if changed:
            await publish(publisher, changed)
    except Exception:
        log.exception("could not reconcile the content folder")
    if ready is not None:
        ready.set()
