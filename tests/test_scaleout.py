"""Two real replicas over one content folder, behind Debian's nginx with deploy/nginx.conf.template.

The same file docker-compose.yml gives the official nginx image, filled in for loopback
ports and a private prefix. Skips when nginx (or, for the compose check, docker-compose)
is not installed.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from tests.conftest import REPO, Server, free_port, poll_until

pytestmark = pytest.mark.slow

TEMPLATE = REPO / "deploy" / "nginx.conf.template"
NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx)")

MAX_AGE = 2  # seconds: long enough to see a HIT, short enough to see it expire
# nginx keeps time in whole seconds and a copy is stale only once that clock is past
# "received + max-age": between max-age and max-age + 1 s after it was received.
STALE_AFTER = MAX_AGE + 1.2
TOKEN = "scale-out-test-token-0123456789"
CHROMIUM_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
FIREFOX_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
READER_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.8"


def fill(template: str, values: dict[str, str]) -> str:
    """Fill in ${NAME} the way envsubst does for the names given; every placeholder must be given."""
    for name, value in values.items():
        template = template.replace("${" + name + "}", value)
    left = re.findall(r"\$\{(\w+)\}", template)
    assert not left, f"placeholders without a value: {left}"
    return template


class Nginx:
    """Debian's nginx as this user, from the repository's template, in a private prefix."""

    def __init__(self, prefix: Path, port: int, replicas: list[Server]) -> None:
        assert NGINX is not None
        self.url = f"http://127.0.0.1:{port}"
        prefix.mkdir()
        site = fill(
            TEMPLATE.read_text(),
            {
                "FEEDSVC_LISTEN": f"127.0.0.1:{port}",
                "FEEDSVC_REPLICA_A": f"127.0.0.1:{replicas[0].port}",
                "FEEDSVC_REPLICA_B": f"127.0.0.1:{replicas[1].port}",
                "FEEDSVC_CACHE_DIR": str(prefix / "cache"),
            },
        )
        (prefix / "feedsvc.conf").write_text(site)
        # What /etc/nginx/nginx.conf gives the site in a real installation, with every
        # path that is not the site's own moved into the prefix.
        temp = " ".join(
            f"{kind}_temp_path {prefix / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (prefix / "nginx.conf").write_text(
            "worker_processes 1;\n"
            "events { worker_connections 256; }\n"
            f"http {{ {temp} access_log {prefix / 'access.log'}; include {prefix / 'feedsvc.conf'}; }}\n"
        )
        directives = f"daemon off; pid {prefix / 'nginx.pid'}; error_log stderr;"
        if os.geteuid() == 0:  # workers would run as nobody, who cannot write the test's private folders
            directives += " user root;"
        self.log = prefix / "nginx.log"
        self.process = subprocess.Popen(
            [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", directives],
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.log.read_text()}")
            try:
                httpx.get(f"{self.url}/healthz", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not start: {self.log.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finish what is in flight
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@dataclass
class Cluster:
    replicas: list[Server]
    nginx: Nginx
    content: Path

    def stop(self) -> None:
        self.nginx.stop()
        for replica in self.replicas:
            replica.stop()


def start_cluster(root: Path) -> Cluster:
    """Two replicas over one copy of seeds/, the same base URL (nginx's) and token, nginx in front."""
    content = root / "content"
    shutil.copytree(REPO / "seeds", content)
    port = free_port()
    settings = {"base_url": f"http://127.0.0.1:{port}", "max_age": str(MAX_AGE), "api_token": TOKEN}
    replicas: list[Server] = []
    try:
        # Each replica keeps its own start-up snapshot; one watches with events, one polls,
        # the mode docker-compose.yml documents for network volumes.
        replicas.append(Server(content, snapshot=str(root / "a.snapshot"), watch="auto", **settings))
        replicas.append(Server(content, snapshot=str(root / "b.snapshot"), watch="poll", **settings))
        return Cluster(replicas, Nginx(root / "nginx", port, replicas), content)
    except BaseException:
        for replica in replicas:
            replica.stop()
        raise


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    started = start_cluster(tmp_path_factory.mktemp("scaleout"))
    yield started
    started.stop()


def feed_paths(base: str) -> list[str]:
    """Every feed the OPML list names (every format), as paths."""
    opml = httpx.get(f"{base}/feeds.opml", timeout=5)
    assert opml.status_code == 200
    urls = [outline.get("xmlUrl") for outline in ET.fromstring(opml.content).iter("outline")]
    paths = sorted({urlsplit(url).path for url in urls if url})
    assert paths
    return paths


def just_now() -> str:
    """A publication date newer than every seed and not in the future (which would be held back)."""
    return (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Reply:
    status_code: int
    headers: httpx.Headers
    body: bytes  # as sent: gzip stays gzip

    def text(self) -> bytes:
        return gzip.decompress(self.body) if self.headers.get("content-encoding") == "gzip" else self.body


def get(http: httpx.Client, url: str, accept: str | None = None, encoding: str = "gzip", **headers: str) -> Reply:
    """One GET as a client sends it: only the headers given (httpx would add its own Accept)."""
    sent = {"Accept-Encoding": encoding, **headers}
    if accept is not None:
        sent["Accept"] = accept
    request = http.build_request("GET", url, headers=sent)
    if accept is None:
        del request.headers["Accept"]
    response = http.send(request, stream=True)
    try:
        return Reply(response.status_code, response.headers, b"".join(response.iter_raw()))
    finally:
        response.close()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


@needs_nginx
def test_replicas_serve_identical_bytes_and_etags(cluster: Cluster, http: httpx.Client) -> None:
    a, b = (replica.url for replica in cluster.replicas)
    paths = feed_paths(a)
    assert feed_paths(b) == paths
    assert {path.rsplit(".", 1)[1] for path in paths} >= {"rss", "atom"}
    compared = 0
    for path in [*paths, "/feeds.opml"]:
        for accept in (READER_ACCEPT, CHROMIUM_ACCEPT):
            for encoding in ("gzip", "identity"):
                one, other = (get(http, f"{base}{path}", accept, encoding) for base in (a, b))
                assert one.status_code == other.status_code == 200, path
                assert one.headers["etag"] == other.headers["etag"], (path, accept, encoding)
                assert one.headers["content-type"] == other.headers["content-type"], path
                assert one.body == other.body, (path, accept, encoding)
                compared += 1
    print(f"replicas identical: {len(paths)} feeds, {compared} responses compared byte for byte")


@needs_nginx
def test_miss_then_hit_then_revalidated(cluster: Cluster, http: httpx.Client) -> None:
    url = f"{cluster.nginx.url}/feeds/all.atom?limit=7"  # a key no other test uses
    first = get(http, url, READER_ACCEPT)
    assert (first.status_code, first.headers["x-cache-status"]) == (200, "MISS")
    second = get(http, url, READER_ACCEPT)
    assert (second.status_code, second.headers["x-cache-status"]) == (200, "HIT")
    assert second.body == first.body
    assert second.headers["etag"] == first.headers["etag"]
    # A reader's own revalidation is answered by nginx from its copy.
    mine = get(http, url, READER_ACCEPT, **{"If-None-Match": first.headers["etag"]})
    assert mine.status_code == 304
    # Once max-age has passed, nginx asks a replica with the copy's ETag and gets 304:
    # whichever replica it asks, since ETags are hashes of the bytes.
    time.sleep(STALE_AFTER)
    third = get(http, url, READER_ACCEPT)
    assert (third.status_code, third.headers["x-cache-status"]) == (200, "REVALIDATED")
    assert third.body == first.body
    fourth = get(http, url, READER_ACCEPT)
    assert fourth.headers["x-cache-status"] == "HIT"
    # Readers polling a popular feed: all but the first of a burst come from the cache.
    statuses = Counter(
        get(http, f"{cluster.nginx.url}/feeds/all.rss?limit=9").headers["x-cache-status"] for _ in range(100)
    )
    print(f"100 polls of one feed through nginx: {dict(statuses)}")
    assert statuses["MISS"] == 1
    assert set(statuses) <= {"MISS", "HIT", "REVALIDATED"}  # at most one revalidation per max-age
    assert statuses["HIT"] >= 50


@needs_nginx
def test_browser_and_reader_get_their_own_form_through_the_cache(cluster: Cluster, http: httpx.Client) -> None:
    url = f"{cluster.nginx.url}/feeds/all.rss?limit=11"
    browser = get(http, url, CHROMIUM_ACCEPT)
    assert browser.headers["x-cache-status"] == "MISS"
    assert browser.headers["content-type"] == "application/xml; charset=utf-8"
    reader = get(http, url, READER_ACCEPT)
    assert reader.headers["x-cache-status"] == "MISS"  # its own entry, not the browser's
    assert reader.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert reader.headers["etag"] != browser.headers["etag"]
    assert reader.body == browser.body  # the same bytes, under two types
    # Another browser's Accept, and other readers' (*/*, none at all), share those two entries.
    for accept, content_type in [
        (FIREFOX_ACCEPT, "application/xml; charset=utf-8"),
        (CHROMIUM_ACCEPT, "application/xml; charset=utf-8"),
        ("*/*", "application/rss+xml; charset=utf-8"),
        (None, "application/rss+xml; charset=utf-8"),
        ("application/rss+xml", "application/rss+xml; charset=utf-8"),
        ("text/html;q=0, */*", "application/rss+xml; charset=utf-8"),
    ]:
        again = get(http, url, accept)
        assert (again.headers["x-cache-status"], again.headers["content-type"]) == ("HIT", content_type), accept
        assert "Accept" in again.headers["vary"]  # clients' own caches still keep the forms apart
    # gzip or not is the other half of the key; both decode to the same document.
    plain = get(http, url, READER_ACCEPT, encoding="identity")
    assert plain.headers["x-cache-status"] == "MISS"
    assert "content-encoding" not in plain.headers
    assert reader.headers["content-encoding"] == "gzip"
    assert gzip.decompress(reader.body) == plain.body
    refused = get(http, url, READER_ACCEPT, encoding="gzip;q=0, identity")
    assert (refused.headers["x-cache-status"], refused.headers.get("content-encoding")) == ("HIT", None)


@needs_nginx
def test_a_write_through_nginx_reaches_readers_of_every_replica(cluster: Cluster, http: httpx.Client) -> None:
    feed = f"{cluster.nginx.url}/feeds/all.rss"
    assert get(http, feed).status_code == 200  # cached now, as a popular feed would be
    assert get(http, feed).headers["x-cache-status"] == "HIT"
    title = "Scale-out write reaches the cache"
    written = httpx.put(
        f"{cluster.nginx.url}/api/articles/scaleout-write",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={
            "title": title,
            "webUrl": "https://example.org/scaleout-write",
            "publishedDateTime": just_now(),  # the newest: first in every feed
            "topics": ["Scale Out"],
        },
        timeout=10,
    )
    assert written.status_code == 201, written.text
    assert "x-cache-status" not in written.headers  # the API is not cached
    started = time.monotonic()
    # Both replicas have it: the one that took the write, and the other from the shared folder.
    for replica in cluster.replicas:
        poll_until(lambda url=replica.url: get(http, f"{url}/feeds/all.rss"), lambda r: title.encode() in r.text())
    # A reader through the cache sees it once nginx's copy is stale: within max-age, plus polling slack.
    seen, _ = poll_until(lambda: get(http, feed), lambda r: title.encode() in r.text(), timeout=MAX_AGE + 3)
    print(
        f"write through nginx visible to a reader through the cache after {time.monotonic() - started:.2f} s "
        f"(max-age {MAX_AGE} s), served as {seen.headers['x-cache-status']}"
    )
    topic = get(http, f"{cluster.nginx.url}/feeds/topics/scale-out.rss")
    assert topic.status_code == 200


@needs_nginx
def test_metrics_are_not_passed_through(cluster: Cluster, http: httpx.Client) -> None:
    # A replica on the same host would take nginx's loopback connection for a local scraper.
    assert get(http, f"{cluster.replicas[0].url}/metrics").status_code == 200
    assert get(http, f"{cluster.nginx.url}/metrics").status_code == 404


@needs_nginx
def test_readers_see_no_error_when_a_replica_dies(tmp_path: Path, http: httpx.Client) -> None:
    cluster = start_cluster(tmp_path)
    try:
        base = cluster.nginx.url
        paths = feed_paths(base)
        for path in paths:
            assert get(http, f"{base}{path}").status_code == 200
        cluster.replicas[0].kill9()
        # Fresh keys (MISS: a replica must answer), cached ones, and once max-age has
        # passed revalidations, for at most 200 requests or 15 s.
        statuses: Counter[int] = Counter()
        cache: Counter[str] = Counter()
        deadline = time.monotonic() + 15
        for n in range(200):
            if time.monotonic() > deadline:
                break
            path = paths[n % len(paths)]
            url = f"{base}{path}?limit={1 + n % 50}" if n % 2 else f"{base}{path}"
            response = get(http, url, READER_ACCEPT)
            statuses[response.status_code] += 1
            cache[response.headers.get("x-cache-status", "-")] += 1
            if n == 100:
                time.sleep(STALE_AFTER)  # let the cached copies go stale
        print(f"one replica killed: {sum(statuses.values())} reads, statuses {dict(statuses)}, cache {dict(cache)}")
        assert set(statuses) == {200}
        assert cache["MISS"] > 0 and cache["REVALIDATED"] > 0
        # nginx did try the dead replica, and went on to the other one.
        assert f"127.0.0.1:{cluster.replicas[0].port}" in cluster.nginx.log.read_text()
        # Writes go to the replica that is left.
        written = httpx.put(
            f"{base}/api/articles/after-failover",
            headers={"Authorization": f"Bearer {TOKEN}"},
            json={"title": "After failover", "webUrl": "https://example.org/after", "publishedDateTime": just_now()},
            timeout=10,
        )
        assert written.status_code == 201, written.text
    finally:
        cluster.stop()


DOCKER_COMPOSE = shutil.which("docker-compose")


@pytest.mark.skipif(DOCKER_COMPOSE is None, reason="docker-compose is not installed (apt-get install docker-compose)")
def test_compose_runs_replicas_over_one_volume_behind_this_nginx_file(tmp_path: Path) -> None:
    assert DOCKER_COMPOSE is not None
    env = {key: value for key, value in os.environ.items() if not key.startswith("FEEDSVC_")}
    env.update(FEEDSVC_API_TOKEN=TOKEN, FEEDSVC_BASE_URL="https://feeds.example.com", HOME=str(tmp_path))
    checked = subprocess.run(
        [DOCKER_COMPOSE, "--project-directory", str(REPO), "-f", str(REPO / "docker-compose.yml"), "config"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    services = yaml.safe_load(checked.stdout)["services"]
    replicas = {name: s for name, s in services.items() if s.get("image") == "feedsvc:latest" and "command" not in s}
    assert len(replicas) >= 2
    assert (REPO / "Dockerfile").is_file()
    for service in replicas.values():
        environment = service["environment"]
        assert environment["FEEDSVC_BASE_URL"] == "https://feeds.example.com"
        assert environment["FEEDSVC_API_TOKEN"] == TOKEN
        assert "content:/content:rw" in service["volumes"]  # one volume, writable for the API
        assert service["depends_on"]["content-init"]["condition"] == "service_completed_successfully"
    snapshots = [next(v for v in s["volumes"] if v.endswith(":/var/cache/feedsvc:rw")) for s in replicas.values()]
    assert len(set(snapshots)) == len(snapshots)  # a snapshot volume of its own each
    nginx = services["nginx"]
    mount = f"{TEMPLATE}:/etc/nginx/templates/feedsvc.conf.template:ro"
    assert mount in nginx["volumes"]
    # The image fills in exactly the placeholders the template has; the upstream names every replica.
    placeholders = set(re.findall(r"\$\{(\w+)\}", TEMPLATE.read_text()))
    given = {name for name in nginx["environment"] if name.startswith("FEEDSVC_")}
    assert placeholders == given
    upstreams = {nginx["environment"][name] for name in given if name.startswith("FEEDSVC_REPLICA_")}
    assert upstreams == {f"{name}:8000" for name in replicas}
    assert {p["target"] for p in nginx["ports"]} == {int(nginx["environment"]["FEEDSVC_LISTEN"])}
