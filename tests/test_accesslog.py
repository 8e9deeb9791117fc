"""The access log: one line per request, fast path or routed, written off the hot path."""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from feedsvc.web.accesslog import AccessLog, RequestLog, cache_outcome, json_line, text_line

from .conftest import REPO, Server

# client [time] "request" status bytes duration cache id
TEXT_LINE = re.compile(
    r'^(\S+) \[([^\]]+)\] "(GET|HEAD|POST|PUT) (\S+) HTTP/1\.1" (\d{3}) (\d+) ([\d.]+)ms (\S+) (\S+)$'
)


def lines_of(output: str) -> list[str]:
    return [line for line in output.splitlines() if TEXT_LINE.match(line) or line.startswith("{")]


def test_accesslog_text_one_line_per_request_with_the_cache_outcome_and_request_id(
    client_for: Callable[..., TestClient], capsys: pytest.CaptureFixture[str]
):
    with client_for(REPO / "seeds") as client:
        miss = client.get("/feeds/all.rss")  # routed, rendered, remembered
        hit = client.get("/feeds/all.rss")  # the fast path
        revalidated = client.get("/feeds/all.rss", headers={"If-None-Match": hit.headers["etag"]})
        absent = client.get("/feeds/topics/no-such-topic.rss")
    lines = [TEXT_LINE.match(line) for line in lines_of(capsys.readouterr().out)]
    assert [(m[3], m[4], m[5], m[8]) for m in lines if m] == [
        ("GET", "/feeds/all.rss", "200", "miss"),
        ("GET", "/feeds/all.rss", "200", "hit"),
        ("GET", "/feeds/all.rss", "304", "304"),
        ("GET", "/feeds/topics/no-such-topic.rss", "404", "miss"),
    ]
    responses = [miss, hit, revalidated, absent]
    assert [m[9] for m in lines if m] == [r.headers["x-request-id"] for r in responses]
    assert len({r.headers["x-request-id"] for r in responses}) == 4
    sent = [
        0 if r.status_code == 304 else int(r.headers["content-length"]) for r in responses
    ]  # gzip: not len(content)
    assert [int(m[6]) for m in lines if m] == sent


def test_accesslog_json_lines_parse_and_match_the_responses(
    client_for: Callable[..., TestClient], capsys: pytest.CaptureFixture[str]
):
    with client_for(REPO / "seeds", log_format="json") as client:
        first = client.get("/feeds/all.atom?limit=5")
        second = client.get("/feeds/all.atom?limit=5")
        posted = client.post("/feeds/all.rss")
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [(r["method"], r["path"], r["query"], r["status"], r["cache"]) for r in records] == [
        ("GET", "/feeds/all.atom", "limit=5", 200, "miss"),
        ("GET", "/feeds/all.atom", "limit=5", 200, "hit"),
        ("POST", "/feeds/all.rss", "", 405, "-"),
    ]
    assert [r["request_id"] for r in records] == [x.headers["x-request-id"] for x in (first, second, posted)]
    assert records[1]["bytes"] == int(second.headers["content-length"])
    assert all(r["duration_ms"] >= 0 and r["time"].endswith("Z") for r in records)


def test_accesslog_off_writes_nothing_but_still_sends_request_ids(
    client_for: Callable[..., TestClient], capsys: pytest.CaptureFixture[str]
):
    with client_for(REPO / "seeds", access_log="off") as client:
        assert client.get("/feeds/all.rss").headers["x-request-id"]
    assert lines_of(capsys.readouterr().out) == []


def test_accesslog_cache_outcome_table():
    cases = {
        ("GET", 200, True): "hit",
        ("HEAD", 200, True): "hit",
        ("GET", 304, True): "304",
        ("GET", 200, False): "miss",
        ("GET", 304, False): "miss",  # routed, then found current: routing answered it
        ("PUT", 201, False): "-",
    }
    assert {case: cache_outcome(*case) for case in cases} == cases


def test_accesslog_lines_escape_what_clients_send():
    record = (0.0, "127.0.0.1", "GET", b'/a"b\n\x00c', b"q=\x1b", "1.1", 404, 10, 0.001, False, b"id-1")
    line = text_line(record)
    assert line.count("\n") == 1 and '"GET /a\\"b\\n\\u0000c?q=\\u001b HTTP/1.1"' in line
    assert json.loads(json_line(record))["path"] == '/a"b\n\x00c'


def test_accesslog_drops_and_counts_when_the_writer_falls_behind():
    stream = io.StringIO()
    log = AccessLog([], stream=stream, max_pending=3)

    async def app(scope: object, receive: object, send: Callable[..., object]) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]

    async def ignore(message: object) -> None: ...

    layer = RequestLog(app, log)
    scope = {"type": "http", "method": "GET", "path": "/x", "query_string": b"", "http_version": "1.1", "headers": []}
    for _ in range(5):  # the writer thread is not running: nothing is taken from the queue
        asyncio.run(layer(dict(scope), None, ignore))  # type: ignore[arg-type]
    assert (len(log.pending), log.dropped) == (3, 2)
    log.flush()
    written = stream.getvalue().splitlines()
    assert len([line for line in written if " /x HTTP/1.1" in line]) == 3
    assert written[-1] == "feedsvc: access log fell behind: 2 record(s) dropped"


@pytest.mark.slow
def test_accesslog_real_server_logs_every_request_of_a_burst_once(tmp_path: Path):
    content = tmp_path / "content"
    content.mkdir()
    (content / "a.md").write_text((REPO / "seeds" / "000_84d0586a3992f50e.md").read_text())
    server = Server(content, watch="off")

    def reader(_: int) -> list[str]:
        with httpx.Client(base_url=server.url) as client:  # one kept-alive connection each
            return [client.get("/feeds/all.rss").headers["x-request-id"] for _ in range(100)]

    try:
        with ThreadPoolExecutor(8) as pool:  # bounded: 8 concurrent readers, 800 requests
            ids = [rid for batch in pool.map(reader, range(8)) for rid in batch]
    finally:
        server.stop()  # the writer writes what is queued before the process exits
    text = server.log.read_text()
    logged = [m[9] for line in text.splitlines() if (m := TEXT_LINE.match(line)) and m[4] == "/feeds/all.rss"]
    assert len(set(ids)) == 800
    assert sorted(logged) == sorted(ids)
    # uvicorn's own access log is off: no second line per request.
    assert text.count('"GET /feeds/all.rss HTTP/1.1"') == 800
