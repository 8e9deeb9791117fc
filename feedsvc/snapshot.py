"""An on-disk snapshot of the loaded folder, for fast restarts.

The snapshot holds every parsed article and skipped file with the signature
(mtime, size, inode) of the exact version it was read from. At start-up the
folder is compared with it file by file: unchanged files are taken from the
snapshot, changed, new and deleted ones go through the normal incremental
path. A snapshot from another folder, another version of feedsvc, or one
that cannot be read is ignored (the folder is then loaded in full).

Unpickling runs with an allow-list of classes, so a snapshot file, even a
hostile one, can only ever produce articles, never run code.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from feedsvc import __version__
from feedsvc.live.storage import atomic_write
from feedsvc.loader import Signature, Skipped
from feedsvc.model import Article

log = logging.getLogger(__name__)

FORMAT = 1
_ALLOWED = {("feedsvc.model", name) for name in ("Article", "Image", "Provider", "Related", "Topic", "Problem")} | {
    ("datetime", "datetime"),
    ("datetime", "timezone"),
    ("datetime", "timedelta"),
}


@dataclass(frozen=True, slots=True)
class Snapshot:
    articles: list[Article]
    skipped: list[Skipped]
    signatures: dict[str, Signature]


def default_path(root: Path) -> Path:
    """Where the snapshot of a content folder lives: the user's cache folder."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return cache / "feedsvc" / f"{digest}.snapshot"


def save(path: Path, root: Path, snapshot: Snapshot) -> None:
    """Write the snapshot durably (atomic replace); failures are logged, not raised."""
    payload = {
        "format": FORMAT,
        "version": __version__,
        "root": str(root.resolve()),
        "articles": snapshot.articles,
        "skipped": [(s.source, s.reason) for s in snapshot.skipped],
        "signatures": snapshot.signatures,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
    except OSError as exc:
        log.warning("could not write the start-up snapshot %s: %s", path, exc)


def load(path: Path, root: Path) -> Snapshot | None:
    """Read a snapshot of ``root``, or None if there is no usable one."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("ignoring the snapshot %s: %s", path, exc)
        return None
    try:
        payload = _Unpickler(io.BytesIO(data)).load()
        if not isinstance(payload, dict):
            raise ValueError("not a snapshot")
        foreign = (payload.get("format"), payload.get("version"), payload.get("root"))
        if foreign != (FORMAT, __version__, str(root.resolve())):
            log.info("ignoring the snapshot %s: it was made for %s", path, foreign)
            return None
        return Snapshot(
            articles=_checked(payload["articles"], Article),
            skipped=[Skipped(str(source), str(reason)) for source, reason in payload["skipped"]],
            signatures={str(k): (int(v[0]), int(v[1]), int(v[2])) for k, v in payload["signatures"].items()},
        )
    except Exception as exc:
        log.warning("ignoring the snapshot %s: %s", path, exc)
        return None


def _checked(items: Any, kind: type[Article]) -> list[Article]:
    if not isinstance(items, list) or not all(isinstance(item, kind) for item in items):
        raise ValueError("unexpected content")
    return items


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a snapshot")
        return super().find_class(module, name)
