"""Durable writes (feedsvc/core/storage.py): the order of the system calls that
make a write survive a crash, failures that leave the old version whole, and
the start-up cleanup of temporary files a crash left behind."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

from feedsvc.core import storage
from feedsvc.core.storage import STALE_SECONDS, atomic_delete, atomic_write, remove_stale_temporaries

real_write, real_fsync, real_replace, real_open = os.write, os.fsync, os.replace, os.open


def is_temporary(descriptor: int) -> bool:
    return os.readlink(f"/proc/self/fd/{descriptor}").endswith(".tmp")


def test_atomic_write_creates_and_replaces(tmp_path: Path):
    target = tmp_path / "a.md"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["a.md"]  # no temporary file left


def test_atomic_write_uses_a_hidden_temporary_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    seen: list[str] = []

    def spy(source: str, target: str) -> None:
        seen.append(Path(source).name)
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", spy)
    atomic_write(tmp_path / "a.md", b"x")
    assert seen[0].startswith(".a.md.") and seen[0].endswith(".tmp")  # the watcher ignores hidden files


def test_atomic_write_fsyncs_the_file_before_the_rename_and_the_folder_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    target = tmp_path / "a.md"
    target.write_bytes(b"old")
    calls: list[tuple[str, int]] = []  # (what, inode)

    def fsync(descriptor: int) -> None:
        calls.append(("fsync", os.fstat(descriptor).st_ino))
        real_fsync(descriptor)

    def replace(source: str | Path, destination: str | Path) -> None:
        calls.append(("replace", os.stat(source).st_ino))
        real_replace(source, destination)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    atomic_write(target, b"new")
    monkeypatch.undo()

    assert target.read_bytes() == b"new"
    written, folder = os.stat(target).st_ino, os.stat(tmp_path).st_ino
    # The new file's data is on disk before its name points at it, and the rename is made durable after.
    assert calls == [("fsync", written), ("replace", written), ("fsync", folder)]


def test_atomic_write_handles_partial_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(os, "write", lambda descriptor, data: real_write(descriptor, bytes(data[:3])))
    atomic_write(tmp_path / "a.md", b"0123456789")
    monkeypatch.undo()
    assert (tmp_path / "a.md").read_bytes() == b"0123456789"


@pytest.mark.parametrize("failing", ["write", "fsync", "replace"])
def test_a_write_that_fails_leaves_the_old_version_whole_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
):
    target = tmp_path / "a.md"
    target.write_bytes(b"old version")

    def disk_full(*args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def on_temporary(real):  # fail only for our own temporary file, never anyone else's I/O
        return lambda descriptor, *rest: disk_full() if is_temporary(descriptor) else real(descriptor, *rest)

    replacement = {"write": on_temporary(real_write), "fsync": on_temporary(real_fsync), "replace": disk_full}
    monkeypatch.setattr(os, failing, replacement[failing])
    with pytest.raises(OSError) as raised:
        atomic_write(target, b"new version " * 1000)
    monkeypatch.undo()
    assert raised.value.errno == errno.ENOSPC
    assert target.read_bytes() == b"old version"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md"]


def test_a_write_into_a_folder_that_is_gone_raises(tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "gone" / "a.md", b"x")


def test_atomic_delete(tmp_path: Path):
    target = tmp_path / "a.md"
    target.write_bytes(b"x")
    assert atomic_delete(target) is True
    assert atomic_delete(target) is False  # no such file: the caller says 404
    with pytest.raises(FileNotFoundError):  # no such folder: not "no such article"
        atomic_delete(tmp_path / "gone" / "a.md")


def make(path: Path, age: float, now: float) -> Path:
    path.write_bytes(b"partial")
    os.utime(path, (now - age, now - age))
    return path


def test_stale_temporaries_are_removed_at_start_up_and_nothing_else(tmp_path: Path):
    now = time.time()
    old = STALE_SECONDS + 5
    stale = make(tmp_path / ".my-article.md.0123456789ab.tmp", old, now)
    also_stale = make(tmp_path / ".x.md.ffffffffffff.tmp", old, now)
    kept = [
        make(tmp_path / ".my-article.md.0123456789ab.tmp.bak", old, now),  # not exactly our name
        make(tmp_path / ".notes.tmp", old, now),  # a user's file
        make(tmp_path / ".draft.md.tmp", old, now),
        make(tmp_path / ".a.md.0123456789AB.tmp", old, now),  # upper-case hex: not ours
        make(tmp_path / ".a.md.0123456789a.tmp", old, now),  # 11 digits
        make(tmp_path / "a.md.0123456789ab.tmp", old, now),  # not hidden
        make(tmp_path / ".a.txt.0123456789ab.tmp", old, now),  # the API writes .md only
        make(tmp_path / ".fresh.md.0123456789ab.tmp", STALE_SECONDS - 5, now),  # a write in progress
        make(tmp_path / "article.md", old, now),
    ]
    (tmp_path / "sub").mkdir()
    kept.append(make(tmp_path / "sub" / ".b.md.0123456789ab.tmp", old, now))  # the API writes at the top only
    folder_named_like_one = tmp_path / ".c.md.0123456789ab.tmp"
    folder_named_like_one.mkdir()
    link = tmp_path / ".d.md.0123456789ab.tmp"
    link.symlink_to(tmp_path / "article.md")

    removed = remove_stale_temporaries(tmp_path, now=now)

    assert sorted(removed) == sorted([stale.name, also_stale.name])
    assert not stale.exists() and not also_stale.exists()
    assert all(path.exists() for path in kept)
    assert folder_named_like_one.is_dir() and link.is_symlink()


def test_stale_temporary_names_are_exactly_what_atomic_write_makes(tmp_path: Path):
    made = storage.temporary_for(tmp_path / "some-slug.md")
    assert storage.TEMPORARY.fullmatch(made.name)
    assert made.parent == tmp_path


def test_start_up_removes_stale_temporaries(tmp_path: Path):
    from feedsvc.core.publisher import Publisher

    now = time.time()
    stale = make(tmp_path / ".crashed.md.0123456789ab.tmp", STALE_SECONDS + 5, now)
    fresh = make(tmp_path / ".busy.md.0123456789ab.tmp", 1, now)
    Publisher(tmp_path).load()
    assert not stale.exists() and fresh.exists()


def test_an_unreadable_folder_is_left_to_the_loader(tmp_path: Path):
    assert remove_stale_temporaries(tmp_path / "missing") == []
