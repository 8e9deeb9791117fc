"""Which files of a content folder are articles, and the signature of each.

Only the standard library (and feedsvc.children): ``python -m feedsvc.content.folder ROOT`` runs the
signature scan in a process of its own, started in a few milliseconds (see
:class:`BackgroundScan`).
"""

from __future__ import annotations

import logging
import marshal
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from feedsvc.children import Child, end_with_parent

log = logging.getLogger(__name__)

ARTICLE_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".yaml", ".yml"})

# What identifies one version of a file on disk: its mtime (ns), size and inode,
# packed into one int (a 100,000-file folder keeps 100,000 of them).
Signature = int


def signature_of(stat: os.stat_result) -> Signature:
    return (stat.st_mtime_ns << 128) | (stat.st_size << 64) | stat.st_ino


def modified_at(signature: Signature) -> float:
    """The mtime in a signature, in seconds since the epoch."""
    return (signature >> 128) / 1e9


def article_paths(root: Path) -> list[Path]:
    """Given a content folder, return its article files in a stable order.

    Hidden files and folders (editor swap files, .git), editor backups and
    README files are not articles.
    """
    return sorted(Path(entry.path) for entry in scan(str(root)))


def signatures(root: Path) -> dict[str, Signature]:
    """Given a content folder, return the signature of every article file, by source."""
    return dict(signed(root))


def signed(root: Path) -> Iterator[tuple[str, Signature]]:
    """(source, signature) of every article file in a content folder, as they are stat'ed."""
    prefix = len(str(root)) + 1
    for entry in scan(str(root)):
        try:
            stat = entry.stat()
        except OSError:
            continue  # gone since it was listed
        yield entry.path[prefix:].replace(os.sep, "/"), signature_of(stat)


class BackgroundScan:
    """``signatures(root)`` computed by another process, started at once.

    A warm start unpickles and indexes the snapshot while this runs on the
    other core: one stat call per file is ~80 ms for 20,000 files, which a
    thread could not overlap (unpickling holds the GIL throughout). If the
    process cannot start or fails, the scan is done here instead.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._child = Child("feedsvc.content.folder", [str(root)])

    def result(self) -> dict[str, Signature]:
        """Wait for the scan; the same as ``signatures(root)``."""
        found, why = self._child.output(timeout=300)
        if type(found) is dict and all(type(k) is str and type(v) is int for k, v in found.items()):
            return found
        log.warning("scanning %s in this process: %s", self.root, why or "the scan wrote something else")
        return signatures(self.root)

    def cancel(self) -> None:
        """Not needed after all: stop the process (it would block on a full pipe)."""
        self._child.cancel()


def left_out(name: str) -> bool:
    """Is a file or folder of this name left out wherever it is? Hidden ones
    (editor swap files, .git) and editor backups (``*~``) are."""
    return name.startswith(".") or name.endswith("~")


def named_like_an_article(name: str) -> bool:
    """Is a file of this name, not :func:`left_out`, an article? A known
    suffix, any case, and not a README.

    With :func:`left_out` of every part of its path, the one rule: the scan
    and :func:`is_article_name` both ask exactly these two.
    """
    return os.path.splitext(name)[1].lower() in ARTICLE_SUFFIXES and not name.lower().startswith("readme")


def scan(folder: str) -> Iterator[os.DirEntry[str]]:
    """Every article file below ``folder`` (os.scandir: no stat per file to list it)."""
    for entry in _listing(folder):
        name = entry.name
        if left_out(name):
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from scan(entry.path)
        elif named_like_an_article(name) and entry.is_file():
            yield entry


def _listing(folder: str) -> Iterator[os.DirEntry[str]]:
    """The entries of one folder, read as they are used (a million-file folder held as a
    list of entries was ~270 MB), and none more once it cannot be read."""
    try:
        with os.scandir(folder) as listing:
            yield from listing
    except OSError:  # gone, or not readable: what was listed is all there is
        return


def holds_at_least(folder: str, count: int) -> bool:
    """Whether there are ``count`` article files below ``folder`` (reading no more of the
    listing than it takes: a million-file folder answers "2,000?" after a few thousand names)."""
    return count <= 0 or any(found >= count for found, _ in enumerate(scan(folder), start=1))


def is_article_name(path: Path, root: Path) -> bool:
    """Could ``path`` (below ``root``) be an article file, judging by its name alone?

    The same answer the scan gives: nothing on the way left out, and the
    file named like an article.
    """
    try:
        *folders, name = path.relative_to(root).parts
    except ValueError:
        return False  # outside root, or root itself
    return not left_out(name) and not any(map(left_out, folders)) and named_like_an_article(name)


if __name__ == "__main__":
    end_with_parent()
    sys.stdout.buffer.write(marshal.dumps(signatures(Path(sys.argv[1]))))
