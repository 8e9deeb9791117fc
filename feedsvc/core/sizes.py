"""What is known about image files' sizes and media types, by URL (the enclosure probe's results).

The book is the state behind live/probe.py: for each image URL, the size and
type its server gave (if it ever did), when it was last asked, and how many
times in a row asking failed, with the last failure's reason. Which URLs to
ask next, and when, are pure decisions over it (:func:`next_check`,
:meth:`SizeBook.due`); the publisher fills the known values into every
article it indexes (:meth:`SizeBook.fill`), so an edited file keeps its sizes
and ``feedsvc build`` uses them without asking anyone.

It must hold every image of a million-article archive (1-3 million URLs) in
little more memory than the articles' text, so a URL is kept as a 64-bit
hash of it, never as text: every caller has the URL in hand when it asks
(the articles' images), and a collision among 4 million URLs has odds of
about 1 in 2 million (it would show one image's size for another). The
values sit in typed arrays, split into SHARDS by the hash's top bits and kept
sorted by hash within each, so a lookup is a bisection and an insertion moves
a few kilobytes; media types and failure reasons, of which there are few,
are kept once each in a table and referred to by number. About 27 bytes a
URL (bench/sizebook.py measures it).

:meth:`SizeBook.digest` names the known sizes and types: an order-independent
sum of a hash of each URL's (hash, length, type), kept up to date as answers
are recorded, so asking for it costs nothing at any size.

It is kept in a file beside the start-up snapshot (``<snapshot>.sizes``), not
in it: results are per URL and outlive any one version of a file, and the
snapshot is thrown away whenever the model or feedsvc's version changes (days
of probing with it). The file is the arrays as they are in memory, behind a
header and followed by a CRC-32 of all of it; it is read with bounds (its
size must be exactly what its header says), every value range-checked (rows
out of range are refused), and nothing in it is ever run. Like the snapshot
it is written owner-only and ignored when it is not private to this user. The
JSON file earlier versions kept (``<snapshot>.sizes.json``) is read once,
when there is no new file yet, and removed once the new one is written.
"""

from __future__ import annotations

import json
import logging
import math
import operator
import os
import struct
import sys
import threading
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Container, Iterable, Iterator, Mapping
from hashlib import blake2b
from itertools import islice
from pathlib import Path
from typing import Any, NamedTuple

from feedsvc.content.images import MAX_IMAGE_BYTES, image_media_type, is_image_size
from feedsvc.content.model import Article, Image
from feedsvc.content.sharing import one_image
from feedsvc.core.storage import atomic_write, is_private

log = logging.getLogger(__name__)

DAY = 86_400.0
RECHECK_SECONDS = 7 * DAY  # a known size is asked again after a week: images are rarely replaced in place
BACKOFF_START = 900.0  # a failure is retried after 15 minutes, then 30, 60, ... (per URL)
BACKOFF_MAX = 7 * DAY
MAX_FAILURES = 9_999  # failures in a row counted (the back-off reaches its week after 10)
# Four image URLs for each of a million articles (a news archive has 1-3): ~110 MB of
# memory and file at most, whatever the content holds. Past it, the oldest answer in
# the new URL's shard is forgotten (its size stays in the articles already filled).
MAX_ENTRIES = 4_000_000
MAX_REASONS = 16_384  # distinct failure reasons kept (most are a status or a host's error)
MAX_REASON_CHARS = 200
TOO_MANY_REASONS = "(not kept: too many distinct reasons)"
MAX_TYPES = 4_096  # distinct media types kept: a handful in practice
SHARD_BITS = 10
SHARDS = 1 << SHARD_BITS
_SHIFT = 64 - SHARD_BITS
_DIGEST_MASK = (1 << 128) - 1

# The file: MAGIC, the header, SHARDS row counts, the tables (JSON), the columns, CRC-32.
MAGIC = b"FSVCSIZ\x02"
# magic, byte order mark, shards, rows, sized rows, digest sum, table bytes: in this machine's
# byte order, as the columns are (a file from a machine of another order is refused).
_HEADER = struct.Struct("=8sIIQQ16sI")
_BYTE_ORDER = 0x01020304
_COUNTS = struct.Struct(f"={SHARDS}I")
_CRC = struct.Struct("<I")
# Each column's type code and its per-row size in bytes, in the file's order.
_COLUMNS = (("keys", "Q"), ("lengths", "I"), ("checked", "d"), ("types", "H"), ("failures", "H"), ("reasons", "H"))
_ROW_BYTES = sum(array(code).itemsize for _, code in _COLUMNS)
MAX_TABLE_BYTES = (MAX_REASONS + MAX_TYPES) * (MAX_REASON_CHARS * 6 + 8)  # JSON-escaped, at worst
_MAX_ROWS = MAX_ENTRIES + SHARDS  # see SizeBook._put
MAX_FILE_BYTES = _HEADER.size + _COUNTS.size + MAX_TABLE_BYTES + _MAX_ROWS * _ROW_BYTES + _CRC.size
LEGACY_FORMAT = 1
LEGACY_MAX_BYTES = 64 * 1024 * 1024


class Entry(NamedTuple):
    """What asking one URL's server found, and when (made on each lookup: a tuple is quick to make)."""

    length: int | None  # bytes; None while never found
    type: str  # "image/..." or "" while never found
    checked: float  # Unix time of the last answer (or failure)
    failures: int = 0  # failures in a row since the last success
    reason: str = ""  # why the last try failed, for logs and /healthz


def next_check(entry: Entry) -> float:
    """When to ask about this URL again: a week after a success; after a
    failure, 15 minutes doubling with each failure in a row, at most a week,
    so a dead host is not hammered."""
    return _next_check(entry.checked, entry.failures)


def _next_check(checked: float, failures: int) -> float:
    if failures == 0:
        return checked + RECHECK_SECONDS
    return checked + min(BACKOFF_START * (1 << min(failures - 1, 30)), BACKOFF_MAX)


def sizes_path(snapshot_path: Path) -> Path:
    """Where the probe results of a content folder are kept: beside its snapshot."""
    return snapshot_path.with_name(f"{snapshot_path.name}.sizes")


def legacy_path(path: Path) -> Path:
    """Where versions before the binary book kept it (JSON), read once when ``path`` is missing."""
    return path.with_name(f"{path.name}.json")


def fill_image(image: Image, known: Entry | None, before: Entry | None = None) -> Image:
    """``image`` with the probed size and type filled in where the front matter gave none.

    A value equal to what the probe said ``before`` is the probe's own, and is
    replaced by the new one; anything else there came from the front matter,
    which wins.
    """
    if known is None or known.length is None:
        return image
    length, media_type = image.length, image.type
    if length is None or (before is not None and length == before.length):
        length = known.length
    if not media_type or (before is not None and media_type == before.type):
        media_type = known.type
    if (length, media_type) == (image.length, image.type):
        return image
    return one_image(image.url, image.width, image.height, length, media_type)


def url_key(url: str) -> int:
    """The 64-bit hash a URL is kept under; its top SHARD_BITS pick the shard."""
    return int.from_bytes(blake2b(url.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


def row_hash(key: int, length: int, media_type: str) -> int:
    """One known size's part of the digest (128 bits)."""
    data = key.to_bytes(8, "little") + length.to_bytes(4, "little") + media_type.encode()
    return int.from_bytes(blake2b(data, digest_size=16).digest(), "little")


class _Shard:
    """The rows whose keys share their top bits, sorted by key: one array per column."""

    __slots__ = ("checked", "failures", "keys", "lengths", "reasons", "types")

    def __init__(self) -> None:
        self.keys = array("Q")
        self.lengths = array("I")  # 0: never found
        self.checked = array("d")
        self.types = array("H")  # index into the book's types; 0 is "" (never found)
        self.failures = array("H")
        self.reasons = array("H")  # index into the book's reasons; 0 is ""

    def columns(self) -> tuple[array[Any], ...]:
        return (self.keys, self.lengths, self.checked, self.types, self.failures, self.reasons)

    def put(self, at: int, insert: bool, row: tuple[int, int, float, int, int, int]) -> None:
        for column, value in zip(self.columns(), row, strict=True):
            if insert:
                column.insert(at, value)
            else:
                column[at] = value

    def remove(self, at: int) -> None:
        for column in self.columns():
            del column[at]


class _Sized(Container[str]):
    """The URLs with a known size, as something to test URLs against (the URLs are not kept)."""

    def __init__(self, book: SizeBook) -> None:
        self._book = book

    def __contains__(self, url: object) -> bool:
        return isinstance(url, str) and self._book._has_size(url_key(url))


class SizeBook:
    """Probe results by URL; safe to read and write from the event loop and worker threads."""

    def __init__(self, entries: Mapping[str, Entry] | None = None) -> None:
        self._lock = threading.Lock()
        self._shards = [_Shard() for _ in range(SHARDS)]
        self._types: list[str] = [""]
        self._type_codes: dict[str, int] = {"": 0}
        self._reasons: list[str] = [""]
        self._reason_codes: dict[str, int] = {"": 0}
        self._count = 0
        self._sized = 0  # rows with a size
        self._sum = 0  # of row_hash over the rows with a size (the digest)
        for url, entry in (entries or {}).items():
            self._put(url_key(url), entry)
        self.changed = False  # since the last save

    def __len__(self) -> int:
        return self._count

    # Picklable (without its lock) as the bytes of its file, for the loading workers
    # that fill sizes in (core.packed): a few copies of arrays, whatever its size.
    def __getstate__(self) -> bytes:
        return b"".join(self._file_chunks())

    def __setstate__(self, state: bytes) -> None:
        self.__init__()  # type: ignore[misc]
        self._read(state, "the pickled book")

    def get(self, url: str) -> Entry | None:
        key = url_key(url)
        with self._lock:
            return self._entry(key)

    def known(self) -> int:
        """How many URLs have a size."""
        return self._sized

    def sized(self) -> Container[str]:
        """The URLs whose size is known, to test an article's image URLs against."""
        return _Sized(self)

    def record(self, url: str, length: int | None, media_type: str, now: float, reason: str = "") -> bool:
        """Record one answer (a size and type) or failure (no length); return
        whether the size or type the feeds show changed."""
        if length is not None and not (is_image_size(length) and self._is_image_type(media_type)):
            raise ValueError(f"not an image's size and type: {length}, {media_type[:50]!r}")
        reason = reason[:MAX_REASON_CHARS]  # kept and logged: a server's words, bounded
        key = url_key(url)
        with self._lock:
            old = self._entry(key)
            if length is not None:
                entry = Entry(length, media_type, now)
            elif old is not None:  # keep what was known: a failed recheck says nothing about the file
                entry = Entry(old.length, old.type, now, min(old.failures + 1, MAX_FAILURES), reason)
            else:
                entry = Entry(None, "", now, 1, reason)
            self._put(key, entry)
            self.changed = True
        shown = (old.length, old.type) if old is not None else (None, "")
        return shown != (entry.length, entry.type)

    def _is_image_type(self, media_type: str) -> bool:
        """Whether this is an image's media type, normalised (one kept already is not checked again)."""
        return (media_type != "" and media_type in self._type_codes) or image_media_type(media_type) == media_type

    def due(self, images: Iterable[Image], now: float, limit: int) -> list[str]:
        """The URLs among these images to ask about now, at most ``limit``, in
        the order given: never asked (unless the front matter gave both size
        and type), or whose next check has come."""
        urls: dict[str, None] = {}
        for chunk in _chunks(images):
            for image, when in zip(chunk, self._next_checks(chunk), strict=True):
                if image.url in urls:
                    continue
                if when is None:
                    if image.length is not None and image.type:
                        continue  # the front matter said it all
                elif when > now:
                    continue
                urls[image.url] = None
                if len(urls) >= limit:
                    return list(urls)
        return list(urls)

    def next_due(self, images: Iterable[Image]) -> float | None:
        """The earliest next check among these images' known URLs."""
        times = (when for chunk in _chunks(images) for when in self._next_checks(chunk) if when is not None)
        return min(times, default=None)

    def _next_checks(self, images: list[Image]) -> list[float | None]:
        """When each image's URL is next to be asked about, if it was ever asked: read
        for a whole pass's images, a chunk at a time (the lock for a chunk, no Entry made)."""
        keys = [url_key(image.url) for image in images]
        found: list[float | None] = []
        with self._lock:
            shards = self._shards
            for key in keys:
                shard = shards[key >> _SHIFT]
                at = bisect_left(shard.keys, key)
                hit = at < len(shard.keys) and shard.keys[at] == key
                found.append(_next_check(shard.checked[at], shard.failures[at]) if hit else None)
        return found

    def fill(self, article: Article, before: Mapping[str, Entry] | None = None) -> Article:
        """``article`` with every known size and type filled into its images (the same object if none)."""
        if not self._sized or not article.images:  # no size known: nothing to fill (a failure fills nothing)
            return article
        # On the start-up path for every article: most are already complete (from the snapshot)
        # and are answered without a lookup.
        if before is None and all(image.length is not None and image.type for image in article.images):
            return article
        images = tuple(
            fill_image(image, self.get(image.url), before.get(image.url) if before else None)
            for image in article.images
        )
        if all(new is old for new, old in zip(images, article.images, strict=True)):
            return article
        return article._replace(images=images)

    def digest(self) -> str:
        """What the known sizes and types are, in one string: the snapshot keeps the digest
        its articles were filled from, so a start can tell whether to fill them again.
        Equal books give equal digests, whatever order their answers came in."""
        with self._lock:
            return f"{self._sized:x}-{self._sum:032x}"

    # --- rows (the lock is held) ---------------------------------------------------------

    def _entry(self, key: int) -> Entry | None:
        shard = self._shards[key >> _SHIFT]
        at = bisect_left(shard.keys, key)
        if at == len(shard.keys) or shard.keys[at] != key:
            return None
        length = shard.lengths[at]
        return Entry(
            length or None,
            self._types[shard.types[at]],
            shard.checked[at],
            shard.failures[at],
            self._reasons[shard.reasons[at]],
        )

    def _has_size(self, key: int) -> bool:
        with self._lock:
            shard = self._shards[key >> _SHIFT]
            at = bisect_left(shard.keys, key)
            return at < len(shard.keys) and shard.keys[at] == key and shard.lengths[at] != 0

    def _put(self, key: int, entry: Entry) -> None:
        """Keep ``entry`` for ``key``, in place of what was there; at MAX_ENTRIES, a new key
        makes room by forgetting the oldest answer of its shard."""
        length = entry.length or 0
        row = (key, length, entry.checked, self._code(entry.type), entry.failures, self._reason_code(entry.reason))
        shard = self._shards[key >> _SHIFT]
        at = bisect_left(shard.keys, key)
        found = at < len(shard.keys) and shard.keys[at] == key
        if found:
            self._unsum(shard, at)
        elif self._count >= MAX_ENTRIES and shard.keys:  # (an empty shard takes it: at most SHARDS more)
            self._forget(shard, shard.checked.index(min(shard.checked)))
            at = bisect_left(shard.keys, key)
        shard.put(at, not found, row)
        if not found:
            self._count += 1
        if length:
            self._sized += 1
            self._sum = (self._sum + row_hash(key, length, entry.type)) & _DIGEST_MASK

    def _unsum(self, shard: _Shard, at: int) -> None:
        """Take row ``at``'s size out of the digest."""
        length = shard.lengths[at]
        if length:
            self._sized -= 1
            self._sum = (self._sum - row_hash(shard.keys[at], length, self._types[shard.types[at]])) & _DIGEST_MASK

    def _forget(self, shard: _Shard, at: int) -> None:
        self._unsum(shard, at)
        shard.remove(at)
        self._count -= 1

    def _code(self, media_type: str) -> int:
        code = self._type_codes.get(media_type)
        if code is None:
            if image_media_type(media_type) != media_type:  # a file with it would be refused whole
                raise ValueError(f"not an image's media type: {media_type[:50]!r}")
            if len(self._types) >= MAX_TYPES:
                raise ValueError(f"more than {MAX_TYPES} media types")  # the probe finds a handful
            code = self._type_codes[media_type] = len(self._types)
            self._types.append(media_type)
        return code

    def _reason_code(self, reason: str) -> int:
        reason = reason[:MAX_REASON_CHARS]  # a file with a longer one would be refused whole
        code = self._reason_codes.get(reason)
        if code is None:
            if len(self._reasons) >= MAX_REASONS - 1 and reason != TOO_MANY_REASONS:
                return self._reason_code(TOO_MANY_REASONS)  # the last place is kept for this
            code = self._reason_codes[reason] = len(self._reasons)
            self._reasons.append(reason)
        return code

    # --- kept beside the snapshot ---------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the book durably, owner-only; failures are logged, not raised. The file an
        earlier version kept (JSON) is removed once this one is written."""
        chunks = self._file_chunks(saving=True)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, chunks, mode=0o600)
            legacy_path(path).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not keep the image sizes in %s: %s", path, exc)

    def _file_chunks(self, saving: bool = False) -> list[bytes]:
        """The file's bytes, in a few chunks: the arrays are copied under the lock, and
        the CRC is taken after it is let go. ``saving``: what is copied counts as saved."""
        with self._lock:
            if saving:
                self.changed = False
            shards = self._shards
            tables = json.dumps({"types": self._types, "reasons": self._reasons}).encode()
            counts = _COUNTS.pack(*(len(shard.keys) for shard in shards))
            header = _HEADER.pack(
                MAGIC, _BYTE_ORDER, SHARDS, self._count, self._sized, self._sum.to_bytes(16, "little"), len(tables)
            )
            columns = [b"".join(getattr(shard, name) for shard in shards) for name, _ in _COLUMNS]
        chunks = [header, counts, tables, *columns]
        crc = 0
        for chunk in chunks:
            crc = zlib.crc32(chunk, crc)
        return [*chunks, _CRC.pack(crc)]

    @classmethod
    def load(cls, path: Path) -> SizeBook:
        """The book kept in ``path``, or an empty one when there is no usable file
        (with a log line saying why, unless there is no file at all)."""
        book = cls()
        data = _read_private(path, MAX_FILE_BYTES)
        if data is None:
            legacy = legacy_path(path)
            if legacy.exists():
                book._read_legacy(legacy)
            return book
        book._read(data, str(path))
        return book

    def _read(self, data: bytes, where: str) -> None:
        """Take the rows of a file's bytes into this (empty) book; log and keep none if
        it is not a whole file this version wrote."""
        problem = self._take(memoryview(data))
        if problem is not None:
            log.warning("ignoring the image sizes in %s: %s", where, problem)
            self.__init__()  # type: ignore[misc]

    def _take(self, data: memoryview) -> str | None:
        """The rows of ``data`` taken in; or why it cannot be read at all."""
        fixed = _HEADER.size + _COUNTS.size
        if len(data) < fixed + _CRC.size or bytes(data[:8]) != MAGIC:
            return "not a file this version of feedsvc wrote"
        if zlib.crc32(data[: -_CRC.size]) != _CRC.unpack_from(data, len(data) - _CRC.size)[0]:
            return "damaged (its checksum does not match)"
        _, order, shards, count, sized, total, table_bytes = _HEADER.unpack_from(data)
        if order != _BYTE_ORDER or shards != SHARDS:
            return "written on a machine of another byte order, or by another version"
        counts = _COUNTS.unpack_from(data, _HEADER.size)
        if sum(counts) != count or count > _MAX_ROWS or table_bytes > MAX_TABLE_BYTES:
            return "its counts are out of range"
        if len(data) != fixed + table_bytes + count * _ROW_BYTES + _CRC.size:
            return "its size is not what its header says"
        tables = _tables(bytes(data[fixed : fixed + table_bytes]))
        if tables is None:
            return "its media types or reasons are not valid"
        self._types, self._reasons = tables
        self._type_codes = {media_type: code for code, media_type in enumerate(self._types)}
        self._reason_codes = {reason: code for code, reason in enumerate(self._reasons)}
        offset, refused = fixed + table_bytes, 0
        starts = [0]
        for n in counts:
            starts.append(starts[-1] + n)
        for name, code in _COLUMNS:
            size = array(code).itemsize
            for shard, start, end in zip(self._shards, starts, starts[1:], strict=False):
                getattr(shard, name).frombytes(data[offset + start * size : offset + end * size])
            offset += count * size
        for number, shard in enumerate(self._shards):
            if not self._shard_is_valid(number, shard):
                refused += self._keep_valid_rows(number, shard)
        self._count = count - refused
        if refused:
            log.warning("image sizes: refused %d row(s) with values out of range", refused)
            self._resum()
        else:
            self._sized, self._sum = sized, int.from_bytes(total, "little")
        return None

    def _shard_is_valid(self, number: int, shard: _Shard) -> bool:
        """Whether every row of a shard read from a file is in range (checked column by column)."""
        keys, lengths, types = shard.keys, shard.lengths, shard.types
        if not keys:
            return True
        return (
            keys[0] >> _SHIFT == number
            and keys[-1] >> _SHIFT == number
            and all(map(operator.lt, keys, islice(keys, 1, None)))  # sorted, each once
            and max(lengths) <= MAX_IMAGE_BYTES
            and max(types) < len(self._types)
            and all(map(operator.is_, map(operator.not_, lengths), map(operator.not_, types)))  # both or neither
            and all(map(math.isfinite, shard.checked))
            and max(shard.failures) <= MAX_FAILURES
            and max(shard.reasons) < len(self._reasons)
        )

    def _keep_valid_rows(self, number: int, shard: _Shard) -> int:
        """Keep only a shard's rows that are in range (each key once); return how many were refused."""
        rows: dict[int, tuple[int, int, float, int, int, int]] = {}
        for row in zip(*shard.columns(), strict=True):
            key, length, checked, media_type, failures, reason = row
            if (
                key >> _SHIFT == number
                and length <= MAX_IMAGE_BYTES
                and media_type < len(self._types)
                and (length == 0) == (media_type == 0)
                and math.isfinite(checked)
                and failures <= MAX_FAILURES
                and reason < len(self._reasons)
            ):
                rows.setdefault(key, row)
        refused = len(shard.keys) - len(rows)
        self._shards[number] = kept = _Shard()
        for row in sorted(rows.values()):
            kept.put(len(kept.keys), True, row)
        return refused

    def _resum(self) -> None:
        """The digest from every row (only when a file's rows were refused)."""
        self._sized, self._sum = 0, 0
        for shard in self._shards:
            for key, length, media_type in zip(shard.keys, shard.lengths, shard.types, strict=True):
                if length:
                    self._sized += 1
                    self._sum = (self._sum + row_hash(key, length, self._types[media_type])) & _DIGEST_MASK

    def _read_legacy(self, path: Path) -> None:
        """Take in the JSON an earlier version kept (once: save() removes it)."""
        data = _read_private(path, LEGACY_MAX_BYTES)
        if data is None:
            return
        try:
            payload = json.loads(data)
        except ValueError as exc:
            log.warning("ignoring the image sizes in %s: %s", path, exc)
            return
        if (
            not isinstance(payload, dict)
            or payload.get("format") != LEGACY_FORMAT
            or not isinstance(payload.get("entries"), list)
        ):
            log.warning("ignoring the image sizes in %s: not a file this version of feedsvc wrote", path)
            return
        for url, entry in filter(None, map(_legacy_entry, islice(payload["entries"], MAX_ENTRIES))):
            self._put(url_key(url), entry)
        self.changed = True  # written in the new form at the next save
        log.info(
            "read %d image size(s) an earlier version kept in %s; they are kept in the new form from now on",
            self._count,
            path,
        )


def _chunks(images: Iterable[Image], size: int = 256) -> Iterator[list[Image]]:
    iterator = iter(images)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _read_private(path: Path, limit: int) -> bytes | None:
    """The bytes of ``path`` if it is a regular file private to this user and at most ``limit``
    bytes; else None, logged (quietly when it does not exist)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("ignoring the image sizes in %s: %s", path, exc)
        return None
    try:
        status = os.fstat(descriptor)  # of the file opened, not of whatever the name points at later
        if not is_private(status):
            log.warning("ignoring the image sizes in %s: the file is not private to this user", path)
            return None
        if status.st_size > limit:
            log.warning("ignoring the image sizes in %s: larger than %d bytes", path, limit)
            return None
        with os.fdopen(os.dup(descriptor), "rb") as file:
            data = file.read(limit + 1)
        if len(data) > limit:
            log.warning("ignoring the image sizes in %s: larger than %d bytes", path, limit)
            return None
        return data
    except OSError as exc:
        log.warning("ignoring the image sizes in %s: %s", path, exc)
        return None
    finally:
        os.close(descriptor)


def _tables(data: bytes) -> tuple[list[str], list[str]] | None:
    """The media types and reasons a file names, if every one is valid."""
    try:
        payload = json.loads(data)
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    types, reasons = payload.get("types"), payload.get("reasons")
    if not (isinstance(types, list) and isinstance(reasons, list)):
        return None
    if not (0 < len(types) <= MAX_TYPES and 0 < len(reasons) <= MAX_REASONS and types[0] == "" == reasons[0]):
        return None
    if not all(isinstance(t, str) and image_media_type(t) == t for t in types[1:]):
        return None
    if not all(isinstance(r, str) and len(r) <= MAX_REASON_CHARS for r in reasons):
        return None
    if len(set(types)) != len(types) or len(set(reasons)) != len(reasons):
        return None
    return [sys.intern(t) for t in types], reasons


def _legacy_entry(row: Any) -> tuple[str, Entry] | None:
    """One row of the JSON an earlier version kept, if it is well formed: anything else is dropped."""
    if not (isinstance(row, list) and len(row) == 6):
        return None
    url, length, media_type, checked, failures, reason = row
    if not (isinstance(url, str) and url.startswith(("http://", "https://")) and len(url) <= 8192):
        return None
    if length is not None and not (type(length) is int and is_image_size(length)):
        return None
    if not isinstance(media_type, str) or (media_type and image_media_type(media_type) != media_type):
        return None
    if (length is None) != (media_type == ""):
        return None
    if not (isinstance(checked, (int, float)) and math.isfinite(checked)):
        return None
    if not (type(failures) is int and 0 <= failures <= MAX_FAILURES):
        return None
    if not isinstance(reason, str):
        return None
    return url, Entry(length, media_type, float(checked), failures, reason[:MAX_REASON_CHARS])
