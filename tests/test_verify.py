"""After a start from the snapshot, another process compares the folder with it (core.verify)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from feedsvc.core import verify
from feedsvc.core.index import ALL
from feedsvc.core.publisher import Publisher

from .conftest import article, front_matter


def _saved(folder: Path, tmp_path: Path) -> Path:
    path = tmp_path / "snap"
    cold = Publisher(folder)
    cold.load(path)
    cold.save_snapshot(path)
    return path


def _titles(publisher: Publisher) -> list[str]:
    return [a.title for a in publisher.index.select(ALL, 500)]


def _edit(path: Path, old: str, new: str) -> None:
    time.sleep(0.01)  # another mtime, whatever the file system's resolution
    path.write_text(path.read_text().replace(old, new))


def test_the_check_finds_changed_new_and_deleted_files_against_the_snapshot_loaded(folder: Path, tmp_path: Path):
    path = _saved(folder, tmp_path)
    publisher = Publisher(folder)
    assert publisher.load(path, verify=False) == "snapshot"
    seed = folder / "000_84d0586a3992f50e.md"
    _edit(seed, 'title: "U.S. cities', 'title: "CHANGED U.S. cities')
    (folder / "new.md").write_text(front_matter(article(title="Added while down")))
    victim = sorted(folder.glob("20*.md"))[0]
    victim.unlink()
    check = verify.BackgroundCheck(publisher.root, path)
    found = check.result()
    assert found is not None
    crc, changed = found
    assert sorted(changed) == sorted([seed.name, "new.md", victim.name])
    assert publisher._unchecked is not None and publisher._unchecked[1:] == (path, crc)  # the snapshot it serves
    assert sorted(publisher.catch_up()) == sorted(folder / name for name in changed)


def test_a_snapshot_replaced_after_the_start_is_not_compared_with(folder: Path, tmp_path: Path):
    path = _saved(folder, tmp_path)
    publisher = Publisher(folder)
    assert publisher.load(path, verify=False) == "snapshot"
    seed = folder / "000_84d0586a3992f50e.md"
    _edit(seed, 'title: "U.S. cities', 'title: "CHANGED U.S. cities')
    # Another process saves the folder as it is now to the same path: compared with that
    # snapshot, nothing changed; compared with what this publisher serves, the seed did.
    other = Publisher(folder)
    assert other.load(None) == "full"
    other.save_snapshot(path)
    assert verify.changes_since(path, publisher.root) is not None
    assert verify.changes_since(path, publisher.root)[1] == []  # type: ignore[index]
    changed = publisher.catch_up()
    assert changed == [seed]
    publisher.refresh(changed)
    assert any(title.startswith("CHANGED") for title in _titles(publisher))


def test_files_this_process_changed_after_the_start_are_compared_again(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = _saved(folder, tmp_path)
    publisher = Publisher(folder)
    assert publisher.load(path, verify=False) == "snapshot"
    crc = publisher._unchecked.crc  # type: ignore[union-attr]
    (folder / "api.md").write_text(front_matter(article(title="Written by the API")))
    publisher.refresh([folder / "api.md"])  # as an API write publishes it, before the comparison
    monkeypatch.setattr(verify.BackgroundCheck, "result", lambda self: (crc, []))
    assert publisher.catch_up() == [folder / "api.md"]


def test_a_check_that_cannot_read_the_snapshot_leaves_the_comparison_to_the_server(folder: Path, tmp_path: Path):
    path = _saved(folder, tmp_path)
    publisher = Publisher(folder)
    assert publisher.load(path, verify=False) == "snapshot"
    replacement = tmp_path / "replacement"
    replacement.write_bytes(b"not a snapshot")
    replacement.replace(path)  # never written in place: the publisher maps the file it loaded
    assert verify.BackgroundCheck(publisher.root, path).result() is None
    (folder / "new.md").write_text(front_matter(article(title="Added while down")))
    assert publisher.catch_up() == [folder / "new.md"]
