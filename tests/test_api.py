"""The write API, through the real ASGI app and a real server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import feedparser
import httpx
import pytest
import yaml
from starlette.testclient import TestClient

from .conftest import Server, article, call_asgi, front_matter

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MARKDOWN = {**AUTH, "Content-Type": "text/markdown; charset=utf-8"}


@pytest.fixture
def api(folder: Path, client_for: Callable[..., TestClient]) -> TestClient:
    return client_for(folder, api_token=TOKEN, api_max_bytes=4096)


def feed_titles(client: TestClient, path: str) -> list[str]:
    return [e.title for e in feedparser.parse(client.get(path).content).entries]


def test_api_put_markdown_creates_and_publishes_at_once(api: TestClient, folder: Path):
    document = front_matter(article(title="Via the API", topics=["API News"]), body="Hello *API*.\n")
    response = api.put("/api/articles/via-the-api", content=document, headers=MARKDOWN)
    assert response.status_code == 201
    body = response.json()
    assert body["article"]["title"] == "Via the API"
    assert "http://feeds.test/feeds/topics/api-news.rss" in body["feeds"]
    assert "http://feeds.test/feeds/all.atom" in body["feeds"]
    assert (folder / "via-the-api.md").read_text() == document  # stored exactly as sent
    assert "Via the API" in feed_titles(api, "/feeds/topics/api-news.atom")  # visible when the answer arrives
    assert list(folder.glob(".*tmp")) == []  # no temporary file left behind


def test_api_put_json_replaces_and_keeps_every_field(api: TestClient, folder: Path):
    fields = {**article(title="JSON one"), "secured": "SECRET-VALUE", "customField": [1, 2], "body": "Body *text*."}
    assert api.put("/api/articles/json-one", json=fields, headers=AUTH).status_code == 201
    fields["title"] = "JSON one, replaced"
    response = api.put("/api/articles/json-one", json=fields, headers=AUTH)
    assert response.status_code == 200
    assert "SECRET-VALUE" not in response.text  # stored, never shown
    stored = (folder / "json-one.md").read_text()
    front = yaml.safe_load(stored.split("---\n")[1])
    assert front["secured"] == "SECRET-VALUE" and front["customField"] == [1, 2]
    assert stored.rstrip().endswith("Body *text*.")
    assert "JSON one, replaced" in feed_titles(api, "/feeds/all.rss")
    assert "JSON one" not in feed_titles(api, "/feeds/all.rss")


def test_api_invalid_document_is_422_with_every_problem_and_writes_nothing(api: TestClient, folder: Path):
    bad = {"title": "", "publishedDateTime": "soon", "images": [{"width": 1}]}
    response = api.put("/api/articles/bad-one", json=bad, headers=AUTH)
    assert response.status_code == 422
    problems = {(p["field"], p["reason"].split(":")[0]) for p in response.json()["problems"]}
    assert ("title", "empty") in problems
    assert ("publishedDateTime", "not a date and time (expected ISO 8601 like 2022-05-12T15") in problems
    assert ("webUrl", "missing") in problems
    assert ("images[0].url", "missing") in problems
    assert not (folder / "bad-one.md").exists()


def test_api_invalid_markdown_and_json_syntax(api: TestClient):
    assert api.put("/api/articles/x", content=b"no front matter", headers=MARKDOWN).status_code == 422
    assert api.put("/api/articles/x", content=b"\xff\xfe", headers=MARKDOWN).status_code == 422
    response = api.put("/api/articles/x", content=b"{not json", headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 422 and "not valid JSON" in response.text
    assert api.put("/api/articles/x", json=[1, 2], headers=AUTH).status_code == 422


def test_api_warnings_come_back_with_the_published_article(api: TestClient):
    response = api.put("/api/articles/partial", json=article(title="Partial", topics=["AI", "!!"]), headers=AUTH)
    assert response.status_code == 201
    assert [w["field"] for w in response.json()["warnings"]] == ["topics[1]"]


def test_api_get_list_and_delete(api: TestClient, folder: Path):
    api.put("/api/articles/to-delete", json=article(title="Short lived", topics=["Ephemeral"]), headers=AUTH)
    got = api.get("/api/articles/to-delete", headers=AUTH)
    assert got.status_code == 200 and got.json()["article"]["title"] == "Short lived"
    listing = api.get("/api/articles?topic=Ephemeral", headers=AUTH).json()
    assert [a["slug"] for a in listing["articles"]] == ["to-delete"]
    assert api.get("/api/articles?provider=reuters.com", headers=AUTH).json()["count"] == 1
    assert api.get("/api/articles?published=false&limit=500", headers=AUTH).json()["count"] == 19
    assert api.delete("/api/articles/to-delete", headers=AUTH).status_code == 204
    assert not (folder / "to-delete.md").exists()
    assert api.get("/feeds/topics/ephemeral.rss").status_code == 404
    assert api.get("/api/articles/to-delete", headers=AUTH).status_code == 404
    assert api.delete("/api/articles/to-delete", headers=AUTH).status_code == 404


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ],
    ids=["missing", "wrong", "wrong-scheme", "no-scheme"],
)
def test_api_refuses_without_the_token(api: TestClient, folder: Path, headers: dict[str, str]):
    for method, path in (
        ("PUT", "/api/articles/x"),
        ("GET", "/api/articles/x"),
        ("DELETE", "/api/articles/x"),
        ("GET", "/api/articles"),
    ):
        response = api.request(method, path, headers={**headers, "Content-Type": "application/json"}, content=b"{}")
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == 'Bearer realm="feedsvc"'
    assert not (folder / "x.md").exists()


def test_api_is_off_without_a_token(client_for: Callable[..., TestClient], folder: Path):
    client = client_for(folder)
    response = client.put("/api/articles/x", json=article(), headers=AUTH)
    assert response.status_code == 404 and "FEEDSVC_API_TOKEN" in response.text
    assert client.get("/api/articles", headers=AUTH).status_code == 404
    assert not (folder / "x.md").exists()


@pytest.mark.parametrize(
    "slug",
    ["..", "../etc/passwd", "a/b", "a%00b", "UPPER", "-dash-first", "x" * 129, "a.md", "a b", "%2e%2e", "ünï"],
)
def test_api_rejects_bad_slugs_before_touching_the_disk(api: TestClient, folder: Path, slug: str):
    before = sorted(p.name for p in folder.parent.rglob("*"))
    response = api.put(f"/api/articles/{slug}", json=article(), headers=AUTH)
    assert response.status_code in (400, 404), response.text  # 404 only when the client collapsed the path
    assert sorted(p.name for p in folder.parent.rglob("*")) == before


@pytest.mark.parametrize("raw_path", ["/api/articles/..", "/api/articles/../../etc/x", "/api/articles/a\x00b"])
def test_api_raw_dot_dot_and_nul_are_400(api: TestClient, folder: Path, raw_path: str):
    headers = [
        (b"host", b"feeds.test"),
        (b"content-type", b"application/json"),
        (b"authorization", AUTH["Authorization"].encode()),
    ]
    assert call_asgi(api.app, "PUT", raw_path, headers, json.dumps(article()).encode()) == 400
    assert sorted(p.name for p in folder.parent.rglob("*.md") if p.parent != folder) == []


def test_api_body_too_large_is_413(api: TestClient, folder: Path):
    big = front_matter(article(title="Big", excerpt="x" * 5000))
    assert api.put("/api/articles/big", content=big, headers=MARKDOWN).status_code == 413

    def chunks():  # no Content-Length: the limit holds while streaming too
        for _ in range(10):
            yield b"x" * 1000

    assert api.put("/api/articles/big", content=chunks(), headers=MARKDOWN).status_code == 413
    assert not (folder / "big.md").exists()


def test_api_wrong_content_type_is_415(api: TestClient):
    response = api.put("/api/articles/x", content=b"<xml/>", headers={**AUTH, "Content-Type": "application/xml"})
    assert response.status_code == 415


def test_api_openapi_describes_every_route(api: TestClient):
    document = api.get("/api/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {"/api/articles", "/api/articles/{slug}"}
    assert set(document["paths"]["/api/articles/{slug}"]) >= {"get", "put", "delete"}
    assert json.dumps(document)  # plain JSON all the way down


@pytest.mark.slow
def test_api_acknowledged_write_survives_kill_9(folder: Path):
    server = Server(folder, api_token=TOKEN)
    document = front_matter(article(title="Durable", topics=["Durability"]))
    try:
        response = httpx.put(f"{server.url}/api/articles/durable", content=document, headers=MARKDOWN)
        assert response.status_code == 201
        server.kill9()  # right after the answer
    finally:
        server.stop()
    assert (folder / "durable.md").read_text() == document
    restarted = Server(folder)
    try:
        feed = feedparser.parse(httpx.get(f"{restarted.url}/feeds/topics/durability.rss").content)
        assert [e.title for e in feed.entries] == ["Durable"]
    finally:
        restarted.stop()


@pytest.mark.slow
def test_api_write_then_feed_on_a_real_server(folder: Path):
    server = Server(folder, api_token=TOKEN)
    try:
        with httpx.Client(base_url=server.url) as client:
            before = client.get("/feeds/all.rss")
            client.put("/api/articles/live-one", json=article(title="Live one"), headers=AUTH).raise_for_status()
            after = client.get("/feeds/all.rss", headers={"If-None-Match": before.headers["etag"]})
            assert after.status_code == 200 and "Live one" in after.text
            client.delete("/api/articles/live-one", headers=AUTH).raise_for_status()
            assert "Live one" not in client.get("/feeds/all.rss").text
    finally:
        server.stop()
