"""Tell WebSub hubs which feeds changed (W3C WebSub, "publish" notifications).

After a change the publisher hands over the feeds whose default output
changed; they are collected for a short window, de-duplicated, and sent to
every hub as one ``hub.mode=publish`` request with repeated ``hub.url``
values. A hub that fails is retried with exponential backoff (capped), per
hub, without blocking readers, writers or the other hubs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from feedsvc.core.index import FeedRef, Index, IndexDiff

if TYPE_CHECKING:  # httpx (and ssl) load only when a hub is first told something: faster start-up
    import httpx

log = logging.getLogger(__name__)

BATCH_SECONDS = 0.2  # gather the changes of one burst (an rsync, a git pull) into one request
MAX_URLS_PER_REQUEST = 100
BACKOFF_START = 1.0
BACKOFF_MAX = 300.0
TIMEOUT_SECONDS = 10.0


class HubNotifier:
    def __init__(
        self,
        hubs: Sequence[str],
        topic_urls: Callable[[FeedRef], Iterable[str]],
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.hubs = tuple(hubs)
        self._topic_urls = topic_urls
        self._client = client
        self._made: httpx.AsyncClient | None = None  # the client run() made once there was a change to send
        self._pending: dict[str, set[str]] = {hub: set() for hub in self.hubs}
        self._wakeups = {hub: asyncio.Event() for hub in self.hubs}
        self._loop: asyncio.AbstractEventLoop | None = None
        # Per hub, for /metrics: publish requests it accepted, and those that failed.
        self.pushes: dict[str, int] = dict.fromkeys(self.hubs, 0)
        self.failures: dict[str, int] = dict.fromkeys(self.hubs, 0)

    def on_index_change(self, index: Index, diff: IndexDiff) -> None:
        """Publisher listener; may be called from a worker thread."""
        urls = {url for ref in diff.visible | diff.removed for url in self._topic_urls(ref)}
        if urls and self._loop is not None:
            self._loop.call_soon_threadsafe(self.enqueue, urls)

    def enqueue(self, urls: Iterable[str]) -> None:
        for hub, pending in self._pending.items():
            pending.update(urls)
            self._wakeups[hub].set()

    async def run(self, stop: asyncio.Event) -> None:
        """Send notifications until ``stop`` is set."""
        self._loop = asyncio.get_running_loop()
        workers = [asyncio.create_task(self._serve_hub(hub)) for hub in self.hubs]
        try:
            await stop.wait()
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            if self._made is not None:
                await self._made.aclose()
                self._made = None

    def _http(self) -> httpx.AsyncClient:
        """The client given, else one made when a hub is first told something (not at start-up:
        importing httpx and loading the CA certificates into its TLS context take ~0.1 s)."""
        if self._client is not None:
            return self._client
        if self._made is None:
            import httpx

            headers = {"User-Agent": "feedsvc WebSub publisher"}
            self._made = httpx.AsyncClient(timeout=httpx.Timeout(TIMEOUT_SECONDS), headers=headers)
        return self._made

    async def _serve_hub(self, hub: str) -> None:
        delay = BACKOFF_START
        while True:
            if not self._pending[hub]:
                self._wakeups[hub].clear()
                await self._wakeups[hub].wait()
                continue
            await asyncio.sleep(BATCH_SECONDS)
            urls = sorted(self._pending[hub])[:MAX_URLS_PER_REQUEST]
            self._pending[hub].difference_update(urls)
            if await self._publish(self._http(), hub, urls):
                self.pushes[hub] += 1
                delay = BACKOFF_START
                continue
            self.failures[hub] += 1
            self._pending[hub].update(urls)  # keep them for the next try
            log.warning("hub %s: will retry %d feed(s) in %.0fs", hub, len(urls), delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX)

    async def _publish(self, client: httpx.AsyncClient, hub: str, urls: list[str]) -> bool:
        import httpx

        form = {"hub.mode": ["publish"], "hub.url": urls}
        try:
            response = await client.post(hub, data=form)
        except httpx.HTTPError as exc:
            log.warning("hub %s unreachable: %s", hub, exc)
            return False
        if not response.is_success:
            log.warning("hub %s answered %d to a publish of %d feed(s)", hub, response.status_code, len(urls))
            return False
        log.info("hub %s told about %d changed feed(s)", hub, len(urls))
        return True
