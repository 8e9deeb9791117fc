"""The access log and request counts: one record per request, written off the hot path.

The outermost layer of the app (``RequestLog``, given to create_app as
middleware, so it wraps the cache fast path) does only what must happen while
the request is served: it numbers the request for ``X-Request-Id``, notes the
status and bytes sent, and appends one tuple to a queue. A writer thread
(``AccessLog``) takes the queue every ``FLUSH_SECONDS``: it formats the lines,
writes them in one go, and counts requests by route, method and status for
/metrics. Formatting a log line costs about what serving a cached feed costs;
doing it on the event loop halved throughput (issue 12).

Memory is bounded: when the writer falls ``MAX_PENDING`` records behind,
further records are dropped and counted (``dropped``), not queued.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import lru_cache
from itertools import count
from typing import IO
from urllib.parse import unquote

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from feedsvc.web.fastpath import CACHE_KEY

FLUSH_SECONDS = 0.075
MAX_PENDING = 200_000  # ~4 s at 50,000 requests/s; each record is one small tuple
ROUTE_LABELS = 10_000  # paths whose route label is remembered (made-up paths must not grow it without bound)
OTHER = "other"  # the route label of paths no route matches

# One request, as the hot path records it:
# (wall-clock start, client, method, raw path, query, HTTP version, status, bytes, seconds, from the cache, id)
Record = tuple[float, str, str, bytes, bytes, str, int, int, float, bool, bytes]


def request_ids() -> Callable[[], bytes]:
    """A source of request ids: a random per-process prefix and a counter, unique across
    replicas and restarts without a random number per request."""
    prefix = os.urandom(4).hex().encode()
    numbers = count(1)
    return lambda: b"%s-%x" % (prefix, next(numbers))


def cache_outcome(method: str, status: int, cached: bool) -> str:
    """Given how a request was answered, its cache outcome: hit or 304 from the fast path's
    cache, miss when routing answered a feed request (rendered or looked up), - otherwise."""
    if cached:
        return "304" if status == 304 else "hit"
    return "miss" if method in ("GET", "HEAD") else "-"


def _target(raw: bytes, query: bytes) -> str:
    """The request target as the client sent it (bytes as latin-1: never decoded as anything else)."""
    target = raw + b"?" + query if query else raw
    return target.decode("latin-1")


def _quoted(text: str) -> str:
    """``text`` in double quotes, with quotes, backslashes and anything unprintable escaped,
    so a client cannot forge a line (the common case, plain ASCII, is not re-encoded)."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return json.dumps(text)


@lru_cache(maxsize=4)
def _nginx_time(second: int) -> str:
    """A second as nginx's $time_local in UTC; formatted once per second of log lines."""
    return datetime.fromtimestamp(second, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


@lru_cache(maxsize=4)
def _iso_second(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def text_line(record: Record) -> str:
    """One human-readable line, close to nginx's: client, time, request, status, bytes, then
    duration, cache outcome and request id."""
    wall, client, method, raw, query, version, status, size, seconds, cached, rid = record
    request = _quoted(f"{method} {_target(raw, query)} HTTP/{version}")
    outcome = cache_outcome(method, status, cached)
    return (
        f"{client} [{_nginx_time(int(wall))}] {request} {status} {size} {seconds * 1000:.2f}ms {outcome} "
        f"{rid.decode()}\n"
    )


def json_line(record: Record) -> str:
    """One JSON object per line, for log collectors (written by hand: json.dumps of a dict
    takes three times as long, and the writer shares the interpreter with the server)."""
    wall, client, method, raw, query, version, status, size, seconds, cached, rid = record
    second = int(wall)
    return (
        f'{{"time":"{_iso_second(second)}.{int((wall - second) * 1000):03d}Z","client":{_quoted(client)},'
        f'"method":{_quoted(method)},"path":{_quoted(raw.decode("latin-1"))},'
        f'"query":{_quoted(query.decode("latin-1"))},"protocol":"HTTP/{version}","status":{status},'
        f'"bytes":{size},"duration_ms":{seconds * 1000:.3f},"cache":"{cache_outcome(method, status, cached)}",'
        f'"request_id":"{rid.decode()}"}}\n'
    )


FORMATS: dict[str, Callable[[Record], str]] = {"text": text_line, "json": json_line}


class RouteLabels:
    """The route template a path belongs to (``/feeds/topics/{topic}.{fmt}``), for metric labels:
    a bounded set of values whatever paths clients make up. Used by the writer thread only."""

    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        self._routes = [route for route in routes if hasattr(route, "path")]
        self._known: dict[bytes, str] = {}

    def __call__(self, path: bytes) -> str:
        label = self._known.get(path)
        if label is None:
            label = self._match(path)
            if len(self._known) >= ROUTE_LABELS:
                self._known.clear()  # made-up paths: start again rather than grow
            self._known[path] = label
        return label

    def _match(self, path: bytes) -> str:
        scope = {"type": "http", "path": unquote(path.decode("latin-1")), "root_path": "", "method": "GET"}
        for route in self._routes:
            if route.matches(scope)[0] is not Match.NONE:
                return str(route.path)
        return OTHER


class AccessLog:
    """The records of served requests: queued by the hot path, written and counted by a thread."""

    def __init__(
        self,
        routes: Iterable[BaseRoute],
        enabled: bool = True,
        log_format: str = "text",
        stream: IO[str] | None = None,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self.enabled = enabled
        self._format = FORMATS[log_format]
        self._stream = stream
        self.max_pending = max_pending
        self.pending: deque[Record] = deque()
        self.dropped = 0  # records the writer was too far behind to take (hot path; read by the writer)
        self.next_id = request_ids()
        self._labels = RouteLabels(routes)
        # (route, method, status) -> requests: written by the writer thread, read at a scrape.
        self.counts: dict[tuple[str, str, int], int] = {}
        self.lock = threading.Lock()  # between the writer and a scrape, never taken on the hot path
        self._flushing = threading.Lock()  # the writer and a scrape may both flush; lines stay in order
        self._reported_drops = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stream(self) -> IO[str]:
        # Looked up when written, not when made: tests and daemons replace sys.stdout.
        return self._stream or sys.stdout

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="feedsvc-access-log", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the writer after writing what is queued."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join(timeout=5)
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            try:
                self.flush()
            except Exception as exc:  # a full disk or a closed pipe must not end the writer
                print(f"feedsvc: access log: {exc}", file=sys.stderr)

    def flush(self) -> None:
        """Count and write every queued record (the writer thread, a scrape, or stop)."""
        with self._flushing:
            self._flush()

    def _flush(self) -> None:
        pending = self.pending
        batch = []
        while pending:
            batch.append(pending.popleft())  # deque pops are atomic: the hot path appends meanwhile
        if batch:
            self._count(batch)
            if self.enabled:
                self.stream.write("".join(map(self._format, batch)))
        dropped = self.dropped
        if dropped != self._reported_drops:
            self.stream.write(f"feedsvc: access log fell behind: {dropped - self._reported_drops} record(s) dropped\n")
            self._reported_drops = dropped
        if batch or dropped:
            self.stream.flush()

    def _count(self, batch: list[Record]) -> None:
        labels = self._labels
        tally: dict[tuple[str, str, int], int] = {}
        for record in batch:
            key = (labels(record[3]), record[2], record[6])
            tally[key] = tally.get(key, 0) + 1
        with self.lock:
            counts = self.counts
            for key, number in tally.items():
                counts[key] = counts.get(key, 0) + number


class RequestLog:
    """The outermost ASGI layer: every request, fast path or routed, passes here exactly once.

    Adds ``X-Request-Id`` to every response and queues one record per request
    for the AccessLog. Nothing here formats, locks or looks up a label.
    """

    def __init__(self, app: ASGIApp, log: AccessLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        wall = time.time()
        log = self.log
        sender = _Sender(send, log.next_id())
        try:
            await self.app(scope, receive, sender)
        finally:
            if len(log.pending) < log.max_pending:
                client = scope.get("client")
                log.pending.append(
                    (
                        wall,
                        client[0] if client else "-",
                        scope["method"],
                        scope.get("raw_path") or scope["path"].encode("utf-8"),
                        scope.get("query_string", b""),  # both optional in the ASGI spec
                        scope.get("http_version", "1.1"),
                        sender.status,
                        sender.size,
                        time.perf_counter() - started,
                        CACHE_KEY in scope,
                        sender.rid,
                    )
                )
            else:
                log.dropped += 1


class _Sender:
    """``send``, noting the status and body bytes, and adding X-Request-Id to the response."""

    __slots__ = ("rid", "send", "size", "status")

    def __init__(self, send: Send, rid: bytes) -> None:
        self.send = send
        self.rid = rid
        self.status = 500  # no response started: the server answers 500
        self.size = 0

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            message = {**message, "headers": [*message.get("headers", ()), (b"x-request-id", self.rid)]}
        else:
            self.size += len(message.get("body", b""))
        await self.send(message)
