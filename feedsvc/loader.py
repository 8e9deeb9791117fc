"""Read a content folder into articles: the file-system edge of the service."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from feedsvc.model import Article
from feedsvc.parse import InvalidArticle, parse_article, split_front_matter

_T = TypeVar("_T")

log = logging.getLogger(__name__)

ARTICLE_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".yaml", ".yml"})
MAX_FILE_BYTES = 8 * 1024 * 1024  # a front-matter article is a few KiB; refuse absurd files


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file that was not published, and why."""

    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


@dataclass(slots=True)
class LoadResult:
    articles: list[Article] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    signatures: dict[str, Signature] = field(default_factory=dict)


def article_paths(root: Path) -> list[Path]:
    """Given a content folder, return its article files in a stable order.

    Hidden files and folders (editor swap files, .git), editor backups and
    README files are not articles.
    """
    return sorted(Path(entry.path) for entry in scan(str(root)))


def signatures(root: Path) -> dict[str, Signature]:
    """Given a content folder, return the signature of every article file, by source."""
    found = {}
    prefix = len(str(root)) + 1
    for entry in scan(str(root)):
        try:
            stat = entry.stat()
        except OSError:
            continue  # gone since it was listed
        found[entry.path[prefix:].replace(os.sep, "/")] = signature_of(stat)
    return found


def scan(folder: str) -> Iterator[os.DirEntry[str]]:
    """Every article file below ``folder`` (os.scandir: no stat per file to list it)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if name.startswith(".") or name.endswith("~"):
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from scan(entry.path)
        elif (
            os.path.splitext(name)[1].lower() in ARTICLE_SUFFIXES
            and not name.lower().startswith("readme")
            and entry.is_file()
        ):
            yield entry


def is_article_name(path: Path, root: Path) -> bool:
    """Could ``path`` (below ``root``) be an article file, judging by its name alone?"""
    try:
        relative = path.relative_to(root).parts
    except ValueError:
        return False
    if not relative or any(part.startswith(".") for part in relative) or path.name.endswith("~"):
        return False
    return not path.name.lower().startswith("readme") and path.suffix.lower() in ARTICLE_SUFFIXES


# What identifies one version of a file on disk: its mtime (ns), size and inode,
# packed into one int (a 100,000-file folder keeps 100,000 of them).
Signature = int


def signature_of(stat: os.stat_result) -> Signature:
    return (stat.st_mtime_ns << 128) | (stat.st_size << 64) | stat.st_ino


def modified_at(signature: Signature) -> float:
    """The mtime in a signature, in seconds since the epoch."""
    return (signature >> 128) / 1e9


Loaded = tuple["Article | Skipped", Signature | None]


def as_front_matter(yaml_text: str) -> str:
    """A .yaml file is either a front-matter document or all front matter."""
    try:
        split_front_matter(yaml_text.lstrip("\ufeff"))
        return yaml_text
    except InvalidArticle:
        body = re.sub(r"\A\ufeff?---[ \t]*\r?\n", "", yaml_text)  # an opening document marker
        return f"---\n{body}\n---\n"


def load_file(path: Path, root: Path) -> Article | Skipped:
    """Given one file, return its article, or why it was skipped."""
    return read_file(path, root)[0]


def read_file(path: Path, root: Path) -> tuple[Article | Skipped, Signature | None]:
    """Given one file, return its article (or why it was skipped) and the
    signature of the exact version that was read."""
    source = path.relative_to(root).as_posix()
    try:
        with path.open("rb") as handle:
            stat = os.fstat(handle.fileno())
            # Ask for what is there (plus one byte, to notice growth): a huge size
            # hint would allocate a huge buffer for every small file.
            raw = handle.read(min(stat.st_size, MAX_FILE_BYTES) + 1)
            if len(raw) <= MAX_FILE_BYTES and len(raw) > stat.st_size:
                raw += handle.read(MAX_FILE_BYTES + 1 - len(raw))  # it grew while we read
    except OSError as exc:
        return Skipped(source, f"cannot read: {exc.strerror or exc}"), None
    signature = signature_of(stat)
    if len(raw) > MAX_FILE_BYTES:
        return Skipped(source, f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB"), signature
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Skipped(source, f"not UTF-8 text (byte {exc.start})"), signature
    if path.suffix.lower() in (".yaml", ".yml"):
        text = as_front_matter(text)
    try:
        return parse_article(text, source), signature
    except InvalidArticle as exc:
        return Skipped(source, str(exc)), signature
    except Exception as exc:
        log.exception("unexpected error parsing %s", source)
        return Skipped(source, f"could not be parsed ({type(exc).__name__}: {exc})"), signature


def log_warnings(article: Article) -> None:
    """One log line per file whose article was published with parts left out."""
    if article.warnings:
        log.warning("published %s without: %s", article.source, "; ".join(str(w) for w in article.warnings))


# Below this many files one process is faster than starting others.
PARALLEL_THRESHOLD = 2000
CHUNK = 500


def load_folder(root: Path, log_skipped: bool = True, workers: int = 0) -> LoadResult:
    """Given a content folder, return every article in it and every file skipped.

    Each skipped file is logged once, with its name and the reason. Large
    folders are parsed by ``workers`` processes (0: one per CPU); parsing
    YAML is CPU-bound Python, so threads would not help.
    """
    result = LoadResult()
    paths = article_paths(root)
    workers = workers or os.cpu_count() or 1
    loaded_files: Iterable[tuple[Article | Skipped, Signature | None]]
    if workers > 1 and len(paths) >= PARALLEL_THRESHOLD:
        try:
            loaded_files = _read_in_parallel(paths, root, workers)
        except Exception:  # e.g. a worker killed by the OOM killer: do it here instead
            log.exception("parallel loading failed; loading in this process")
            loaded_files = (read_file(path, root) for path in paths)
    else:
        loaded_files = (read_file(path, root) for path in paths)
    for loaded, signature in loaded_files:
        if signature is not None:
            result.signatures[loaded.source] = signature
        if isinstance(loaded, Skipped):
            if log_skipped:
                log.warning("skipped %s", loaded)
            result.skipped.append(loaded)
        else:
            if log_skipped:
                log_warnings(loaded)
            result.articles.append(loaded)
    return result


def _read_in_parallel(paths: list[Path], root: Path, workers: int) -> list[tuple[Article | Skipped, Signature | None]]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    chunks = [paths[start : start + CHUNK] for start in range(0, len(paths), CHUNK)]
    # "spawn": the caller may have threads (a server, a test runner), and fork would copy their locks.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        results = pool.map(_read_chunk, chunks, [root] * len(chunks))
        shared = _Sharer()
        return [shared(loaded) for chunk in results for loaded in chunk]


class _Sharer:
    """Each worker shares topic and provider objects among its own articles;
    across workers they arrive as copies. Make them one object again."""

    def __init__(self) -> None:
        self.known: dict[object, object] = {}

    def __call__(self, loaded: Loaded) -> Loaded:
        article, signature = loaded
        if isinstance(article, Skipped):
            return loaded
        share = self.share
        related = tuple(r._replace(provider=share(r.provider)) if r.provider else r for r in article.related)
        shared = article._replace(
            provider=share(article.provider) if article.provider else None,
            topics=tuple(share(topic) for topic in article.topics),
            images=tuple(share(image) for image in article.images),
            related=related,
        )
        return shared, signature

    def share(self, value: _T) -> _T:
        return self.known.setdefault(value, value)  # type: ignore[return-value]


def _read_chunk(paths: list[Path], root: Path) -> list[tuple[Article | Skipped, Signature | None]]:
    return [read_file(path, root) for path in paths]
