"""The folder scan, and its copy in a process of its own for warm starts."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from feedsvc.folder import BackgroundScan, signatures
from feedsvc.live.publisher import Publisher

from .conftest import REPO


@pytest.fixture
def folder(tmp_path: Path) -> Path:
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
        if fields[1] == str(os.getpid()) and b"feedsvc.folder" in command:
            found.append(stat.parent.name)
    return found


def test_background_scan_gives_what_the_scan_here_gives(folder: Path, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="feedsvc.folder")
    assert BackgroundScan(folder).result() == signatures(folder)
    assert "in this process" not in caplog.text  # the child did it: no fallback
    assert "nested/deep.md" in signatures(folder) and ".hidden.md" not in signatures(folder)


def test_background_scan_that_fails_is_done_here(folder: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("sys.executable", shutil.which("false"))
    assert BackgroundScan(folder).result() == signatures(folder)


def test_background_scan_that_cannot_start_is_done_here(folder: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("sys.executable", str(folder / "no-such-python"))
    assert BackgroundScan(folder).result() == signatures(folder)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_an_unusable_snapshot_leaves_no_scan_process_behind(folder: Path, tmp_path: Path):
    for number in range(3000):  # enough signatures to fill a pipe the scan would block on
        (folder / f"bulk-{number}.md").write_text(f"---\ntitle: {number}\n---\n")
    path = tmp_path / "snapshot"
    path.write_bytes(b"not a pickle")
    path.chmod(0o600)
    assert Publisher(folder).load(path) == "full"
    assert scan_children() == []
