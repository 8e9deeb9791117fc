"""feedsvc build: the static export holds exactly what the service serves."""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from lxml import etree
from starlette.testclient import TestClient

from feedsvc.cli import main
from feedsvc.content.model import Article
from feedsvc.export import SharedItems
from feedsvc.render import FORMATS
from feedsvc.render.spec import Site
from feedsvc.render.urls import Urls
from feedsvc.render.xmlfeeds import ItemRenderer

from .conftest import REPO
from .test_jsonfeed import check_json_feed

BASE = "https://feeds.example.com"


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "site"
    assert main(["build", str(out), "--content", str(REPO / "seeds"), "--base-url", BASE, "--gzip"]) == 0
    return out


def test_export_has_every_feed_of_the_opml_list(export: Path):
    opml = etree.parse(str(export / "feeds.opml"))
    urls = [o.get("xmlUrl") for o in opml.iter("outline") if o.get("xmlUrl")]
    assert len(urls) == len(FORMATS) * (1 + 8 + 6)  # all, 8 topics and 6 providers of seeds/, in every format
    for url in urls:
        path = export / url.removeprefix(f"{BASE}/")
        if path.suffix == ".json":  # feedparser does not read JSON Feed
            assert check_json_feed(path.read_bytes())["items"], path
            continue
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


def build(out: Path, content: Path = REPO / "seeds", *extra: str) -> int:
    return main(["build", str(out), "--content", str(content), "--base-url", BASE, *extra])


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_export_replaces_its_own_earlier_export_whole(tmp_path: Path):
    out = tmp_path / "site"
    assert build(out, REPO / "seeds", "--gzip") == 0
    assert (out / "feeds" / "all.rss.gz").exists()
    assert build(out) == 0  # without --gzip: the earlier export's .gz files were its own, so they go
    assert not list(out.rglob("*.gz"))
    assert (out / "feeds" / "all.rss").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["site"]  # no staging or old folder left behind


def test_export_into_an_empty_existing_folder(tmp_path: Path):
    (tmp_path / "site").mkdir()
    assert build(tmp_path / "site") == 0
    assert (tmp_path / "site" / "feeds.opml").exists()


def test_export_refuses_a_folder_it_did_not_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "site"
    (out / "photos").mkdir(parents=True)
    (out / "photos" / "cat.jpg").write_bytes(b"a user's file")
    before = tree(tmp_path)
    assert build(out) == 2
    assert "not empty and was not written by feedsvc build" in capsys.readouterr().err
    assert tree(tmp_path) == before
    assert [p.name for p in tmp_path.iterdir()] == ["site"]


def test_export_refuses_files_added_to_an_earlier_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "site"
    assert build(out) == 0
    (out / "humans.txt").write_text("Made by hand\n")
    assert build(out) == 2
    assert "humans.txt" in capsys.readouterr().err
    assert (out / "humans.txt").read_text() == "Made by hand\n"


def test_export_refuses_to_replace_a_file_edited_since_it_was_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "site"
    assert build(out) == 0
    (out / "index.html").write_text("<!doctype html><p>my own front page</p>")
    assert build(out) == 2
    assert "index.html (changed since it was written)" in capsys.readouterr().err
    assert "my own front page" in (out / "index.html").read_text()


def test_export_refuses_an_empty_folder_added_to_an_earlier_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "site"
    assert build(out) == 0
    (out / "feeds" / "archive").mkdir()
    assert build(out) == 2
    assert "feeds/archive/" in capsys.readouterr().err
    assert (out / "feeds" / "archive").is_dir()


def test_export_refuses_a_symlink_it_did_not_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out, mine = tmp_path / "site", tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("keep")
    assert build(out) == 0
    (out / "link").symlink_to(mine)
    assert build(out) == 2
    assert (mine / "keep.txt").read_text() == "keep"


def test_export_refuses_a_manifest_that_is_not_one(tmp_path: Path):
    out = tmp_path / "site"
    out.mkdir()
    (out / ".feedsvc-build").write_text("not json")
    (out / "notes.txt").write_text("mine")
    assert build(out) == 2
    assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("where", ["content inside out", "out inside content", "out is content"])
def test_export_refuses_to_touch_the_content_folder(tmp_path: Path, where: str, capsys: pytest.CaptureFixture[str]):
    if where == "content inside out":
        out, content = tmp_path / "site", tmp_path / "site" / "articles"
    elif where == "out inside content":
        out, content = tmp_path / "articles" / "site", tmp_path / "articles"
    else:
        out = content = tmp_path / "articles"
    content.mkdir(parents=True)
    (content / "a.md").write_text((REPO / "seeds" / "000_84d0586a3992f50e.md").read_text())
    before = tree(tmp_path)
    assert build(out, content) == 2
    assert "content folder" in capsys.readouterr().err
    assert tree(tmp_path) == before


def test_export_refuses_an_empty_output_folder_that_holds_the_content(tmp_path: Path):
    # Even an earlier export's manifest does not make the content folder ours.
    out = tmp_path / "site"
    assert build(out) == 0
    content = out / "articles"
    content.mkdir()
    (content / "a.md").write_text((REPO / "seeds" / "000_84d0586a3992f50e.md").read_text())
    assert build(out, content) == 2
    assert (content / "a.md").exists()


def test_export_refuses_a_file_as_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    (tmp_path / "site").write_text("a file")
    assert build(tmp_path / "site") == 2
    assert "not a folder" in capsys.readouterr().err
    assert (tmp_path / "site").read_text() == "a file"


def test_export_leaves_a_folder_named_like_its_old_copy_alone(tmp_path: Path):
    (tmp_path / ".site.old").mkdir()
    (tmp_path / ".site.old" / "mine.txt").write_text("mine")
    assert build(tmp_path / "site") == 0
    assert build(tmp_path / "site") == 0
    assert (tmp_path / ".site.old" / "mine.txt").read_text() == "mine"


def test_export_checks_again_before_the_swap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A file added to OUT while the export was being written is not swapped away."""
    import feedsvc.export as export_module

    out = tmp_path / "site"
    assert build(out) == 0
    write_all = export_module._write_all

    def write_all_while_someone_adds_a_file(*args: object, **kwargs: object) -> object:
        (out / "added-meanwhile.txt").write_text("mine")
        return write_all(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(export_module, "_write_all", write_all_while_someone_adds_a_file)
    assert build(out) == 2
    assert (out / "added-meanwhile.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]  # the staging folder is gone


def test_export_needs_a_base_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["build", str(tmp_path / "out"), "--content", str(REPO / "seeds")]) == 2
    assert "--base-url" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_export_renders_an_item_carried_by_several_feeds_once_per_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import feedsvc.export as export_module

    item_renderer, calls = export_module._item_renderer, Counter[tuple[str, str]]()

    def counted(extension: str, site: Site) -> ItemRenderer | None:
        known = item_renderer(extension, site)
        assert known is not None

        def item(article: Article, urls: Urls) -> str:
            calls[extension, article.source] += 1
            return known(article, urls)

        return item

    monkeypatch.setattr(export_module, "_item_renderer", counted)
    out = tmp_path / "site"
    assert build(out) == 0
    assert {extension for extension, _ in calls} == set(FORMATS)
    assert set(calls.values()) == {1}
    carried = sum(path.read_text().count("<item>") for path in (out / "feeds").rglob("*.rss"))
    assert carried > sum(1 for extension, _ in calls if extension == "rss")  # so some were shared


def _article(source: str) -> Article:
    when = datetime(2024, 1, 2, tzinfo=UTC)
    return Article(source, f"Title {source}", f"https://example.org/{source}", when, when)


def _rendering(log: list[str]) -> ItemRenderer:
    def render(article: Article, urls: Urls) -> str:
        log.append(article.source)
        return f"<item>{article.source}</item>"

    return render


def test_shared_items_keep_an_item_only_while_a_feed_to_come_carries_it():
    a, b, c = (_article(source) for source in ("a", "b", "c"))
    rendered: list[str] = []
    items = SharedItems(_rendering(rendered), Counter({"a": 2, "b": 1, "c": 3}))
    urls = Urls(BASE)
    kept = []
    for article in (a, b, c, a, c, c):
        assert items(article, urls) == f"<item>{article.source}</item>"
        kept.append(items.kept)
    assert rendered == ["a", "b", "c"]
    one = len("<item>a</item>")
    # b is carried by one feed: never kept; a and c go with their last use.
    assert kept == [one, one, 2 * one, one, one, 0]


def test_shared_items_keep_no_more_than_their_budget():
    one = len("<item>0</item>")
    rendered: list[str] = []
    items = SharedItems(_rendering(rendered), Counter({str(n): 2 for n in range(5)}), budget=2 * one)
    urls = Urls(BASE)
    for _ in range(2):
        for n in range(5):
            assert items(_article(str(n)), urls) == f"<item>{n}</item>"
            assert items.kept <= 2 * one
    # Room for two: the three used least recently were let go and rendered again (the same bytes).
    assert rendered == ["0", "1", "2", "3", "4", "0", "1", "2"]
    big = SharedItems(_rendering(rendered), Counter({"large source": 2}), budget=one)
    assert big(_article("large source"), urls) == "<item>large source</item>"  # too big to keep: not an error
    assert big.kept == 0
