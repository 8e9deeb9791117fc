"""Servers the benchmarks start on loopback: feedsvc, a bare Starlette app and nginx."""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

BARE_APP = """
import sys
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
import uvicorn

BODY = open(sys.argv[1], "rb").read()
HEADERS = {"Content-Type": "application/rss+xml; charset=utf-8"}

async def feed(request):
    return Response(BODY, headers=HEADERS)

app = Starlette(routes=[Route("/feed.rss", feed)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), loop="auto", http="auto", log_level="warning")
"""

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {access_log};
    sendfile on;
    tcp_nopush on;
    types {{ application/rss+xml rss; }}
    client_body_temp_path {root}/tmp;
    proxy_temp_path {root}/tmp;
    fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp;
    scgi_temp_path {root}/tmp;
    server {{
        listen 127.0.0.1:{port};
        root {root}/www;
        location / {{ add_header Cache-Control "public, max-age=300"; }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 600) -> float:
    """Poll ``url`` until it answers 200; return the seconds since ``process`` started.

    The poll must not compete for the CPU it is timing. A refused
    ``http.client`` connect costs ~15 µs of CPU; ``httpx.get`` builds a client
    with an SSL context each time (~17 ms of CPU, measured), and polled every
    5 ms it took most of one of this machine's two cores from the server.
    """
    started = time.perf_counter()
    parts = urlsplit(url)
    address = (parts.hostname or "127.0.0.1", parts.port or 80)
    status = None
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        try:
            connection = http.client.HTTPConnection(*address, timeout=5)
            try:
                connection.request("GET", parts.path or "/")
                status = connection.getresponse().status
            finally:
                connection.close()
            if status == 200:
                return time.perf_counter() - started
            if status != 503:
                raise RuntimeError(f"{url} answered {status}")
        except OSError:  # not listening yet
            pass
        time.sleep(0.005)
    raise RuntimeError(f"{url} not ready after {timeout}s (last status {status})")


@contextmanager
def feedsvc(
    content: Path, log: Path | None = None, **settings: str
) -> Iterator[tuple[str, subprocess.Popen[bytes], float]]:
    """A `feedsvc serve` process; yields (base URL, process, seconds until /feeds/all.rss answered).

    ``log``: a file for its standard output (the access log), as nginx writes its own to a file."""
    port = free_port()
    env = {**os.environ, "FEEDSVC_LOG_LEVEL": "warning", "FEEDSVC_WATCH": "off", "FEEDSVC_SNAPSHOT": "off"}
    # Like the peers in the other rows (nginx without access_log, bare Starlette): the
    # access-log rows (bench/observe.py) turn it on for both sides.
    env["FEEDSVC_ACCESS_LOG"] = "off"
    # First-request passes name a new host each (pass-N.bench.test), to miss the cache on purpose.
    env["FEEDSVC_ALLOWED_HOSTS"] = "127.0.0.1,localhost,.bench.test"
    env.update({f"FEEDSVC_{key.upper()}": value for key, value in settings.items()})
    command = [sys.executable, "-m", "feedsvc", "serve", "--content", str(content), "--port", str(port)]
    started = time.perf_counter()
    with Path(log or os.devnull).open("ab") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(f"{url}/feeds/all.rss", process)
            yield url, process, time.perf_counter() - started
        finally:
            process.terminate()
            process.wait(timeout=30)


@contextmanager
def running(command: list[str], port: int) -> Iterator[str]:
    """A server process, stopped on exit; yields its /feed.rss URL once it answers."""
    process = subprocess.Popen(command)
    url = f"http://127.0.0.1:{port}/feed.rss"
    try:
        wait_for(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def bare_starlette(body: bytes) -> Iterator[str]:
    """Starlette returning constant bytes, under the same uvicorn settings as feedsvc."""
    with tempfile.TemporaryDirectory() as folder:
        payload = Path(folder) / "feed.rss"
        payload.write_bytes(body)
        script = Path(folder) / "bare.py"
        script.write_text(BARE_APP)
        port = free_port()
        with running([sys.executable, str(script), str(payload), str(port)], port) as url:
            yield url


@contextmanager
def nginx(body: bytes, access_log: bool = False) -> Iterator[str]:
    """nginx (one worker, like one uvicorn process) serving the bytes as a static file;
    ``access_log``: its default access log (combined format) to a file, as shipped."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        root.chmod(0o755)  # nginx's workers drop root privileges and must read the file
        (root / "www").mkdir()
        (root / "tmp").mkdir()
        (root / "www" / "feed.rss").write_bytes(body)
        port = free_port()
        logged = f"{root}/access.log" if access_log else "off"
        (root / "nginx.conf").write_text(NGINX_CONF.format(root=root, port=port, access_log=logged))
        with running(["nginx", "-c", str(root / "nginx.conf"), "-e", str(root / "error.log")], port) as url:
            yield url


def wrk(url: str, seconds: int = 5, connections: int = 32, header: str | None = None) -> float:
    """Requests per second wrk measured against ``url`` (one thread: the other core is the server's)."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if header:
        command += ["-H", header]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} error responses\n{output}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if match is None:
        raise RuntimeError(output)
    return float(match.group(1))


def rss_kib(pid: int) -> int:
    """Resident memory of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")
