"""The state owner: the index and the per-file state behind it (synchronous, no framework).

It loads the folder at start-up (from the snapshot where files are unchanged),
applies changed files (the one code path for the watcher and the API: re-read
only those files, build the next index snapshot with :meth:`Index.apply`, swap
it in while readers keep rendering from the snapshot they started with, tell
listeners which feeds changed), holds back future-dated articles and saves
the snapshot. The drivers in live/ (watcher, scheduler, WebSub) and the API
call it; ``feedsvc build`` uses it as it is.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from feedsvc.content.folder import (
    BackgroundScan,
    Signature,
    article_paths,
    holds_at_least,
    is_article_name,
    modified_at,
    signatures,
)
from feedsvc.content.loader import PARALLEL_THRESHOLD, Skipped, load_folder, log_warnings, read_file
from feedsvc.content.model import Article
from feedsvc.core import snapshot
from feedsvc.core.clock import Clock, utc_now
from feedsvc.core.coldload import load_apart
from feedsvc.core.index import Index, IndexDiff
from feedsvc.core.layered import Lazy
from feedsvc.core.packed import Packed, Packer, packed, unpacked
from feedsvc.core.records import microseconds
from feedsvc.core.signatures import SignatureTable, changes
from feedsvc.core.sizes import Entry, SizeBook, sizes_path
from feedsvc.core.spool import RecordSpool
from feedsvc.core.storage import move_durably, remove_stale_temporaries, temporaries_of
from feedsvc.core.verify import BackgroundCheck
from feedsvc.memory import paused_gc, release_free_memory
from feedsvc.progress import reporting

log = logging.getLogger(__name__)

# A file that fails to parse this soon after it was written may be caught
# mid-write: retry it before calling it broken.
FRESH_SECONDS = 2.0
RETRY_DELAYS = (0.1, 0.25, 0.5, 1.0, 2.0)
# Records added to the heap since the articles were mapped from the snapshot (edited files, and
# every version they replaced, ~1 KB each) past which the snapshot is written again and mapped
# in their place: memory stays about the text of the articles, whatever the number of edits.
COMPACT_BYTES = 64 * 1024 * 1024
COMPACT_RETRY_SECONDS = 60.0  # after a try that failed

Listener = Callable[[Index, IndexDiff], None]


class Publisher:
    """Owns the index and the per-file state behind it.

    An article dated in the future is held back (published to the index as
    unpublished) until its time comes; :meth:`release_due` publishes it then.
    """

    def __init__(self, root: Path, clock: Clock = utc_now) -> None:
        self.root = root.resolve()  # watchers report absolute paths
        self.index = Index([])
        self.skipped: dict[str, Skipped] = {}
        self.held: dict[str, Article] = {}  # future-dated articles as written, by source
        self.listeners: list[Listener] = []
        self._clock = clock
        self._known: Lazy[MutableMapping[str, Signature]] = Lazy({})
        # After a start from the snapshot, until catch_up: what that start could not check.
        self._unchecked: _Unchecked | None = None
        self._attempts: dict[str, int] = {}
        self._lock = threading.Lock()  # one update at a time; readers never wait
        # Image sizes and types found by the enclosure probe (live/probe.py), filled into
        # every article indexed; kept beside the snapshot (sizes_path) when there is one.
        self.sizes = SizeBook()
        self.sizes_path: Path | None = None
        self.saved_to: Path | None = None  # where a full load left the snapshot it is served from, if it did
        self._placing: threading.Thread | None = None  # moving that snapshot into place (_loaded_apart)
        self.snapshot_path: Path | None = None  # where the start-up snapshot is kept, if anywhere
        self._compacting = threading.Lock()  # held while the snapshot is written again to compact (_tell)
        self._compact_after = 0.0  # time.monotonic() before which not to try again
        self._since: set[str] | None = None  # files published while a snapshot is written (save_snapshot)
        self._told_skipped = False  # whether the skipped files of this load were logged already

    def load(
        self, snapshot_path: Path | None = None, workers: int = 0, verify: bool = True, apart: bool = False
    ) -> str:
        """Read the folder at start-up, from the snapshot where files are unchanged.

        With ``verify`` False, a start from the snapshot returns as soon as
        the snapshot is mapped, serving what it held; the caller must then
        run :meth:`catch_up` (the watcher's first step does), which compares
        the folder with it and publishes what changed while we were down. At
        a million files that comparison (a stat each) takes longer than the
        rest of the start.

        With ``apart`` and a snapshot path, a full load of a large folder runs
        in a process of its own (core.coldload), which writes the snapshot;
        this one then maps it, as a restart would, and keeps none of the
        memory reading took.

        Returns how: "snapshot" or "full".
        """
        self.snapshot_path = snapshot_path
        if snapshot_path is not None:
            self.sizes_path = sizes_path(snapshot_path)
            self.sizes = SizeBook.load(self.sizes_path)
            # Snapshots (and image sizes) being written when a crash came (not those of a write in
            # progress: too young).
            for kept in (snapshot_path, self.sizes_path):
                remove_stale_temporaries(snapshot_path.parent, named=temporaries_of(kept))
        usable = snapshot_path is not None and snapshot_path.exists()
        # Compare the folder with the snapshot (in another process) while this one reads it.
        check = BackgroundCheck(self.root, snapshot_path) if snapshot_path is not None and usable and verify else None
        try:
            with paused_gc():
                saved = snapshot.load(snapshot_path, self.root) if snapshot_path else None
            # (After a start from the snapshot, catch_up clears the temporaries a crash left.)
            if saved is not None and snapshot_path is not None:
                if self._start_from(saved, snapshot_path, verify, check):
                    return "snapshot"
                check = None  # it was used
        finally:
            if check is not None:
                check.cancel()  # the snapshot was not usable, or this failed: no process left behind
        if apart and snapshot_path is not None and self._loaded_apart(snapshot_path, workers, verify):
            return "full"
        remove_stale_temporaries(self.root)  # (after a load apart, catch_up does)
        self.read_folder(workers)
        return "full"

    def read_folder(self, workers: int = 0, spool: Path | None = None) -> None:
        """Read every file of the folder, in ``workers`` processes (0: one per CPU), and publish
        them: a full load, without the snapshot. A load apart (core.coldload) does this alone,
        keeping the records in a file in the folder ``spool`` (core.spool), not in its heap."""
        spooled = RecordSpool(spool) if spool is not None else None
        try:
            with reporting(f"reading {self.root}") as progress:  # a bar on a terminal, else log lines
                # Each article is packed by the process that parsed it, with the sizes known filled in.
                result = load_folder(
                    self.root,
                    workers=workers,
                    progress=progress,
                    convert=Packer(self.sizes),
                    keep=None if spooled is None else spooled.keep,
                )
        finally:
            if spooled is not None:
                spooled.close()  # its mappings stay, and keep the file until they go
        with self._lock, paused_gc():
            self.held = {}
            self._known = Lazy(dict(result.signatures))
            self.skipped = {s.source: s for s in result.skipped}
            self.index = Index.from_records(self._hold_all(result.articles))
        self._unchecked = None

    def _start_from(
        self, saved: snapshot.Snapshot, snapshot_path: Path, verify: bool, check: BackgroundCheck | None
    ) -> bool:
        """Serve what a snapshot holds; with ``verify``, compare the folder with it first and
        publish what changed. False when most of the folder changed: a full load is faster."""
        with paused_gc():
            index = Index.restore(saved.parts)
        with self._lock:
            self._known = Lazy(None, _signature_table(saved))
            self.skipped = {s.source: s for s in saved.skipped}
            self.held = {article.source: article for article in saved.held}
            self.index = index
        self._unchecked = _Unchecked(saved.sizes, snapshot_path, saved.crc)
        if not self._told_skipped:  # each broken file once per start, as a full load logs them
            for skipped in saved.skipped:
                log.warning("skipped %s", skipped)
        self.release_due()  # held articles whose time came while we were down
        if not verify:
            return True
        changed = self.catch_up(check)
        # Re-reading changed files happens in this one process; when most of
        # the folder changed (a big git pull), the parallel full load is faster.
        if len(changed) < max(PARALLEL_THRESHOLD, len(saved.parts.store) // 4):
            if changed:
                self.refresh(changed)  # files caught mid-write are left to the watcher's first scan
            log.info("started from the snapshot; %d file(s) changed since it was made", len(changed))
            return True
        log.info("%d files changed since the snapshot was made: loading the folder in full", len(changed))
        return False

    def _loaded_apart(self, snapshot_path: Path, workers: int, verify: bool) -> bool:
        """A large folder read by another process, then served from the snapshot it wrote
        (see load). Served at once from the file it was written to; that file is synced
        and moved into place meanwhile, before the folder is compared with it."""
        if not holds_at_least(str(self.root), PARALLEL_THRESHOLD):
            return False  # small: reading it here costs less than starting a process
        staged = load_apart(self.root, snapshot_path, workers)
        if staged is None:
            return False
        saved = snapshot.load(staged, self.root)
        if saved is None:
            staged.unlink(missing_ok=True)
            return False
        self._placing = threading.Thread(target=self._place, args=(staged, snapshot_path), name="snapshot-sync")
        self._placing.start()
        self._told_skipped = True  # the child logged them as it read them
        try:
            if not self._start_from(saved, snapshot_path, verify, None):
                return False
        finally:
            self._told_skipped = False
        self.saved_to = snapshot_path
        return True

    def _place(self, staged: Path, path: Path) -> None:
        """Move the snapshot a load apart wrote into place, durably; if it cannot, write one
        anew (logged, not raised, if that fails too), or the next start is a cold one."""
        try:
            move_durably(staged, path)
        except OSError as exc:
            log.warning("could not keep the start-up snapshot %s (%s): writing it again", path, exc)
            with contextlib.suppress(OSError):
                staged.unlink(missing_ok=True)
            self.save_snapshot(path)

    @property
    def _signatures(self) -> MutableMapping[str, Signature]:
        """The signature of the version of every file published (read from the snapshot on first use)."""
        return self._known()

    def catch_up(self, check: BackgroundCheck | None = None) -> list[Path]:
        """Every path that changed since the index was loaded (a stat of every file, in
        another process); after a start from the snapshot, first what it could not
        know: temporary files a crash left, and image sizes found after it was written.

        After a start from the snapshot, that other process compares the folder with the
        snapshot's signatures itself and sends back only the names that changed
        (core.verify); otherwise it sends every signature, compared here.
        """
        unchecked, self._unchecked = self._unchecked, None
        placing, self._placing = self._placing, None
        if placing is not None:
            placing.join()  # the snapshot a cold start serves from: compared with once in place
        if unchecked is None:
            if check is not None:
                check.cancel()
            return self.changed_since_load(BackgroundScan(self.root).result())
        check = check or BackgroundCheck(self.root, unchecked.path)  # in another process, while this one prepares
        remove_stale_temporaries(self.root)
        self.index.prepare()
        if unchecked.sizes != self.sizes.digest():
            self.apply_sizes(None)
        found = check.result()
        if found is not None and found[0] == unchecked.crc:
            with self._lock:  # and what this process changed since the start (API writes)
                touched = list(getattr(self._known.made, "touched", ()))
            return [self.root / source for source in dict.fromkeys([*found[1], *touched])]
        log.info("comparing %s with what was loaded in this process", self.root)
        return self.changed_since_load(BackgroundScan(self.root).result())

    def save_snapshot(self, path: Path, adopt: bool = False, durable: bool = True) -> bool:
        """Write what is loaded now, for the next start (see feedsvc.core.snapshot).

        With ``adopt``, then serve the articles from the file just written
        (mapped, as a warm start does): after a full load, or many edits, the
        records leave this process's heap for the page cache. Files published
        while it was written are published again over it. Only the very file
        written is adopted (its CRC), never one another writer put there.
        Not ``durable``: written to the new file ``path``, not synced (core.coldload).
        Returns whether it served from the file (with ``adopt``) or wrote it.
        """
        placing = self._placing
        if placing is not None and placing is not threading.current_thread():
            placing.join()  # the snapshot a cold start made is older than this one
        with self._lock:
            index, signatures = self.index, _copy(self._signatures)
            # Held articles are saved as written, so that they are released after a restart too.
            held, skipped, sizes = list(self.held.values()), list(self.skipped.values()), self.sizes.digest()
            since = self._since = set()  # the files published from now on
        try:
            # The index is immutable: it is laid out without holding up publishing.
            written = snapshot.save(
                path, self.root, snapshot.Snapshot(index.parts(), held, skipped, signatures, sizes), durable
            )
            if not adopt or written is None:
                return written is not None
            saved = snapshot.load(path, self.root)
            if saved is None or saved.crc != written:
                log.warning("the snapshot %s changed before it could be served from; the articles stay in memory", path)
                return False
            mapped = index.adopt(saved.parts)
            mapped.prepare()
            with self._lock:
                if self.index is not index:  # published meanwhile: again, over the mapped articles
                    mapped, _ = mapped.apply({source: self.index.article(source) for source in since})
                self.index = mapped
                self._since = None
        finally:
            self._since = None
        del index, mapped
        release_free_memory()  # the heap's records are free once readers let go of the old index
        log.info("serving the articles from the snapshot %s", path)
        return True

    def now(self) -> datetime:
        """The time by this publisher's clock: what holding and releasing go by,
        so the scheduler waits by it too."""
        return self._clock()

    def next_due(self) -> datetime | None:
        """When the earliest held article is due, if any is held.

        Called from the event loop: it must not wait for the lock a long
        refresh may hold, and copying the values is atomic in CPython.
        """
        return min((article.published_at for article in list(self.held.values())), default=None)

    def release_due(self) -> IndexDiff | None:
        """Publish every held article whose time has come."""
        with self._lock:
            now = self._clock()
            due = {source: article for source, article in self.held.items() if article.published_at <= now}
            if not due:
                return None
            for source in due:
                del self.held[source]
            index, diff = self._publish(due)
        log.info("published %d article(s) whose time came", len(due))
        self._tell(index, diff)
        return diff

    def _hold_all(self, items: list[Packed]) -> list[Packed]:
        """``_hold`` for a whole folder, packed with its sizes filled in: one look at the
        clock, and only the articles dated in the future are made (and packed again)."""
        now = microseconds(self._clock())
        for position, item in enumerate(items):
            if item.published and item.published_us > now:
                article = unpacked(item)
                self.held[item.source] = article
                items[position] = packed(article._replace(published=False))
        return items

    def _hold(self, article: Article, now: datetime | None = None) -> Article:
        """The version of ``article`` to index now: with the image sizes known, and
        unpublished while it is dated in the future."""
        article = self.sizes.fill(article)
        if article.published and article.published_at > (now or self._clock()):
            self.held[article.source] = article
            return article._replace(published=False)
        self.held.pop(article.source, None)
        return article

    def apply_sizes(self, before: dict[str, Entry | None] | None) -> IndexDiff | None:
        """Publish what the probe found for these image URLs (``self.sizes`` already
        holds it; ``before``: what it held for each before; None: every URL with a known
        size, which the book does not keep as text): one new index snapshot for the
        whole batch, as :meth:`refresh` makes for changed files."""
        previous = {url: entry for url, entry in (before or {}).items() if entry is not None}
        # Finding the articles reads every record's head: not while holding up edits. Anything
        # indexed after this look was filled from the book when it was indexed (_hold). Without
        # ``before`` only missing values are filled: complete images need no lookup.
        if before is None:
            holding = list(self.index.holding(self.sizes.sized(), unsized=True))
        else:
            holding = list(self.index.holding(before))
        with self._lock:
            changes: dict[str, Article | None] = {}
            for source in holding:
                article = self.index.article(source)  # as it is now
                if article is None:
                    continue
                sized = self.sizes.fill(article, previous)
                if sized is not article:
                    changes[article.source] = sized
            for source, article in list(self.held.items()):  # as written, for when they come due
                self.held[source] = self.sizes.fill(article, previous)
            if not changes:
                return None
            index, diff = self._publish(changes)
        log.info("image sizes: %d article(s) updated, %d feed(s) revised", len(changes), len(diff.revised))
        self._tell(index, diff)
        return diff

    def _publish(self, changes: Mapping[str, Article | None]) -> tuple[Index, IndexDiff]:
        """The next index, with these changes (None: removed); the lock is held."""
        index, diff = self.index.apply(changes)
        self.index = index
        if self._since is not None:  # a snapshot is being written: these go over it once adopted
            self._since.update(changes)
        return index, diff

    def _tell(self, index: Index, diff: IndexDiff) -> None:
        for listener in self.listeners:
            try:
                listener(index, diff)
            except Exception:  # a listener must never break publishing
                log.exception("listener failed")
        self._compact_if_due(index)

    def _compact_if_due(self, index: Index) -> None:
        """After many edits, write the snapshot again and serve from it (in the background):
        the heap gives back the records of every edit and of every version they replaced."""
        path, store = self.snapshot_path, index.store
        if path is None or not store.mapped or store.added_bytes < COMPACT_BYTES:
            return
        if time.monotonic() < self._compact_after or not self._compacting.acquire(blocking=False):
            return  # under way, or tried lately

        def compact() -> None:
            adopted = False
            try:
                log.info("%d MB of edited articles in memory: writing the snapshot again", store.added_bytes >> 20)
                adopted = self.save_snapshot(path, adopt=True)
            except Exception:  # a bug must not end publishing, nor make every edit try again at once
                log.exception("compacting the articles in memory failed")
            finally:
                if not adopted:
                    self._compact_after = time.monotonic() + COMPACT_RETRY_SECONDS
                self._compacting.release()

        threading.Thread(target=compact, name="snapshot-compact", daemon=True).start()

    def refresh(self, paths: Iterable[Path]) -> tuple[IndexDiff | None, list[Path]]:
        """Re-read the given paths and publish what changed.

        Returns the diff (None when nothing changed) and the paths to try
        again shortly because they look caught mid-write.
        """
        with self._lock:
            if not self.root.is_dir():
                # Unmounted, renamed away or unreadable: every file would look deleted. Publishing
                # that would empty every feed; keep the last good state until the folder is back.
                log.error("the content folder %s is gone or unreadable: still serving the last good state", self.root)
                return None, []
            changes: dict[str, Article | None] = {}
            retry: list[Path] = []
            for path in self._expand(paths):
                self._refresh_one(path, changes, retry)
            if not changes:
                return None, retry
            index, diff = self._publish(changes)
        log.info(
            "published %d changed file(s): %d feed(s) revised, %d removed",
            len(changes),
            len(diff.revised),
            len(diff.removed),
        )
        self._tell(index, diff)
        return diff, retry

    def changed_since_load(self, now: dict[str, Signature] | None = None) -> list[Path]:
        """Every path whose state differs from what the index holds (a full stat scan,
        or ``now``: one made earlier)."""
        if now is None:
            now = signatures(self.root)
        with self._lock:  # compared in place: a copy of a million signatures costs more than the comparison
            changed = changes(self._signatures, now.items())
        return [self.root / source for source in changed]

    def retry_delay(self, paths: Iterable[Path]) -> float:
        """How long to wait before reading again files that looked caught mid-write."""
        attempt = max(self._attempts.get(self._source(p), 1) for p in paths)
        return RETRY_DELAYS[min(attempt - 1, len(RETRY_DELAYS) - 1)]

    def _refresh_one(self, path: Path, changes: dict[str, Article | None], retry: list[Path]) -> None:
        source = self._source(path)
        loaded, signature = read_file(path, self.root) if path.is_file() else (None, None)
        if loaded is None or signature is None:  # gone (or unreadable and gone)
            if source in self._signatures or self.index.article(source) is not None:
                self._signatures.pop(source, None)
                self.skipped.pop(source, None)
                self.held.pop(source, None)
                changes[source] = None
            return
        if self._signatures.get(source) == signature and source not in self._attempts:
            return  # this exact version is already published (e.g. by the API that wrote it)
        if isinstance(loaded, Skipped):
            attempts = self._attempts.get(source, 0) + 1
            if attempts <= len(RETRY_DELAYS) and time.time() - modified_at(signature) < FRESH_SECONDS:
                self._attempts[source] = attempts
                retry.append(path)
                return
            self._attempts.pop(source, None)
            self._signatures[source] = signature
            kept = self.index.article(source) is not None
            reason = f"{loaded.reason} (still serving the previous version)" if kept else loaded.reason
            self.skipped[source] = Skipped(source, reason)
            log.warning("skipped %s: %s", source, reason)
            return
        self._attempts.pop(source, None)
        self._signatures[source] = signature
        self.skipped.pop(source, None)
        log_warnings(loaded)
        changes[source] = self._hold(loaded)

    def _expand(self, paths: Iterable[Path]) -> list[Path]:
        """Turn changed paths into article files: a folder stands for everything
        in it (a renamed or deleted folder, a git checkout)."""
        expanded: dict[Path, None] = {}
        for path in paths:
            if path.is_dir():
                expanded.update(dict.fromkeys(article_paths(path)))
                prefix = f"{self._source(path)}/" if path != self.root else ""
                expanded.update(dict.fromkeys(self.root / s for s in self._signatures if s.startswith(prefix)))
            elif is_article_name(path, self.root):
                expanded[path] = None
            elif not path.exists():
                prefix = f"{self._source(path)}/"
                expanded.update(dict.fromkeys(self.root / s for s in self._signatures if s.startswith(prefix)))
        return [p for p in expanded if is_article_name(p, self.root)]

    def _source(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


class _Unchecked(NamedTuple):
    """What a start from the snapshot leaves to the first catch_up: the digest of the image
    sizes its articles were filled from, and the snapshot (its path and CRC)."""

    sizes: str
    path: Path
    crc: int


def _copy(signatures: MutableMapping[str, Signature]) -> Mapping[str, Signature]:
    """A copy to write out: a snapshot's table in O(changes since), anything else in full."""
    return signatures.copy() if isinstance(signatures, SignatureTable) else dict(signatures)


def _signature_table(saved: snapshot.Snapshot) -> Callable[[], MutableMapping[str, Signature]]:
    """What makes a snapshot's file signatures on first use."""
    found = saved.signatures
    return found if callable(found) else lambda: dict(found)
