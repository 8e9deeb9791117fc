"""The composition root: what building an app does, and what only the server's start does."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import feedsvc.app as app_module
from feedsvc.app import create_app, serving_app
from feedsvc.settings import Settings

from .conftest import REPO


def test_create_app_neither_tunes_the_process_nor_writes_a_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    tuned: list[str] = []
    monkeypatch.setattr(app_module, "tune_memory", lambda: tuned.append("tune"))
    monkeypatch.setattr(app_module, "release_free_memory", lambda: tuned.append("release"))
    path = tmp_path / "snap"
    create_app(Settings(content=REPO / "seeds", snapshot=str(path)))
    time.sleep(0.2)  # a writer thread, were there one, would have had time to start
    assert tuned == []
    assert not path.exists()


def test_serving_app_tunes_the_process_and_writes_the_snapshot_after_a_full_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    tuned: list[str] = []
    monkeypatch.setattr(app_module, "tune_memory", lambda: tuned.append("tune"))
    monkeypatch.setattr(app_module, "release_free_memory", lambda: tuned.append("release"))
    path = tmp_path / "snap"
    serving_app(Settings(content=REPO / "seeds", snapshot=str(path)))
    assert tuned == ["release", "tune"]
    deadline = time.monotonic() + 20
    while not path.exists():  # written off the start-up path, by a thread
        assert time.monotonic() < deadline, "no snapshot written"
        time.sleep(0.05)
