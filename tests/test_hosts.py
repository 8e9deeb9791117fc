"""Which Host headers are served: the allow-list, and what unknown Hosts cannot do."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from feedsvc.settings import ConfigError, Settings, load_settings
from feedsvc.web.hosts import LOOPBACK, allowed_hosts, host_allowed, host_name

from .conftest import REPO


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (Settings(), LOOPBACK),
        (Settings(host="0.0.0.0"), LOOPBACK),
        (Settings(host="192.168.1.5"), (*LOOPBACK, "192.168.1.5")),
        (Settings(host="fe80::1"), (*LOOPBACK, "[fe80::1]")),
        (Settings(base_url="https://feeds.example.com"), ("*",)),
        (Settings(base_url="https://feeds.example.com", allowed_hosts=("feeds.example.com",)), ("feeds.example.com",)),
        (Settings(allowed_hosts=(".example.com",)), (".example.com",)),
    ],
)
def test_allowed_hosts_defaults(settings: Settings, expected: tuple[str, ...]):
    assert allowed_hosts(settings) == expected


@pytest.mark.parametrize(
    ("host", "allowed", "ok"),
    [
        ("feeds.example.com", ("feeds.example.com",), True),
        ("evil.example.com", ("feeds.example.com",), False),
        ("feeds.example.com.evil", ("feeds.example.com",), False),
        ("a.b.example.com", (".example.com",), True),
        ("example.com", (".example.com",), True),
        ("badexample.com", (".example.com",), False),
        ("anything", ("*",), True),
        ("[::1]", LOOPBACK, True),
    ],
)
def test_host_allowed(host: str, allowed: tuple[str, ...], ok: bool):
    assert host_allowed(host, allowed) is ok


def test_host_name_drops_the_port():
    assert host_name("example.com:8080") == "example.com"
    assert host_name("[::1]:8000") == "[::1]"
    assert host_name("localhost") == "localhost"


def test_allowed_hosts_setting_is_validated():
    settings = load_settings({"content": str(REPO / "seeds"), "allowed_hosts": "Feeds.Example.com, .example.org"}, {})
    assert settings.allowed_hosts == ("feeds.example.com", ".example.org")
    with pytest.raises(ConfigError, match="--allowed-hosts"):
        load_settings({"content": str(REPO / "seeds"), "allowed_hosts": "example.com:8080"}, {})


def test_by_default_only_loopback_names_are_served(client_for: Callable[..., TestClient]):
    client = client_for(REPO / "seeds", allowed_hosts=None)
    refused = client.get("/feeds/all.rss")  # Host: feeds.test
    assert refused.status_code == 400
    assert "FEEDSVC_ALLOWED_HOSTS" in refused.text
    for host in ("localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST"):
        assert client.get("/feeds/all.rss", headers={"Host": host}).status_code == 200, host


def test_unknown_hosts_create_no_cache_entries(client_for: Callable[..., TestClient]):
    client = client_for(REPO / "seeds")
    assert client.get("/feeds/all.rss").status_code == 200
    service = client.app.state.service  # type: ignore[attr-defined]
    entries, renders, routes = len(service.cache), service.cache.stats.renders, len(service.routes)
    for i in range(50):
        assert client.get("/feeds/all.rss", headers={"Host": f"made-up-{i}.example"}).status_code == 400
        assert client.get("/", headers={"Host": f"made-up-{i}.example"}).status_code == 400
    assert (len(service.cache), service.cache.stats.renders, len(service.routes)) == (entries, renders, routes)


def test_an_allow_list_holds_on_the_fast_path_too(client_for: Callable[..., TestClient]):
    client = client_for(REPO / "seeds", base_url="https://feeds.example.com", allowed_hosts=("feeds.example.com",))
    for _ in range(2):  # the second request would be answered from the fast path
        assert client.get("/feeds/all.rss", headers={"Host": "feeds.example.com"}).status_code == 200
    assert client.get("/feeds/all.rss", headers={"Host": "evil.example"}).status_code == 400


def test_with_a_base_url_any_host_shares_one_cache_entry(client_for: Callable[..., TestClient]):
    client = client_for(REPO / "seeds", base_url="https://feeds.example.com", allowed_hosts=None)
    service = client.app.state.service  # type: ignore[attr-defined]
    bodies = {client.get("/feeds/all.rss", headers={"Host": f"h{i}.example"}).content for i in range(30)}
    assert len(bodies) == 1
    assert service.cache.stats.renders == 1
    assert len(service.routes) == 1  # the Host is no part of the fast path's key


@pytest.mark.parametrize(("path", "target"), [("/feeds.opml/", "/feeds.opml"), ("/feeds/all.rss/", "/feeds/all.rss")])
def test_trailing_slash_redirects_to_the_base_url(client_for: Callable[..., TestClient], path: str, target: str):
    client = client_for(REPO / "seeds", base_url="https://feeds.example.com", allowed_hosts=None)
    response = client.get(f"{path}?limit=5", headers={"Host": "evil.example"}, follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == f"https://feeds.example.com{target}?limit=5"


def test_trailing_slash_redirect_without_base_url_needs_an_allowed_host(client_for: Callable[..., TestClient]):
    client = client_for(REPO / "seeds")
    response = client.get("/feeds.opml/", follow_redirects=False)
    assert response.headers["location"] == "http://feeds.test/feeds.opml"
    assert client.get("/feeds.opml/", headers={"Host": "evil.example"}, follow_redirects=False).status_code == 400
    assert client.get("/no-such-page/", follow_redirects=False).status_code == 404
