"""The HTTP edge (web/server.py): what one client can make the real server hold.

Servers run in a thread on a loopback port with short limits, and are spoken
to over raw sockets, with each of uvicorn's HTTP implementations.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from feedsvc.app import create_app
from feedsvc.settings import Settings
from feedsvc.web.server import (
    LIMITS,
    EdgeLimits,
    EdgeServer,
    Refusal,
    Waiting,
    connection_capacity,
    make_server,
    raise_open_file_limit,
    refusal_response,
    refuse_block,
    refuse_field,
    refuse_target,
)

from .conftest import Server, article, free_port, front_matter, poll_until

TOKEN = "0123456789abcdef0123"
SHORT = EdgeLimits(header_seconds=1.5, linger_seconds=1.0, send_seconds=1.0, shutdown_seconds=1.0, max_connections=1000)


# --- the decisions, as pure functions ---------------------------------------------------------


def test_edge_limits_are_the_documented_numbers():
    assert (LIMITS.header_line_bytes, LIMITS.header_block_bytes) == (8192, 16384)
    assert (LIMITS.header_seconds, LIMITS.shutdown_seconds) == (10.0, 5.0)


def test_edge_refusals_start_one_byte_over_each_limit():
    limits = EdgeLimits()
    assert refuse_target(limits, 8192) is None
    assert refuse_target(limits, 8193) == Refusal(414, "the request target is over 8192 bytes")
    assert refuse_field(limits, b"x-a", b"v" * (8192 - 5)) is None  # name, ": " and value make the line
    assert refuse_field(limits, b"x-a", b"v" * (8192 - 4)) == Refusal(431, "a header field is over 8192 bytes")
    assert refuse_block(limits, 16384) is None
    assert refuse_block(limits, 16385) == Refusal(431, "the request line and header fields are over 16384 bytes")


def test_edge_refusal_response_is_complete_and_closes():
    response = refusal_response(Refusal(431, "too big"), "Mon, 30 Nov 2026 21:00:00 GMT")
    head, body = response.split(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 431 Request Header Fields Too Large"
    assert body == b"too big\n"
    assert b"content-length: 8" in lines and b"connection: close" in lines
    assert b"date: Mon, 30 Nov 2026 21:00:00 GMT" in lines
    assert b"x-content-type-options: nosniff" in lines


def test_edge_connection_capacity_leaves_files_free():
    assert connection_capacity(1024) == 896
    assert connection_capacity(256) == 192
    assert connection_capacity(4) == 3


def test_edge_open_file_limit_is_raised_to_the_hard_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 256), hard))
    try:
        assert raise_open_file_limit() == hard
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (hard, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class FakeEdge:
    def __init__(self, name: str, expired: list[str]) -> None:
        self.name, self.expired = name, expired

    def make_way(self) -> None:
        self.expired.append(self.name)


def test_edge_waiting_makes_room_by_closing_the_longest_waiting():
    expired: list[str] = []
    waiting = Waiting(capacity=2)
    first, second, third = (FakeEdge(name, expired) for name in ("first", "second", "third"))
    for edge in (first, second, third):
        waiting.add(edge)  # type: ignore[arg-type]
    waiting.add(first)  # type: ignore[arg-type]  # waiting again (a new request on a kept-alive connection)
    waiting.make_room(2)
    assert expired == []
    waiting.make_room(3)
    assert expired == ["second"]


# --- a real server ----------------------------------------------------------------------------


@pytest.fixture(params=["httptools", "h11"])
def http(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def content(tmp_path: Path) -> Path:
    folder = tmp_path / "content"
    folder.mkdir()
    (folder / "one.md").write_text(front_matter(article(title="One")))
    return folder


@contextmanager
def serving(content: Path, http: str, limits: EdgeLimits = SHORT) -> Iterator[EdgeServer]:
    """The real server (feedsvc's app, uvicorn and the edge) in a thread, on a loopback port."""
    settings = Settings(content=content, watch="off", snapshot="off", api_token=TOKEN)
    server = make_server(create_app(settings), settings, limits, http)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    poll_until(lambda: server.started, bool)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        assert not thread.is_alive()


@contextmanager
def running(content: Path, http: str, limits: EdgeLimits = SHORT) -> Iterator[int]:
    """serving(), yielding the port."""
    with serving(content, http, limits) as server:
        yield int(server.servers[0].sockets[0].getsockname()[1])


def request(path: str = "/healthz", *headers: str, method: str = "GET") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_all(sock: socket.socket, timeout: float = 10) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(timeout)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def read_response(sock: socket.socket) -> bytes:
    """One response with a Content-Length, leaving the connection open."""
    sock.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head = data.split(b"\r\n\r\n")[0]
    length = next(int(line[15:]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
    while len(data) < len(head) + 4 + length:
        data += sock.recv(65536)
    return data


def exchange(port: int, data: bytes, pieces: int = 1) -> bytes:
    """Send ``data`` (in ``pieces`` separate writes), ask to close, return the whole answer."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        step = -(-len(data) // pieces)
        for start in range(0, len(data), step):
            sock.sendall(data[start : start + step])
            time.sleep(0.02 if pieces > 1 else 0)
        return read_all(sock)


def status(response: bytes) -> int:
    return int(response[9:12])


def header_lines(response: bytes) -> list[bytes]:
    return response.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]


def padded(total: int) -> bytes:
    """A request whose target and header fields count exactly ``total`` bytes
    (each field: name, value and 4 bytes), in fields under the line limit."""
    fields = ["Host: 127.0.0.1", "Connection: close"]
    used = len("/healthz") + sum(len(field) - 2 + 4 for field in fields)
    left = total - used
    while left > 0:
        size = min(left, 4000)
        if 0 < left - size < 20:
            size -= 20  # so that the last field has room for its name
        fields.append(f"x-pad-{len(fields):02}: {'v' * (size - len('x-pad-00') - 4)}")
        left -= size
    return request("/healthz", *fields[1:])


def test_edge_padded_requests_count_as_the_limits_do():
    for total in (16384, 16385, 9000):
        lines = padded(total).split(b"\r\n")[1:-2]
        assert len(b"/healthz") + sum(len(line) - 2 + 4 for line in lines) == total


def test_edge_answers_have_one_date_and_no_server_banner(content: Path, http: str):
    with running(content, http) as port:
        response = exchange(port, request("/feeds/all.rss", "Connection: close"))
    assert status(response) == 200
    names = [line.split(b":")[0].lower() for line in header_lines(response)]
    assert names.count(b"date") == 1  # the app's own (uvicorn's is off)
    assert b"server" not in names


def test_edge_malformed_request_is_400_with_a_date(content: Path, http: str):
    with running(content, http) as port:
        response = exchange(port, b"NOT HTTP AT ALL\r\n\r\n")
    assert status(response) == 400
    assert response.endswith(b"invalid HTTP request\n")
    assert any(line.startswith(b"date: ") for line in header_lines(response))


def test_edge_header_block_exactly_at_the_limit_is_served_one_byte_more_is_431(content: Path, http: str):
    with running(content, http) as port:
        for pieces in (1, 3):
            assert status(exchange(port, padded(16384), pieces)) == 200
            refused = exchange(port, padded(16385), pieces)
            assert status(refused) == 431, refused
            assert refused.endswith(b"the request line and header fields are over 16384 bytes\n")


def test_edge_long_header_line_is_431_and_long_target_is_414(content: Path, http: str):
    with running(content, http) as port:
        close = "Connection: close"
        assert status(exchange(port, request("/healthz", close, "X-Long: " + "v" * (8192 - 8)))) == 200
        assert status(exchange(port, request("/healthz", close, "X-Long: " + "v" * (8192 - 7)))) == 431
        assert status(exchange(port, request("/healthz?" + "q" * 8183, close))) == 200
        assert status(exchange(port, request("/healthz?" + "q" * 8184, close))) == 414
        # a target too long to finish arriving before the block limit is crossed
        assert status(exchange(port, request("/healthz?" + "q" * 40000), pieces=40)) == 414


@pytest.mark.slow
def test_edge_huge_header_is_refused_after_the_limit_not_read_to_the_end(content: Path, http: str):
    """A 128 MiB header field: refused with 431 while the client is still sending,
    having taken no more than the socket buffers hold."""
    size = 128 * 1024 * 1024
    with running(content, http) as port, socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Huge: ")
        sock.setblocking(False)
        chunk = memoryview(b"a" * 65536)
        sent, answer = 0, b""
        deadline = time.monotonic() + 60
        while sent < size and not answer and time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock], [], 1)
            if readable:
                answer = sock.recv(65536)
            elif writable:
                try:
                    sent += sock.send(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    break
        if not answer:
            answer = read_all(sock)
    assert status(answer) == 431
    assert sent < 16 * 1024 * 1024  # the server stopped reading after ~16 KiB; the rest is kernel buffers


def test_edge_answer_that_needs_no_body_does_not_wait_for_it(content: Path, http: str):
    """A 405 to a PUT announcing a 1 GB body: the answer arrives whole, then the server
    closes even while the client keeps trickling the body (before, it stayed open as
    long as bytes came)."""
    with running(content, http) as port, socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request("/feeds/all.rss", "Content-Length: 1000000000", method="PUT") + b"x" * 1000)
        sock.settimeout(0.1)
        received, ended, reset = b"", False, False
        deadline = time.monotonic() + 15
        while not reset and time.monotonic() < deadline:
            try:
                sock.sendall(b"x")
                if not ended:
                    chunk = sock.recv(65536)
                    received += chunk
                    ended = not chunk  # the server sent all it will send
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                reset = True  # ... and then closed: what the client still sends is refused
    assert status(received) == 405
    assert received.count(b"HTTP/1.1 ") == 1 and received.endswith(b"\n")  # the whole answer, and only it
    assert ended and reset


@pytest.mark.slow
def test_edge_slow_headers_get_408_and_others_are_served_meanwhile(content: Path, http: str):
    """200 connections sending one header byte every 0.3 s never finish their header
    block; each gets 408 after header_seconds, and a normal request is answered meanwhile."""
    count = 200

    async def slow_client(port: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        try:
            for _ in range(60):  # at most 18 s
                await asyncio.sleep(0.3)
                writer.write(b"a")
                try:
                    first = await asyncio.wait_for(reader.read(65536), 0.01)
                except TimeoutError:
                    continue
                return first + await asyncio.wait_for(reader.read(), 10)
            return b"still open"
        except ConnectionError:
            return b"reset"
        finally:
            writer.close()

    async def normal_client(port: int) -> bytes:
        await asyncio.sleep(0.5)  # once the slow ones are connected
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request("/feeds/all.rss", "Connection: close"))
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        return answer

    async def run(port: int) -> tuple[list[bytes], bytes]:
        slow = [asyncio.create_task(slow_client(port)) for _ in range(count)]
        normal = await normal_client(port)
        return await asyncio.gather(*slow), normal

    with running(content, http) as port:
        slow_answers, normal_answer = asyncio.run(run(port))
    assert status(normal_answer) == 200
    assert [status(answer) for answer in slow_answers] == [408] * count
    assert slow_answers[0].endswith(b"the request header fields were not complete within 1.5 s\n")


def test_edge_idle_connection_is_closed_quietly_and_kept_alive_one_gets_408(content: Path, http: str):
    with running(content, http) as port:
        with socket.create_connection(("127.0.0.1", port)) as idle:
            assert read_all(idle) == b""  # nothing was asked, nothing is answered
        with socket.create_connection(("127.0.0.1", port)) as kept:
            kept.sendall(request("/healthz"))
            assert status(read_response(kept)) == 200
            kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.")  # the next request, never finished
            assert status(read_all(kept)) == 408


def test_edge_new_connections_push_out_the_longest_waiting_when_full(content: Path, http: str):
    limits = EdgeLimits(header_seconds=30, linger_seconds=1.0, shutdown_seconds=1.0, max_connections=20)
    with running(content, http, limits) as port:
        idle = []
        for _ in range(30):
            idle.append(socket.create_connection(("127.0.0.1", port)))
            time.sleep(0.01)  # accepted in this order
        try:
            assert status(exchange(port, request("/healthz", "Connection: close"))) == 200
            for sock in idle[:10]:
                assert read_all(sock) == b""  # the oldest ones made room
            for sock in idle[-10:]:
                sock.setblocking(False)
                with pytest.raises(BlockingIOError):
                    sock.recv(1)  # the newest are still open
        finally:
            for sock in idle:
                sock.close()


def test_edge_response_the_client_never_reads_is_abandoned(tmp_path: Path, http: str):
    """A client that asks for a 3 MB feed and reads none of it: the server lets the
    connection go (before, close() waited for ever for the unsent bytes)."""
    folder = tmp_path / "content"
    folder.mkdir()
    body = "A paragraph of the article, long enough to fill a feed quickly.\n\n" * 1000
    for number in range(50):
        (folder / f"{number}.md").write_text(front_matter(article(title=f"Long {number}"), body))
    with serving(folder, http) as server, socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window, fixed
        sock.connect(server.servers[0].sockets[0].getsockname())
        sock.sendall(request("/feeds/all.rss?limit=500"))
        connections = server.server_state.connections
        poll_until(lambda: len(connections), lambda count: count == 1)
        time.sleep(0.5)  # the response has started
        assert len(connections) == 1
        poll_until(lambda: len(connections), lambda count: count == 0, timeout=15)


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def server_logs() -> Iterator[Records]:
    """Records of uvicorn's and feedsvc's loggers (uvicorn's do not reach the root logger,
    and uvicorn sets its loggers up afresh when a server is made: start this after)."""
    handler = Records()
    loggers = [logging.getLogger(name) for name in ("uvicorn.error", "feedsvc")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


def test_edge_client_leaving_mid_body_logs_no_traceback(content: Path, http: str):
    with running(content, http) as port, server_logs() as logs:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(
                request(
                    "/api/articles/leaving",
                    f"Authorization: Bearer {TOKEN}",
                    "Content-Type: text/markdown",
                    "Content-Length: 5000",
                    method="PUT",
                )
                + b"---\ntitle: half"
            )
            time.sleep(0.3)  # the API is reading the body
        poll_until(
            lambda: [r.getMessage() for r in logs.records],
            lambda messages: any("closed before the request was complete" in m for m in messages),
        )
    assert not [r for r in logs.records if r.exc_info or r.levelno >= logging.ERROR]


# --- the real command ------------------------------------------------------------------------


def limit_open_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


@pytest.mark.slow
def test_edge_more_slow_clients_than_open_files_do_not_shut_others_out(tmp_path: Path, content: Path):
    """`feedsvc serve` with 256 open files at most, and 300 connections that never finish
    their header fields: a normal request is still answered (before, accept() failed)."""
    port = free_port()
    log = tmp_path / "server.log"
    env = {**os.environ, "FEEDSVC_PORT": str(port), "FEEDSVC_WATCH": "off", "FEEDSVC_SNAPSHOT": "off"}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "feedsvc", "serve", "--content", str(content)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=limit_open_files,
        )
    slow: list[socket.socket] = []
    try:
        poll_until(lambda: "Uvicorn running" in log.read_text(), bool, timeout=20)
        assert "HTTP limits: 192 connections" in log.read_text()
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            slow.append(sock)
        for _ in range(5):
            assert status(exchange(port, request("/feeds/all.rss", "Connection: close"))) == 200
    finally:
        for sock in slow:
            sock.close()
        process.terminate()
        process.wait(timeout=20)
    assert "Traceback" not in log.read_text()


@pytest.mark.slow
def test_edge_sigterm_finishes_requests_in_flight_and_exits_despite_a_stalled_upload(tmp_path: Path):
    """One upload finishes after SIGTERM and gets its answer; one stalls and is cut off
    when the 5 s shutdown time is up; the process exits, without a traceback."""
    folder = tmp_path / "content"
    folder.mkdir()
    server = Server(folder, api_token=TOKEN, watch="off", snapshot="off")
    document = front_matter(article(title="Sent during shutdown")).encode()

    def upload(slug: str, length: int) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", server.port))
        head = [f"Authorization: Bearer {TOKEN}", "Content-Type: text/markdown", f"Content-Length: {length}"]
        sock.sendall(request(f"/api/articles/{slug}", *head, method="PUT") + document[:10])
        return sock

    try:
        finishing = upload("finishing", len(document))
        stalled = upload("stalled", len(document) + 1000)
        time.sleep(0.5)
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        finishing.sendall(document[10:])
        answer = read_all(finishing)
        returncode = server.process.wait(timeout=20)
        seconds = time.monotonic() - started
        try:
            stalled_answer = read_all(stalled)
        except ConnectionResetError:
            stalled_answer = b""
    finally:
        server.stop()
    log = server.log.read_text()
    assert status(answer) == 201, answer
    assert stalled_answer == b""
    assert returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once shut down
    assert seconds >= 5  # the stalled upload had its 5 s; the wait above bounds the rest
    assert "closing 1 connection(s) still open 5 s after shutdown began" in log
    assert "Traceback" not in log
    assert (folder / "finishing.md").is_file() and not (folder / "stalled.md").exists()
