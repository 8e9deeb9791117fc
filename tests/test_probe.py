"""Real enclosure sizes: front matter, the address rule, the probe against a real image server, the feeds.

The image server is a real HTTP server on loopback, in a thread; it records
every request it gets, so the tests can say what was (and was not) asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
from starlette.testclient import TestClient

from feedsvc.app import create_app
from feedsvc.content.model import Image
from feedsvc.content.parse import MAX_IMAGE_BYTES, InvalidArticle, article_from_mapping
from feedsvc.core import sizes
from feedsvc.core.index import Index
from feedsvc.core.publisher import Publisher
from feedsvc.core.sizes import Entry, SizeBook, fill_image, next_check
from feedsvc.live import probe, vetted
from feedsvc.live.probe import Found, Prober, found_in, probe_url, range_total
from feedsvc.settings import ConfigError, Settings, load_settings

from .conftest import article, front_matter, poll_until

# --- An image server on loopback ----------------------------------------------------------


class ImageServer:
    """Paths: /img/{size}.jpg (HEAD and GET), /nohead/{size}.png (HEAD refused: Range GET only),
    /slow/{size}.jpg (answers after 3 s), /busy/{size}.jpg (HEAD takes 0.3 s; concurrency is
    counted), /html (an HTML page), /to/{path} (302 to /{path}), /away?to=URL (302 to URL)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_HEAD(self) -> None:
                server.answer(self, "HEAD")

            def do_GET(self) -> None:
                server.answer(self, "GET")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def paths(self) -> list[str]:
        with self.lock:
            return [path for _, path, _ in self.requests]

    def answer(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        path = handler.path
        with self.lock:
            self.requests.append((method, path, dict(handler.headers)))
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            self._answer(handler, method, path)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _answer(self, handler: BaseHTTPRequestHandler, method: str, path: str) -> None:
        kind, _, rest = path.lstrip("/").partition("/")
        if kind == "to":
            return self._send(handler, 302, {"Location": f"/{rest}"})
        if kind.startswith("away?to="):
            return self._send(handler, 302, {"Location": path.partition("=")[2]})
        if kind == "html":
            return self._send(handler, 200, {"Content-Type": "text/html", "Content-Length": "100"})
        size = int(rest.partition(".")[0]) if rest[:1].isdigit() else 0
        media_type = "image/png" if rest.endswith(".png") else "image/jpeg"
        if kind == "slow":
            time.sleep(3)
        if kind == "busy":
            time.sleep(0.3)
        if kind == "nohead":
            if method == "HEAD":
                return self._send(handler, 405, {"Allow": "GET"})
            if handler.headers.get("Range") == "bytes=0-0":
                headers = {"Content-Type": media_type, "Content-Range": f"bytes 0-0/{size}", "Content-Length": "1"}
                return self._send(handler, 206, headers, b"x" if method == "GET" else b"")
        if kind in ("img", "nohead", "slow", "busy") and size:
            headers = {"Content-Type": media_type, "Content-Length": str(size)}
            return self._send(handler, 200, headers, b"x" * size if method == "GET" else b"")
        return self._send(handler, 404, {"Content-Length": "0"})

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes = b"") -> None:
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        if "Content-Length" not in headers:
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        with contextlib.suppress(OSError):  # the probe hangs up after the headers of a GET
            handler.wfile.write(body)


@pytest.fixture
def images() -> Iterator[ImageServer]:
    server = ImageServer()
    yield server
    server.close()


def loopback_too(address: vetted.IPAddress) -> str | None:
    """``public``, except for the test server's own address: so that a redirect from it
    meets the real public rule on the next hop."""
    return None if address == ipaddress.ip_address("127.0.0.1") else vetted.refusal(address)


def ask(url: str, rule: vetted.Rule = vetted.allow_all, resolve: vetted.Resolver | None = None, **kw: Any) -> Any:
    """probe_url through the vetted client, from a fresh event loop."""

    async def run() -> Any:
        client = vetted.make_client(
            rule,
            resolve or vetted.system_resolve,
            connect_seconds=kw.get("connect", 5.0),
            read_seconds=kw.get("read", 10.0),
            connections=4,
            user_agent="test",
            ssl_context=kw.get("ssl_context"),
        )
        async with client:
            return await probe_url(client, url)

    return asyncio.run(run())


def fake_dns(names: dict[str, list[str]]) -> vetted.Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        if host not in names:
            raise OSError(f"no such name {host}")
        return names[host]

    return resolve


# --- The address rule (pure) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("93.184.215.14", None),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:8.8.8.8", None),  # IPv4-mapped public address
        ("64:ff9b::808:808", None),  # NAT64 of a public address
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),  # unique local
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("0.1.2.3", "private"),  # "this network"
        ("100.64.0.1", "not globally routable"),  # carrier-grade NAT
        ("192.0.2.1", "private"),  # documentation
        ("2001:db8::1", "private"),  # documentation
        ("fec0::1", "site-local"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:a00:1::", "private"),  # 6to4 of 10.0.0.1
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("::7f00:1", "reserved"),  # IPv4-compatible (deprecated)
    ],
)
def test_address_rule_refuses_every_class_but_public(address: str, reason: str | None) -> None:
    found = vetted.refusal(ipaddress.ip_address(address))
    assert (found or "").startswith(reason or "") and (found is None) == (reason is None), found


def test_address_rule_all_allows_everything() -> None:
    assert vetted.rule_for("all")(ipaddress.ip_address("127.0.0.1")) is None
    assert vetted.rule_for("public")(ipaddress.ip_address("127.0.0.1")) == "loopback"


def test_a_name_with_any_inside_address_is_refused_whole() -> None:
    assert vetted.vetted("a.example", ["8.8.8.8", "1.1.1.1"], vetted.refusal) == [
        ipaddress.ip_address("8.8.8.8"),
        ipaddress.ip_address("1.1.1.1"),
    ]
    with pytest.raises(vetted.AddressRefused, match=r"resolves to 10\.0\.0\.1, a private address"):
        vetted.vetted("mixed.example", ["8.8.8.8", "10.0.0.1"], vetted.refusal)
    with pytest.raises(vetted.AddressRefused, match="link-local"):
        vetted.vetted("scoped.example", ["fe80::1%eth0"], vetted.refusal)


# --- What an answer says (pure) -----------------------------------------------------------


def test_found_in_reads_length_and_type() -> None:
    assert found_in(200, {"content-type": "image/JPEG", "content-length": "1234"}) == Found(1234, "image/jpeg")
    assert found_in(206, {"content-type": "image/png", "content-range": "bytes 0-0/99"}) == Found(99, "image/png")
    assert found_in(206, {"content-type": "image/png", "content-range": "bytes 0-0/*"}) is None
    assert found_in(200, {"content-type": "text/html", "content-length": "1234"}) is None  # an error page
    assert found_in(200, {"content-length": "1234"}) is None
    assert found_in(200, {"content-type": "image/png", "content-length": "12", "content-encoding": "gzip"}) is None
    assert found_in(200, {"content-type": "image/png", "content-length": str(MAX_IMAGE_BYTES + 1)}) is None
    assert found_in(200, {"content-type": "image/png", "content-length": "0"}) is None
    assert found_in(404, {"content-type": "image/png", "content-length": "12"}) is None
    assert found_in(200, {"content-type": "image/png", "content-length": "١٢"}) is None  # non-ASCII digits


def test_range_total() -> None:
    assert range_total("bytes 0-0/12345") == 12345
    assert range_total("BYTES 0-0/7") == 7
    assert range_total("bytes */12345") == 12345
    assert range_total("items 0-0/5") is None
    assert range_total("bytes 0-0/" + "9" * 40) is None
    assert range_total(None) is None


def test_rechecks_are_rare_and_failures_back_off() -> None:
    assert next_check(Entry(10, "image/png", 1000.0)) == 1000.0 + sizes.RECHECK_SECONDS
    delays = [next_check(Entry(None, "", 0.0, n)) for n in range(1, 12)]
    assert delays[0] == sizes.BACKOFF_START and delays[1] == 2 * sizes.BACKOFF_START
    assert delays == sorted(delays) and delays[-1] == sizes.BACKOFF_MAX


def test_front_matter_wins_over_the_probe_field_by_field() -> None:
    known = Entry(500, "image/png", 0.0)
    assert fill_image(Image("u"), known) == Image("u", None, None, 500, "image/png")
    assert fill_image(Image("u", 1, 2, 77, ""), known) == Image("u", 1, 2, 77, "image/png")
    assert fill_image(Image("u", type="image/webp"), known) == Image("u", None, None, 500, "image/webp")
    # A later probe replaces what the earlier one gave, and nothing else.
    assert fill_image(Image("u", None, None, 500, "image/png"), Entry(600, "image/png", 1.0), known).length == 600
    assert fill_image(Image("u", None, None, 77, "image/png"), Entry(600, "image/png", 1.0), known).length == 77


# --- Front matter ---------------------------------------------------------------------------


def parsed(**image: Any) -> Any:
    return article_from_mapping(article(images=[{"url": "https://e.org/a.jpg", **image}]), "a.md")


def test_front_matter_gives_size_and_type() -> None:
    result = parsed(size=123456, type="image/JPEG; charset=binary")
    assert (result.images[0].length, result.images[0].type) == (123456, "image/jpeg")
    assert result.warnings == ()
    assert parsed(size="2048").images[0].length == 2048


@pytest.mark.parametrize(
    ("image", "field", "reason"),
    [
        ({"size": 0}, "images[0].size", "at least 1 byte"),
        ({"size": -5}, "images[0].size", "whole number"),
        ({"size": "big"}, "images[0].size", "whole number"),
        ({"size": 1.5}, "images[0].size", "whole number"),
        ({"size": MAX_IMAGE_BYTES + 1}, "images[0].size", "not a plausible image size"),
        ({"size": 10**30}, "images[0].size", "whole number"),
        ({"type": "text/html"}, "images[0].type", "image media type"),
        ({"type": "image/"}, "images[0].type", "image media type"),
        ({"type": ["image/png"]}, "images[0].type", "image media type"),
    ],
)
def test_bad_size_or_type_is_a_warning_and_the_image_stays(image: dict[str, Any], field: str, reason: str) -> None:
    result = parsed(width=10, **image)
    assert [(w.field, w.severity) for w in result.warnings] == [(field, "warning")]
    assert reason in result.warnings[0].reason
    assert result.images == (Image("https://e.org/a.jpg", 10, None, None, ""),)


# --- The probe against a real server ------------------------------------------------------


def test_head_gives_size_and_type(images: ImageServer) -> None:
    outcome = ask(f"{images.url}/img/4321.jpg")
    assert outcome.found == Found(4321, "image/jpeg")
    assert [(m, p) for m, p, _ in images.requests] == [("HEAD", "/img/4321.jpg")]
    headers = images.requests[0][2]
    assert headers["User-Agent"] == "test" and headers["Accept-Encoding"] == "identity"


def test_head_refused_falls_back_to_a_one_byte_range_get(images: ImageServer) -> None:
    outcome = ask(f"{images.url}/nohead/98765.png")
    assert outcome.found == Found(98765, "image/png")
    assert [(m, p, h.get("Range")) for m, p, h in images.requests] == [
        ("HEAD", "/nohead/98765.png", None),
        ("GET", "/nohead/98765.png", "bytes=0-0"),
    ]


def test_not_an_image_and_missing_files_give_no_size(images: ImageServer) -> None:
    html = ask(f"{images.url}/html")
    assert html.found is None and "not an image" in html.reason
    missing = ask(f"{images.url}/img/none.jpg")
    assert missing.found is None and missing.reason == "answered 404"
    assert images.paths().count("/img/none.jpg") == 1  # a 404 is not asked again by GET


def test_redirects_are_followed_a_few_hops(images: ImageServer) -> None:
    assert ask(f"{images.url}/to/to/img/77.jpg").found == Found(77, "image/jpeg")
    too_many = ask(f"{images.url}/to/to/to/to/to/img/77.jpg")
    assert too_many.found is None and "redirects" in too_many.reason


def test_slow_server_times_out(images: ImageServer) -> None:
    outcome = ask(f"{images.url}/slow/10.jpg", read=0.5)
    assert outcome.found is None and "Timeout" in outcome.reason


def test_redirect_to_a_private_address_is_refused_under_public(images: ImageServer) -> None:
    for target in ("http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/a.jpg", "http://[::1]:1/a.jpg"):
        outcome = ask(f"{images.url}/away?to={target}", rule=loopback_too)
        assert outcome.found is None and outcome.reason.startswith("refused:"), outcome
    assert images.paths()[0].startswith("/away?to=")  # the first hop was asked; the next never connected
    # The same redirect to the server itself is followed: the rule, not redirects, refused them.
    assert ask(f"{images.url}/away?to={images.url}/img/5.jpg", rule=loopback_too).found == Found(5, "image/jpeg")


def test_a_name_resolving_to_loopback_is_refused_under_public_and_allowed_under_all(images: ImageServer) -> None:
    dns = fake_dns({"images.example": ["127.0.0.1"]})
    url = f"http://images.example:{images.port}/img/321.jpg"
    refused = ask(url, rule=vetted.rule_for("public"), resolve=dns)
    assert refused.found is None and "images.example resolves to 127.0.0.1, a loopback address" in refused.reason
    assert images.requests == []
    assert ask(url, rule=vetted.rule_for("all"), resolve=dns).found == Found(321, "image/jpeg")
    # The connection went to the vetted address, with the URL's name as Host.
    assert images.requests[0][2]["Host"] == f"images.example:{images.port}"


def test_the_system_resolver_is_used_for_real_names(images: ImageServer) -> None:
    url = f"http://localhost:{images.port}/img/11.jpg"
    assert ask(url, rule=vetted.rule_for("public")).reason.startswith("refused: localhost resolves to")
    assert ask(url, rule=vetted.rule_for("all")).found == Found(11, "image/jpeg")


def test_an_unreachable_host_fails_fast_and_says_so() -> None:
    from .conftest import free_port

    outcome = ask(f"http://127.0.0.1:{free_port()}/a.jpg")
    assert outcome.found is None and outcome.host_down


# --- The background prober ----------------------------------------------------------------


def write_article(folder: Path, name: str, urls: list[str], **fields: Any) -> None:
    data = article(title=name, images=[{"url": url} for url in urls], **fields)
    (folder / f"{name}.md").write_text(front_matter(data), encoding="utf-8")


def run_pass(prober: Prober) -> int:
    async def run() -> int:
        client = prober.make_client()
        async with client:
            return await prober.probe_pass(client)

    return asyncio.run(run())


def test_per_host_concurrency_is_bounded_at_the_server(images: ImageServer, tmp_path: Path) -> None:
    folder = tmp_path / "content"
    folder.mkdir()
    write_article(folder, "busy", [f"{images.url}/busy/{1000 + i}.jpg" for i in range(8)])
    publisher = Publisher(folder)
    publisher.load()
    prober = Prober(publisher, "all")
    assert run_pass(prober) == 8
    assert images.most_in_flight == probe.PER_HOST  # never more, though CONCURRENCY allows 8
    lengths = [image.length for image in publisher.index.articles[0].images]
    assert lengths == [1000 + i for i in range(8)]


def test_a_dead_host_is_asked_once_a_pass_and_then_backs_off(tmp_path: Path) -> None:
    from .conftest import free_port

    folder = tmp_path / "content"
    folder.mkdir()
    dead = f"http://127.0.0.1:{free_port()}"
    write_article(folder, "dead", [f"{dead}/{i}.jpg" for i in range(6)])
    publisher = Publisher(folder)
    publisher.load()
    prober = Prober(publisher, "all")
    assert run_pass(prober) == 6
    assert prober.probes <= probe.PER_HOST  # the rest were failed with the first
    assert all(publisher.sizes.get(f"{dead}/{i}.jpg").failures == 1 for i in range(6))  # type: ignore[union-attr]
    assert run_pass(prober) == 0  # backing off


def test_results_arrive_in_batches_not_one_revision_per_image(images: ImageServer, tmp_path: Path) -> None:
    folder = tmp_path / "content"
    folder.mkdir()
    for i in range(30):
        write_article(folder, f"a{i}", [f"{images.url}/img/{100 + i}.jpg"])
    publisher = Publisher(folder)
    publisher.load()
    revisions: list[int] = []
    publisher.listeners.append(lambda index, diff: revisions.append(index.generation))
    assert run_pass(Prober(publisher, "all")) == 30
    assert sorted(a.images[0].length for a in publisher.index.articles) == list(range(100, 130))  # type: ignore[type-var]
    assert 1 <= len(revisions) < 30


def test_a_pass_reads_a_slice_of_the_archive_and_a_sweep_covers_all_of_it(
    images: ImageServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass looks at the newest FRONT articles and the sweep's next SWEEP (a million heads is
    ~4 s of CPU); once the sweep has been through every article, it waits for the earliest recheck."""
    monkeypatch.setattr(probe, "FRONT", 2)
    monkeypatch.setattr(probe, "SWEEP", 4)
    folder = tmp_path / "content"
    folder.mkdir()
    for i in range(10):  # a0 is the oldest: the order is newest first
        published = f"2024-01-{10 + i}T00:00:00Z"
        write_article(folder, f"a{i}", [f"{images.url}/img/{100 + i}.jpg"], publishedDateTime=published)
    publisher = Publisher(folder)
    publisher.load()
    clock = [1_000_000.0]
    prober = Prober(publisher, "all", clock=lambda: clock[0])
    read = []
    real_images = Index.images

    def counted(index: Index, start: int = 0, stop: int | None = None) -> Any:
        read.append((start, stop))
        return real_images(index, start, stop)

    monkeypatch.setattr(Index, "images", counted)  # each batch of sizes found publishes a new index
    assert run_pass(prober) == 4  # the newest 4: a9..a6
    assert read == [(0, 0), (0, 4)]  # nothing before the sweep's slice, then the slice
    assert prober._after_pass(4) == probe.SWEEP_PAUSE  # articles left: go on soon
    read.clear()
    assert run_pass(prober) == 4  # a5..a2
    assert read == [(0, 2), (4, 8)]  # the newest 2 again (new articles come first), then the next slice
    assert prober._after_pass(4) == probe.SWEEP_PAUSE
    assert run_pass(prober) == 2  # a1, a0: the end of the archive
    wait = prober._after_pass(2)
    assert wait == probe.IDLE_SECONDS  # every size known: rechecked in a week, looked at again in an hour
    lengths = sorted(a.images[0].length for a in publisher.index.articles)  # type: ignore[type-var]
    assert lengths == list(range(100, 110))
    assert run_pass(prober) == 0  # a new sweep, from the newest: nothing due
    assert prober._after_pass(0) == probe.QUIET_PAUSE  # a slice with nothing to ask: the next one later
    assert images.requests and len(images.requests) == 10  # each image asked once


# --- The service, end to end --------------------------------------------------------------


@pytest.fixture
def quick_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe, "START_SECONDS", 0.0)
    monkeypatch.setattr(probe, "BATCH_SECONDS", 0.1)


def serve(folder: Path, snapshot: Path, mode: str) -> TestClient:
    settings = Settings(
        content=folder, enclosure_probe=mode, snapshot=str(snapshot), allowed_hosts=("feeds.test",), watch="off"
    )
    return TestClient(create_app(settings), base_url="http://feeds.test")


def lengths(client: TestClient) -> dict[str, int | None]:
    service = client.app.state.service  # type: ignore[attr-defined]
    return {image.url: image.length for a in service.index.articles for image in a.images}


@pytest.mark.usefixtures("quick_start")
def test_sizes_reach_the_feeds_and_survive_a_restart(images: ImageServer, tmp_path: Path) -> None:
    folder = tmp_path / "content"
    folder.mkdir()
    write_article(folder, "one", [f"{images.url}/img/2345.jpg"])
    write_article(folder, "two", [f"{images.url}/nohead/6789.png", f"{images.url}/img/55.jpg"])
    snapshot = tmp_path / "state" / "feedsvc.snapshot"
    expected = {
        f"{images.url}/img/2345.jpg": 2345,
        f"{images.url}/nohead/6789.png": 6789,
        f"{images.url}/img/55.jpg": 55,
    }
    with serve(folder, snapshot, "all") as client:
        before = client.get("/feeds/all.rss")
        assert 'length="2345"' not in before.text
        poll_until(lambda: lengths(client), lambda found: found == expected, timeout=30)
        after = client.get("/feeds/all.rss")
        assert f'<enclosure url="{images.url}/img/2345.jpg" length="2345" type="image/jpeg"/>' in after.text
        assert f'<enclosure url="{images.url}/nohead/6789.png" length="6789" type="image/png"/>' in after.text
        assert 'fileSize="55"' in after.text  # the second image, as media:content
        assert after.headers["etag"] != before.headers["etag"]  # readers get the new version
        assert client.get("/feeds/all.rss", headers={"If-None-Match": before.headers["etag"]}).status_code == 200
        atom = client.get("/feeds/all.atom").text
        assert 'rel="enclosure" type="image/jpeg" length="2345"' in atom
    kept = sizes.sizes_path(snapshot)
    assert kept.exists() and kept.stat().st_mode & 0o777 == 0o600
    asked = len(images.requests)
    # A restart with the probe off: the sizes are there at once, and nobody is asked anything.
    with serve(folder, snapshot, "off") as client:
        assert lengths(client) == expected
        time.sleep(0.5)
    (folder / "two.md").write_text(front_matter(article(title="two", images=[{"url": f"{images.url}/img/55.jpg"}])))
    snapshot.unlink()  # even without the snapshot, an edited file gets its known sizes
    with serve(folder, snapshot, "off") as client:
        assert lengths(client) == {f"{images.url}/img/2345.jpg": 2345, f"{images.url}/img/55.jpg": 55}
    assert len(images.requests) == asked


@pytest.mark.usefixtures("quick_start")
def test_front_matter_wins_and_is_not_asked(images: ImageServer, tmp_path: Path) -> None:
    folder = tmp_path / "content"
    folder.mkdir()
    given = {"url": f"{images.url}/img/1000.jpg", "size": 999, "type": "image/gif"}
    half = {"url": f"{images.url}/img/2000.jpg", "size": 1999}
    (folder / "a.md").write_text(front_matter(article(title="a", images=[given, half])))
    with serve(folder, tmp_path / "s.snapshot", "all") as client:
        poll_until(lambda: images.paths(), lambda paths: "/img/2000.jpg" in paths, timeout=30)
        got = poll_until(lambda: client.app.state.service.index.articles[0].images, lambda i: i[1].type, timeout=30)[0]  # type: ignore[attr-defined]
    assert got[0] == Image(given["url"], None, None, 999, "image/gif")
    assert got[1] == Image(half["url"], None, None, 1999, "image/jpeg")  # the size given, the type found
    assert "/img/1000.jpg" not in images.paths()


@pytest.mark.usefixtures("quick_start")
def test_off_makes_no_request_at_all(images: ImageServer, tmp_path: Path) -> None:
    folder = tmp_path / "content"
    folder.mkdir()
    write_article(folder, "one", [f"{images.url}/img/2345.jpg"])
    with serve(folder, tmp_path / "s.snapshot", "off") as client:
        time.sleep(1.0)  # ten batches' time: a running probe would have asked by now
        assert lengths(client) == {f"{images.url}/img/2345.jpg": None}
    assert images.requests == []


@pytest.mark.usefixtures("quick_start")
def test_public_default_never_asks_loopback(images: ImageServer, tmp_path: Path) -> None:
    folder = tmp_path / "content"
    folder.mkdir()
    write_article(folder, "one", [f"{images.url}/img/2345.jpg"])
    with serve(folder, tmp_path / "s.snapshot", "public") as client:
        book = client.app.state.service.publisher.sizes  # type: ignore[attr-defined]
        entry = poll_until(lambda: book.get(f"{images.url}/img/2345.jpg"), lambda e: e is not None, timeout=30)[0]
    assert entry.length is None and "loopback" in entry.reason
    assert images.requests == []


def test_the_client_is_made_when_a_pass_first_has_an_image_to_ask_about(
    images: ImageServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not at start-up: httpx and its TLS contexts cost a restart ~0.1 s and a server
    whose images all have sizes never needs them."""
    monkeypatch.setattr(probe, "START_SECONDS", 0.0)
    folder = tmp_path / "content"
    folder.mkdir()
    sized = {"url": f"{images.url}/img/1000.jpg", "size": 999, "type": "image/gif"}
    (folder / "a.md").write_text(front_matter(article(title="a", images=[sized])))
    publisher = Publisher(folder)
    publisher.load()
    prober = Prober(publisher, "all")
    publisher.listeners.append(prober.on_index_change)  # as the app does: a change wakes the probe
    made: list[object] = []
    passes: list[int] = []
    real_make, real_pass = prober.make_client, prober.probe_pass

    def make_client() -> Any:
        made.append(real_make())
        return made[-1]

    async def probe_pass(client: Any = None) -> int:
        passes.append(await real_pass(client))
        return passes[-1]

    monkeypatch.setattr(prober, "make_client", make_client)
    monkeypatch.setattr(prober, "probe_pass", probe_pass)

    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(prober.run(stop))
        async with asyncio.timeout(30):
            while not passes:
                await asyncio.sleep(0.01)
            assert made == []  # a pass with nothing to ask made no client
            write_article(folder, "b", [f"{images.url}/img/2345.jpg"])
            publisher.refresh([folder / "b.md"])
            while publisher.sizes.get(f"{images.url}/img/2345.jpg") is None:
                await asyncio.sleep(0.01)
        stop.set()
        await task

    asyncio.run(run())
    assert passes[0] == 0 and len(made) == 1  # made once, for the pass that had an image to ask about
    assert images.paths() == ["/img/2345.jpg"]


# --- The kept results ---------------------------------------------------------------------


def test_the_book_round_trips_and_refuses_what_it_cannot_trust(tmp_path: Path) -> None:
    path = sizes.sizes_path(tmp_path / "x.snapshot")
    book = SizeBook()
    assert book.record("https://e.org/a.jpg", 10, "image/png", 100.0)
    assert not book.record("https://e.org/a.jpg", 10, "image/png", 200.0)  # same answer: nothing to publish
    book.record("https://e.org/b.jpg", None, "", 100.0, "answered 404")
    book.save(path)
    again = SizeBook.load(path)
    assert again.get("https://e.org/a.jpg") == Entry(10, "image/png", 200.0)
    assert again.get("https://e.org/b.jpg") == Entry(None, "", 100.0, 1, "answered 404")
    path.chmod(0o644)
    assert len(SizeBook.load(path)) == 2
    path.chmod(0o666)  # others could write it
    assert len(SizeBook.load(path)) == 0
    path.unlink()  # an earlier version's JSON, read (row by row) while there is no new file
    legacy = sizes.legacy_path(path)
    legacy.write_text(
        '{"format": 1, "entries": [["https://e.org/a.jpg", 10, "image/png", 1, 0, ""],'
        ' ["file:///etc/passwd", 10, "image/png", 1, 0, ""], ["https://e.org/c", -1, "image/png", 1, 0, ""],'
        ' ["https://e.org/d", 10, "text/html", 1, 0, ""], ["https://e.org/e", 10, "", 1, 0, ""]]}'
    )
    legacy.chmod(0o600)
    assert [url for url in ("https://e.org/a.jpg", "file:///etc/passwd") if SizeBook.load(path).get(url)] == [
        "https://e.org/a.jpg"
    ]
    assert len(SizeBook.load(path)) == 1
    legacy.write_text("not json")
    assert len(SizeBook.load(path)) == 0
    path.write_bytes(b"not a book")
    path.chmod(0o600)
    assert len(SizeBook.load(path)) == 0


def test_a_failed_recheck_keeps_the_known_size() -> None:
    book = SizeBook()
    book.record("https://e.org/a.jpg", 10, "image/png", 100.0)
    assert not book.record("https://e.org/a.jpg", None, "", 200.0, "answered 503")
    assert book.get("https://e.org/a.jpg") == Entry(10, "image/png", 200.0, 1, "answered 503")


# --- The setting --------------------------------------------------------------------------


def test_setting_modes() -> None:
    assert Settings().enclosure_probe == "public"
    assert load_settings({"enclosure_probe": "ALL"}, {}).enclosure_probe == "all"
    assert load_settings({}, {"FEEDSVC_ENCLOSURE_PROBE": "off"}).enclosure_probe == "off"
    with pytest.raises(ConfigError, match="--enclosure-probe: must be public"):
        load_settings({"enclosure_probe": "yes"}, {})


# --- The write API --------------------------------------------------------------------------


def test_the_api_takes_size_and_type_as_json() -> None:
    from feedsvc.api.documents import document_from_json

    def put(**image: Any) -> Any:
        fields = article(images=[{"url": "https://e.org/a.jpg", **image}])
        return document_from_json(json.dumps(fields).encode(), "a.md")

    parsed_article, stored = put(size=91542, type="image/jpeg")
    assert parsed_article.images[0][3:] == (91542, "image/jpeg")
    assert b"size: 91542" in stored
    for bad, field in (({"size": 0}, "images[0].size"), ({"type": "text/html"}, "images[0].type")):
        with pytest.raises(InvalidArticle) as refused:
            put(**bad)
        assert [p.field for p in refused.value.problems] == [field]


def test_every_spelling_of_an_inside_address_is_refused(images: ImageServer) -> None:
    public = vetted.rule_for("public")
    for host in ("127.0.0.1", "[::ffff:127.0.0.1]", "[::1]", "2130706433", "0x7f.1", "localhost"):
        outcome = ask(f"http://{host}:{images.port}/img/1.jpg", rule=public)
        assert outcome.found is None and outcome.reason.startswith("refused:"), (host, outcome)
    assert images.requests == []


# --- feedsvc build ----------------------------------------------------------------------


def test_build_uses_kept_sizes_and_asks_nobody(images: ImageServer, tmp_path: Path) -> None:
    from feedsvc.cli import main
    from feedsvc.core.snapshot import default_path

    folder = tmp_path / "content"
    folder.mkdir()
    write_article(folder, "one", [f"{images.url}/img/2345.jpg", f"{images.url}/img/77.jpg"])
    book = SizeBook()
    book.record(f"{images.url}/img/2345.jpg", 2345, "image/jpeg", time.time())
    book.save(sizes.sizes_path(default_path(folder)))
    assert main(["build", str(tmp_path / "out"), "--content", str(folder), "--base-url", "https://f.example"]) == 0
    rss = (tmp_path / "out" / "feeds" / "all.rss").read_text()
    assert f'<enclosure url="{images.url}/img/2345.jpg" length="2345" type="image/jpeg"/>' in rss
    assert images.requests == []


@pytest.mark.usefixtures("quick_start")
def test_feeds_are_served_and_published_while_a_probe_waits(images: ImageServer, tmp_path: Path) -> None:
    folder = tmp_path / "content"
    folder.mkdir()
    write_article(folder, "one", [f"{images.url}/slow/10.jpg"])
    with serve(folder, tmp_path / "s.snapshot", "all") as client:
        poll_until(lambda: images.in_flight, lambda n: n > 0, timeout=30)  # the probe waits on the server
        write_article(folder, "two", [])
        publisher = client.app.state.service.publisher  # type: ignore[attr-defined]
        publisher.refresh([folder / "two.md"])  # what the watcher and the API do
        assert "<title>two</title>" in client.get("/feeds/all.rss").text
        assert images.in_flight > 0  # answered and published while the probe still waited


def test_the_api_shows_the_size_and_type_the_feeds_carry(content: Callable[..., Path], client_for: Any) -> None:
    image = {"url": "https://e.org/a.jpg", "size": 4096, "type": "image/png"}
    folder = content("sized.md", article(title="Sized", images=[image, {"url": "https://e.org/b.jpg"}]))
    token = "probe-token-0123456789"
    client = client_for(folder, api_token=token)
    shown = client.get("/api/articles/sized", headers={"Authorization": f"Bearer {token}"}).json()
    assert [(i["size"], i["type"]) for i in shown["article"]["images"]] == [(4096, "image/png"), (None, None)]


def test_tls_goes_to_the_vetted_address_with_the_urls_name_for_sni_and_certificate() -> None:
    authority = trustme.CA()
    names: list[str | None] = []
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("images.example").configure_cert(server_context)
    server_context.sni_callback = lambda sock, name, context: names.append(name)  # type: ignore[assignment]
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    server = ImageServer(tls=server_context)
    try:
        dns = fake_dns({"images.example": ["127.0.0.1"], "other.example": ["127.0.0.1"]})
        url = f"https://images.example:{server.port}/img/4242.jpg"
        assert ask(url, resolve=dns, ssl_context=client_context).found == Found(4242, "image/jpeg")
        assert names == ["images.example"]  # SNI: the URL's name, though 127.0.0.1 was dialled
        assert server.requests[0][2]["Host"] == f"images.example:{server.port}"
        # The certificate is checked against the URL's name: the same address by another name fails.
        other = ask(f"https://other.example:{server.port}/img/4242.jpg", resolve=dns, ssl_context=client_context)
        assert other.found is None and "CERTIFICATE_VERIFY_FAILED" in other.reason
    finally:
        server.close()


def test_proxy_settings_are_ignored(images: ImageServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy would connect where the address rule cannot look."""
    from .conftest import free_port

    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{free_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert ask(f"{images.url}/img/31.jpg").found == Found(31, "image/jpeg")
    assert images.paths() == ["/img/31.jpg"]
