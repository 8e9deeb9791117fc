"""The README is part of the feature: it must stay true."""

from __future__ import annotations

import re

import yaml

from feedsvc.settings import SETTINGS
from feedsvc.web.routes import ROUTES

from .conftest import REPO

README = (REPO / "README.md").read_text()


def test_docs_every_setting_is_documented():
    for setting in SETTINGS:
        assert f"`{setting.flag}`" in README, setting.flag
        assert f"`{setting.env}`" in README, setting.env


def test_docs_every_route_is_documented():
    for route in ROUTES:
        assert f"`GET {route.path.replace('{fmt}', 'rss')}" in README, route.path


def test_docs_ci_runs_the_readme_test_command():
    commands = re.findall(r"```sh\n(.+?)\n```", README)
    test_command = next(c for c in commands if "pytest" in c)
    assert test_command in (REPO / ".ci" / "run").read_text()
    assert any("feedsvc serve" in c and "pip install" in c for c in commands)


def test_docs_compose_serves_port_8000_with_a_content_volume():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    service = compose["services"]["feedsvc"]
    assert "8000:8000" in service["ports"]
    assert any(volume.endswith(":/content:ro") for volume in service["volumes"])
    assert service["environment"]["FEEDSVC_CONTENT"] == "/content"
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
