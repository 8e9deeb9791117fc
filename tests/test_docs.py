"""The README is part of the feature: it must stay true."""

from __future__ import annotations

import re

import yaml
from starlette.routing import Route

from feedsvc.api.routes import ROUTES as API_ROUTES
from feedsvc.settings import SETTINGS
from feedsvc.web.routes import ROUTES

from .conftest import REPO

README = (REPO / "README.md").read_text()


def section(heading: str) -> str:
    """The README's text under ``heading``, up to the next heading of the same or a higher level."""
    level = heading[: heading.index(" ")]
    start = README.index(f"\n{heading}\n")
    following = re.compile(rf"^#{{1,{len(level)}}} ", re.MULTILINE)
    end = following.search(README, start + len(heading) + 2)
    return README[start : end.start() if end else len(README)]


def documented_requests(route: Route) -> list[str]:
    """``METHOD /path`` for each method the route answers, as the README spells it.

    HEAD and OPTIONS are documented once for all URLs; a path parameter's converter
    (``{slug:path}``) is not part of the contract, and a feed is named by its RSS URL.
    """
    if route.methods is not None:
        methods = sorted(route.methods - {"HEAD", "OPTIONS"})
    else:  # an HTTPEndpoint class answers the methods it defines
        methods = [m for m in ("GET", "PUT", "POST", "PATCH", "DELETE") if hasattr(route.endpoint, m.lower())]
    path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path).replace("{fmt}", "rss")
    return [f"{method} {path}" for method in methods]


def undocumented(routes: list[Route], text: str) -> list[str]:
    requests = [request for route in routes for request in documented_requests(route)]
    return [r for r in requests if not re.search(rf"`{re.escape(r)}[`?]", text)]


def test_docs_every_setting_is_documented():
    names = [name for setting in SETTINGS for name in (setting.flag, setting.env)]
    assert [name for name in names if f"`{name}`" not in README] == []


def test_docs_every_route_is_documented():
    assert undocumented([r for r in ROUTES if isinstance(r, Route)], section("## URLs")) == []


def test_docs_every_api_route_is_documented():
    text = section("## URLs") + section("### The write API")
    assert undocumented([r for r in API_ROUTES if isinstance(r, Route)], text) == []


def test_docs_route_check_finds_an_undocumented_route():
    """The checks above can fail: a route the README does not name is reported, with its method."""

    async def endpoint(request: object) -> None: ...

    routes = [Route("/feeds/x.{fmt}", endpoint), Route("/api/things/{id:int}", endpoint, methods=["PUT"])]
    assert undocumented(routes, "`GET /feeds/x.rss` and `GET /api/things/{id}`") == ["PUT /api/things/{id}"]


def test_docs_ci_runs_the_readme_test_command():
    commands = re.findall(r"```sh\n(.+?)\n```", README)
    test_command = next(c for c in commands if "pytest" in c)
    assert test_command in (REPO / ".ci" / "run").read_text()
    assert any("feedsvc serve" in c and "pip install" in c for c in commands)


def test_docs_compose_serves_replicas_over_one_volume_behind_nginx_on_8080():
    """What README "Deployment" says of docker-compose.yml (tests/test_scaleout.py checks it with docker-compose)."""
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    assert "${FEEDSVC_PUBLISH:-8080}:8080" in services["nginx"]["ports"]
    replicas = [service for name, service in services.items() if name.startswith("feedsvc-")]
    assert len(replicas) >= 2
    for service in replicas:
        assert "content:/content" in service["volumes"]
        assert service["environment"]["FEEDSVC_CONTENT"] == "/content"
        assert "ports" not in service  # readers go through nginx
    assert (REPO / "Dockerfile").is_file()


def test_docs_seeds_say_where_they_come_from():
    assert "shared/corpus/everyday-powerapps" in (REPO / "seeds" / "README.md").read_text()


def test_docs_layout_names_every_module():
    layout = README[README.index("## Layout") :]
    for module in sorted((REPO / "feedsvc").rglob("*.py")):
        if module.name in ("__init__.py", "__main__.py"):
            continue
        relative = module.relative_to(REPO).as_posix()
        package = f"{module.parent.relative_to(REPO).as_posix()}/"
        assert f"`{relative}`" in layout or f"`{module.name}`" in layout or f"`{package}`" in layout, relative
