"""Start-up snapshots: fast restarts that never serve stale or foreign content."""

from __future__ import annotations

import gc
import logging
import marshal
import os
import pickle
import time
import weakref
import zlib
from array import array
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from feedsvc.content.folder import signatures
from feedsvc.content.model import Article, Image
from feedsvc.core import snapshot
from feedsvc.core.index import ALL, FeedKind, FeedRef, Index
from feedsvc.core.publisher import Publisher
from feedsvc.core.sizes import SizeBook

from .conftest import article, front_matter


def titles(publisher: Publisher) -> list[str]:
    return [a.title for a in publisher.index.select(ALL, 500)]


def test_snapshot_round_trip_gives_the_same_index(folder: Path, tmp_path: Path):
    path = tmp_path / "snap"
    cold = Publisher(folder)
    assert cold.load(path) == "full"
    cold.save_snapshot(path)
    warm = Publisher(folder)
    assert warm.load(path) == "snapshot"
    assert titles(warm) == titles(cold)
    assert [a.guid for a in warm.index.articles] == [a.guid for a in cold.index.articles]
    assert warm.index.unpublished_count == cold.index.unpublished_count


def test_snapshot_keeps_the_files_at_each_url(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    """URLs held by one file and by several, interleaved: the saved table (each URL's rows
    together) reads back as the compact map, equal to the one saved."""
    folder = tmp_path / "content"
    folder.mkdir()
    for n, shared in enumerate([0, 1, 2, 0, 3, 1, 0, 4]):
        url = f"https://e.org/{shared}"
        (folder / f"{n}.md").write_text(front_matter(article(title=f"A{n}", webUrl=url, originalUrl=url)))
    path = tmp_path / "snap"
    cold = Publisher(folder)
    cold.load(path)
    cold.save_snapshot(path)
    saved = snapshot.load(path, folder)
    assert saved is not None
    made = saved.parts.by_url
    by_url = made() if callable(made) else made
    assert type(by_url).__name__ == "UrlNumbers"  # not the fallback that makes it again
    expected = {key: value for key, value in cold.index.parts().by_url().items()}  # type: ignore[operator]
    assert dict(by_url.items()) == expected
    assert sum(isinstance(value, list) for value in expected.values()) == 2
    assert "does not add up" not in caplog.text


def test_snapshot_rereads_changed_new_and_deleted_files(folder: Path, tmp_path: Path):
    path = tmp_path / "snap"
    cold = Publisher(folder)
    cold.load(path)
    cold.save_snapshot(path)
    time.sleep(0.01)
    seed = folder / "000_84d0586a3992f50e.md"
    seed.write_text(seed.read_text().replace('title: "U.S. cities', 'title: "CHANGED U.S. cities'))
    (folder / "new.md").write_text(front_matter(article(title="Added while down", topics=["Downtime"])))
    victim = next(p for p in sorted(folder.glob("20*.md")) if "published: true" in p.read_text())
    victim_title = next(a.title for a in cold.index.articles if a.source == victim.name)
    victim.unlink()
    warm = Publisher(folder)
    assert warm.load(path) == "snapshot"
    found = titles(warm)
    assert any(t.startswith("CHANGED") for t in found)
    assert "Added while down" in found and victim_title not in found
    assert warm.index.info(FeedRef(FeedKind.TOPIC, "downtime")) is not None


def test_snapshot_of_another_folder_is_ignored(folder: Path, tmp_path: Path):
    path = tmp_path / "snap"
    other = tmp_path / "other"
    other.mkdir()
    (other / "only.md").write_text(front_matter(article(title="Only in other")))
    first = Publisher(other)
    first.load(path)
    first.save_snapshot(path)
    publisher = Publisher(folder)
    assert publisher.load(path) == "full"
    assert "Only in other" not in titles(publisher)


def test_snapshot_that_is_broken_is_ignored(folder: Path, tmp_path: Path):
    path = tmp_path / "snap"
    path.write_bytes(b"not a pickle at all")
    assert Publisher(folder).load(path) == "full"


def test_snapshot_cannot_run_code(folder: Path, tmp_path: Path):
    # marshal can build a code object (never run it); a header holding one, or a pickle, is refused.
    marker = tmp_path / "pwned"
    code = compile(f"open({str(marker)!r}, 'w')", "<snapshot>", "exec")
    path = _saved(folder, tmp_path)
    _tamper(path, lambda header: header.update(sources=[code] * header["count"]))
    assert Publisher(folder).load(path) == "full"
    _tamper(path, lambda header: header.update(held=[code]))
    assert Publisher(folder).load(path) == "full"
    path.write_bytes(snapshot.MAGIC + pickle.dumps({"identity": snapshot.identity()}))
    assert Publisher(folder).load(path) == "full"
    assert not marker.exists()


def test_snapshot_default_path_is_per_folder(tmp_path: Path):
    assert snapshot.default_path(tmp_path / "a") != snapshot.default_path(tmp_path / "b")
    assert snapshot.default_path(tmp_path / "a").parent.name == "feedsvc"


def test_snapshot_is_skipped_when_most_files_changed(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "snap"
    cold = Publisher(folder)
    cold.load(path)
    cold.save_snapshot(path)
    monkeypatch.setattr("feedsvc.core.publisher.PARALLEL_THRESHOLD", 1)
    time.sleep(0.01)
    for changed in sorted(folder.glob("20*.md"))[:20]:
        changed.write_text(changed.read_text() + "\n")
    assert Publisher(folder).load(path) == "full"  # 20 of 58 files changed: a full load is the faster way


def _forged(folder: Path, tmp_path: Path, articles: list[Article]) -> Path:
    """A snapshot of these articles, made as feedsvc makes one, beside the folder as it is."""
    path = tmp_path / "forged"
    state = snapshot.Snapshot(Index(articles).parts(), [], [], signatures(folder), SizeBook().digest())
    snapshot.save(path, folder, state)
    return path


def _tamper(path: Path, change: Callable[[dict[str, Any]], object]) -> None:
    """Change a saved snapshot's header (and give it the right checksum, so that the checks behind it are reached)."""
    data = path.read_bytes()
    magic, length, _ = snapshot._PREFIX.unpack_from(data)
    header = marshal.loads(data[snapshot._PREFIX.size : snapshot._PREFIX.size + length])
    change(header)
    encoded = marshal.dumps(header)
    rest = data[snapshot._PREFIX.size + length :]
    path.write_bytes(snapshot._PREFIX.pack(magic, len(encoded), zlib.crc32(encoded)) + encoded + rest)


def test_snapshot_with_an_article_from_no_file_is_ignored(folder: Path, tmp_path: Path):
    when = datetime(2030, 1, 1, tzinfo=UTC)
    ghost = Article("ghost.md", "Injected", "javascript:alert(1)", when, when, body_html="<script>alert(1)</script>")
    publisher = Publisher(folder)
    publisher.load(_forged(folder, tmp_path, [ghost]))  # a file the folder does not have: it is gone, not served
    assert "Injected" not in titles(publisher) and publisher.index.article("ghost.md") is None


def _swap_first_two(header: dict[str, Any]) -> None:
    offsets = array("Q", header["offsets"])
    offsets[1] = offsets[2] + 1
    header["offsets"] = offsets.tobytes()


def _member_out_of_range(header: dict[str, Any]) -> None:
    kind, key, name, updated, logo, _ = header["feeds"][0]
    header["feeds"][0] = (kind, key, name, updated, logo, array("I", [header["count"]]).tobytes())


@pytest.mark.parametrize(
    "change",
    [
        lambda h: h.update(count=h["count"] + 1),
        lambda h: h.update(offsets=h["offsets"][:-8]),
        _swap_first_two,
        lambda h: h.update(published_us=h["published_us"] + b"\0"),
        lambda h: h.update(sources=[*h["sources"][:-1], h["sources"][0]]),  # one file twice
        lambda h: h.update(sources=[*h["sources"][:-1], b"bytes.md"]),
        _member_out_of_range,
        lambda h: h.update(feeds=[f for f in h["feeds"] if f[0] != "all"]),
        lambda h: h.update(feeds=[("nope", *f[1:]) for f in h["feeds"]]),
        lambda h: h.update(feeds=[f[:5] for f in h["feeds"]]),
        lambda h: h.update(
            feeds=[(*f[:4], ("https://e.org/logo.png", "50", None, None, ""), f[5]) for f in h["feeds"]]
        ),
        lambda h: h.update(names=[("topics", "ai", (("AI", "1"),))]),
        lambda h: h.update(held=[("a.md", 0, b"not a record")]),
        lambda h: h.update(skipped=[("a.md", None)]),
        lambda h: h.update(unpublished="0"),
        lambda h: h.update(extra=1),
        lambda h: h.pop("sizes"),
    ],
)
def test_snapshot_that_does_not_add_up_is_ignored_not_fatal(
    folder: Path, tmp_path: Path, change: Callable[[dict[str, Any]], object]
):
    path = _saved(folder, tmp_path)
    _tamper(path, change)
    assert Publisher(folder).load(path) == "full"


def test_snapshot_tampered_with_no_change_is_accepted(folder: Path, tmp_path: Path):
    # The test above reaches each check: rewriting the header as it was passes them all.
    path = _saved(folder, tmp_path)
    _tamper(path, lambda header: None)
    assert Publisher(folder).load(path) == "snapshot"


def _damage_section(path: Path, name: str) -> None:
    """Flip a byte in one of the sections read on first use (their own checksum no longer matches)."""
    data = bytearray(path.read_bytes())
    _, length, _ = snapshot._PREFIX.unpack_from(data)
    header = marshal.loads(bytes(data[snapshot._PREFIX.size : snapshot._PREFIX.size + length]))
    start = snapshot._PREFIX.size + length
    for section, (size, _) in zip(snapshot.SECTIONS, header["sections"], strict=True):
        if section == name:
            data[start + size // 2] ^= 0xFF
        start += size
    path.write_bytes(bytes(data))


def test_snapshot_with_damaged_signatures_reads_every_file_again(folder: Path, tmp_path: Path):
    path = _saved(folder, tmp_path)
    _damage_section(path, "signatures")
    victim = next(p for p in sorted(folder.glob("20*.md")) if "published: true" in p.read_text())
    victim.unlink()
    warm = Publisher(folder)
    warm.load(path)
    cold = Publisher(folder)
    cold.load(None)
    assert titles(warm) == titles(cold) and warm.index.article(victim.name) is None


def test_snapshot_with_a_damaged_url_table_makes_it_again(folder: Path, tmp_path: Path):
    path = _saved(folder, tmp_path)
    _damage_section(path, "by_url")
    warm = Publisher(folder)
    assert warm.load(path) == "snapshot"
    seed = warm.index.article("000_84d0586a3992f50e.md")
    assert seed is not None
    (folder / "copy.md").write_text((folder / "000_84d0586a3992f50e.md").read_text())  # the same URL again
    warm.refresh([folder / "copy.md"])
    copy = warm.index.article("copy.md")
    assert copy is not None and copy.guid != seed.guid and copy.guid.startswith(seed.url)


def test_snapshot_served_before_the_folder_is_compared_until_catch_up(folder: Path, tmp_path: Path):
    path = _saved(folder, tmp_path)
    (folder / "new.md").write_text(front_matter(article(title="Added while down")))
    publisher = Publisher(folder)
    assert publisher.load(path, verify=False) == "snapshot"
    assert "Added while down" not in titles(publisher)  # what the snapshot held, at once
    changed = publisher.catch_up()
    assert changed == [folder / "new.md"]
    publisher.refresh(changed)
    assert "Added while down" in titles(publisher)


@pytest.mark.parametrize("cut", [1, 100])
def test_snapshot_damaged_or_cut_short_is_ignored(folder: Path, tmp_path: Path, cut: int):
    path = _saved(folder, tmp_path)
    data = bytearray(path.read_bytes())
    data[snapshot._PREFIX.size + 10] ^= 0xFF  # in the header: its checksum no longer matches
    path.write_bytes(bytes(data))
    assert Publisher(folder).load(path) == "full"
    path = _saved(folder, tmp_path)
    path.write_bytes(path.read_bytes()[:-cut])  # the records end early
    assert Publisher(folder).load(path) == "full"


def test_snapshot_of_the_old_pickle_format_is_ignored(folder: Path, tmp_path: Path):
    path = tmp_path / "snap"
    path.write_bytes(pickle.dumps({"identity": "whatever", "articles": []}))
    path.chmod(0o600)
    assert Publisher(folder).load(path) == "full"


def test_snapshot_made_by_another_python_is_ignored(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # Its records are marshal data, whose format belongs to one Python version.
    path = _saved(folder, tmp_path)
    monkeypatch.setattr(snapshot.sys, "version_info", (3, 99, 0))
    assert Publisher(folder).load(path) == "full"


def test_snapshot_writable_by_others_is_ignored(folder: Path, tmp_path: Path):
    path = tmp_path / "snap"
    cold = Publisher(folder)
    cold.load(path)
    cold.save_snapshot(path)
    assert path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o666)
    assert Publisher(folder).load(path) == "full"


def _saved(folder: Path, tmp_path: Path) -> Path:
    path = tmp_path / "snap"
    cold = Publisher(folder)
    cold.load(path)
    cold.save_snapshot(path)
    assert Publisher(folder).load(path) == "snapshot"  # usable as it is
    return path


def test_snapshot_owned_by_another_user_is_ignored(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = _saved(folder, tmp_path)
    me = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: me + 1)  # as seen by another user, the file is not theirs
    assert Publisher(folder).load(path) == "full"


@pytest.mark.skipif(os.getuid() != 0, reason="only root can give a file away")
def test_snapshot_given_away_by_root_is_ignored(folder: Path, tmp_path: Path):
    path = _saved(folder, tmp_path)
    os.chown(path, 65534, 65534)  # nobody
    assert Publisher(folder).load(path) == "full"


@pytest.mark.parametrize("mode", [0o620, 0o602])
def test_snapshot_writable_by_group_or_others_is_ignored(folder: Path, tmp_path: Path, mode: int):
    path = _saved(folder, tmp_path)
    path.chmod(mode)
    assert Publisher(folder).load(path) == "full"


def _with_new_field(monkeypatch: pytest.MonkeyPatch, kind: type, name: str, hint: object, default: object) -> None:
    """Change the model as adding ``name: hint = default`` to its class would."""
    monkeypatch.setattr(kind, "_fields", (*kind._fields, name))  # type: ignore[attr-defined]
    monkeypatch.setattr(kind, "_field_defaults", {**kind._field_defaults, name: default})  # type: ignore[attr-defined]
    monkeypatch.setattr(kind, "__annotations__", {**kind.__annotations__, name: hint})


@pytest.mark.parametrize("kind", snapshot.MODEL)
def test_snapshot_identity_changes_with_every_model_record(monkeypatch: pytest.MonkeyPatch, kind: type):
    before = snapshot.identity()
    _with_new_field(monkeypatch, kind, "language", "str", "")
    assert snapshot.identity() != before


def test_snapshot_identity_changes_with_a_field_type_or_default(monkeypatch: pytest.MonkeyPatch):
    before = snapshot.identity()
    monkeypatch.setattr(Article, "_field_defaults", {**Article._field_defaults, "kind": "video"})
    assert snapshot.identity() != before
    monkeypatch.undo()
    monkeypatch.setattr(Image, "__annotations__", {**Image.__annotations__, "width": "float | None"})
    assert snapshot.identity() != before
    monkeypatch.undo()
    assert snapshot.identity() == before  # and it is stable while nothing changes


def test_snapshot_identity_changes_with_the_version(monkeypatch: pytest.MonkeyPatch):
    before = snapshot.identity()
    monkeypatch.setattr(snapshot, "__version__", "99.0.0")
    assert snapshot.identity() != before


def test_snapshot_made_before_a_model_change_is_ignored(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # A warm start from it would serve the new field's default for every
    # unchanged file, where a cold start has what the parser fills in.
    path = _saved(folder, tmp_path)
    _with_new_field(monkeypatch, Article, "language", "str", "")
    assert Publisher(folder).load(path) == "full"


def test_saving_and_adopting_the_snapshot_changes_nothing_readers_see(folder: Path, tmp_path: Path):
    publisher = Publisher(folder)
    publisher.load(None)
    before = publisher.index
    feeds = {ref: (info, [a.guid for a in before.select(ref, 500)]) for ref, info in before._info.items()}
    generation, unpublished = before.generation, before.unpublished_count
    store = weakref.ref(before.store)
    del before
    gc.disable()  # as in a server: everything loaded is frozen out of the collector's sight
    try:
        publisher.save_snapshot(tmp_path / "snap", adopt=True)
        assert store() is None  # the heap's records are freed at once
    finally:
        gc.enable()
    after = publisher.index
    assert after.store.mapped  # now read from the file
    assert after.generation == generation and after.unpublished_count == unpublished
    assert {ref: (after.info(ref), [a.guid for a in after.select(ref, 500)]) for ref in feeds} == feeds
    (folder / "new.md").write_text(front_matter(article(title="After adopting", topics=["Adopted"])))
    publisher.refresh([folder / "new.md"])
    assert "After adopting" in titles(publisher)


def test_adopting_is_skipped_when_a_change_came_in_meanwhile(folder: Path, tmp_path: Path, monkeypatch):
    publisher = Publisher(folder)
    publisher.load(None)
    save = snapshot.save

    def save_then_change(*args: Any) -> None:
        save(*args)
        (folder / "new.md").write_text(front_matter(article(title="Meanwhile")))
        publisher.refresh([folder / "new.md"])

    monkeypatch.setattr(snapshot, "save", save_then_change)
    publisher.save_snapshot(tmp_path / "snap", adopt=True)
    assert "Meanwhile" in titles(publisher)


def test_a_large_full_load_runs_apart_and_is_served_from_its_snapshot(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr("feedsvc.core.publisher.PARALLEL_THRESHOLD", 10)  # the seeds count as large
    path = tmp_path / "snap"
    stale = folder / ".000_84d0586a3992f50e.md.0123456789ab.tmp"  # an API write a crash interrupted
    stale.write_text("half an article")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    apart = Publisher(folder)
    assert apart.load(path, apart=True) == "full"
    assert apart.saved_to == path and apart.index.store.mapped  # read by the child, mapped here
    here = Publisher(folder)
    here.load(None)
    assert titles(apart) == titles(here)
    assert [a.guid for a in apart.index.articles] == [a.guid for a in here.index.articles]
    # Served from the file the child wrote, which is synced and put in place meanwhile:
    # the first comparison with the folder waits for that, then compares with it.
    assert apart.catch_up() == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["content", "snap"]  # nothing left behind
    assert not stale.exists()  # cleared by that first comparison, as after any start from the snapshot
    assert Publisher(folder).load(path) == "snapshot"  # and the next start is a warm one


def test_snapshots_a_crash_left_half_written_are_cleared_at_start_up(folder: Path, tmp_path: Path):
    path = _saved(folder, tmp_path)
    old, young = tmp_path / ".snap.0123456789ab.tmp", tmp_path / ".snap.ba9876543210.tmp"
    other = tmp_path / ".other.0123456789ab.tmp"  # not this snapshot's: not ours to remove
    for leftover in (old, young, other):
        leftover.write_bytes(b"half a snapshot")
    stale = time.time() - 3600
    os.utime(old, (stale, stale))
    os.utime(other, (stale, stale))
    assert Publisher(folder).load(path) == "snapshot"
    assert not old.exists() and young.exists() and other.exists()  # a young one may be a write in progress


def test_a_full_load_apart_that_fails_is_done_here(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("feedsvc.core.publisher.PARALLEL_THRESHOLD", 10)
    monkeypatch.setattr("feedsvc.core.coldload.sys.executable", str(tmp_path / "no-such-python"))
    publisher = Publisher(folder)
    assert publisher.load(tmp_path / "snap", apart=True) == "full"
    assert publisher.saved_to is None and not publisher.index.store.mapped and titles(publisher)


def test_a_start_from_the_snapshot_names_each_skipped_file_once(
    folder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    (folder / "broken.md").write_text("---\ntitle: [unclosed\n---\n")
    path = _saved(folder, tmp_path)
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert Publisher(folder).load(path) == "snapshot"
    named = [r.getMessage() for r in caplog.records if "broken.md" in r.getMessage()]
    assert len(named) == 1 and named[0].startswith("skipped broken.md")


def test_a_full_load_apart_names_each_skipped_file_once(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
):
    monkeypatch.setattr("feedsvc.core.publisher.PARALLEL_THRESHOLD", 10)
    (folder / "broken.md").write_text("---\ntitle: [unclosed\n---\n")
    logging.getLogger().addHandler(handler := logging.StreamHandler())  # this process's lines, on stderr too
    try:
        assert Publisher(folder).load(tmp_path / "snap", apart=True) == "full"
    finally:
        logging.getLogger().removeHandler(handler)
    err = capfd.readouterr().err  # the child's lines and ours
    assert err.count("skipped broken.md") == 1


def test_edits_past_the_compaction_threshold_write_the_snapshot_again_and_serve_from_it(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr("feedsvc.core.publisher.COMPACT_BYTES", 1)  # the first edit is enough
    path = _saved(folder, tmp_path)
    publisher = Publisher(folder)
    assert publisher.load(path) == "snapshot"
    before = publisher.index.store
    seed = folder / "000_84d0586a3992f50e.md"
    time.sleep(0.01)
    seed.write_text(seed.read_text().replace('title: "U.S. cities', 'title: "EDITED U.S. cities'))
    publisher.refresh([seed])
    revisions = {info.ref: info.revision for info in publisher.index.feeds(FeedKind.TOPIC)}
    deadline = time.monotonic() + 30
    while publisher.index.store is before or publisher.index.store.added_bytes:
        assert time.monotonic() < deadline, "the snapshot was not written again"
        time.sleep(0.02)
    assert publisher.index.store.mapped  # the edit now read from the new file
    assert any(title.startswith("EDITED") for title in titles(publisher))
    # The same feeds and revisions: no cached response or ETag changes for a compaction.
    assert {info.ref: info.revision for info in publisher.index.feeds(FeedKind.TOPIC)} == revisions
    restarted = Publisher(folder)
    assert restarted.load(path) == "snapshot" and titles(restarted) == titles(publisher)


def test_a_start_from_the_snapshot_does_not_load_the_parser(folder: Path, tmp_path: Path):
    """PyYAML, nh3 and the front-matter parser load with the first file read; a warm
    start of an unchanged folder reads none (~16 ms and ~3 MB of every restart)."""
    import subprocess
    import sys

    path = _saved(folder, tmp_path)
    script = (
        "import sys; from pathlib import Path; from feedsvc.core.publisher import Publisher; "
        f"p = Publisher(Path({str(folder)!r})); how = p.load(Path({str(path)!r})); "
        "print(how, [m for m in ('yaml', 'nh3', 'feedsvc.content.parse') if m in sys.modules])"
    )
    found = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert found.stdout.split()[0] == "snapshot"
    assert found.stdout.strip().endswith("[]"), found.stdout
    (folder / "new.md").write_text(front_matter(article(title="Added")))  # one file to read: the parser is needed
    found = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert "'yaml'" in found.stdout and "feedsvc.content.parse" in found.stdout


def test_a_compaction_whose_write_fails_keeps_serving_what_was_published(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The file at the snapshot's path is then the older one: serving from it would undo the edit."""
    path = _saved(folder, tmp_path)
    publisher = Publisher(folder)
    assert publisher.load(path) == "snapshot"
    seed = folder / "000_84d0586a3992f50e.md"
    time.sleep(0.01)
    seed.write_text(seed.read_text().replace('title: "U.S. cities', 'title: "EDITED U.S. cities'))
    publisher.refresh([seed])

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("feedsvc.core.snapshot.atomic_write", full)
    assert publisher.save_snapshot(path, adopt=True) is False
    assert any(title.startswith("EDITED") for title in titles(publisher))


def test_files_published_while_the_snapshot_is_written_are_served_from_it_too(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Edits keep coming while a big snapshot is written: adopting it must not wait for a quiet moment."""
    path = _saved(folder, tmp_path)
    publisher = Publisher(folder)
    assert publisher.load(path) == "snapshot"
    seed = folder / "000_84d0586a3992f50e.md"
    save = snapshot.save

    def save_while_a_file_changes(*args: Any, **kwargs: Any) -> int | None:
        written = save(*args, **kwargs)
        time.sleep(0.01)
        seed.write_text(seed.read_text().replace('title: "U.S. cities', 'title: "MEANWHILE U.S. cities'))
        (folder / "new.md").write_text(front_matter(article(title="Added meanwhile")))
        publisher.refresh([seed, folder / "new.md"])
        return written

    monkeypatch.setattr("feedsvc.core.snapshot.save", save_while_a_file_changes)
    assert publisher.save_snapshot(path, adopt=True) is True
    assert publisher.index.store.mapped
    found = titles(publisher)
    assert "Added meanwhile" in found and any(title.startswith("MEANWHILE") for title in found)
    fresh = Publisher(folder)
    fresh.load(None)
    assert sorted(found) == sorted(titles(fresh))


def test_a_cold_start_serves_before_its_snapshot_is_in_place_and_compares_with_it_once_it_is(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The server's own path (a watcher: verify=False): served from the file the child wrote
    while it is synced and renamed; the watcher's first comparison waits for that, then uses it."""
    from feedsvc.core import publisher as publisher_module

    monkeypatch.setattr("feedsvc.core.publisher.PARALLEL_THRESHOLD", 10)
    move = publisher_module.move_durably

    def slow_move(staged: Path, path: Path) -> None:
        time.sleep(1.0)
        move(staged, path)

    def no_scan(*args: object) -> None:
        raise AssertionError("compared in this process: the snapshot's check was not used")

    monkeypatch.setattr("feedsvc.core.publisher.move_durably", slow_move)
    monkeypatch.setattr("feedsvc.core.publisher.BackgroundScan", no_scan)
    path = tmp_path / "snap"
    served = Publisher(folder)
    assert served.load(path, apart=True, verify=False) == "full"
    assert not path.exists() and served.index.store.mapped and titles(served)  # serving already
    (folder / "new.md").write_text(front_matter(article(title="Added after the load")))
    assert served.catch_up() == [folder / "new.md"]
    assert path.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["content", "snap"]
