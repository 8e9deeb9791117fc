from __future__ import annotations

from pathlib import Path

import pytest

from feedsvc.live.storage import atomic_delete, atomic_write


def test_atomic_write_creates_and_replaces(tmp_path: Path):
    target = tmp_path / "a.md"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["a.md"]  # no temporary file left


def test_atomic_write_crash_before_rename_leaves_the_old_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    target = tmp_path / "a.md"
    target.write_bytes(b"old")

    def crash(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("feedsvc.live.storage.os.replace", crash)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.md"]


def test_atomic_write_uses_a_hidden_temporary_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    seen: list[str] = []
    real_replace = __import__("os").replace

    def spy(source: str, target: str) -> None:
        seen.append(Path(source).name)
        real_replace(source, target)

    monkeypatch.setattr("feedsvc.live.storage.os.replace", spy)
    atomic_write(tmp_path / "a.md", b"x")
    assert seen[0].startswith(".a.md.") and seen[0].endswith(".tmp")  # the watcher ignores hidden files


def test_atomic_delete(tmp_path: Path):
    target = tmp_path / "a.md"
    target.write_bytes(b"x")
    assert atomic_delete(target) is True
    assert atomic_delete(target) is False
