"""Which files changed since a snapshot was made, found by a process of its own.

    python -m feedsvc.core.verify ROOT SNAPSHOT

A warm start serves what the snapshot holds at once; then it must find the
files that changed while the service was down. That is a stat call a file
and a comparison with the signature the snapshot holds for it: at a million
files, ~3 s of stat calls and ~4 s of Python around them and the comparison
(core.signatures: 7.3 s and 240 MB in all, measured), plus ~1 s to hand a million
signatures from one process to another. Here the process that stats the
folder reads the snapshot's signatures itself (nothing else of it) and
compares, while the server prepares on the other core; the server gets
back only the names of the files that changed, and which snapshot they were
compared with (the CRC of its header), so that a snapshot replaced meanwhile
is noticed.

Output: ``marshal`` of (crc, [file name, ...]) on standard output.
"""

from __future__ import annotations

import logging
import marshal
import sys
from pathlib import Path
from typing import TypeGuard

from feedsvc.children import Child, end_with_parent
from feedsvc.content.folder import signed
from feedsvc.core import snapshot
from feedsvc.core.signatures import changes

log = logging.getLogger(__name__)

PATIENCE = 600  # seconds: a stat a file, ~3 s for a million files on a local disk


def changes_since(path: Path, root: Path) -> tuple[int, list[str]] | None:
    """The CRC of the snapshot at ``path`` and every file of ``root`` changed, new or gone
    since it was made (core.signatures.changes); None if it is not usable."""
    found = snapshot.signatures_of(path, root)
    if found is None:
        return None
    crc, known = found
    return crc, changes(known, signed(root))


class BackgroundCheck:
    """``changes_since(path, root)`` in another process, started at once."""

    def __init__(self, root: Path, path: Path) -> None:
        self.root, self.path = root, path
        self._child = Child("feedsvc.core.verify", [str(root), str(path)])

    def result(self) -> tuple[int, list[str]] | None:
        """Wait for it: (crc, files changed), or None if it could not say (the caller compares itself)."""
        found, why = self._child.output(timeout=PATIENCE)
        if _well_formed(found):
            return found
        log.warning("the comparison with the snapshot failed: %s", why or "it wrote something else")
        return None

    def cancel(self) -> None:
        """Not needed after all: stop the process."""
        self._child.cancel()


def _well_formed(found: object) -> TypeGuard[tuple[int, list[str]]]:
    if type(found) is not tuple or len(found) != 2:
        return False
    crc, changed = found
    return type(crc) is int and type(changed) is list and all(type(source) is str for source in changed)


def main(arguments: list[str]) -> int:
    end_with_parent()
    logging.basicConfig(level="WARNING", format="%(levelname)s %(name)s: %(message)s")
    found = changes_since(Path(arguments[1]), Path(arguments[0]))
    if found is None:
        return 1
    sys.stdout.buffer.write(marshal.dumps(found))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
