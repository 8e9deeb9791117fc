"""/metrics (Prometheus text format) and /readyz."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

import feedsvc.app as app_module
from feedsvc.app import create_app
from feedsvc.live.websub import HubNotifier
from feedsvc.settings import ConfigError, Settings, load_settings, summary
from feedsvc.web.cache import ResponseCache

from .conftest import REPO, SEED, Server, article, free_port, front_matter, poll_until

LOOPBACK = ("127.0.0.1", 40000)
TOKEN = "test-token-0123456789abcdef"


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, parsed with prometheus-client's own parser."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return parse(response.text)


def parse(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def requests(metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float], route: str, status: str) -> float:
    return metrics.get(("feedsvc_http_requests_total", (("method", "GET"), ("route", route), ("status", status))), 0)


def loopback_client(folder: Path, **settings: object) -> TestClient:
    settings.setdefault("allowed_hosts", ("feeds.test",))
    settings.setdefault("enclosure_probe", "off")
    app = create_app(Settings(content=folder, **settings))  # type: ignore[arg-type]
    return TestClient(app, base_url="http://feeds.test", client=LOOPBACK)


def test_metrics_count_requests_on_the_fast_path_and_routed():
    with loopback_client(REPO / "seeds", watch="off") as client:
        before = samples(client)
        client.get("/feeds/all.rss")  # routed: a render, a cache miss
        client.get("/feeds/all.rss")  # the fast path: a hit
        client.get("/feeds/topics/no-such-topic.rss")
        after = samples(client)
    route = "/feeds/all.{fmt}"
    assert requests(after, route, "200") - requests(before, route, "200") == 2
    assert requests(after, "/feeds/topics/{topic}.{fmt}", "404") == 1
    feeds = (("cache", "feeds"),)
    assert after[("feedsvc_cache_hits_total", feeds)] - before[("feedsvc_cache_hits_total", feeds)] == 1
    assert after[("feedsvc_cache_misses_total", feeds)] - before[("feedsvc_cache_misses_total", feeds)] == 1
    assert after[("feedsvc_cache_bytes", feeds)] > 0
    assert after[("feedsvc_render_seconds_count", ())] >= 1
    assert after[("feedsvc_articles", ())] > 0 and after[("feedsvc_topics", ())] > 0
    assert after[("feedsvc_skipped_files", ())] == 0
    assert after[("feedsvc_last_content_change_timestamp_seconds", ())] > 1.7e9
    assert ("feedsvc_access_log_dropped_total", ()) in after
    assert after[("feedsvc_cache_evictions_total", feeds)] == 0


def test_metrics_one_count_and_one_line_per_request_on_either_path(capsys: pytest.CaptureFixture[str]):
    with loopback_client(REPO / "seeds", watch="off") as client:
        routed = client.get("/feeds/all.atom")
        fast = client.get("/feeds/all.atom")
        metrics = samples(client)
    assert requests(metrics, "/feeds/all.{fmt}", "200") == 2
    lines = [line for line in capsys.readouterr().out.splitlines() if '"GET /feeds/all.atom HTTP/1.1"' in line]
    assert [line.split()[-2:] for line in lines] == [
        ["miss", routed.headers["x-request-id"]],
        ["hit", fast.headers["x-request-id"]],
    ]


def test_cache_counts_the_entries_it_evicts():
    cache = ResponseCache(8_000, "public, max-age=60")  # room for a few 1.5 KB bodies (+1 KB overhead each)
    sizes = [
        cache.get(("slot", number), 0, lambda n=number: b"%d" % n * 1500, "text/plain").size for number in range(6)
    ]
    assert cache.stats.evictions == 6 - len(cache) > 0
    assert cache.stats.renders == 6
    assert cache.stats.evicted_bytes == sum(sizes) - cache.current_bytes > 0


def test_metrics_are_for_loopback_clients_only(client_for: Callable[..., TestClient]):
    app = create_app(Settings(content=REPO / "seeds", allowed_hosts=("feeds.test",), enclosure_probe="off"))
    with TestClient(app, base_url="http://feeds.test", client=("203.0.113.9", 5000)) as client:
        response = client.get("/metrics")
    assert response.status_code == 404
    assert "feedsvc_" not in response.text


def test_metrics_count_write_api_calls_by_outcome(folder: Path):
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "text/markdown; charset=utf-8"}
    with loopback_client(folder, watch="off", api_token=TOKEN) as client:
        document = front_matter(article("Via the API"), "Body.")
        assert client.put("/api/articles/one", content=document, headers=auth).status_code == 201
        assert client.put("/api/articles/two", content=document, headers={}).status_code == 401
        assert client.delete("/api/articles/one", headers=auth).status_code == 204
        metrics = samples(client)
    writes = {labels: value for (name, labels), value in metrics.items() if name == "feedsvc_api_writes_total"}
    assert writes == {
        (("method", "PUT"), ("outcome", "done")): 1,
        (("method", "PUT"), ("outcome", "refused")): 1,
        (("method", "DELETE"), ("outcome", "done")): 1,
    }


def test_metrics_live_update_latency_from_the_watcher(folder: Path):
    with loopback_client(folder, watch="auto") as client:
        poll_until(lambda: client.get("/readyz").status_code, lambda status: status == 200, timeout=20)
        (folder / "new-one.md").write_text(front_matter(article("Fresh news")), encoding="utf-8")
        metrics, _ = poll_until(
            lambda: samples(client), lambda m: m.get(("feedsvc_live_update_seconds_count", ()), 0) >= 1, timeout=20
        )
    assert 0 <= metrics[("feedsvc_live_update_seconds_sum", ())] < 60


def test_metrics_websub_pushes_and_failures_per_hub():
    hubs = ["http://hub-ok.test/", "http://hub-down.test/"]

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(204 if request.url.host == "hub-ok.test" else 503)

    async def run() -> HubNotifier:
        client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
        notifier = HubNotifier(hubs, lambda ref: [f"https://feeds.test/{ref.key}.rss"], client)
        stop = asyncio.Event()
        task = asyncio.create_task(notifier.run(stop))
        await asyncio.sleep(0)
        notifier.enqueue(["https://feeds.test/all.rss"])
        for _ in range(100):  # bounded: the batch window is 0.2 s
            if notifier.pushes[hubs[0]] and notifier.failures[hubs[1]]:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await task
        await client.aclose()
        return notifier

    notifier = asyncio.run(run())
    assert (notifier.pushes, notifier.failures) == ({hubs[0]: 1, hubs[1]: 0}, {hubs[0]: 0, hubs[1]: 1})
    app = create_app(Settings(content=REPO / "seeds", enclosure_probe="off", watch="off"))
    app.state.metrics.notifier = notifier
    text = app.state.metrics.exposition().decode()
    assert parse(text)[("feedsvc_websub_failures_total", (("hub", hubs[1]),))] == 1


def test_readyz_is_503_until_the_watcher_has_caught_up_then_200(folder: Path, monkeypatch: pytest.MonkeyPatch):
    release = threading.Event()
    with loopback_client(folder, watch="auto") as client:
        publisher = client.app.state.service.publisher  # type: ignore[attr-defined]
        original = publisher.changed_since_load

        def slow_catch_up() -> list[Path]:
            release.wait(20)  # a slow first look at the folder
            return original()  # type: ignore[no-any-return]

        monkeypatch.setattr(publisher, "changed_since_load", slow_catch_up)
        loading = client.get("/readyz")
        assert loading.status_code == 503
        assert loading.json()["reason"].startswith("loading")
        assert client.get("/healthz").status_code == 200  # alive all the same
        release.set()
        poll_until(lambda: client.get("/readyz").status_code, lambda status: status == 200, timeout=20)


def test_readyz_is_503_when_the_watcher_died(monkeypatch: pytest.MonkeyPatch):
    async def dies(publisher: object, mode: str, stop: object, ready: asyncio.Event, latency: object) -> None:
        ready.set()
        raise RuntimeError("the watcher broke")

    monkeypatch.setattr(app_module, "watch", dies)
    with loopback_client(REPO / "seeds", watch="auto") as client:
        poll_until(lambda: client.get("/readyz").status_code, lambda status: status == 503, timeout=10)
        assert "watcher stopped" in client.get("/readyz").json()["reason"]


@pytest.mark.slow
def test_metrics_port_serves_metrics_there_and_not_on_the_main_port(tmp_path: Path):
    content = tmp_path / "content"
    content.mkdir()
    (content / "a.md").write_text(SEED.read_text())
    metrics_port = free_port()
    server = Server(content, watch="off", metrics_port=str(metrics_port))
    try:
        assert httpx.get(f"{server.url}/feeds/all.rss").status_code == 200
        assert httpx.get(f"{server.url}/metrics").status_code == 404
        metrics, _ = poll_until(
            lambda: parse(httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text),
            lambda m: requests(m, "/feeds/all.{fmt}", "200") >= 1,
        )
        assert metrics[("feedsvc_articles", ())] == 1
        assert httpx.get(f"{server.url}/readyz").status_code == 200
    finally:
        server.stop()


def test_metrics_count_enclosure_probe_results(tmp_path: Path):
    from feedsvc.live.probe import Prober

    from .test_probe import run_pass, write_article

    folder = tmp_path / "content"
    folder.mkdir()
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: every image fails
    write_article(folder, "dead", [f"{dead}/{number}.jpg" for number in range(3)])
    app = create_app(Settings(content=folder, enclosure_probe="off", watch="off"))
    prober = Prober(app.state.service.publisher, "all")
    app.state.metrics.prober = prober
    assert run_pass(prober) == 3
    metrics = parse(app.state.metrics.exposition().decode())
    assert metrics[("feedsvc_enclosure_probes_total", (("result", "failed"),))] == 3
    assert metrics[("feedsvc_enclosure_probes_total", (("result", "found"),))] == 0


def test_the_start_up_summary_says_where_logs_and_metrics_go():
    assert {
        "access log: on (text, standard output)",
        "metrics: /metrics on the main port, loopback clients only",
    } <= set(summary(load_settings({}, {}), None))
    quiet = load_settings({"access_log": "off", "metrics_port": "9100"}, {})
    assert {"access log: off", "metrics: port 9100 only"} <= set(summary(quiet, None))


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("access_log", "yes", "--access-log: must be on or off"),
        ("log_format", "xml", "--log-format: must be text"),
        ("metrics_port", "99999", "--metrics-port: must be a port number"),
    ],
)
def test_observability_settings_refuse_bad_values_naming_the_flag(name: str, value: str, message: str):
    with pytest.raises(ConfigError, match=message):
        load_settings({name: value}, {})


@pytest.mark.parametrize(
    "amounts",
    [[], [0.0005, 0.0005, 0.0005000001, 1.0, 2.5, 2.6, 1e9], [0.0, -1.0, 0.25, float("inf")], [0.003] * 7],
)
def test_metrics_plain_histogram_collects_as_prometheus_clients_own(amounts: list[float]) -> None:
    """The render and live-update histograms are plain numbers until a scrape (so that a start
    need not import prometheus-client); scraped, they are the library's Histogram exactly."""
    from prometheus_client import CollectorRegistry
    from prometheus_client import Histogram as ClientHistogram

    from feedsvc.web.metrics import RENDER_BUCKETS, Histogram

    ours = Histogram("feedsvc_x_seconds", "What x took.", RENDER_BUCKETS)
    theirs = ClientHistogram("feedsvc_x_seconds", "What x took.", buckets=RENDER_BUCKETS, registry=CollectorRegistry())
    for amount in amounts:
        ours.observe(amount)
        theirs.observe(amount)
    ours.created = theirs._created  # made at another instant
    assert [ours.family()] == list(theirs.collect())
