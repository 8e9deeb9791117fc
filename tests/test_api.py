"""The write API, through the real ASGI app and a real server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from feedsvc.api.documents import DATE_TIME, HTTP_URL, VISIBLE_TEXT, check_fields
from feedsvc.api.throttle import AuthThrottle
from feedsvc.content.parse import InvalidArticle, article_from_mapping
from feedsvc.web.budget import client_key

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
    assert ("publishedDateTime", "not valid") in problems
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
    for method, path in (("GET", "/api/articles"), ("GET", "/api/articles/x"), ("DELETE", "/api/articles/x")):
        assert client.request(method, path, headers=AUTH).status_code == 404, (method, path)
    (folder / "x.md").write_text(front_matter(article()))
    assert client.delete("/api/articles/x", headers=AUTH).status_code == 404
    assert (folder / "x.md").exists()


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


# --- The token: every character counts ------------------------------------------------


def flip(character: str) -> str:
    return "0" if character != "0" else "1"


@pytest.mark.parametrize(
    "wrong",
    [
        TOKEN[:-1] + flip(TOKEN[-1]),  # only the last character differs
        TOKEN[:16] + flip(TOKEN[16]) + TOKEN[17:],  # only the 17th
        TOKEN[:-1],  # a prefix
        TOKEN + "0",  # the token and more
        TOKEN.upper(),
    ],
    ids=["last-char", "17th-char", "prefix", "longer", "case"],
)
def test_api_refuses_a_token_that_is_nearly_right(api: TestClient, wrong: str):
    response = api.get("/api/articles", headers={"Authorization": f"Bearer {wrong}"})
    assert response.status_code == 401
    assert api.get("/api/articles", headers=AUTH).status_code == 200


def test_api_token_scheme_is_case_insensitive(api: TestClient):
    assert api.get("/api/articles", headers={"Authorization": f"bearer {TOKEN}"}).status_code == 200
    assert api.get("/api/articles", headers={"Authorization": f"BEARER  {TOKEN} "}).status_code == 200


# --- Methods, media types, limits: the boundaries, not only the far-off cases ----------


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/articles/x", "GET, HEAD, PUT, DELETE"),
        ("/api/articles", "GET, HEAD"),
        ("/api/openapi.json", "GET, HEAD"),
    ],
)
@pytest.mark.parametrize("method", ["POST", "PATCH", "OPTIONS", "TRACE", "PUT", "DELETE"])
def test_api_other_methods_are_405_with_allow(api: TestClient, folder: Path, path: str, allowed: str, method: str):
    if method in allowed:
        return
    response = api.request(method, path, headers=AUTH, json=article())
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert not (folder / "x.md").exists()


def test_api_head_works_where_get_does(api: TestClient):
    api.put("/api/articles/headed", json=article(title="Headed"), headers=AUTH)
    for path in ("/api/articles/headed", "/api/articles", "/api/openapi.json"):
        response = api.head(path, headers=AUTH)
        assert response.status_code == 200 and response.content == b"", path


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json; charset=utf-8",
        "Application/JSON",
        'application/json; charset="UTF-8"',
        "application/json;charset=utf8",
    ],
)
def test_api_accepts_json_with_its_parameters(api: TestClient, content_type: str):
    body = json.dumps(article(title="Typed")).encode()
    response = api.put("/api/articles/typed", content=body, headers={**AUTH, "Content-Type": content_type})
    assert response.status_code in (200, 201), response.text


@pytest.mark.parametrize(
    "content_type",
    [
        "",
        "application/xml",
        "application/jsonx",
        "application/json-patch+json",
        "text/markdownx",
        "text/html",
        "application/json; charset=latin-1",
        "text/markdown; charset=iso-8859-1",
        "multipart/form-data; boundary=x",
    ],
)
def test_api_other_media_types_are_415(api: TestClient, folder: Path, content_type: str):
    headers = {**AUTH, "Content-Type": content_type} if content_type else AUTH
    response = api.put("/api/articles/x", content=json.dumps(article()).encode(), headers=headers)
    assert response.status_code == 415, content_type
    assert "text/markdown" in response.text and "application/json" in response.text
    assert not (folder / "x.md").exists()


@pytest.mark.parametrize("media_type", ["text/markdown", "text/x-markdown", "text/plain"])
def test_api_accepts_every_markdown_media_type(api: TestClient, media_type: str):
    document = front_matter(article(title="Plain"))
    response = api.put("/api/articles/plain", content=document, headers={**AUTH, "Content-Type": media_type})
    assert response.status_code in (200, 201)


def test_api_body_limit_is_exact(api: TestClient, folder: Path):
    document = front_matter(article(title="Exactly"))
    padded = document + " " * (4096 - len(document.encode()))  # trailing blanks are part of the (empty) body
    assert len(padded.encode()) == 4096
    assert api.put("/api/articles/exact", content=padded, headers=MARKDOWN).status_code == 201
    response = api.put("/api/articles/exact", content=padded + " ", headers=MARKDOWN)
    assert response.status_code == 413 and "4096 bytes" in response.text

    def chunks():  # no Content-Length: refused once the 4097th byte arrives
        yield padded.encode()
        yield b" "

    assert api.put("/api/articles/exact", content=chunks(), headers=MARKDOWN).status_code == 413
    assert (folder / "exact.md").read_text() == padded


def test_api_longest_slug_is_accepted(api: TestClient, folder: Path):
    slug = "a" * 128
    assert api.put(f"/api/articles/{slug}", json=article(), headers=AUTH).status_code == 201
    assert (folder / f"{slug}.md").exists()
    assert api.put(f"/api/articles/{slug}a", json=article(), headers=AUTH).status_code == 400


@pytest.mark.parametrize("slug", ["a", "0", "a-b", "0-9-z", "a--b", "a-"])
def test_api_every_valid_slug_shape_is_accepted(api: TestClient, slug: str):
    assert api.put(f"/api/articles/{slug}", json=article(), headers=AUTH).status_code == 201


@pytest.mark.parametrize("query", ["limit=1&limit=2", "published=true&published=false", "topic=a&topic=b"])
def test_api_list_refuses_a_repeated_parameter(api: TestClient, query: str):
    response = api.get(f"/api/articles?{query}", headers=AUTH)
    assert response.status_code == 400 and "once" in response.text


@pytest.mark.parametrize(("limit", "status"), [("1", 200), ("500", 200), ("0", 400), ("501", 400), ("1.0", 400)])
def test_api_list_limit_boundaries(api: TestClient, limit: str, status: int):
    response = api.get(f"/api/articles?limit={limit}", headers=AUTH)
    assert response.status_code == status
    if status == 200:
        assert len(response.json()["articles"]) == min(int(limit), response.json()["count"])


def test_api_problems_carry_their_severity(api: TestClient):
    response = api.put(
        "/api/articles/severe", json=article(title="", topics=["!!"], images=[{"url": "nope"}]), headers=AUTH
    )
    assert response.status_code == 422
    assert {(p["field"], p["severity"]) for p in response.json()["problems"]} == {("title", "error")}
    warned = api.put("/api/articles/severe", json=article(topics=["!!"], images=[{"url": "nope"}]), headers=AUTH)
    assert warned.status_code == 201
    assert {(w["field"], w["severity"]) for w in warned.json()["warnings"]} == {
        ("topics[0]", "warning"),
        ("images[0].url", "warning"),
    }
    broken = front_matter({"title": "No date", "webUrl": "https://example.org/x"})
    problems = api.put("/api/articles/severe", content=broken, headers=MARKDOWN).json()["problems"]
    assert problems == [{"field": "publishedDateTime", "reason": "missing", "severity": "error"}]


# --- JSON bodies the API cannot use: a 4xx with the reason, never a 500 -----------------

VALID = json.dumps(article(title="Valid")).encode()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 100_000, "more than 10,000 values"),  # refused before it is parsed
        (b'{"a":' * 100_000, "more than 10,000 values"),
        (b"[" * 5_000 + b"]" * 5_000, "nested more than 32 levels"),  # the decoder's recursion guard
        (b'{"a":' * 5_000 + b"1" + b"}" * 5_000, "nested more than 32 levels"),
        (b'{"title": "x", "n": [' + b"1," * 10_000 + b"1]}", "more than 10,000 values"),
        (b'{"title": "x", "n": [' + b"[]," * 10_000 + b"[]]}", "more than 10,000 values"),
        (b'{"a":' * 33 + b"1" + b"}" * 33, "nested more than 32 levels"),  # just past the bound
        (b'{"a":[' * 20 + b"1" + b"]}" * 20, "nested more than 32 levels"),  # 40 levels, arrays and objects
        (b'{"title": ' + b"9" * 5000 + b"}", "a number of 5000 digits"),  # past Python's int() limit
        (b'{"title": ' + b"9" * 41 + b"}", "a number of 41 digits"),
        (b'{"title": 1' + b"0" * 400 + b".5}", "a number of 403 characters"),
        (b'{"title": 1e999}', "too large"),
        (b'{"title": NaN}', "NaN is not a JSON number"),
        (b'{"title": Infinity}', "Infinity is not a JSON number"),
        (b'{"title": -Infinity}', "-Infinity is not a JSON number"),
        (b"[1, 2]", "must be an object"),
        (b'"title"', "must be an object"),
        (b"null", "must be an object"),
        (b"12", "must be an object"),
        (b'{"title": "a", "title": "b"}', "'title' is given twice"),
        (b'{"title": "\\ud800"}', "lone UTF-16 surrogate"),
        (b'{"title": "x", "k": ["\\udfff"]}', "lone UTF-16 surrogate"),
        ('{"title": "é"}'.encode("latin-1"), "not UTF-8"),
        (json.dumps(article()).encode("utf-16"), "not UTF-8"),
        (b"\xef\xbb\xbf" + VALID, "BOM"),
        (b"", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b"{'title': 'x'}", "not valid JSON"),
        (b'{"title": "x",}', "not valid JSON"),
    ],
    ids=lambda value: value[:12].decode("latin-1") if isinstance(value, bytes) else value[:20],
)
def test_api_json_it_cannot_use_is_422_with_the_reason(api_big: TestClient, folder: Path, body: bytes, reason: str):
    response = api_big.put("/api/articles/j", content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    [problem] = response.json()["problems"]
    assert reason in problem["reason"] and problem["field"] is None and problem["severity"] == "error"
    assert len(problem["reason"]) < 200  # never the body quoted back
    assert not (folder / "j.md").exists()
    assert api_big.get("/feeds/all.rss").status_code == 200


@pytest.fixture
def api_big(folder: Path, client_for: Callable[..., TestClient]) -> TestClient:
    return client_for(folder, api_token=TOKEN)  # the default 1 MiB limit


def test_api_json_values_are_counted_outside_strings(api_big: TestClient):
    fields = {**article(title="Commas"), "excerpt": "a, [b], {c}, " * 20_000, "n": list(range(9_000))}
    assert api_big.put("/api/articles/commas", json=fields, headers=AUTH).status_code == 201


def test_api_json_at_the_bounds_is_accepted(api: TestClient, folder: Path):
    nested: object = 1
    for _ in range(30):  # with the document itself and "custom": 32 levels
        nested = [nested]
    fields = {**article(title="Bounds"), "custom": nested, "big": int("9" * 40), "real": 1.5e300, "text": "\\ud800"}
    assert api.put("/api/articles/bounds", json=fields, headers=AUTH).status_code == 201
    stored = yaml.safe_load((folder / "bounds.md").read_text().split("---\n")[1])
    assert stored["big"] == int("9" * 40) and stored["custom"] == nested and stored["text"] == "\\ud800"


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"title": 5}, "title", "must be text"),
        ({"title": "   "}, "title", "not valid"),
        ({"title": "<b></b>"}, "title", "not valid"),
        ({"title": "&nbsp;"}, "title", "not valid"),
        ({"published": "yes"}, "published", "must be true or false or null"),
        ({"webUrl": "ftp://example.org/x"}, "webUrl", "not valid"),
        ({"webUrl": "https://xn--broken.example/"}, "webUrl", "not valid"),
        ({"publishedDateTime": "2024-01-02"}, "publishedDateTime", "not valid"),
        ({"publishedDateTime": "2023-02-29T00:00:00Z"}, "publishedDateTime", "not valid"),
        ({"publishedDateTime": "1899-12-31T00:00:00Z"}, "publishedDateTime", "not valid"),
        ({"publishedDateTime": 1704164645}, "publishedDateTime", "must be text"),
        ({"topics": "AI"}, "topics", "must be an array or null"),
        ({"images": [{"url": "https://example.org/a.jpg", "width": -1}]}, "images[0].width", "at least 0"),
        ({"images": [{"width": 1}]}, "images[0].url", "missing"),
        ({"type": "podcast"}, "type", 'must be one of "article", "video", null'),
        ({"body": 5}, "body", "must be text"),
        ({"webUrl": None, "originalUrl": None}, "webUrl", "must be text"),
    ],
)
def test_api_json_fields_must_match_the_published_schema(api: TestClient, fields: dict, field: str, reason: str):
    response = api.put("/api/articles/typed", json={**article(), **fields}, headers=AUTH)
    assert response.status_code == 422
    assert any(p["field"] == field and reason in p["reason"] for p in response.json()["problems"]), response.json()


def test_api_json_nulls_mean_absent(api: TestClient):
    fields = {**article(), "excerpt": None, "published": None, "provider": None, "topics": None, "type": None}
    response = api.put("/api/articles/nulls", json=fields, headers=AUTH)
    assert response.status_code == 201
    assert response.json()["article"]["published"] is True


@settings(max_examples=300, deadline=None)
@given(st.from_regex(VISIBLE_TEXT), st.from_regex(HTTP_URL), st.from_regex(DATE_TIME))
def test_schema_patterns_only_admit_what_the_article_rules_accept(title: str, url: str, when: str):
    """The schema is exact only if a value it admits is never refused later: every
    title, URL and date the patterns match makes an article (or the schema check refuses it)."""
    fields = {"title": title, "webUrl": url, "publishedDateTime": when}
    try:
        check_fields(fields)
    except InvalidArticle:
        return  # Python's re and the ECMA validator can differ on a corner: the validator has the last word
    article_from_mapping(fields, "x.md")  # raises InvalidArticle if the patterns admit too much


# --- Failed authentication is rate-limited per address; readers never are --------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_throttle_blocks_an_address_after_the_limit_for_the_rest_of_the_window():
    clock = FakeClock()
    throttle = AuthThrottle(limit=10, window=60, clock=clock)
    for _ in range(9):
        throttle.failed("192.0.2.1")
    assert throttle.retry_after("192.0.2.1") is None  # 9 failures: may still try
    throttle.failed("192.0.2.1")
    assert throttle.retry_after("192.0.2.1") == 60
    assert throttle.retry_after("192.0.2.2") is None  # another address is not affected
    clock.now += 59.5
    assert throttle.retry_after("192.0.2.1") == 1
    clock.now += 0.5
    assert throttle.retry_after("192.0.2.1") is None  # a new window, with the full count again
    throttle.failed("192.0.2.1")
    assert throttle.retry_after("192.0.2.1") is None


def test_throttle_counts_in_windows_not_forever():
    clock = FakeClock()
    throttle = AuthThrottle(limit=3, window=60, clock=clock)
    for _ in range(10):  # one failure every 30 s: never 3 in one window
        throttle.failed("a")
        clock.now += 30
        if _ % 2:
            assert throttle.retry_after("a") is None


def test_throttle_memory_is_bounded_under_a_flood_of_addresses():
    throttle = AuthThrottle(limit=10, window=60, clock=FakeClock(), max_clients=100)
    for i in range(10_000):
        throttle.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(throttle) == 100


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),  # the same /64: one client
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("testclient", "testclient"),
        (None, ""),
    ],
)
def test_throttle_client_key(host: str | None, key: str):
    assert client_key(host) == key


def test_api_failed_authentication_is_rate_limited_per_address(api: TestClient):
    clock = FakeClock()
    api.app.state.auth_throttle = AuthThrottle(limit=10, window=60, clock=clock)
    guesser = TestClient(api.app, base_url="http://feeds.test", client=("198.51.100.7", 5000))
    other = TestClient(api.app, base_url="http://feeds.test", client=("198.51.100.8", 5000))
    wrong = {"Authorization": "Bearer wrong-token-0123456789"}
    for _ in range(10):
        assert guesser.get("/api/articles", headers=wrong).status_code == 401
    for headers in (wrong, AUTH, {}):  # no more tries this window, even with the right token
        response = guesser.put("/api/articles/x", json=article(), headers=headers)
        assert response.status_code == 429
        assert response.headers["retry-after"] == "60" and "try again in 60 s" in response.text
    assert guesser.get("/feeds/all.rss").status_code == 200  # readers are never limited
    assert guesser.get("/feeds/all.rss", headers=wrong).status_code == 200
    assert other.get("/api/articles", headers=AUTH).status_code == 200  # nor other addresses
    clock.now += 60
    assert guesser.get("/api/articles", headers=AUTH).status_code == 200


def test_api_rate_limit_is_on_by_default(api: TestClient):
    wrong = {"Authorization": "Bearer wrong-token-0123456789"}
    statuses = [api.get("/api/articles", headers=wrong).status_code for _ in range(12)]
    assert statuses == [401] * 10 + [429] * 2


# --- Readers never wait on a writer ------------------------------------------------------


def slowest_document(limit: int = 1 << 20) -> bytes:
    """The costliest front matter to read that we know of, just under ``limit`` bytes: one long
    flow list (~1.6 s of parsing on the development machine, where a real article takes 0.1 ms)."""
    head = front_matter(article(title="Heavy", topics=["Heavy"])).removesuffix("---\n")
    items = (limit - len(head.encode()) - len("x: []\n---\n")) // 2
    return f"{head}x: [{'1,' * (items - 1)}1]\n---\n".encode()


@pytest.mark.slow
def test_api_readers_never_wait_on_a_writer(folder: Path):
    """A feed GET on the real server, during the costliest 1 MiB PUT, is answered at once."""
    document = slowest_document()
    assert len(document) <= 1 << 20
    server = Server(folder, api_token=TOKEN, snapshot="off")
    try:
        with httpx.Client(base_url=server.url, timeout=60) as reader:
            reader.get("/feeds/all.rss").raise_for_status()
            put: dict[str, Any] = {}

            def write() -> None:
                started = time.monotonic()
                put["response"] = httpx.put(
                    f"{server.url}/api/articles/heavy", content=document, headers=MARKDOWN, timeout=120
                )
                put["took"], put["done"] = time.monotonic() - started, time.monotonic()

            writer = threading.Thread(target=write)
            writer.start()
            gets: list[tuple[float, float]] = []  # (sent, answered)
            deadline = time.monotonic() + 60
            while writer.is_alive() and time.monotonic() < deadline:
                sent = time.monotonic()
                assert reader.get("/feeds/all.rss").status_code == 200
                gets.append((sent, time.monotonic()))
            writer.join()
    finally:
        server.stop()
    assert put["response"].status_code == 201, put["response"].text
    during = [answered - sent for sent, answered in gets if answered < put["done"]]
    # Generous bounds: many reads were answered while the write was in progress, and
    # none of them waited anything like the write's own time.
    assert len(during) >= 10, (len(during), put["took"])
    assert max(during) < put["took"] / 4, (max(during), put["took"])


def _put_with_a_body_that_stalls(app: Any, first: bytes) -> tuple[int, bytes]:
    """PUT whose body sends ``first`` and then nothing more; the status and body of the answer."""
    import asyncio

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": "/api/articles/slow",
        "raw_path": b"/api/articles/slow",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"feeds.test"),
            (b"authorization", AUTH["Authorization"].encode()),
            (b"content-type", b"text/markdown"),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("feeds.test", 80),
    }
    sent: list[dict[str, Any]] = []
    chunks = [{"type": "http.request", "body": first, "more_body": True}]

    async def receive() -> dict[str, Any]:
        if chunks:
            return chunks.pop()
        await asyncio.sleep(3600)  # the client stalls
        raise AssertionError("never")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def run() -> None:
        await asyncio.wait_for(app(scope, receive, send), timeout=30)

    asyncio.run(run())
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return int(sent[0]["status"]), body


def test_a_body_that_stalls_gets_408_and_writes_nothing(
    folder: Path, client_for: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
):
    from feedsvc.api import documents

    monkeypatch.setattr(documents, "BODY_IDLE_SECONDS", 0.2)
    client = client_for(folder, api_token=TOKEN)
    status, body = _put_with_a_body_that_stalls(client.app, b"---\ntitle: Slow")
    assert status == 408 and b"stalled" in body
    assert not (folder / "slow.md").exists()


def test_a_body_that_trickles_past_the_whole_deadline_gets_408(
    folder: Path, client_for: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
):
    from feedsvc.api import documents

    monkeypatch.setattr(documents, "BODY_SECONDS", 0.3)  # shorter than the idle limit: the whole deadline decides
    client = client_for(folder, api_token=TOKEN)
    assert _put_with_a_body_that_stalls(client.app, b"---\ntitle: Slow")[0] == 408
