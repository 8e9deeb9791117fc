"""The HTTP server: uvicorn, bounded in what one client can make it hold.

uvicorn alone bounds neither the size of a request's header block nor the time
a client may take to send it, waits for every connection at shutdown, and
reads the rest of a request body that no one will use. Here:

- **Header size:** the request target and header fields may take 16 KiB in
  all and 8 KiB per line (nginx's defaults); more is refused with ``431`` (``414``
  for a long request target) as soon as the limit is crossed, not parsed on.
- **Header time:** a request's header block must be complete within 10 s of
  the connection, or of the end of the previous response on a kept-alive
  connection; then ``408`` (or a quiet close when nothing was sent).
- **Answered early:** when the answer is complete before the request body has
  arrived (a 405, a 413, a 401), the rest of the body is not waited for.
- **Slow readers:** a response the client reads nothing of for 30 s is
  abandoned and the connection closed.
- **Connections:** the soft open-file limit is raised to the hard one; above
  what it leaves room for, the connection that has waited longest for its
  header fields is closed to make room for the new one, so slow clients
  cannot shut out fast ones.
- **Shutdown:** requests in flight get 5 s to finish (``docker stop`` kills
  after 10 s, and the snapshot is saved after the drain); then the remaining
  connections are closed.

Both of uvicorn's HTTP/1.1 implementations are covered: httptools (the
default with ``uvicorn[standard]``) and h11. A refusal closes the connection
without losing the answer: the server stops sending, then reads and discards
what the client is still sending for a moment (nginx's lingering close), as
closing with unread data makes the kernel reset the connection, which can
destroy the answer before the client reads it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import resource
import socket
from dataclasses import dataclass, replace
from email.utils import formatdate
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import httptools
import uvicorn
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from feedsvc.settings import Settings
from feedsvc.web.security import raw_security_headers

if TYPE_CHECKING:
    from uvicorn.server import Protocols  # a type alias uvicorn defines for type checkers only

log = logging.getLogger(__name__)

KIB = 1024
# Bytes of a header block that the limits do not count: the method, spaces, "HTTP/1.1" and CRLFs.
FRAMING = 64


@dataclass(frozen=True, slots=True)
class EdgeLimits:
    """What one client may make the server hold (the README's "HTTP limits")."""

    header_line_bytes: int = 8 * KIB  # request line or one header field
    header_block_bytes: int = 16 * KIB  # request target and header fields together
    header_seconds: float = 10.0  # from the connection, or the previous response, to a complete header block
    linger_seconds: float = 2.0  # after a refusal, how long what the client still sends is read and dropped
    linger_bytes: int = 256 * KIB  # ... and how much of it
    send_seconds: float = 30.0  # a response may wait this long for the client to read some of it
    shutdown_seconds: float = 5.0  # for requests in flight after SIGTERM
    max_connections: int = 0  # 0: derived from the open-file limit at start-up


LIMITS = EdgeLimits()


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request the server answers itself, then closes the connection."""

    status: int
    reason: str


INVALID = Refusal(400, "invalid HTTP request")


def refuse_target(limits: EdgeLimits, size: int) -> Refusal | None:
    """Given the bytes of request target seen so far, the refusal if it is too long."""
    if size > limits.header_line_bytes:
        return Refusal(414, f"the request target is over {limits.header_line_bytes} bytes")
    return None


def refuse_field(limits: EdgeLimits, name: bytes, value: bytes) -> Refusal | None:
    """Given one header field, the refusal if its line is too long."""
    if len(name) + len(value) + 2 > limits.header_line_bytes:
        return Refusal(431, f"a header field is over {limits.header_line_bytes} bytes")
    return None


def refuse_block(limits: EdgeLimits, size: int) -> Refusal | None:
    """Given the bytes of request line and header fields seen so far, the refusal if they are too many."""
    if size > limits.header_block_bytes:
        return Refusal(431, f"the request line and header fields are over {limits.header_block_bytes} bytes")
    return None


def refuse_slow(limits: EdgeLimits) -> Refusal:
    return Refusal(408, f"the request header fields were not complete within {limits.header_seconds:g} s")


def refusal_response(refusal: Refusal, date: str) -> bytes:
    """The whole HTTP/1.1 response for a refusal, closing the connection."""
    body = f"{refusal.reason}\n".encode()
    head = [
        f"HTTP/1.1 {refusal.status} {HTTPStatus(refusal.status).phrase}".encode(),
        b"date: " + date.encode(),  # RFC 9110 §6.6.1: every 4xx from a server with a clock
        b"content-type: text/plain; charset=utf-8",
        b"content-length: " + str(len(body)).encode(),
        b"connection: close",
        *(name + b": " + value for name, value in raw_security_headers("text/plain")),
    ]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def connection_capacity(open_files: int) -> int:
    """Given the open-file limit, how many connections to hold; the rest stays free for
    content files, the folder watcher, the snapshot and the listening socket."""
    return max(1, open_files - min(128, open_files // 4))


def raise_open_file_limit() -> int:
    """Raise the soft open-file limit to the hard one (idle and slow connections each
    hold a file descriptor); return the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    unlimited = resource.RLIM_INFINITY  # never on Linux; macOS's hard limit, which it will not grant
    if unlimited not in (soft, hard) and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            return hard
        except (ValueError, OSError):
            pass
    return soft if soft != unlimited else 1 << 20


class Waiting:
    """One server's connections that wait for a request's header fields, or linger after
    their last answer: the ones to close first when connections run short, oldest first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._edges: dict[Edge, None] = {}

    def add(self, edge: Edge) -> None:
        self._edges.pop(edge, None)
        self._edges[edge] = None

    def discard(self, edge: Edge) -> None:
        self._edges.pop(edge, None)

    def make_room(self, connections: int) -> None:
        """Given the open connections (a new one included), close the one waiting longest
        when there are too many: a slow client, an idle kept-alive one or a lingering one,
        rather than the new one (itself, when no other is waiting)."""
        if connections > self.capacity and self._edges:
            next(iter(self._edges)).make_way()


class Edge:
    """One connection's header clock, refusals and lingering close, for either protocol class."""

    def __init__(
        self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop, config: EdgeConfig, client: str
    ) -> None:
        self.transport = transport
        self.loop = loop
        self.limits = config.limits
        self.waiting = config.waiting
        self.client = client
        self.awaiting_headers = True  # the next request's header block is not complete yet
        self.started = False  # ... and some of it has arrived
        self.header_bytes = 0  # bytes received while awaiting headers (an upper bound of the block so far)
        self.lingering = False
        self.discarded = 0
        # The header clock: a deadline, and at most one timer that checks it. Requests on a
        # kept-alive connection move the deadline without touching the loop's timer heap.
        self._deadline: float | None = None
        self._clock: asyncio.TimerHandle | None = None
        self._linger: asyncio.TimerHandle | None = None
        self._stalled: asyncio.TimerHandle | None = None

    def begin_headers(self) -> None:
        """The previous request is complete: what comes next is a new header block."""
        self.awaiting_headers, self.started, self.header_bytes = True, False, 0

    def begin_request(self) -> None:
        self.started = True

    def headers_complete(self) -> None:
        self.awaiting_headers = False
        self.stop_clock()

    def received(self, size: int) -> None:
        if self.awaiting_headers:
            self.header_bytes += size

    def overflow(self) -> Refusal | None:
        """After the parser has taken every byte received: while the header block is
        still incomplete, all of them belong to it."""
        return refuse_block(self.limits, self.header_bytes - FRAMING) if self.awaiting_headers else None

    def start_clock(self) -> None:
        """The client now owes a header block: it has header_seconds to send it."""
        self._deadline = self.loop.time() + self.limits.header_seconds
        if self._clock is None:
            self._clock = self.loop.call_at(self._deadline, self._check_clock)
        self.waiting.add(self)

    def stop_clock(self) -> None:
        self._deadline = None  # a pending timer finds no deadline and lapses
        self.waiting.discard(self)

    def _check_clock(self) -> None:
        self._clock = None
        if self._deadline is None:
            return
        if self.loop.time() < self._deadline:  # moved on by a later request: check again then
            self._clock = self.loop.call_at(self._deadline, self._check_clock)
            return
        self.expire()

    def answered(self, body_pending: bool) -> None:
        """A response is complete and no other request is queued behind it."""
        if body_pending:
            self.linger()  # the answer did not need the rest of the body: do not wait for it
        else:
            self.start_clock()

    def expire(self) -> None:
        """The header clock ran out, or room is needed for a new connection."""
        self.stop_clock()
        if self.transport.is_closing():
            return
        if self.started:
            self.refuse(refuse_slow(self.limits))
        else:
            self.transport.close()  # nothing was asked: nothing to answer (like a keep-alive timeout)

    def make_way(self) -> None:
        """Close now, without an answer or lingering: the file descriptor is needed."""
        self.stop_clock()
        self.transport.abort()

    def refuse(self, refusal: Refusal, answer: bool = True) -> None:
        """Answer ``refusal`` and close; without ``answer`` (a response is already under
        way on this connection) just close."""
        log.info("%s - %d %s", self.client, refusal.status, refusal.reason)
        self.stop_clock()
        if self.transport.is_closing():
            return
        if not answer:
            self.transport.close()
            return
        self.transport.write(refusal_response(refusal, formatdate(usegmt=True)))
        self.linger()

    def linger(self) -> None:
        """Close after what was written, without a reset that could destroy it: send
        FIN now, drop what still arrives, close on the client's FIN or after a moment."""
        self.stop_clock()
        self.lingering = True
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self._linger = self.loop.call_later(self.limits.linger_seconds, self.transport.close)
        self.waiting.add(self)  # first to go if connections run short

    def discard(self, size: int) -> None:
        self.discarded += size
        if self.discarded > self.limits.linger_bytes:
            self.transport.close()

    def writing_paused(self) -> None:
        """The client is not reading what it asked for: a client that never reads would
        hold the connection (and the rest of the response) for ever."""
        if self._stalled is None:
            self._stalled = self.loop.call_later(self.limits.send_seconds, self.give_up_sending)

    def writing_resumed(self) -> None:
        if self._stalled is not None:
            self._stalled.cancel()
            self._stalled = None

    def give_up_sending(self) -> None:
        log.info("%s - closed: the client read nothing for %g s", self.client, self.limits.send_seconds)
        self.transport.abort()  # close() would wait for the unsent data to go

    def lost(self) -> None:
        self.stop_clock()
        for timer in (self._clock, self._linger, self._stalled):
            if timer is not None:
                timer.cancel()


def client_label(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "-"


class _Refused(Exception):
    """Raised inside a parser to stop it the moment a limit is crossed."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.reason)
        self.refusal = refusal


class _EdgeHooks(asyncio.Protocol):
    """What both protocol classes do alike: an Edge per connection, made at connect and
    released at disconnect, and told when the client stops and resumes reading."""

    edge: Edge
    edge_config: EdgeConfig
    loop: asyncio.AbstractEventLoop
    client: tuple[str, int] | None
    connections: set[Protocols]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.edge = Edge(transport, self.loop, self.edge_config, client_label(self.client))
        self.edge.start_clock()
        self.edge.waiting.make_room(len(self.connections))

    def connection_lost(self, exc: Exception | None) -> None:
        self.edge.lost()
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        super().pause_writing()
        self.edge.writing_paused()

    def resume_writing(self) -> None:
        super().resume_writing()
        self.edge.writing_resumed()


class HttpToolsEdge(_EdgeHooks, HttpToolsProtocol):
    """uvicorn's httptools protocol (the default) with the edge limits.

    httptools hands over the request target piece by piece (``on_url``), but a
    header field only once it is complete, so the block is also bounded by the
    bytes received while it is incomplete: a 128 MB field stops after 16 KiB
    and one read, instead of being gathered (quadratically) and parsed.
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        assert isinstance(config, EdgeConfig)
        self.edge_config = config
        self.limits = config.limits
        self.field_bytes = 0  # request target and header fields of the current request, exactly

    def data_received(self, data: bytes) -> None:
        edge = self.edge
        if edge.lingering:
            edge.discard(len(data))
            return
        self._unset_keepalive_if_required()
        edge.received(len(data))
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:  # as uvicorn does
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError as exc:
            stop = exc.__context__
            self.refuse(stop.refusal if isinstance(stop, _Refused) else INVALID)
            return
        overflow = edge.overflow()
        if overflow is not None:
            self.refuse(overflow)

    def refuse(self, refusal: Refusal) -> None:
        busy = bool(self.pipeline) or (self.cycle is not None and not self.cycle.response_complete)
        self.edge.refuse(refusal, answer=not busy)

    @staticmethod
    def check(refusal: Refusal | None) -> None:
        if refusal is not None:
            raise _Refused(refusal)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.field_bytes = 0
        self.edge.begin_request()

    def on_url(self, url: bytes) -> None:
        self.field_bytes += len(url)
        if len(self.url) + len(url) > self.limits.header_line_bytes:  # checked inline: this runs per request
            self.check(refuse_target(self.limits, len(self.url) + len(url)))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        size = len(name) + len(value) + 4  # ": " and CRLF
        self.field_bytes += size
        limits = self.limits
        if size > limits.header_line_bytes or self.field_bytes > limits.header_block_bytes:  # inline: per header
            self.check(refuse_field(limits, name, value) or refuse_block(limits, self.field_bytes))
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self.edge.headers_complete()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.edge.begin_headers()

    def on_response_complete(self) -> None:
        queued = bool(self.pipeline)
        super().on_response_complete()
        if not (queued or self.transport.is_closing() or self.edge.lingering):
            self.edge.answered(body_pending=not self.edge.awaiting_headers)


HTTP_IMPLEMENTATIONS = ("auto", "httptools", "h11")


def protocol_class(http: str) -> type[asyncio.Protocol]:
    """The protocol class of an HTTP implementation: httptools (``auto``), or h11, whose
    module (web/h11edge.py, with h11 itself: ~7 ms of a start) loads only when asked for."""
    if http not in HTTP_IMPLEMENTATIONS:
        raise ValueError(f"http: one of {', '.join(HTTP_IMPLEMENTATIONS)}, not {http!r}")
    if http == "h11":
        from feedsvc.web.h11edge import H11Edge

        return H11Edge
    return HttpToolsEdge


class EdgeConfig(Config):
    """uvicorn's configuration for feedsvc: the protocol classes above and their limits."""

    def __init__(
        self, app: ASGIApp, limits: EdgeLimits, host: str, port: int, log_level: str, http: str = "auto"
    ) -> None:
        super().__init__(
            app,
            host=host,
            port=port,
            log_level=log_level,
            loop="auto",  # uvloop when installed (uvicorn[standard])
            http=protocol_class(http),
            ws="none",
            server_header=False,  # no software banner
            # feedsvc writes its own, off the event loop (web/accesslog.py); uvicorn's
            # formats each line on the loop and halved the throughput of cached feeds.
            access_log=False,
            # feedsvc sends its own Date, from the clock that stamps Last-Modified (web/fastpath.py).
            date_header=False,
            # uvicorn cancels what is still running after this; EdgeServer closes connections first.
            timeout_graceful_shutdown=math.ceil(limits.shutdown_seconds) + 2,
        )
        self.limits = limits
        self.waiting = Waiting(limits.max_connections)


class EdgeServer(uvicorn.Server):
    """uvicorn's server, closing the connections still open when the shutdown time is up,
    so the requests on them see a disconnect and end instead of being cancelled."""

    config: EdgeConfig

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        cutoff = asyncio.get_running_loop().call_later(self.config.limits.shutdown_seconds, self.drop_connections)
        try:
            await super().shutdown(sockets)
        finally:
            cutoff.cancel()

    def drop_connections(self) -> None:
        connections = list(self.server_state.connections)
        if connections:
            log.warning(
                "closing %d connection(s) still open %g s after shutdown began",
                len(connections),
                self.config.limits.shutdown_seconds,
            )
        for connection in connections:
            connection.transport.abort()


class QuietDisconnects:
    """A client that leaves before its request is read is not a server error: one
    log line, no traceback (Starlette raises ClientDisconnect from request.stream())."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:
            log.info("%s %s: the connection closed before the request was complete", scope["method"], scope["path"])


def make_server(app: ASGIApp, settings: Settings, limits: EdgeLimits = LIMITS, http: str = "auto") -> EdgeServer:
    if not limits.max_connections:
        limits = replace(limits, max_connections=connection_capacity(raise_open_file_limit()))
    config = EdgeConfig(QuietDisconnects(app), limits, settings.host, settings.port, settings.log_level, http)
    log.info(
        "HTTP limits: %d connections, header fields %d bytes (%d per line) within %g s, shutdown %g s",
        config.waiting.capacity,
        limits.header_block_bytes,
        limits.header_line_bytes,
        limits.header_seconds,
        limits.shutdown_seconds,
    )
    return EdgeServer(config)


def serve(app: ASGIApp, settings: Settings) -> int:
    """Serve ``app`` until SIGTERM or SIGINT; the exit status."""
    server = make_server(app, settings)
    server.run()
    return 0 if server.started else 3  # uvicorn's start-up failure status
