"""What is known about image files' sizes and media types, by URL (the enclosure probe's results).

The book is the state behind live/probe.py: for each image URL, the size and
type its server gave (if it ever did), when it was last asked, and how many
times in a row asking failed. Which URLs to ask next, and when, are pure
decisions over it (:func:`next_check`, :meth:`SizeBook.due`); the publisher
fills the known values into every article it indexes (:meth:`SizeBook.fill`),
so an edited file keeps its sizes and ``feedsvc build`` uses them without
asking anyone.

It is kept in a small file beside the start-up snapshot
(``<snapshot>.sizes.json``), not in it: results are per URL and outlive any
one version of a file, the snapshot is thrown away whenever the model or
feedsvc's version changes (days of probing with it), and JSON read with
bounds can hold nothing but numbers and text. Like the snapshot it is
written owner-only and ignored when it is not private to this user.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from feedsvc.content.images import image_media_type, is_image_size
from feedsvc.content.model import Article, Image
from feedsvc.content.sharing import one_image
from feedsvc.core.storage import atomic_write

log = logging.getLogger(__name__)

DAY = 86_400.0
RECHECK_SECONDS = 7 * DAY  # a known size is asked again after a week: images are rarely replaced in place
BACKOFF_START = 900.0  # a failure is retried after 15 minutes, then 30, 60, ... (per URL)
BACKOFF_MAX = 7 * DAY
MAX_ENTRIES = 200_000  # ten images for each of 20,000 articles; the oldest are forgotten first
MAX_FILE_BYTES = 64 * 1024 * 1024
FORMAT = 1


@dataclass(frozen=True, slots=True)
class Entry:
    """What asking one URL's server found, and when."""

    length: int | None  # bytes; None while never found
    type: str  # "image/..." or "" while never found
    checked: float  # Unix time of the last answer (or failure)
    failures: int = 0  # failures in a row since the last success
    reason: str = ""  # why the last try failed, for logs and /healthz


def next_check(entry: Entry) -> float:
    """When to ask about this URL again: a week after a success; after a
    failure, 15 minutes doubling with each failure in a row, at most a week,
    so a dead host is not hammered."""
    if entry.failures == 0:
        return entry.checked + RECHECK_SECONDS
    return entry.checked + min(BACKOFF_START * (1 << min(entry.failures - 1, 30)), BACKOFF_MAX)


def sizes_path(snapshot_path: Path) -> Path:
    """Where the probe results of a content folder are kept: beside its snapshot."""
    return snapshot_path.with_name(f"{snapshot_path.name}.sizes.json")


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


class SizeBook:
    """Probe results by URL; safe to read and write from the event loop and worker threads."""

    def __init__(self, entries: Mapping[str, Entry] | None = None) -> None:
        self._entries: dict[str, Entry] = dict(entries or {})
        self._lock = threading.Lock()
        self.changed = False  # since the last save

    def __len__(self) -> int:
        return len(self._entries)

    # Picklable (without its lock), for the loading workers that fill sizes in (core.packed).
    def __getstate__(self) -> dict[str, Entry]:
        with self._lock:
            return dict(self._entries)

    def __setstate__(self, entries: dict[str, Entry]) -> None:
        self.__init__(entries)  # type: ignore[misc]

    def get(self, url: str) -> Entry | None:
        return self._entries.get(url)

    def known(self) -> int:
        """How many URLs have a size."""
        return sum(1 for entry in list(self._entries.values()) if entry.length is not None)

    def record(self, url: str, length: int | None, media_type: str, now: float, reason: str = "") -> bool:
        """Record one answer (a size and type) or failure (no length); return
        whether the size or type the feeds show changed."""
        reason = reason[:200]  # kept and logged: a server's words, bounded
        with self._lock:
            old = self._entries.get(url)
            if length is not None:
                entry = Entry(length, media_type, now)
            elif old is not None:  # keep what was known: a failed recheck says nothing about the file
                entry = Entry(old.length, old.type, now, min(old.failures + 1, 9_999), reason)
            else:
                entry = Entry(None, "", now, 1, reason)
            self._entries.pop(url, None)  # re-inserted last: the dict's order is oldest answer first
            self._entries[url] = entry
            while len(self._entries) > MAX_ENTRIES:
                del self._entries[next(iter(self._entries))]
            self.changed = True
        shown = (old.length, old.type) if old is not None else (None, "")
        return shown != (entry.length, entry.type)

    def due(self, images: Iterable[Image], now: float, limit: int) -> list[str]:
        """The URLs among these images to ask about now, at most ``limit``, in
        the order given: never asked (unless the front matter gave both size
        and type), or whose next check has come."""
        urls: dict[str, None] = {}
        for image in images:
            if image.url in urls:
                continue
            entry = self._entries.get(image.url)
            if entry is None:
                if image.length is not None and image.type:
                    continue  # the front matter said it all
            elif next_check(entry) > now:
                continue
            urls[image.url] = None
            if len(urls) >= limit:
                break
        return list(urls)

    def next_due(self, images: Iterable[Image]) -> float | None:
        """The earliest next check among these images' known URLs."""
        times = [next_check(entry) for image in images if (entry := self._entries.get(image.url)) is not None]
        return min(times, default=None)

    def fill(self, article: Article, before: Mapping[str, Entry] | None = None) -> Article:
        """``article`` with every known size and type filled into its images (the same object if none)."""
        entries = self._entries
        if not entries or not article.images:
            return article
        # On the start-up path for every article: most are already complete (from the snapshot)
        # or have no known URL, and are answered without building anything.
        if before is None and all(
            (image.length is not None and image.type) or entries.get(image.url) is None for image in article.images
        ):
            return article
        images = tuple(
            fill_image(image, self._entries.get(image.url), before.get(image.url) if before else None)
            for image in article.images
        )
        if all(new is old for new, old in zip(images, article.images, strict=True)):
            return article
        return article._replace(images=images)

    def urls(self) -> list[str]:
        """Every URL whose size is known."""
        with self._lock:
            return [url for url, entry in self._entries.items() if entry.length is not None]

    def digest(self) -> str:
        """What the known sizes and types are, in one string: the snapshot keeps the digest
        its articles were filled from, so a start can tell whether to fill them again."""
        with self._lock:
            rows = sorted(f"{url}\t{e.length}\t{e.type}" for url, e in self._entries.items() if e.length is not None)
        return hashlib.sha256("\n".join(rows).encode()).hexdigest()

    # --- kept beside the snapshot ---------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the book durably, owner-only; failures are logged, not raised."""
        with self._lock:
            rows = [[url, e.length, e.type, e.checked, e.failures, e.reason] for url, e in self._entries.items()]
            self.changed = False
        data = json.dumps({"format": FORMAT, "entries": rows}, separators=(",", ":")).encode()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, data, mode=0o600)
        except OSError as exc:
            log.warning("could not keep the image sizes in %s: %s", path, exc)

    @classmethod
    def load(cls, path: Path) -> SizeBook:
        """The book kept in ``path``, or an empty one when there is no usable file."""
        try:
            status = path.stat()
            if status.st_uid != os.getuid() or status.st_mode & 0o022:
                log.warning("ignoring the image sizes in %s: the file is not private to this user", path)
                return cls()
            if status.st_size > MAX_FILE_BYTES:
                log.warning("ignoring the image sizes in %s: larger than %d bytes", path, MAX_FILE_BYTES)
                return cls()
            payload = json.loads(path.read_bytes())
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            log.warning("ignoring the image sizes in %s: %s", path, exc)
            return cls()
        if (
            not isinstance(payload, dict)
            or payload.get("format") != FORMAT
            or not isinstance(payload.get("entries"), list)
        ):
            log.warning("ignoring the image sizes in %s: not a file this version of feedsvc wrote", path)
            return cls()
        entries = dict(filter(None, map(_entry, payload["entries"][-MAX_ENTRIES:])))
        return cls(entries)


def _entry(row: Any) -> tuple[str, Entry] | None:
    """One saved row, if it is well formed: anything else is dropped, not trusted."""
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
    if not (type(failures) is int and 0 <= failures < 10_000):
        return None
    if not isinstance(reason, str):
        return None
    return url, Entry(length, media_type, float(checked), failures, reason[:200])
