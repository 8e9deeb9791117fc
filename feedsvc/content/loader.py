"""Read a content folder into articles: the file-system edge of the service."""

from __future__ import annotations

import logging
import os
import pickle
import queue
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeAlias, TypeVar, overload

from feedsvc.children import end_with_parent
from feedsvc.content.folder import Signature, scan, signature_of
from feedsvc.content.model import Article
from feedsvc.content.sharing import share_parts
from feedsvc.memory import paused_gc
from feedsvc.progress import Progress, ignore

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 8 * 1024 * 1024  # a front-matter article is a few KiB; refuse absurd files


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file that was not published, and why."""

    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


T = TypeVar("T")


@dataclass(slots=True)
class LoadResult(Generic[T]):
    """What a folder held: its articles (or what ``convert`` made of each), the files
    skipped and the signature of every file read."""

    articles: list[T] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    signatures: dict[str, Signature] = field(default_factory=dict)


Loaded = tuple["Article | Skipped", Signature | None]
# What reading one file gives a folder's load: its name, its article (or what ``convert`` made
# of it) or why it was skipped, its signature, and the parts its article was published without.
Item = tuple[str, "T | Skipped", Signature | None, str]


def as_front_matter(yaml_text: str) -> str:
    """A .yaml file is either a front-matter document or all front matter."""
    from feedsvc.content.parse import InvalidArticle, split_front_matter

    try:
        split_front_matter(yaml_text.lstrip("\ufeff"))
        return yaml_text
    except InvalidArticle:
        body = re.sub(r"\A\ufeff?---[ \t]*\r?\n", "", yaml_text)  # an opening document marker
        return f"---\n{body}\n---\n"


def load_file(path: Path, root: Path) -> Article | Skipped:
    """Given one file, return its article, or why it was skipped."""
    return read_file(path, root)[0]


def read_file(path: Path, root: Path) -> Loaded:
    """Given one file, return its article (or why it was skipped) and the
    signature of the exact version that was read."""
    return _read(str(path), path.relative_to(root).as_posix())


def _read(filename: str, source: str) -> Loaded:
    """``read_file`` on plain strings: the loop over a whole folder runs this
    20,000 times, and pathlib's object per call is a tenth of a file's cost."""
    try:
        descriptor = os.open(filename, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            stat = os.fstat(descriptor)
            # Ask for what is there (plus one byte, to notice growth): a huge size
            # hint would allocate a huge buffer for every small file.
            raw = _read_up_to(descriptor, min(stat.st_size, MAX_FILE_BYTES) + 1)
            if len(raw) <= MAX_FILE_BYTES and len(raw) > stat.st_size:
                raw += _read_up_to(descriptor, MAX_FILE_BYTES + 1 - len(raw))  # it grew while we read
        finally:
            os.close(descriptor)
    except OSError as exc:
        return Skipped(source, f"cannot read: {exc.strerror or exc}"), None
    signature = signature_of(stat)
    if len(raw) > MAX_FILE_BYTES:
        return Skipped(source, f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB"), signature
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Skipped(source, f"not UTF-8 text (byte {exc.start})"), signature
    if source.lower().endswith((".yaml", ".yml")):
        text = as_front_matter(text)
    # The parser (PyYAML, nh3...) loads with the first file read, not with this module: a start
    # from the snapshot reads none (~16 ms and ~3 MB). Once loaded this costs ~0.6 µs a file.
    from feedsvc.content.parse import InvalidArticle, parse_article

    try:
        return parse_article(text, source), signature
    except InvalidArticle as exc:
        return Skipped(source, str(exc)), signature
    except Exception as exc:
        log.exception("unexpected error parsing %s", source)
        reason = str(exc)  # a library's message may quote the file: keep its start
        return Skipped(source, f"could not be parsed ({type(exc).__name__}: {reason[:300]})"), signature


def _read_up_to(descriptor: int, size: int) -> bytes:
    """Read until ``size`` bytes or the end of the file (one read call is enough
    for a regular file, but the OS does not promise it)."""
    parts = []
    while size > 0:
        part = os.read(descriptor, size)
        if not part:
            break
        parts.append(part)
        size -= len(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def log_warnings(article: Article) -> None:
    """One log line per file whose article was published with parts left out."""
    if article.warnings:
        _warn(article.source, _left_out(article))


def _left_out(article: Article) -> str:
    return "; ".join(str(w) for w in article.warnings)


def _warn(source: str, left_out: str) -> None:
    log.warning("published %s without: %s", source, left_out)


# Below this many files one process is faster than starting others.
PARALLEL_THRESHOLD = 2000
CHUNK = 500
# A worker parses a chunk in ~0.1 s; one silent this long is taken for hung.
WORKER_SILENCE = 120
LOCK_PATIENCE = 5


@overload
def load_folder(
    root: Path, log_skipped: bool = True, workers: int = 0, progress: Progress = ignore
) -> LoadResult[Article]: ...


@overload
def load_folder(
    root: Path,
    log_skipped: bool = True,
    workers: int = 0,
    progress: Progress = ignore,
    *,
    convert: Callable[[Article], T],
    keep: Keep = None,
) -> LoadResult[T]: ...


def load_folder(
    root: Path,
    log_skipped: bool = True,
    workers: int = 0,
    progress: Progress = ignore,
    *,
    convert: Callable[[Article], Any] | None = None,
    keep: Keep = None,
) -> LoadResult[Any]:
    """Given a content folder, return every article in it and every file skipped.

    Each skipped file is logged once, with its name and the reason. Large
    folders are parsed by ``workers`` processes in all, this one included
    (0: one per CPU); parsing YAML is CPU-bound Python, so threads would not help.
    ``progress`` hears (files read, files in all) after every chunk.

    With ``convert`` (a picklable callable: it is sent to the workers), the
    result holds what it makes of each article, made where the article was
    parsed: the workers then send back that, not the article. ``keep``, if
    given, is handed each chunk's items in this process as they come, and
    the result holds what it returns instead (core.spool moves records to a file).
    """
    result: LoadResult[Any] = LoadResult()
    files = _article_files(root)
    folder = str(root)
    workers = workers or os.cpu_count() or 1
    with paused_gc():
        items: Iterable[Item[Any]]
        if workers > 1 and len(files) >= PARALLEL_THRESHOLD:
            try:
                items = _read_in_parallel(folder, files, workers, convert, progress, keep)
            except Exception:  # e.g. a worker killed by the OOM killer: do it here instead
                log.exception("parallel loading failed; loading in this process")
                items = _read_here(folder, files, convert, progress, keep)
        else:
            items = _read_here(folder, files, convert, progress, keep)
        for source, found, signature, left_out in items:
            if signature is not None:
                result.signatures[source] = signature
            if isinstance(found, Skipped):
                if log_skipped:
                    log.warning("skipped %s", found)
                result.skipped.append(found)
            else:
                if log_skipped and left_out:
                    _warn(source, left_out)
                result.articles.append(found)
    return result


def _article_files(root: Path) -> list[str]:
    """The source (its path in ``root``, with "/") of every article file, in the order of
    ``article_paths``. The sources alone: with the full path of each too, at a million files
    the loading process peaked at 2,495 MB (2,371 now) and a worker, which unpickles the
    whole list, at 316 MB (129 now)."""
    prefix = len(str(root)) + 1
    sources = [entry.path[prefix:].replace(os.sep, "/") for entry in scan(str(root))]
    # Path order is the order of the parts; NUL sorts below every character a name can hold,
    # so one string per file sorts the same. A list of parts per file made this sort 3x
    # dearer per file at 200,000 files than at 20,000 (0.43 s against 0.08 s now).
    sources.sort(key=lambda source: source.replace("/", "\0"))
    return sources


Convert = Callable[[Article], Any] | None
# What a caller does to each chunk's items as they come (see load_folder).
Keep: TypeAlias = "Callable[[list[Item[Any]]], list[Item[Any]]] | None"


def _read_here(root: str, files: list[str], convert: Convert, progress: Progress, keep: Keep = None) -> list[Item[Any]]:
    """Parse ``files`` (sources in ``root``) in this process, a chunk at a time, telling ``progress``."""
    loaded: list[Item[Any]] = []
    for start in range(0, len(files), CHUNK):
        loaded.extend(_kept(_read_chunk(root, files[start : start + CHUNK], convert), keep))
        progress(len(loaded), len(files))
    return loaded


def _read_in_parallel(
    root: str, files: list[str], workers: int, convert: Convert, progress: Progress = ignore, keep: Keep = None
) -> list[Item[Any]]:
    """Parse ``files`` (sources in ``root``) in ``workers - 1`` other processes and this one.

    Every process takes the next chunk from a shared counter, so the split
    follows how fast each side goes (a worker starts ~0.1 s late: a new
    interpreter, then the imports). Each worker sends its results down a
    pipe of its own, from a thread, so it never waits for this process to
    read them; this process reads what has come after each chunk of its own,
    and the rest once its part is done. A chunk a worker took but never
    delivered (it died, or hung) is read here.
    """
    import multiprocessing
    from multiprocessing.connection import wait

    chunks = [files[start : start + CHUNK] for start in range(0, len(files), CHUNK)]
    # "spawn": the caller may have threads (a server, a test runner), and fork would copy their locks.
    context = multiprocessing.get_context("spawn")
    counter = context.Value("q", 0)
    readers = []
    processes = []
    # The file list goes to the workers in a private file, not as start-up arguments (~75 MB at a
    # million files): spawn writes those down a pipe, and a worker that dies before reading all of
    # it would leave start() waiting forever.
    # It is owner-only (mkstemp), and carries ``convert`` too.
    listing = tempfile.NamedTemporaryFile(prefix="feedsvc-files-", suffix=".pickle")  # noqa: SIM115 (closed below)
    try:
        pickle.dump((root, chunks, convert), listing, protocol=pickle.HIGHEST_PROTOCOL)
        listing.flush()
        for _ in range(workers - 1):
            reader, writer = context.Pipe(duplex=False)
            process = context.Process(target=_work, args=(listing.name, counter, writer), daemon=True)
            process.start()
            writer.close()  # the worker holds the only writing end: its death is an end of file here
            readers.append(reader)
            processes.append(process)
        done: dict[int, list[Item[Any]]] = {}

        def tell() -> None:
            progress(sum(len(part) for part in done.values()), len(files))

        def receive(timeout: float) -> bool:
            """Take in a message from each worker that has one ready, waiting up to ``timeout``
            for the first; False if none came."""
            ready = wait(readers, timeout=timeout)
            for reader in [reader for reader in readers if reader in ready]:
                try:
                    message = reader.recv()
                except (EOFError, OSError):  # it died, perhaps halfway through a message
                    message = None
                    log.warning("a loading worker exited early; reading its part here")
                if message is None:  # that worker is done (or gone)
                    readers.remove(reader)
                else:
                    number, loaded = message
                    done[number] = _kept(loaded if convert is not None else [_share(item) for item in loaded], keep)
            return bool(ready)

        while (number := _take(counter, len(chunks))) is not None:
            done[number] = _kept(_read_chunk(root, chunks[number], convert), keep)
            # What the workers sent, as it comes: read only at the end, their results waited
            # in their own memory (at 100,000 files a worker grew to 140 MB, 61 MB now), and
            # progress counted this process's chunks alone.
            while readers and receive(0):
                pass
            tell()
        while readers:
            if not receive(WORKER_SILENCE):
                log.warning("a loading worker sent nothing for %d s; reading its part here", WORKER_SILENCE)
                break
            tell()
        return [
            item
            for number, chunk in enumerate(chunks)
            for item in done.get(number) or _kept(_read_chunk(root, chunk, convert), keep)
        ]
    finally:
        listing.close()  # and removed
        for reader in readers:
            reader.close()
        for process in processes:
            if process.is_alive():
                process.kill()
            process.join()


def _work(listing: str, counter: Any, connection: Any) -> None:
    """A loading worker: read chunks (listed in the file ``listing``) until there are none
    left, sending each result from a thread (a full pipe stops the sending, not the reading)."""
    import multiprocessing
    import threading

    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid is not None:
        end_with_parent(parent.pid)  # a loader killed outright must not leave its workers parsing on

    with open(listing, "rb") as file:
        chunks: list[list[str]]
        root, chunks, convert = pickle.load(file)  # noqa: S301 (our own parent's, owner-only)

    outbox: queue.SimpleQueue[tuple[int, list[Item[Any]]] | None] = queue.SimpleQueue()

    def send() -> None:
        while (message := outbox.get()) is not None:
            connection.send(message)
        connection.send(None)

    sender = threading.Thread(target=send)
    sender.start()
    try:
        while (number := _take(counter, len(chunks))) is not None:
            outbox.put((number, _read_chunk(root, chunks[number], convert)))
    finally:
        outbox.put(None)
        sender.join()
        connection.close()


def _take(counter: Any, total: int) -> int | None:
    """The number of the next chunk nobody has taken yet, if any.

    None also when the counter's lock cannot be had: a worker killed while
    holding it would otherwise stop every process; what is left is read by
    the main process at the end.
    """
    lock = counter.get_lock()
    if not lock.acquire(timeout=LOCK_PATIENCE):
        return None
    try:
        number = int(counter.value)
        if number >= total:
            return None
        counter.value = number + 1
        return number
    finally:
        lock.release()


def _kept(items: list[Item[Any]], keep: Keep) -> list[Item[Any]]:
    return items if keep is None else keep(items)


def _share(item: Item[Any]) -> Item[Any]:
    source, found, signature, left_out = item
    return item if isinstance(found, Skipped) else (source, share_parts(found), signature, left_out)


def _read_chunk(root: str, sources: list[str], convert: Convert) -> list[Item[Any]]:
    with paused_gc():
        return [_item(source, *_read(f"{root}/{source}", source), convert) for source in sources]


def _item(source: str, found: Article | Skipped, signature: Signature | None, convert: Convert) -> Item[Any]:
    if isinstance(found, Skipped):
        return source, found, signature, ""
    left_out = _left_out(found) if found.warnings else ""
    return source, found if convert is None else convert(found), signature, left_out
