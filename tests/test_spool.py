"""A load apart keeps its records in a file, not its heap (core.spool): the snapshot it
writes must be the very one a load that kept them in memory writes, and the file must
leave nothing behind."""

from __future__ import annotations

import mmap
import os
import shutil
from pathlib import Path

import pytest

from feedsvc.content.loader import Skipped, load_folder
from feedsvc.core.packed import Packed, Packer
from feedsvc.core.publisher import Publisher
from feedsvc.core.sizes import SizeBook
from feedsvc.core.spool import RecordSpool

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"


def _chunk(records: list[bytes], skipped_at: int | None = None) -> list[tuple[str, object, None, str]]:
    items: list[tuple[str, object, None, str]] = []
    for n, record in enumerate(records):
        items.append((f"{n}.md", Packed(f"{n}.md", n, True, record, n, True, (), None), None, ""))
        if n == skipped_at:
            items.append(("bad.md", Skipped("bad.md", "title: missing"), None, ""))
    return items


def test_the_records_move_to_the_file_and_read_back_the_same(tmp_path: Path):
    spool = RecordSpool(tmp_path)
    first = [b"a" * 10, b"", b"\x00\xff" * 3000]
    second = [bytes(range(256)) * 20, b"z"]
    kept_first = spool.keep(_chunk(first, skipped_at=0))
    kept_second = spool.keep(_chunk(second))
    spool.close()  # the views stay readable
    for records, kept in ((first, kept_first), (second, kept_second)):
        found = [item[1] for item in kept if isinstance(item[1], Packed)]
        assert all(isinstance(packed.record, memoryview) for packed in found)
        assert [bytes(packed.record) for packed in found] == records
        # Everything else about each article is as it was.
        assert [packed._replace(record=b"") for packed in found] == [
            item[1]._replace(record=b"")  # type: ignore[union-attr]
            for item in _chunk(records)
        ]
    assert kept_first[1] == ("bad.md", Skipped("bad.md", "title: missing"), None, "")  # a skipped file as it was
    assert spool.bytes == sum(map(len, first + second))
    assert list(tmp_path.iterdir()) == []  # the file has no name


def test_each_chunk_is_mapped_from_its_own_place(tmp_path: Path):
    spool = RecordSpool(tmp_path)
    chunks = [[bytes([n]) * (mmap.ALLOCATIONGRANULARITY + n)] for n in range(5)]
    kept = [spool.keep(_chunk(chunk)) for chunk in chunks]
    assert [bytes(items[0][1].record) for items in kept] == [chunk[0] for chunk in chunks]  # type: ignore[union-attr]


def test_a_chunk_with_no_article_is_returned_as_it_is(tmp_path: Path):
    items = [("bad.md", Skipped("bad.md", "no front matter"), None, "")]
    spool = RecordSpool(tmp_path)
    assert spool.keep(items) is items
    empty = _chunk([b""])  # nothing to map (a mapping of no bytes is an error)
    assert spool.keep(empty) is empty
    assert spool.bytes == 0


def test_a_full_disk_is_an_error_not_a_short_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    spool = RecordSpool(tmp_path)
    monkeypatch.setattr("feedsvc.core.spool.os.pwrite", lambda fd, data, at: len(data) - 1)
    with pytest.raises(OSError, match="of records to the spool"):
        spool.keep(_chunk([b"record"]))


def test_load_folder_hands_each_chunk_to_keep_and_returns_what_it_gives(monkeypatch: pytest.MonkeyPatch):
    """In this process, whichever process read the chunk (serial or parallel, in chunks of 7)."""
    expected = load_folder(SEEDS, workers=1, convert=Packer(SizeBook())).articles
    monkeypatch.setattr("feedsvc.content.loader.PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr("feedsvc.content.loader.CHUNK", 7)
    pid = os.getpid()
    for workers in (1, 2):
        seen: list[int] = []

        def keep(items: list, seen: list = seen) -> list:
            assert os.getpid() == pid
            seen.append(len(items))
            return [(source, ("kept", found), signature, left) for source, found, signature, left in items]

        result = load_folder(SEEDS, workers=workers, convert=Packer(SizeBook()), keep=keep)
        assert sum(seen) == len(expected) and max(seen) <= 7
        assert [found for _, found in result.articles] == expected


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    copy = tmp_path / "content"
    shutil.copytree(SEEDS, copy)
    (copy / "broken.md").write_text("---\ntitle: [unclosed\n---\n")
    return copy


@pytest.mark.parametrize("workers", [1, 2])
def test_a_load_with_its_records_spooled_saves_the_same_snapshot(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
):
    monkeypatch.setattr("feedsvc.content.loader.PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr("feedsvc.content.loader.CHUNK", 7)
    beside = tmp_path / "snapshots"
    beside.mkdir()
    in_memory, spooled = Publisher(folder), Publisher(folder)
    in_memory.read_folder(workers)
    spooled.read_folder(workers, spool=beside)
    assert spooled.save_snapshot(beside / "spooled") and in_memory.save_snapshot(beside / "in-memory")
    assert (beside / "spooled").read_bytes() == (beside / "in-memory").read_bytes()
    assert sorted(path.name for path in beside.iterdir()) == ["in-memory", "spooled"]  # and nothing else
    # The spooled index reads its articles from the file.
    store = spooled.index.store
    assert all(isinstance(store.record(number), memoryview) for number in range(len(store)))
    assert [store.article(n) for n in range(len(store))] == [
        in_memory.index.store.article(n) for n in range(len(store))
    ]


def test_a_first_load_apart_makes_the_snapshots_folder_and_leaves_only_the_snapshot_in_it(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr("feedsvc.core.publisher.PARALLEL_THRESHOLD", 10)
    path = tmp_path / "cache" / "feedsvc" / "content.snapshot"  # no such folder yet
    publisher = Publisher(folder)
    assert publisher.load(path, apart=True) == "full"
    assert publisher.saved_to == path and publisher.index.store.mapped  # read apart, then mapped
    publisher.catch_up()  # the snapshot is moved into place
    assert [p.name for p in path.parent.iterdir()] == [path.name]
