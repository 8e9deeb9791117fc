"""feedsvc build: the static export holds exactly what the service serves."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import feedparser
import pytest
from lxml import etree
from starlette.testclient import TestClient

from feedsvc.cli import main

from .conftest import REPO

BASE = "https://feeds.example.com"


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "site"
    assert main(["build", str(out), "--content", str(REPO / "seeds"), "--base-url", BASE, "--gzip"]) == 0
    return out


def test_export_has_every_feed_of_the_opml_list(export: Path):
    opml = etree.parse(str(export / "feeds.opml"))
    urls = [o.get("xmlUrl") for o in opml.iter("outline") if o.get("xmlUrl")]
    assert len(urls) == 2 * (1 + 8 + 6)  # all, 8 topics and 6 providers of seeds/, in two formats
    for url in urls:
        path = export / url.removeprefix(f"{BASE}/")
        feed = feedparser.parse(path.read_bytes())
        assert feed.bozo == 0 and feed.entries, path
    assert (export / "index.html").read_text().startswith("<!doctype html>")


def test_export_bytes_equal_what_the_server_sends(export: Path, client_for: Callable[..., TestClient]):
    client = client_for(REPO / "seeds", base_url=BASE)
    for relative in ("feeds/all.rss", "feeds/topics/computer-vision.atom", "feeds/providers/reuters.com.rss"):
        served = client.get(f"/{relative}", headers={"Accept-Encoding": "identity"}).content
        assert (export / relative).read_bytes() == served, relative


def test_export_writes_gzip_siblings(export: Path):
    plain = (export / "feeds" / "all.atom").read_bytes()
    assert gzip.decompress((export / "feeds" / "all.atom.gz").read_bytes()) == plain


def test_export_replaces_the_previous_export_whole(tmp_path: Path):
    out = tmp_path / "site"
    out.mkdir()
    (out / "stale.txt").write_text("from an earlier export")
    assert main(["build", str(out), "--content", str(REPO / "seeds"), "--base-url", BASE]) == 0
    assert not (out / "stale.txt").exists()
    assert (out / "feeds" / "all.rss").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["site"]  # no staging or old folder left behind


def test_export_needs_a_base_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["build", str(tmp_path / "out"), "--content", str(REPO / "seeds")]) == 2
    assert "--base-url" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
