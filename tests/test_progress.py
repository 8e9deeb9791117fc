"""Progress of long loads: what a person at a terminal and a log see."""

from __future__ import annotations

import io
import logging
import shutil
import time
from pathlib import Path

import pytest

from feedsvc.content import loader
from feedsvc.content.loader import load_folder
from feedsvc.progress import _log_lines, reporting

from .conftest import REPO


def seeds_times(tmp_path: Path, copies: int) -> Path:
    """The seeds, ``copies`` times over: enough files for several chunks."""
    content = tmp_path / "content"
    for number in range(copies):
        shutil.copytree(REPO / "seeds", content / f"copy-{number}")
    return content


@pytest.mark.parametrize("workers", [1, 2])
def test_the_loader_reports_every_chunk_up_to_all_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int):
    monkeypatch.setattr(loader, "CHUNK", 20)
    monkeypatch.setattr(loader, "PARALLEL_THRESHOLD", 1)
    content = seeds_times(tmp_path, 3)
    heard: list[tuple[int, int]] = []
    result = load_folder(content, workers=workers, progress=lambda done, total: heard.append((done, total)))
    files = len(result.articles) + len(result.skipped)
    assert {total for _, total in heard} == {files}
    assert [done for done, _ in heard] == sorted(done for done, _ in heard)  # never backwards
    assert heard[-1] == (files, files)
    assert len(heard) >= files // 20


def test_what_the_workers_read_is_taken_in_as_it_comes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """This process reads what the workers sent after each chunk of its own. Read only once its
    own part was done, the workers' results waited in their memory (measured at 100,000 files:
    a worker grew to 140 MB, against 61 MB now), and progress counted this process's chunks alone."""
    monkeypatch.setattr(loader, "CHUNK", 10)
    monkeypatch.setattr(loader, "PARALLEL_THRESHOLD", 1)
    content = seeds_times(tmp_path, 3)
    read_here = loader._read_chunk

    def slowly(root: str, files: list[str], convert: loader.Convert) -> list[loader.Item[object]]:
        time.sleep(2.0)  # in this process only (a worker imports the module afresh): the worker reads on
        return read_here(root, files, convert)

    monkeypatch.setattr(loader, "_read_chunk", slowly)
    heard: list[int] = []
    result = load_folder(content, workers=2, progress=lambda done, total: heard.append(done))
    assert heard[-1] == len(result.articles) + len(result.skipped)
    assert heard[0] > 10  # after its first chunk, this process had taken in the worker's too


def test_log_lines_come_every_few_seconds_not_every_chunk(caplog: pytest.LogCaptureFixture):
    now = [0.0]
    update = _log_lines("reading x", lambda: now[0], every=5)
    with caplog.at_level(logging.INFO, logger="feedsvc.progress"):
        for done in range(0, 1001, 100):
            now[0] += 1.5  # a chunk every 1.5 s
            update(done, 1000)
    lines = [record.getMessage() for record in caplog.records]
    # 6 s in (300 done), then 12 s (700); never 5 s apart again before the end
    assert lines == ["reading x: 300 of 1000 files (30%)", "reading x: 700 of 1000 files (70%)"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_that_is_wiped_when_done(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("feedsvc.progress.BAR_DELAY", 0)
    screen = Terminal()
    with reporting("reading seeds", screen) as update:
        update(250, 1000)
        update(1000, 1000)
    drawn = screen.getvalue()
    assert "reading seeds" in drawn and "/1000" in drawn
    assert drawn.endswith("\r")  # wiped: the line is blanked and the cursor back at its start


def test_not_a_terminal_gets_no_bar(caplog: pytest.LogCaptureFixture):
    log = io.StringIO()
    with reporting("reading seeds", log) as update:
        update(1000, 1000)
    assert log.getvalue() == ""
