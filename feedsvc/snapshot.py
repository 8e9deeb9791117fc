"""An on-disk snapshot of the loaded folder, for fast restarts.

The snapshot holds every parsed article and skipped file with the signature
(mtime, size, inode) of the exact version it was read from. At start-up the
folder is compared with it file by file: unchanged files are taken from the
snapshot, changed, new and deleted ones go through the normal incremental
path. A snapshot from another folder, another version of feedsvc, or one
that cannot be read is ignored (the folder is then loaded in full).

A snapshot is trusted only as far as the files it is kept next to: it is
written readable by its owner alone, and one that is not owned by this user,
or that others could write, is ignored. Unpickling runs with an allow-list
of classes, so even a hostile file could only ever produce articles, never
run code; every article is checked for the right shape, and one that does not
come from a file in the folder is a reason to ignore the whole snapshot.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from feedsvc import __version__
from feedsvc.live.storage import atomic_write
from feedsvc.loader import Signature, Skipped
from feedsvc.model import Article, Image, Provider, Related, Topic

log = logging.getLogger(__name__)

FORMAT = 2
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
        atomic_write(path, pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL), mode=0o600)
    except OSError as exc:
        log.warning("could not write the start-up snapshot %s: %s", path, exc)


def load(path: Path, root: Path) -> Snapshot | None:
    """Read a snapshot of ``root``, or None if there is no usable one."""
    try:
        status = path.stat()
        if status.st_uid != os.getuid() or status.st_mode & 0o022:
            log.warning("ignoring the snapshot %s: it is not private to this user", path)
            return None
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
        signatures = {str(k): int(v) for k, v in payload["signatures"].items()}
        articles = payload["articles"]
        if not isinstance(articles, list) or not all(_well_formed(a, signatures) for a in articles):
            raise ValueError("an article is malformed or comes from no file of the folder")
        return Snapshot(
            articles=articles,
            skipped=[Skipped(str(source), str(reason)) for source, reason in payload["skipped"]],
            signatures=signatures,
        )
    except Exception as exc:
        log.warning("ignoring the snapshot %s: %s", path, exc)
        return None


def _well_formed(article: Any, signatures: dict[str, Signature]) -> bool:
    """Is this an Article of the right shape, read from a file the snapshot knows?"""
    if not (type(article) is Article and len(article) == len(Article._fields)):
        return False
    texts = (article.title, article.url, article.excerpt, article.body_html, article.category, article.guid)
    return (
        isinstance(article.source, str)
        and article.source in signatures
        and all(type(text) is str for text in texts)
        and type(article.published_at) is datetime
        and type(article.updated_at) is datetime
        and article.published_at.tzinfo is not None
        and type(article.published) is bool
        and (article.provider is None or _provider(article.provider))
        and all(type(t) is Topic and type(t.name) is str and type(t.slug) is str for t in article.topics)
        and all(_image(i) for i in article.images)
        and all(
            type(r) is Related
            and type(r.title) is str
            and type(r.url) is str
            and (r.provider is None or _provider(r.provider))
            for r in article.related
        )
    )


def _provider(provider: Any) -> bool:
    return (
        type(provider) is Provider
        and type(provider.name) is str
        and type(provider.domain) is str
        and all(_image(i) for i in provider.images)
    )


def _image(image: Any) -> bool:
    return type(image) is Image and type(image.url) is str


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a snapshot")
        return super().find_class(module, name)
