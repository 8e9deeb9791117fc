"""Durable file writes for the write API.

A write is acknowledged only once it would survive a crash: the new content
goes to a temporary file in the same folder, is fsynced, renamed over the
target (atomic on POSIX), and the folder itself is fsynced so the rename is
on disk. A crash at any point leaves either the old file or the new one,
never a mix. The temporary name is hidden (leading dot), so the watcher and
the loader never take it for an article.

A crash can leave a temporary file behind; ``remove_stale_temporaries``
clears those at start-up, recognising them by their exact name and age.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import stat
import time
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)

# ".{name}.{12 hex digits}.tmp", for article files only: what atomic_write makes, and nothing else.
TEMPORARY = re.compile(r"\.[^/]+\.md\.[0-9a-f]{12}\.tmp")
STALE_SECONDS = 60.0  # a write takes milliseconds: a temporary file this old was left by a crash


def is_private(status: os.stat_result) -> bool:
    """Whether a file (as ``fstat`` of the file opened saw it) is this user's and writable by no one
    else: the rule for every state file read back (the snapshot, the image sizes)."""
    return status.st_uid == os.getuid() and not status.st_mode & 0o022


def temporary_for(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")


def atomic_write(path: Path, data: bytes | Iterable[bytes | memoryview], mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` (bytes, or chunks written one after another) durably and atomically.

    Raises OSError (disk full, permission denied, folder gone...) with
    ``path`` untouched and no temporary file left.
    """
    temporary = temporary_for(path)
    try:
        write_new(temporary, data, mode, sync=True)  # the data is on disk before the name points at it
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):  # keep the first error, the one that says what went wrong
            temporary.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


def write_new(path: Path, data: bytes | Iterable[bytes | memoryview], mode: int, sync: bool = False) -> None:
    """Write a file that must not exist yet (a temporary name), on disk before returning if ``sync``.

    Raises OSError, leaving whatever part was written for the caller to remove.
    """
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        for chunk in [data] if isinstance(data, bytes) else data:
            write_all(descriptor, chunk)
        if sync:
            os.fsync(descriptor)
    finally:
        os.close(descriptor)


def move_durably(written: Path, path: Path) -> None:
    """Put a file written without syncing (``write_new``) in place of ``path``, as
    ``atomic_write`` would have: its data on disk first, then the rename, then the folder's."""
    descriptor = os.open(written, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(written, path)
    fsync_folder(path.parent)


def write_all(descriptor: int, data: bytes | memoryview) -> None:
    """os.write until every byte is written (a write may be partial)."""
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def atomic_delete(path: Path) -> bool:
    """Remove ``path`` durably; return False if it did not exist.

    Raises FileNotFoundError when the folder itself is gone: that is not
    "no such article", and the caller must say so.
    """
    try:
        path.unlink()
    except FileNotFoundError:
        if not path.parent.is_dir():
            raise
        return False
    fsync_folder(path.parent)
    return True


def fsync_folder(folder: Path) -> None:
    """Make a rename or unlink in ``folder`` durable."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def temporaries_of(path: Path) -> re.Pattern[str]:
    """The names ``temporary_for(path)`` gives, and nothing else."""
    return re.compile(re.escape(f".{path.name}.") + r"[0-9a-f]{12}\.tmp")


def remove_stale_temporaries(folder: Path, now: float | None = None, named: re.Pattern[str] = TEMPORARY) -> list[str]:
    """Delete the temporary files a crash left in ``folder`` (not below it:
    the API writes only at the top). Only regular files named exactly as
    ``atomic_write`` names them (for article files, or as ``named`` says), and
    untouched for ``STALE_SECONDS``, so a write in progress (another process
    on the same folder) is left alone. Returns the names removed."""
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []  # an unreadable folder is reported by the loader
    for entry in entries:
        if not (entry.name.startswith(".") and named.fullmatch(entry.name)):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and now - info.st_mtime > STALE_SECONDS:
                os.unlink(entry.path)
                removed.append(entry.name)
        except OSError as exc:
            log.warning("could not remove the stale temporary file %s: %s", entry.name, exc.strerror)
    if removed:
        log.info("removed %d temporary file(s) left by an interrupted write: %s", len(removed), ", ".join(removed))
    return removed
