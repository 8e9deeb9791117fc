"""The write API when the disk says no: full, read-only, not ours, or gone.

Each fault must give a clear answer (507 for a full disk, 503 otherwise),
change nothing (the previous version stays whole, no temporary file is left),
log one line without a traceback, and leave the service serving.

Most faults are simulated by making the system call fail for our own
temporary file only (os.write, os.fsync, os.open are monkeypatched; every
other file's I/O goes through). Where the machine allows mounting (root, as in
the development container), a tiny tmpfs makes the disk really full and really
read-only; elsewhere those two tests skip.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import feedparser
import pytest
from starlette.testclient import TestClient

from .conftest import article, front_matter

TOKEN = "fault-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MARKDOWN = {**AUTH, "Content-Type": "text/markdown"}
real_open, real_write, real_fsync = os.open, os.write, os.fsync


@pytest.fixture
def api(folder: Path, client_for: Callable[..., TestClient]) -> TestClient:
    client = client_for(folder, api_token=TOKEN)
    assert client.put(
        "/api/articles/kept", json=article(title="Version one", topics=["Faults"]), headers=AUTH
    ).is_success
    return client


def titles(client: TestClient, path: str = "/feeds/topics/faults.rss") -> list[str]:
    response = client.get(path)
    assert response.status_code == 200
    return [entry.title for entry in feedparser.parse(response.content).entries]


def is_temporary(descriptor: int) -> bool:
    return os.readlink(f"/proc/self/fd/{descriptor}").endswith(".tmp")


def failing(code: int) -> OSError:
    return OSError(code, os.strerror(code))


def fail_on_temporary(monkeypatch: pytest.MonkeyPatch, call: str, code: int) -> None:
    """Make os.<call> fail with ``code`` for the API's temporary files, and only for them."""
    if call == "open":

        def fake_open(path: str | Path, flags: int, mode: int = 0o777, **kwargs: object) -> int:
            if str(path).endswith(".tmp"):
                raise failing(code)
            return real_open(path, flags, mode, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "open", fake_open)
        return
    real = {"write": real_write, "fsync": real_fsync}[call]

    def fake(descriptor: int, *rest: object) -> object:
        if is_temporary(descriptor):
            raise failing(code)
        return real(descriptor, *rest)

    monkeypatch.setattr(os, call, fake)


def assert_nothing_changed(api: TestClient, folder: Path, before: str) -> None:
    assert (folder / "kept.md").read_text() == before  # the previous version, whole
    assert not list(folder.glob(".*.tmp"))  # no temporary file left
    assert titles(api) == ["Version one"]  # the feeds serve what they served
    got = api.get("/api/articles/kept", headers=AUTH)
    assert got.status_code == 200 and got.json()["article"]["title"] == "Version one"


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert any("write API:" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


@pytest.mark.parametrize("call", ["write", "fsync"])
@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_disk_full_during_a_write_is_507_and_changes_nothing(
    api: TestClient,
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    call: str,
    code: int,
):
    before = (folder / "kept.md").read_text()
    fail_on_temporary(monkeypatch, call, code)
    version_two = article(title="Version two", topics=["Faults"])
    for response in (
        api.put("/api/articles/kept", json=version_two, headers=AUTH),
        api.put("/api/articles/kept", content=front_matter(version_two), headers=MARKDOWN),
    ):
        assert response.status_code == 507
        assert "disk of the content folder is full" in response.text and "kept.md was not written" in response.text
        assert response.headers["content-type"].startswith("text/plain")
    assert api.put("/api/articles/new-one", json=article(title="New"), headers=AUTH).status_code == 507
    assert not (folder / "new-one.md").exists()
    assert_nothing_changed(api, folder, before)
    assert_no_traceback(caplog)
    monkeypatch.undo()  # space again: the service writes as before
    assert api.put("/api/articles/kept", json=article(title="Version two", topics=["Faults"]), headers=AUTH).is_success
    assert titles(api) == ["Version two"]


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.EACCES, "not writable (Permission denied)"),
        (errno.EPERM, "not writable (Operation not permitted)"),
        (errno.EROFS, "not writable (Read-only file system)"),
        (errno.EIO, "could not be written: Input/output error"),
    ],
)
def test_a_folder_we_cannot_write_is_503_and_changes_nothing(
    api: TestClient,
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    code: int,
    words: str,
):
    before = (folder / "kept.md").read_text()
    fail_on_temporary(monkeypatch, "open", code)
    response = api.put("/api/articles/kept", json=article(title="Version two"), headers=AUTH)
    assert response.status_code == 503
    assert words in response.text and "the feeds keep serving what they served" in response.text
    assert_nothing_changed(api, folder, before)
    assert_no_traceback(caplog)


def test_a_delete_the_folder_refuses_is_503(
    api: TestClient, folder: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    before = (folder / "kept.md").read_text()

    def refuse(path: str | Path, *args: object, **kwargs: object) -> None:
        raise failing(errno.EROFS)

    monkeypatch.setattr(os, "unlink", refuse)
    response = api.delete("/api/articles/kept", headers=AUTH)
    monkeypatch.undo()
    assert response.status_code == 503 and "kept.md was not deleted" in response.text
    assert_nothing_changed(api, folder, before)
    assert_no_traceback(caplog)


def test_a_content_folder_that_disappears(folder: Path, client_for: Callable[..., TestClient]):
    client = client_for(folder, api_token=TOKEN)
    with client:  # the lifespan runs: the watcher sees the folder go
        created = client.put("/api/articles/kept", json=article(title="Version one", topics=["Faults"]), headers=AUTH)
        assert created.status_code == 201
        shutil.rmtree(folder)
        time.sleep(0.5)  # the watcher has seen every file go (it gathers events for 50 ms)
        put = client.put("/api/articles/kept", json=article(title="Version two", topics=["Faults"]), headers=AUTH)
        assert put.status_code == 503 and "the content folder is gone" in put.text
        delete = client.delete("/api/articles/kept", headers=AUTH)
        assert delete.status_code == 503 and "the content folder is gone" in delete.text
        assert "not found" not in delete.text.lower()
        # Readers and the API keep the last good state.
        assert titles(client) == ["Version one"]
        got = client.get("/api/articles/kept", headers=AUTH)
        assert got.status_code == 200 and got.json()["article"]["title"] == "Version one"
        assert client.get("/api/articles", headers=AUTH).status_code == 200


# --- The real thing, where the machine lets us mount a tiny file system ----------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs (needs root and mount rights; skips elsewhere)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path) -> int | None:
    """Write to ``path`` until the disk is full; return the error number that stopped it."""
    with path.open("wb", buffering=0) as handle:
        while True:
            try:
                handle.write(b"\0" * 4096)
            except OSError as exc:
                return exc.errno


def published_once(tiny_disk: Path, client_for: Callable[..., TestClient]) -> tuple[Path, TestClient, str]:
    """A content folder on the tiny disk with one article written through the API: folder, client, its text."""
    folder = tiny_disk / "content"
    folder.mkdir()
    client = client_for(folder, api_token=TOKEN)
    created = client.put("/api/articles/kept", json=article(title="Version one", topics=["Faults"]), headers=AUTH)
    assert created.status_code == 201
    return folder, client, (folder / "kept.md").read_text()


def test_a_really_full_disk_is_507(
    tiny_disk: Path, client_for: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
):
    folder, client, before = published_once(tiny_disk, client_for)
    filler = tiny_disk / "filler"
    assert fill(filler) == errno.ENOSPC
    big = article(title="Version two", topics=["Faults"], excerpt="x" * 20_000)
    response = client.put("/api/articles/kept", json=big, headers=AUTH)
    assert response.status_code == 507 and "full" in response.text
    assert_nothing_changed(client, folder, before)
    assert_no_traceback(caplog)
    filler.unlink()
    assert client.put("/api/articles/kept", json=big, headers=AUTH).status_code == 200


def test_a_really_read_only_folder_is_503(
    tiny_disk: Path, client_for: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
):
    folder, client, before = published_once(tiny_disk, client_for)
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
    response = client.put("/api/articles/kept", json=article(title="Version two", topics=["Faults"]), headers=AUTH)
    assert response.status_code == 503 and "Read-only file system" in response.text
    delete = client.delete("/api/articles/kept", headers=AUTH)
    assert delete.status_code == 503 and "Read-only file system" in delete.text
    assert_nothing_changed(client, folder, before)
    assert_no_traceback(caplog)
