"""An on-disk snapshot of the loaded folder, for fast restarts.

The snapshot holds the index as it is in memory: every article's record (see
core.records) laid end to end, the columns and maps beside them, each feed's
members, and the signature (mtime, size, inode) of the exact version of every
file it was read from. At start-up the file is mapped into memory, not
parsed: the records stay in the file (the page cache) and are read when a
feed needs them, so a start costs the columns and maps, a few hundred
nanoseconds an article, not the articles. The folder is then compared with it
file by file: changed, new and deleted files go through the normal
incremental path. A snapshot from another folder, another version of feedsvc,
of its model or of Python, or one that cannot be read, is ignored (the folder
is then loaded in full).

A snapshot is trusted only as far as the files it is kept next to: it is
written readable by its owner alone, and one that is not owned by this user,
or that others could write, is ignored. Reading it never runs code: the
header is one ``marshal`` value, which builds only plain values (strings,
numbers, tuples, lists, dicts, bytes), checked for their exact types and
bounds (a CRC-32 guards the header against damage); the records are kept as
bytes and made into articles only from a file that passed those checks.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import marshal
import mmap
import os
import struct
import sys
import zlib
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from itertools import accumulate, islice
from operator import le
from pathlib import Path
from typing import Any, get_type_hints

from feedsvc import __version__
from feedsvc.content.folder import Signature
from feedsvc.content.loader import Skipped
from feedsvc.content.model import Article, Image, Problem, Provider, Related, Topic
from feedsvc.core import records
from feedsvc.core.index import ALL, FeedInfo, FeedKind, FeedRef, Parts, keyed_urls
from feedsvc.core.layered import Lazy
from feedsvc.core.records import microseconds, moment
from feedsvc.core.signatures import WIDTH, SignatureTable, column_of
from feedsvc.core.storage import atomic_write, is_private, write_new
from feedsvc.core.store import SourceNumbers, Store, UrlNumbers
from feedsvc.settings import Settings

log = logging.getLogger(__name__)

# The records a snapshot's articles are made of; any change to one of them
# (a field, its type or default) changes the identity below, which makes
# every older snapshot foreign.
MODEL: tuple[type, ...] = (Article, Related, Provider, Topic, Image, Problem)
FORMAT = 3  # of the file itself: 1 was a pickle of every article
MAGIC = b"feedsvc-snapshot"
_PREFIX = struct.Struct("<16sQI")  # magic, the header's length, its CRC-32
_HEADER = {
    "identity": str,
    "root": str,
    "count": int,
    "offsets": bytes,
    "published_us": bytes,
    "sources": list,
    "feeds": list,
    "names": list,
    "unpublished": int,
    "held": list,
    "skipped": list,
    "sizes": str,
    "sections": tuple,  # the length and CRC-32 of each of SECTIONS, in order, then the records
}
# Read on first use, not at start-up (each is a marshal dict behind the header, with its own CRC).
SECTIONS = ("by_url", "signatures")


def identity(model: tuple[type, ...] = MODEL) -> str:
    """What made a snapshot: this version of feedsvc, of the file format, of Python and
    its marshal format, and this exact model (every record's field names, types and
    defaults, in order)."""
    lines = [__version__, f"format {FORMAT}", f"python {sys.version_info[:2]} marshal {marshal.version}"]
    for kind in model:
        hints = get_type_hints(kind)
        defaults: dict[str, Any] = kind._field_defaults  # type: ignore[attr-defined]
        lines.append(f"{kind.__module__}.{kind.__qualname__}")
        fields: tuple[str, ...] = kind._fields  # type: ignore[attr-defined]
        lines += [f"{name}: {hints[name]!r} = {defaults.get(name, '<required>')!r}" for name in fields]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Snapshot:
    parts: Parts  # the index (its FeedInfo revisions are 0: Index.restore gives new ones)
    held: list[Article]  # future-dated articles as written (the index holds them unpublished)
    skipped: list[Skipped]
    # Every file's signature; from a saved snapshot, a function that reads them on first use.
    signatures: Mapping[str, Signature] | Callable[[], SignatureTable]
    sizes: str  # SizeBook.digest() of the image sizes the records were filled from
    crc: int = 0  # of a saved snapshot's header: which snapshot it is (core.verify)


def path_for(settings: Settings) -> Path | None:
    """Where the snapshot of these settings' content folder lives, or None when it is off."""
    if settings.snapshot == "off":
        return None
    if settings.snapshot == "auto":
        return default_path(settings.content)
    return Path(settings.snapshot)


def default_path(root: Path) -> Path:
    """Where the snapshot of a content folder lives: the user's cache folder."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return cache / "feedsvc" / f"{digest}.snapshot"


WRITE_BATCH = 1024  # records per write: ~1 MB


def save(path: Path, root: Path, snapshot: Snapshot, durable: bool = True) -> int | None:
    """Write the snapshot durably (atomic replace); failures are logged, not raised.
    Returns the CRC of what was written (what tells this snapshot from any other), or None.

    Only the articles the index holds now are written, renumbered newest
    first: the records a feed's first page reads lie together in the file.

    Not ``durable``: ``path`` is a new file, written but not synced, which the
    caller moves into place later (storage.move_durably; core.coldload).
    """
    try:
        header, chunks = _layout(root, snapshot)
        path.parent.mkdir(parents=True, exist_ok=True)
        if durable:
            atomic_write(path, chunks, mode=0o600)
        else:
            try:
                write_new(path, chunks, 0o600)
            except OSError:
                path.unlink(missing_ok=True)
                raise
    except OSError as exc:
        log.warning("could not write the start-up snapshot %s: %s", path, exc)
        return None
    return header


def _layout(root: Path, snapshot: Snapshot) -> tuple[int, Iterator[bytes | memoryview]]:
    """The CRC of the snapshot's header, and the file's bytes in order."""
    encoded, sections, kept = _header(root, snapshot)
    crc = zlib.crc32(encoded)
    return crc, _chunks(_PREFIX.pack(MAGIC, len(encoded), crc) + encoded, sections, kept)


def _chunks(head: bytes, sections: list[bytes], kept: list[bytes | memoryview]) -> Iterator[bytes | memoryview]:
    yield head
    yield from sections
    for start in range(0, len(kept), WRITE_BATCH):  # one write a record costs more than the copy
        yield b"".join(kept[start : start + WRITE_BATCH])


def _header(root: Path, snapshot: Snapshot) -> tuple[bytes, list[bytes], list[bytes | memoryview]]:
    """The snapshot's header (encoded), its sections and its records, in the order written."""
    parts = snapshot.parts
    store = parts.store
    order = list(parts.members[ALL])
    published = set(order)
    order += [number for number in _made(parts.by_source).values() if number not in published]
    renumber = array("q", [-1]) * len(store)
    for new, old in enumerate(order):
        renumber[old] = new
    kept = store.records(order)
    # A dict for the time of the save: a lookup in the index's compact map (SourceNumbers) is ~1 µs.
    made = _made(parts.by_source)
    by_source = made if type(made) is dict else dict(made.items())
    url_keys, url_numbers = array("Q"), array("I")
    for key, value in _made(parts.by_url).items():
        for source in [value] if isinstance(value, str) else value:
            url_keys.append(key)
            url_numbers.append(renumber[by_source[source]])
    signatures = _made(snapshot.signatures)
    others = {source: signatures[source] for source in sorted(signatures.keys() - by_source.keys())}
    sections = [
        marshal.dumps((url_keys.tobytes(), url_numbers.tobytes())),
        column_of(map(signatures.get, map(store.sources.__getitem__, order))) + marshal.dumps(others),
    ]
    header = {
        "identity": identity(),
        "root": str(root.resolve()),
        "count": len(order),
        "offsets": array("Q", accumulate(map(len, kept), initial=0)).tobytes(),
        "published_us": array("q", map(store.published_us.__getitem__, order)).tobytes(),
        "sources": list(map(store.sources.__getitem__, order)),
        "feeds": [
            (
                ref.kind.value,
                ref.key,
                info.name,
                None if info.updated is None else microseconds(info.updated),
                None if info.logo is None else tuple(info.logo),
                array("I", map(renumber.__getitem__, parts.members[ref])).tobytes(),
            )
            for ref, info in parts.info.items()
        ],
        "names": [(ref.kind.value, ref.key, tuple(names.items())) for ref, names in parts.names.items()],
        "unpublished": parts.unpublished_count,
        "held": [(a.source, microseconds(a.published_at), records.pack(a)) for a in snapshot.held],
        "skipped": [(s.source, s.reason) for s in snapshot.skipped],
        "sizes": snapshot.sizes,
        "sections": tuple((len(section), zlib.crc32(section)) for section in sections),
    }
    return marshal.dumps(header), sections, kept


def _made(value: Any) -> Any:
    return value() if callable(value) else value


def load(path: Path, root: Path) -> Snapshot | None:
    """Read a snapshot of ``root``, or None if there is no usable one."""
    opened = _open(path, root)
    if opened is None:
        return None
    header, rest, crc = opened
    try:
        return _restore(header, rest, path, crc)
    except Exception as exc:
        log.warning("ignoring the snapshot %s: %s", path, exc)
        return None


def signatures_of(path: Path, root: Path) -> tuple[int, SignatureTable] | None:
    """The file signatures a snapshot of ``root`` holds (and which snapshot it is: its
    ``crc``), reading nothing else of it; None if it is not usable, or they do not add up."""
    opened = _open(path, root)
    if opened is None:
        return None
    header, rest, crc = opened
    try:
        sources, count = header["sources"], header["count"]
        if len(sources) != count or not _only(sources, str):
            raise ValueError("the file names do not add up")
        # A dict: this process (core.verify) looks up every file once and is gone; the server's is compact.
        by_source: Lazy[Mapping[str, int]] = Lazy(None, lambda: dict(zip(sources, range(count), strict=True)))
        table = _signature_table(_sections(header, rest)["signatures"], by_source, count)
    except Exception as exc:
        log.warning("ignoring the snapshot %s: %s", path, exc)
        return None
    return None if table is None else (crc, table)


def _open(path: Path, root: Path) -> tuple[dict[str, Any], memoryview, int] | None:
    """A snapshot's checked header, what follows it (mapped) and the header's CRC; None
    (saying why in the log) if there is no usable snapshot of ``root`` at ``path``."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("ignoring the snapshot %s: %s", path, exc)
        return None
    try:
        status = os.fstat(descriptor)  # of the file opened: no swap between the check and the read
        if not is_private(status):
            log.warning("ignoring the snapshot %s: it is not private to this user", path)
            return None
        if status.st_size < _PREFIX.size:
            raise ValueError("not a snapshot")
        mapped = mmap.mmap(descriptor, 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError) as exc:
        log.warning("ignoring the snapshot %s: %s", path, exc)
        return None
    finally:
        os.close(descriptor)  # the mapping stays valid without it
    try:
        magic, length, crc = _PREFIX.unpack_from(mapped)
        if magic != MAGIC:
            log.info("ignoring the snapshot %s: it is not a snapshot of this format", path)
            return None
        encoded = mapped[_PREFIX.size : _PREFIX.size + length]
        if len(encoded) != length or zlib.crc32(encoded) != crc:
            raise ValueError("the header is damaged")
        header = marshal.loads(encoded)  # noqa: S302 (plain values only; every one is checked below)
        del encoded
        if type(header) is not dict or header.keys() != _HEADER.keys():
            raise ValueError("not a snapshot")
        if not all(type(header[name]) is kind for name, kind in _HEADER.items()):
            raise ValueError("not a snapshot")
        if header["identity"] != identity():
            log.info("ignoring the snapshot %s: another version of feedsvc, of its model or of Python made it", path)
            return None
        if header["root"] != str(root.resolve()):
            log.info("ignoring the snapshot %s: it was made for %s", path, header["root"])
            return None
        return header, memoryview(mapped)[_PREFIX.size + length :], crc
    except Exception as exc:
        log.warning("ignoring the snapshot %s: %s", path, exc)
        return None


def _sections(header: dict[str, Any], rest: memoryview) -> dict[str, tuple[memoryview, int]]:
    """Each of SECTIONS (where it lies, and its CRC) and, under "records", what follows them."""
    sections = _rows(header["sections"], 2, (int, int))
    if len(sections) != len(SECTIONS) or any(length < 0 for length, _ in sections):
        raise ValueError("the sections do not add up")
    starts = list(accumulate((length for length, _ in sections), initial=0))
    found = {
        name: (rest[start : start + length], crc)
        for name, start, (length, crc) in zip(SECTIONS, starts[:-1], sections, strict=True)
    }
    found["records"] = (rest[starts[-1] :], 0)
    return found


def _restore(header: dict[str, Any], rest: memoryview, path: Path, crc: int) -> Snapshot:
    """The snapshot a checked header describes; ValueError for anything that does not add up.

    Only what serving feeds needs is checked and built here, in time and
    memory that grow by a few hundred nanoseconds and ~70 bytes an article:
    the columns, the file names and every feed's members. The rest is read
    when first needed (see SECTIONS).
    """
    count, found = header["count"], _sections(header, rest)
    base = found["records"][0]
    offsets, published_us = _column("Q", header["offsets"], count + 1), _column("q", header["published_us"], count)
    sources = header["sources"]
    if offsets[0] != 0 or offsets[-1] != len(base) or not all(map(le, offsets, islice(offsets, 1, None))):
        raise ValueError("the records do not add up")
    if len(sources) != count or not _only(sources, str) or len(set(sources)) != count:
        raise ValueError("the file names do not add up")
    members, info = _feeds(header["feeds"], count)
    names = {_ref(kind, key): Counter(_names(pairs)) for kind, key, pairs in _rows(header["names"], 3)}
    held = [records.unpack(s, us, r) for s, us, r in _rows(header["held"], 3, (str, int, bytes))]
    skipped = [Skipped(source, reason) for source, reason in _rows(header["skipped"], 2, (str, str))]
    store = Store(base, offsets, sources, published_us)
    by_source: Lazy[Mapping[str, int]] = Lazy(None, lambda: SourceNumbers(sources, count))

    def by_url() -> Mapping[int, str | list[str]]:
        made = _url_map(found["by_url"], sources)
        if made is None:  # made again from the records: what the snapshot would have held
            log.error("the snapshot %s: its URL table does not add up; made again from the articles", path)
            made = _urls_of(store, members[ALL])
        return made

    def signatures() -> SignatureTable:
        made = _signature_table(found["signatures"], by_source, count)
        if made is None:
            log.error("the snapshot %s: its file signatures do not add up; every file is read again", path)
            made = SignatureTable(by_source, bytes(count * WIDTH), {})
        return made

    parts = Parts(store, by_source, by_url, members, info, names, header["unpublished"])
    return Snapshot(parts, held, skipped, signatures, header["sizes"], crc)


def _checked(section: tuple[memoryview, int]) -> memoryview | None:
    raw, crc = section
    return raw if zlib.crc32(raw) == crc else None


def _url_map(section: tuple[memoryview, int], sources: list[str]) -> Mapping[int, str | list[str]] | None:
    """The URL map (by url_key) from its section: a key and an article number a row; None if it does not add up."""
    raw = _checked(section)
    try:
        keys_raw, numbers_raw = marshal.loads(raw) if raw is not None else (None, None)  # noqa: S302 (checked)
        keys, numbers = _column("Q", keys_raw, None), _column("I", numbers_raw, None)
    except (ValueError, EOFError, TypeError):
        return None
    if len(keys) != len(numbers) or (numbers and max(numbers) >= len(sources)):
        return None
    with contextlib.suppress(ValueError):  # a snapshot this version wrote has each URL's rows together
        return UrlNumbers(keys, numbers, sources)
    made: dict[int, str | list[str]] = {}
    for key, number in zip(keys, numbers, strict=True):
        source, known = sources[number], made.get(key)
        made[key] = source if known is None else [*([known] if isinstance(known, str) else known), source]
    return made


def _signature_table(
    section: tuple[memoryview, int], by_source: Lazy[Mapping[str, int]], count: int
) -> SignatureTable | None:
    """The file signatures from their section: a column read where it lies, then the other files'."""
    raw = _checked(section)
    if raw is None or len(raw) < count * WIDTH:
        return None
    try:
        others = marshal.loads(raw[count * WIDTH :])  # noqa: S302 (checked)
    except (ValueError, EOFError, TypeError):
        return None
    if type(others) is not dict or not (_only(others, str) and _only(others.values(), int)):
        return None
    # A copy (24 bytes a file): the table outlives the index it came with, and a view would keep
    # the whole mapped file, deleted once a newer snapshot replaces it, on the disk until a restart.
    return SignatureTable(by_source, bytes(raw[: count * WIDTH]), others)


def _urls_of(store: Store, published: array[int]) -> dict[int, str | list[str]]:
    """The index's URL map, made from its published articles' records."""
    found: dict[str, list[str]] = {}
    for number in published:
        found.setdefault(store.head(number).url, []).append(store.sources[number])
    return keyed_urls(found)


def _feeds(rows: list[Any], count: int) -> tuple[dict[FeedRef, array[int]], dict[FeedRef, FeedInfo]]:
    members: dict[FeedRef, array[int]] = {}
    info: dict[FeedRef, FeedInfo] = {}
    for kind, key, name, updated, logo, numbers in _rows(rows, 6):
        ref = _ref(kind, key)
        found = _column("I", numbers, None)
        if type(name) is not str or (found and max(found) >= count) or ref in members:
            raise ValueError("a feed does not add up")
        if not (updated is None or type(updated) is int) or (updated is None) != (not found):
            raise ValueError("a feed does not add up")
        members[ref] = found
        info[ref] = FeedInfo(ref, name, len(found), None if updated is None else moment(updated), _logo(logo), 0, 0)
    if ALL not in members:
        raise ValueError("the feed of all articles is missing")
    return members, info


def _ref(kind: Any, key: Any) -> FeedRef:
    if type(kind) is not str or type(key) is not str:
        raise ValueError("a feed name does not add up")
    return FeedRef(FeedKind(kind), key)


def _logo(value: Any) -> Image | None:
    if value is None:
        return None
    url, width, height, length, media_type = _rows([value], 5, (str, (int, None), (int, None), (int, None), str))[0]
    return Image(url, width, height, length, media_type)


def _names(pairs: Any) -> dict[str, int]:
    return dict(_rows(pairs, 2, (str, int)))


def _rows(rows: Any, width: int, kinds: tuple[Any, ...] | None = None) -> list[Any]:
    """Rows of a checked width (and, when given, each value's exact type; a tuple allows several)."""
    if type(rows) not in (list, tuple):
        raise ValueError("a table does not add up")
    for row in rows:
        if type(row) is not tuple or len(row) != width:
            raise ValueError("a table does not add up")
        if kinds is not None:
            for value, kind in zip(row, kinds, strict=True):
                allowed = kind if type(kind) is tuple else (kind,)
                if not any(value is None if k is None else type(value) is k for k in allowed):
                    raise ValueError("a table does not add up")
    return list(rows)


def _column(code: str, raw: Any, count: int | None) -> array[int]:
    """An array of ``count`` numbers from their bytes (any count for None)."""
    found = array(code)
    if type(raw) is not bytes or len(raw) % found.itemsize:
        raise ValueError("a column does not add up")
    found.frombytes(raw)
    if count is not None and len(found) != count:
        raise ValueError("a column does not add up")
    return found


def _only(values: Any, *kinds: type) -> bool:
    """Are these values all of exactly these types (checked at C speed)?"""
    return set(map(type, values)) <= set(kinds)
