"""The enclosure probe: find each image's real size and media type by asking its server.

RSS requires an enclosure's ``length`` in bytes, and podcast apps use it and
the type. In the background, never on the way to publishing or start-up,
each image URL of the published articles whose size is not known (nor given
in the front matter) gets a ``HEAD`` request; when that gives no usable
answer, a ``GET`` with ``Range: bytes=0-0`` (the total from
``Content-Range``, the body never read). Only ``image/*`` answers count.

Bounds: at most CONCURRENCY requests at once, PER_HOST to one host, connect
and read timeouts, PROBE_SECONDS for a whole probe (redirects included),
PASS_BUDGET URLs a pass and PASS_PAUSE between full passes. Results live in
the publisher's SizeBook (core/sizes.py), kept beside the snapshot; a size is
re-checked after a week, and a failure is retried after 15 minutes, doubling.
A host that cannot be reached fails all its URLs of that pass at once.

Which addresses it may connect to (``--enclosure-probe``): ``public`` never
connects to loopback, private, link-local, multicast, reserved or unspecified
addresses (IPv4 and IPv6, IPv4 inside IPv6 included). The host name is
resolved first and the connection is made to that very address (the TLS
name and Host header stay the URL's), so a DNS answer that changes between a
check and the connection (rebinding) cannot reach inside. Every redirect hop
is a new connection, checked by the same rule. ``all`` allows every address
(intranets, tests); ``off`` sends nothing at all.

The decisions are pure functions (:func:`found_in`, :func:`range_total`
here, the address rule in live/vetted.py, when to ask again in
core/sizes.py); the I/O is :func:`probe_url` and :class:`Prober`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from feedsvc import __version__
from feedsvc.content.images import image_media_type, is_image_size
from feedsvc.content.model import Image
from feedsvc.core.index import Index, IndexDiff
from feedsvc.core.publisher import Publisher
from feedsvc.core.sizes import Entry, SizeBook

if TYPE_CHECKING:  # httpx and httpcore (~0.1 s to import) load only once the probe has work
    import httpx

    from feedsvc.live.vetted import Resolver, Rule

log = logging.getLogger(__name__)

CONCURRENCY = 8  # requests in flight at once, over all hosts
PER_HOST = 2  # requests in flight to one host (what a browser would consider polite is 6)
CONNECT_SECONDS = 5.0  # name resolution and TCP (and TLS) connection
READ_SECONDS = 10.0  # between bytes of an answer
PROBE_SECONDS = 30.0  # one URL, every redirect and the GET fallback included
MAX_REDIRECTS = 3
PASS_BUDGET = 500  # URLs asked about in one pass...
PASS_PAUSE = 60.0  # ...and the pause before the next when a pass used all of it
START_SECONDS = 5.0  # the first pass waits this long after start-up: readers first
WAKE_SECONDS = 1.0  # after a content change, gather more changes before looking
IDLE_SECONDS = 3600.0  # look for rechecks that came due at least this often
# A pass looks at the images of the newest FRONT articles (new articles are probed first), then
# at SWEEP more from where the last pass left off: reading a million records' heads is ~4 s of
# CPU holding the GIL, too much to do after every change. A sweep of the whole archive goes on
# a slice a pass (~80 ms at a million articles), SWEEP_PAUSE apart while slices have images to
# ask about, QUIET_PAUSE apart while they have none (a slice holds the interpreter, and requests
# meanwhile wait for it: a million articles are swept in ~25 minutes then). Once the sweep has
# looked at every article, the next starts when the earliest recheck it saw comes due.
FRONT = 1_000
SWEEP = 20_000
SWEEP_PAUSE = 5.0
QUIET_PAUSE = 30.0
BATCH_SECONDS = 2.0  # results are published together, at most one index revision per batch
USER_AGENT = f"feedsvc/{__version__} (enclosure size check)"
REDIRECTS = frozenset({301, 302, 303, 307, 308})


# --- What an answer says (pure) -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Found:
    length: int
    type: str


def range_total(content_range: str | None) -> int | None:
    """The complete length in ``Content-Range: bytes 0-0/12345`` (RFC 9110 §14.4), if given."""
    if not content_range:
        return None
    unit, _, rest = content_range.strip().partition(" ")
    total = rest.rpartition("/")[2].strip()
    if unit.lower() != "bytes" or not total.isascii() or not total.isdigit() or len(total) > 12:
        return None
    return int(total)


def content_length(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 12 else None


def found_in(status: int, headers: Mapping[str, str]) -> Found | None:
    """The image size and type an answer gives, if it gives both and they are believable.

    A ``206`` gives the total in Content-Range; another 2xx, its
    Content-Length. Only ``image/*`` types count (an HTML error page answered
    with 200 is not the image), and a length of an encoded body is not the
    file's.
    """
    media_type = image_media_type(headers.get("content-type", ""))
    if media_type is None or headers.get("content-encoding", "identity").strip().lower() != "identity":
        return None
    if status == 206:
        length = range_total(headers.get("content-range"))
    elif 200 <= status < 300 and status != 204:
        length = content_length(headers.get("content-length"))
    else:
        return None
    return Found(length, media_type) if length is not None and is_image_size(length) else None


def why_not(status: int, headers: Mapping[str, str]) -> str:
    """A short reason an answer gave no size, for the log."""
    if not 200 <= status < 300:
        return f"answered {status}"
    kind = headers.get("content-type", "")[:60]
    if image_media_type(kind) is None:
        return f"not an image ({kind or 'no Content-Type'})"
    return "no usable Content-Length or Content-Range"


# --- One URL ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    url: str
    found: Found | None
    reason: str = ""  # why not found
    host_down: bool = False  # the host could not be reached: its other URLs would fail too


async def probe_url(client: httpx.AsyncClient, url: str) -> Outcome:
    """Ask ``url``'s server for the image's size and type: HEAD, then a one-byte range GET."""
    import httpx

    from feedsvc.live.vetted import AddressRefused

    try:
        async with asyncio.timeout(PROBE_SECONDS):
            status, headers, final = await _follow(client, "HEAD", url, {})
            found = found_in(status, headers)
            if found is None and status not in (404, 410):  # a file that is gone is gone for GET too
                status, headers, _ = await _follow(client, "GET", final, {"Range": "bytes=0-0"})
                found = found_in(status, headers)
    except AddressRefused as exc:
        return Outcome(url, None, f"refused: {exc}")
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        return Outcome(url, None, f"unreachable: {exc or type(exc).__name__}", host_down=True)
    except (httpx.HTTPError, ValueError) as exc:
        return Outcome(url, None, f"{type(exc).__name__}: {exc}"[:200])
    except TimeoutError:
        return Outcome(url, None, f"took over {PROBE_SECONDS:.0f}s")
    return Outcome(url, found, "" if found else why_not(status, headers))


async def _follow(
    client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str]
) -> tuple[int, Mapping[str, str], str]:
    """One request, following up to MAX_REDIRECTS redirects (each hop a new check of
    the address); the final status, headers and URL. The body is never read."""
    for _ in range(MAX_REDIRECTS + 1):
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"not an http(s) URL: {url[:100]}")
        async with client.stream(method, url, headers=headers) as response:
            status, got = response.status_code, response.headers
        location = got.get("location")
        if status not in REDIRECTS or not location:
            return status, got, url
        url = urljoin(url, location)
    raise ValueError(f"more than {MAX_REDIRECTS} redirects")


# --- The background driver ----------------------------------------------------------------


class Prober:
    """Probes the images of the published articles, passes at a time, and publishes what it finds."""

    def __init__(
        self,
        publisher: Publisher,
        mode: str = "public",
        rule: Rule | None = None,
        resolve: Resolver | None = None,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.publisher = publisher
        self._mode = mode
        self._rule = rule
        self._resolve = resolve
        self._client = client
        self._made: httpx.AsyncClient | None = None  # the client run() made once there was work
        self._clock = clock
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: dict[str, Entry | None] = {}  # changed since the last batch: what each was before
        self._sweep = _Sweep()
        self.probes = 0  # requests made, for tests and the log
        self.results = {"found": 0, "failed": 0}  # URLs whose size and type were found, or not (/metrics)

    @property
    def book(self) -> SizeBook:
        return self.publisher.sizes

    def on_index_change(self, index: Index, diff: IndexDiff) -> None:
        """Publisher listener (any thread): new articles may have new images."""
        if self._loop is not None and diff.revised:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self, stop: asyncio.Event) -> None:
        """Probe until ``stop`` is set; the results are kept when it is."""
        self._loop = asyncio.get_running_loop()
        try:
            if await _wait(stop, START_SECONDS):
                return
            while not stop.is_set():
                self._wake.clear()
                work = asyncio.create_task(self.probe_pass())
                if await _wait(stop, None, work):  # stopping: the pass is cancelled
                    await asyncio.gather(work, return_exceptions=True)
                    break
                try:
                    asked = work.result()
                except Exception:  # a bug must not end the probe for the life of the process
                    log.exception("enclosure probe: the pass failed")
                    asked = PASS_BUDGET
                delay = PASS_PAUSE if asked >= PASS_BUDGET else await asyncio.to_thread(self._after_pass, asked)
                woken = asyncio.create_task(self._wake.wait())
                if await _wait(stop, delay, woken):
                    break
                if self._wake.is_set():
                    await _wait(stop, WAKE_SECONDS)  # a sync brings many files: look once they are in
        finally:
            if self._made is not None:
                await self._made.aclose()
                self._made = None
            await self._flush()
            self._save()

    def _run_client(self) -> httpx.AsyncClient:
        """The client given, else one made now and kept until run() ends.

        Made when a pass first has a URL to ask about, not at start-up: importing
        httpx and loading the CA certificates into its TLS contexts took ~0.1 s
        of a restart's 0.3 s before the port opened (measured), and several MB
        that a server whose images all have known sizes never needs.
        """
        if self._client is not None:
            return self._client
        if self._made is None:
            self._made = self.make_client()
        return self._made

    def make_client(self) -> httpx.AsyncClient:
        from feedsvc.live import vetted

        return vetted.make_client(
            self._rule or vetted.rule_for(self._mode),
            self._resolve or vetted.system_resolve,
            connect_seconds=CONNECT_SECONDS,
            read_seconds=READ_SECONDS,
            connections=CONCURRENCY * 2,
            user_agent=USER_AGENT,
        )

    def _after_pass(self, asked: int) -> float:
        """Seconds until the next pass, after one that asked about ``asked`` URLs, fewer than
        PASS_BUDGET, so that every image it looked at was looked at: the sweep moves on past
        them. While it has articles left, SWEEP_PAUSE (QUIET_PAUSE if this pass asked nothing);
        once it has been through them all, until the earliest recheck it saw (at most
        IDLE_SECONDS), and the next sweep starts over."""
        sweep = self._sweep
        sweep.soonest = _earliest(sweep.soonest, self.book.next_due(sweep.looked_at))
        sweep.looked_at = []
        if not sweep.ended:
            sweep.start = sweep.stop
            return SWEEP_PAUSE if asked else QUIET_PAUSE
        soonest, self._sweep = sweep.soonest, _Sweep()
        if soonest is None:
            return IDLE_SECONDS
        return min(IDLE_SECONDS, max(1.0, soonest - self._clock()))

    def _images(self) -> list[Image]:
        """The images this pass looks at: those of the newest FRONT articles, then of the
        sweep's next SWEEP, read from the records' heads (so callers run it off the event loop)."""
        index, sweep = self.publisher.index, self._sweep
        count = index.published_count()
        sweep.stop = min(sweep.start + SWEEP, count)
        sweep.ended = sweep.stop >= count
        front = list(index.images(0, min(FRONT, sweep.start)))  # the sweep's slice may hold them too
        sweep.looked_at = list(index.images(sweep.start, sweep.stop))
        return front + sweep.looked_at

    def _due(self) -> list[str]:
        return self.book.due(self._images(), self._clock(), PASS_BUDGET)

    async def probe_pass(self, client: httpx.AsyncClient | None = None) -> int:
        """Ask about the URLs of this pass's images that are due (at most PASS_BUDGET) with
        ``client`` (by default the run's own, made now if need be); return how many."""
        urls = await asyncio.to_thread(self._due)
        if not urls:
            return 0
        if client is None:
            client = self._run_client()
        started = time.monotonic()
        hosts: dict[str, deque[str]] = {}
        for url in urls:
            hosts.setdefault((urlsplit(url).hostname or "").lower(), deque()).append(url)
        gate = asyncio.Semaphore(CONCURRENCY)
        found_before = self.book.known()
        batches = asyncio.create_task(self._batches())
        try:
            workers = [
                self._host_worker(client, queue, gate)
                for queue in hosts.values()
                for _ in range(min(PER_HOST, len(queue)))
            ]
            await asyncio.gather(*workers)
        finally:
            batches.cancel()
            await asyncio.gather(batches, return_exceptions=True)
            await self._flush()
        await asyncio.to_thread(self._save)
        log.info(
            "enclosure probe: asked about %d image(s) on %d host(s) in %.1fs; %d size(s) known now (%+d)",
            len(urls),
            len(hosts),
            time.monotonic() - started,
            self.book.known(),
            self.book.known() - found_before,
        )
        return len(urls)

    async def _host_worker(self, client: httpx.AsyncClient, queue: deque[str], gate: asyncio.Semaphore) -> None:
        """Probe a host's URLs one after another (PER_HOST of these share a queue)."""
        while queue:
            url = queue.popleft()
            async with gate:
                self.probes += 1
                outcome = await probe_url(client, url)
            self._record(outcome)
            if outcome.host_down:
                # Unreachable: the host's other URLs would wait out the same timeout. They
                # are marked failed now, and retried with the same backoff.
                while queue:
                    self._record(Outcome(queue.popleft(), None, outcome.reason))

    def _record(self, outcome: Outcome) -> None:
        before = self.book.get(outcome.url)
        found = outcome.found
        self.results["failed" if found is None else "found"] += 1
        if found is None:
            log.debug("enclosure probe: %s: %s", outcome.url, outcome.reason)
        changed = self.book.record(
            outcome.url, found.length if found else None, found.type if found else "", self._clock(), outcome.reason
        )
        if changed:
            self._pending.setdefault(outcome.url, before)

    async def _batches(self) -> None:
        while True:
            await asyncio.sleep(BATCH_SECONDS)
            await self._flush()

    async def _flush(self) -> None:
        """Publish the results gathered since the last batch as one index revision."""
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        await asyncio.to_thread(self.publisher.apply_sizes, batch)

    def _save(self) -> None:
        path = self.publisher.sizes_path
        if path is not None and self.book.changed:
            self.book.save(path)


@dataclass(slots=True)
class _Sweep:
    """How far a sweep of the archive's images has gone: articles ``start`` to ``stop`` (newest
    first) are this pass's, ``ended`` if they reach the last; ``soonest``: the earliest recheck
    seen so far."""

    start: int = 0
    stop: int = 0
    ended: bool = False
    soonest: float | None = None
    looked_at: list[Image] = field(default_factory=list)


def _earliest(first: float | None, second: float | None) -> float | None:
    return second if first is None else first if second is None else min(first, second)


async def _wait(stop: asyncio.Event, seconds: float | None, other: asyncio.Task[Any] | None = None) -> bool:
    """Sleep ``seconds`` (None: no limit), or until ``stop`` is set (True) or ``other``
    finishes (False); ``other`` is cancelled if it is still running."""
    stopping = asyncio.create_task(stop.wait())
    waiting = {stopping} | ({other} if other is not None else set())
    try:
        await asyncio.wait(waiting, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waiting:
            task.cancel()
    return stop.is_set()
