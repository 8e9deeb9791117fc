"""The folder scan, and its copy in a process of its own for warm starts."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from feedsvc.content.folder import BackgroundScan, article_paths, holds_at_least, is_article_name, signatures
from feedsvc.core.publisher import Publisher

from .conftest import REPO


@pytest.fixture
def seeds_nested_hidden(tmp_path: Path) -> Path:
    """The seeds, plus a nested article and a hidden file neither scan may list."""
    content = tmp_path / "content"
    shutil.copytree(REPO / "seeds", content)
    (content / "nested").mkdir()
    (content / "nested" / "deep.md").write_text("---\ntitle: x\n---\n")
    (content / ".hidden.md").write_text("not an article")
    return content


def scan_children() -> list[str]:
    """Our child processes that run the folder scan (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile
        if fields[1] == str(os.getpid()) and b"feedsvc.content.folder" in command:
            found.append(stat.parent.name)
    return found


def test_background_scan_gives_what_the_scan_here_gives(seeds_nested_hidden: Path, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="feedsvc.content.folder")
    assert BackgroundScan(seeds_nested_hidden).result() == signatures(seeds_nested_hidden)
    assert "in this process" not in caplog.text  # the child did it: no fallback
    assert "nested/deep.md" in signatures(seeds_nested_hidden) and ".hidden.md" not in signatures(seeds_nested_hidden)


def test_background_scan_that_fails_is_done_here(seeds_nested_hidden: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("sys.executable", shutil.which("false"))
    assert BackgroundScan(seeds_nested_hidden).result() == signatures(seeds_nested_hidden)


def test_background_scan_that_cannot_start_is_done_here(seeds_nested_hidden: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("sys.executable", str(seeds_nested_hidden / "no-such-python"))
    assert BackgroundScan(seeds_nested_hidden).result() == signatures(seeds_nested_hidden)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_an_unusable_snapshot_leaves_no_scan_process_behind(seeds_nested_hidden: Path, tmp_path: Path):
    for number in range(3000):  # enough signatures to fill a pipe the scan would block on
        (seeds_nested_hidden / f"bulk-{number}.md").write_text(f"---\ntitle: {number}\n---\n")
    path = tmp_path / "snapshot"
    path.write_bytes(b"not a pickle")
    path.chmod(0o600)
    assert Publisher(seeds_nested_hidden).load(path) == "full"
    assert scan_children() == []


# Every kind of name the rule decides on, and whether it is an article.
NAMES = {
    "a.md": True,
    "B.MD": True,
    "c.markdown": True,
    "d.txt": True,
    "e.yaml": True,
    "f.Yml": True,
    "g.tar.md": True,
    "data.json": False,
    "no-suffix": False,
    "trailing-dot.": False,
    "md": False,
    ".hidden.md": False,
    "backup.md~": False,
    "notes.md.swp": False,
    ".notes.md.swp": False,
    "README.md": False,
    "readme.txt": False,
    "ReadMe-draft.md": False,
    "sub/ok.md": True,
    "sub/README.md": False,
    "sub/.x.md": False,
    "sub/.hidden/x.md": False,
    "sub/deeper/.git/y.md": False,
    ".git/config.md": False,
    "old~/x.md": False,
    "README/inside.md": True,  # only a README file is left out, not a folder of that name
    "a/b/c/d.yml": True,
}


def test_the_scan_and_the_name_rule_agree_on_every_kind_of_name(tmp_path: Path):
    root = tmp_path / "content"
    for name in NAMES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("---\ntitle: x\n---\n")
    scanned = {path.relative_to(root).as_posix() for path in article_paths(root)}
    assert scanned == set(signatures(root))
    named = {name for name in NAMES if is_article_name(root / name, root)}
    assert scanned == named == {name for name, article in NAMES.items() if article}


def test_the_name_rule_refuses_what_is_not_below_the_root(tmp_path: Path):
    assert not is_article_name(tmp_path / "a.md", tmp_path / "content")
    assert not is_article_name(tmp_path, tmp_path)


def test_holds_at_least_counts_what_the_scan_lists(seeds_nested_hidden: Path) -> None:
    listed = len(article_paths(seeds_nested_hidden))
    (seeds_nested_hidden / ".hidden-folder").mkdir()
    (seeds_nested_hidden / ".hidden-folder" / "x.md").write_text("---\ntitle: x\n---\n")
    assert holds_at_least(str(seeds_nested_hidden), listed)
    assert not holds_at_least(str(seeds_nested_hidden), listed + 1)
    assert holds_at_least(str(seeds_nested_hidden / "nested"), 1)
    assert not holds_at_least(str(seeds_nested_hidden / "missing"), 1)
    assert holds_at_least(str(seeds_nested_hidden / "missing"), 0)
