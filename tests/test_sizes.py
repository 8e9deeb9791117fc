"""The enclosure probe's book of image sizes (core/sizes.py): it holds every URL of a large
archive in little memory, keeps back-off across restarts, names its known sizes in a digest
that is cheap and order-independent, and refuses any file it cannot trust."""

from __future__ import annotations

import logging
import math
import os
import pickle
import struct
import tracemalloc
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from feedsvc.content.model import Article, Image, Provider
from feedsvc.core import sizes
from feedsvc.core.publisher import Publisher
from feedsvc.core.sizes import Entry, SizeBook, next_check

from .conftest import article, front_matter

A, B, C, D = "https://e.org/a.jpg", "https://e.org/b.jpg", "https://e.org/c.jpg", "https://e.org/d.jpg"


def _url(number: int) -> str:
    return f"https://img{number % 50}.example.com/{number}.jpg"


def _book(count: int, start: int = 0) -> SizeBook:
    """Even numbers sized, odd ones failing."""
    book = SizeBook()
    for number in range(start, start + count):
        if number % 2:
            book.record(_url(number), None, "", 1000.0 + number, f"answered {400 + number % 5}")
        else:
            book.record(_url(number), 100 + number, "image/jpeg", 1000.0 + number)
    return book


def _article(*images: Image) -> Article:
    when = datetime(2024, 1, 1, tzinfo=UTC)
    return Article("a.md", "a", "https://e.org/a", when, when, images=images, provider=Provider("E", "e.org"))


# --- Holding every URL -------------------------------------------------------------------


def test_nothing_is_forgotten_below_the_cap_and_then_the_oldest_answer_of_its_shard(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sizes, "MAX_ENTRIES", 3_000)
    book = _book(3_000)
    assert len(book) == 3_000 and book.known() == 1_500
    assert all(book.get(_url(n)) is not None for n in range(3_000))
    newcomer = _url(10**6)
    shard = sizes.url_key(newcomer) >> (64 - sizes.SHARD_BITS)
    in_shard = [n for n in range(3_000) if sizes.url_key(_url(n)) >> (64 - sizes.SHARD_BITS) == shard]
    assert in_shard  # 3,000 URLs in 1,024 shards: none is empty in practice (a fixed set)
    book.record(newcomer, 5, "image/png", 9_999.0)
    assert len(book) == 3_000 and book.get(newcomer) == Entry(5, "image/png", 9_999.0)
    gone = [n for n in range(3_000) if book.get(_url(n)) is None]
    assert gone == [min(in_shard)]  # the oldest answer (by its time) of the new URL's shard


def test_an_entry_costs_a_few_dozen_bytes() -> None:
    """Measured: a URL's row is ~27 bytes in arrays; a dict of URL text and objects was ~280."""
    book = _book(1_000)  # the tables and interned strings made first, not counted
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for number in range(1_000, 51_000):
            if number % 2:
                book.record(_url(number), None, "", 1.0, "unreachable: cannot resolve img7.example.com")
            else:
                book.record(_url(number), 100 + number, "image/jpeg", 1.0)
        per_entry = (tracemalloc.get_traced_memory()[0] - before) / 50_000
    finally:
        tracemalloc.stop()
    assert per_entry < 40, per_entry


def test_only_an_image_size_and_type_are_recorded() -> None:
    book = SizeBook()
    for length, media_type in ((10, ""), (10, "text/html"), (0, "image/png"), (10**9, "image/png")):
        with pytest.raises(ValueError, match="not an image's size and type"):
            book.record(A, length, media_type, 1.0)
    assert len(book) == 0
    with pytest.raises(ValueError, match="not an image's media type"):
        SizeBook({A: Entry(10, "text/html", 1.0)})
    long = SizeBook({A: Entry(None, "", 1.0, 1, "x" * 500)})  # kept bounded, so that its file is read back
    assert long.get(A).reason == "x" * sizes.MAX_REASON_CHARS  # type: ignore[union-attr]


def test_reasons_are_kept_once_each_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sizes, "MAX_REASONS", 4)
    book = SizeBook()
    for number, reason in enumerate(["answered 404", "answered 404", "answered 500", "timeout", "other"]):
        book.record(_url(number), None, "", 1.0, reason)
    found = [book.get(_url(n)).reason for n in range(5)]  # type: ignore[union-attr]
    assert found == ["answered 404", "answered 404", "answered 500", sizes.TOO_MANY_REASONS, sizes.TOO_MANY_REASONS]


# --- Back-off and fill semantics -------------------------------------------------------


def test_back_off_survives_a_save_and_a_load(tmp_path: Path) -> None:
    path = sizes.sizes_path(tmp_path / "s.snapshot")
    book = SizeBook()
    for now in (100.0, 200.0, 300.0):
        book.record(A, None, "", now, "unreachable: cannot resolve e.org")
    book.record(B, 10, "image/png", 50.0)
    book.record(B, None, "", 400.0, "answered 503")  # a failed recheck keeps the size
    book.save(path)
    again = SizeBook.load(path)
    assert again.get(A) == Entry(None, "", 300.0, 3, "unreachable: cannot resolve e.org")
    assert again.get(B) == Entry(10, "image/png", 400.0, 1, "answered 503")
    wait = next_check(again.get(A))  # type: ignore[arg-type]
    assert wait == 300.0 + 4 * sizes.BACKOFF_START
    assert again.due([Image(A)], wait - 1, 10) == [] and again.due([Image(A)], wait, 10) == [A]


def test_fill_keeps_the_front_matter_and_replaces_an_earlier_probe_value() -> None:
    book = SizeBook()
    assert book.fill(_article(Image(A))) == _article(Image(A))  # an empty book fills nothing
    book.record(A, 500, "image/png", 1.0)
    book.record(B, 500, "image/png", 1.0)
    given = Image(B, 1, 2, 77, "")  # the front matter's size, no type
    filled = book.fill(_article(Image(A), given, Image(C)))
    assert filled.images == (Image(A, None, None, 500, "image/png"), Image(B, 1, 2, 77, "image/png"), Image(C))
    before = {A: book.get(A), B: book.get(B)}
    assert book.record(A, 600, "image/png", 2.0) and book.record(B, 600, "image/webp", 2.0)
    again = book.fill(filled, before)  # type: ignore[arg-type]
    assert again.images[0] == Image(A, None, None, 600, "image/png")  # the probe's own value, replaced
    assert again.images[1] == Image(B, 1, 2, 77, "image/webp")  # the front matter's size stays


def test_a_start_whose_snapshot_was_filled_from_another_book_fills_by_looking_up_each_image(
    tmp_path: Path,
) -> None:
    """The book keeps no URL text: the articles to fill are found by their images' URLs."""
    folder = tmp_path / "content"
    folder.mkdir()
    images = [{"url": A}, {"url": B}]
    (folder / "one.md").write_text(front_matter(article(title="one", images=images)))
    (folder / "two.md").write_text(front_matter(article(title="two", images=[{"url": C}])))
    given = {"url": D, "size": 5, "type": "image/png"}
    (folder / "three.md").write_text(front_matter(article(title="three", images=[given])))
    publisher = Publisher(folder)
    publisher.load()
    publisher.sizes.record(B, 1234, "image/gif", 1.0)
    publisher.sizes.record(C, None, "", 1.0, "answered 404")
    publisher.sizes.record(D, 999, "image/jpeg", 1.0)  # the front matter said it all: it stays
    assert B in publisher.sizes.sized() and C not in publisher.sizes.sized() and A not in publisher.sizes.sized()
    diff = publisher.apply_sizes(None)
    assert diff is not None
    found = {image.url: (image.length, image.type) for a in publisher.index.articles for image in a.images}
    assert found == {A: (None, ""), B: (1234, "image/gif"), C: (None, ""), D: (5, "image/png")}
    assert publisher.apply_sizes(None) is None  # nothing left to fill


# --- The digest ----------------------------------------------------------------------------


def test_the_digest_names_the_known_sizes_whatever_order_they_came_in() -> None:
    forward, backward = SizeBook(), SizeBook()
    answers = [(A, 10, "image/png"), (B, 20, "image/jpeg"), (C, None, "")]
    for url, length, media_type in answers:
        forward.record(url, length, media_type, 1.0, "answered 404" if length is None else "")
    for url, length, media_type in reversed(answers):
        backward.record(url, length, media_type, 5.0, "gone" if length is None else "")
    assert forward.digest() == backward.digest()  # times and failures are not part of it
    assert forward.digest() != SizeBook().digest()
    first = forward.digest()
    forward.record(B, 21, "image/jpeg", 2.0)
    assert forward.digest() != first  # a size changed
    forward.record(B, 20, "image/png", 3.0)
    assert forward.digest() not in (first, backward.digest())  # a type changed
    forward.record(B, 20, "image/jpeg", 4.0)
    assert forward.digest() == first  # back as it was
    forward.record(B, None, "", 5.0, "answered 503")
    assert forward.digest() == first  # a failed recheck keeps the size known
    forward.record(C, 30, "image/png", 6.0)
    assert forward.digest() != first  # a new size


def test_the_digest_survives_a_save_a_load_and_pickling(tmp_path: Path) -> None:
    book = _book(2_000)
    path = tmp_path / "s.sizes"
    book.save(path)
    assert SizeBook.load(path).digest() == book.digest() == pickle.loads(pickle.dumps(book)).digest()


# --- Pickled for the loading workers -------------------------------------------------------


def test_a_pickled_book_round_trips_and_keeps_working() -> None:
    book = _book(1_000)
    copy = pickle.loads(pickle.dumps(book))
    assert len(copy) == 1_000 and copy.known() == 500
    assert all(copy.get(_url(n)) == book.get(_url(n)) for n in range(1_000))
    assert copy.record(_url(1), 7, "image/png", 9.0)
    assert copy.get(_url(1)) == Entry(7, "image/png", 9.0) and book.get(_url(1)).length is None  # type: ignore[union-attr]


# --- The file, and what is refused ---------------------------------------------------------


def _saved(tmp_path: Path, book: SizeBook | None = None) -> Path:
    path = sizes.sizes_path(tmp_path / "s.snapshot")
    (book or _book(200)).save(path)
    assert path.stat().st_mode & 0o777 == 0o600
    return path


def test_a_damaged_or_truncated_file_is_refused_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _saved(tmp_path)
    data = path.read_bytes()
    assert len(SizeBook.load(path)) == 200
    cases = {
        "damaged": data[:100] + bytes([data[100] ^ 1]) + data[101:],
        "truncated": data[:-10],
        "cut to its header": data[:30],
        "empty": b"",
        "foreign": b"\x89PNG\r\n\x1a\n" + data[8:],
        "of another byte order": _with_crc(data[:8] + data[8:12][::-1] + data[12:-4]),
    }
    for name, damaged in cases.items():
        path.write_bytes(damaged)
        caplog.clear()
        with caplog.at_level(logging.WARNING, "feedsvc.core.sizes"):
            assert len(SizeBook.load(path)) == 0, name
        assert "ignoring the image sizes" in caplog.text, name


def test_a_file_others_could_write_or_that_is_not_ours_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _saved(tmp_path)
    path.chmod(0o644)
    assert len(SizeBook.load(path)) == 200  # others may read it
    for mode in (0o666, 0o620):
        path.chmod(mode)
        caplog.clear()
        with caplog.at_level(logging.WARNING, "feedsvc.core.sizes"):
            assert len(SizeBook.load(path)) == 0
        assert "not private to this user" in caplog.text
    path.chmod(0o600)
    monkeypatch.setattr(os, "getuid", lambda: os.stat(path).st_uid + 1)  # someone else's file
    caplog.clear()
    with caplog.at_level(logging.WARNING, "feedsvc.core.sizes"):
        assert len(SizeBook.load(path)) == 0
    assert "not private to this user" in caplog.text


def _with_crc(body: bytes) -> bytes:
    return body + sizes._CRC.pack(zlib.crc32(body))


def _forged(data: bytes, column: str, row: int, change: Callable[[Any], float]) -> bytes:
    """``data`` (a saved book) with one value changed, and a good checksum."""
    header = sizes._HEADER.unpack_from(data)
    count, table_bytes = header[3], header[6]
    offset = sizes._HEADER.size + sizes._COUNTS.size + table_bytes
    for name, code in sizes._COLUMNS:
        size = struct.calcsize(code)
        if name == column:
            forged = bytearray(data)
            (old,) = struct.unpack_from(f"={code}", forged, offset + row * size)
            struct.pack_into(f"={code}", forged, offset + row * size, change(old))
            return _with_crc(bytes(forged[: -sizes._CRC.size]))
        offset += count * size
    raise AssertionError(column)


def test_rows_with_values_out_of_range_are_refused_and_the_rest_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    book = SizeBook()
    for number in range(6):
        book.record(_url(number), 100 + number, "image/png", 10.0)
    path = _saved(tmp_path, book)
    data = path.read_bytes()
    cases: list[tuple[str, Callable[[Any], float]]] = [
        ("lengths", lambda _: sizes.MAX_IMAGE_BYTES + 1),
        ("lengths", lambda _: 0),  # no size, but a type
        ("types", lambda _: 9),  # no such type
        ("checked", lambda _: math.nan),
        ("failures", lambda _: sizes.MAX_FAILURES + 1),
        ("reasons", lambda _: 77),  # no such reason
        ("keys", lambda key: key ^ (1 << 63)),  # another shard's key
    ]
    for column, change in cases:
        path.write_bytes(_forged(data, column, 2, change))
        caplog.clear()
        with caplog.at_level(logging.WARNING, "feedsvc.core.sizes"):
            loaded = SizeBook.load(path)
        assert "refused 1 row" in caplog.text, column
        assert len(loaded) == 5 and sum(loaded.get(_url(n)) is None for n in range(6)) == 1, column
        kept = SizeBook()
        for number in range(6):
            entry = loaded.get(_url(number))
            if entry is not None:
                kept.record(_url(number), entry.length, entry.type, entry.checked)
        assert loaded.digest() == kept.digest(), column  # the digest of what was kept


def test_an_earlier_versions_json_is_read_once_and_replaced(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = sizes.sizes_path(tmp_path / "s.snapshot")
    legacy = sizes.legacy_path(path)
    assert legacy.name == "s.snapshot.sizes.json"
    legacy.write_text(
        '{"format": 1, "entries": [["https://e.org/a.jpg", 10, "image/png", 5, 0, ""],'
        ' ["https://e.org/b.jpg", null, "", 7, 3, "answered 404"]]}'
    )
    legacy.chmod(0o600)
    with caplog.at_level(logging.INFO, "feedsvc.core.sizes"):
        book = SizeBook.load(path)
    assert "an earlier version kept" in caplog.text
    assert book.get(A) == Entry(10, "image/png", 5.0) and book.get(B) == Entry(None, "", 7.0, 3, "answered 404")
    assert book.changed  # so that the probe writes it in the new form
    book.save(path)
    assert path.exists() and not legacy.exists()
    again = SizeBook.load(path)
    assert (again.get(A), again.get(B), again.digest()) == (book.get(A), book.get(B), book.digest())


def test_a_start_clears_what_a_crash_left_of_a_write_of_the_book(tmp_path: Path) -> None:
    from feedsvc.core.storage import STALE_SECONDS, temporary_for

    folder, state = tmp_path / "content", tmp_path / "state"
    folder.mkdir()
    state.mkdir()
    snapshot = state / "s.snapshot"
    left, young = temporary_for(sizes.sizes_path(snapshot)), temporary_for(sizes.sizes_path(snapshot))
    for path in (left, young):
        path.write_bytes(b"half a book")
    os.utime(left, (1.0, os.stat(left).st_mtime - STALE_SECONDS - 5))
    Publisher(folder).load(snapshot)
    assert not left.exists() and young.exists()  # a write in progress is left alone
