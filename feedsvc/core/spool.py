"""A full load's records kept in a file as they come, not in the heap of the process loading.

A load apart (core.coldload) holds every record it made until its snapshot
is written: at a million articles ~1.2 GB of ``bytes`` objects, half of the
2.3 GB that process peaked at. Here each chunk's records go to a file as the
chunk arrives, and the articles keep a view of that file, mapped, instead:
the kernel may drop those pages and read them again (they are clean page
cache), where the heap's could only be swapped.

The file has no name (O_TMPFILE where the file system has it, else named and
removed at once): it goes with the process, however that ends, and lies
beside the snapshot, on disk, not on a /tmp that may be memory itself.
"""

from __future__ import annotations

import mmap
import os
import tempfile
from pathlib import Path
from typing import Any

from feedsvc.content.loader import Item
from feedsvc.core.packed import Packed


class RecordSpool:
    """Moves the records of a loader's chunks (content.loader's ``keep``) to a file."""

    def __init__(self, folder: Path) -> None:
        self._file = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 (open as long as the views are)
        self._end = 0  # where the next chunk goes: a multiple of mmap.ALLOCATIONGRANULARITY
        self.bytes = 0  # of the records spooled

    def close(self) -> None:
        """Let the file go (the mappings taken stay valid, and keep it until they go)."""
        self._file.close()

    def keep(self, items: list[Item[Any]]) -> list[Item[Any]]:
        """The chunk ``items`` with the record of each article read (a Packed) written to the
        file and replaced by a view of it; the rest (files skipped) as they are."""
        blob = b"".join([found.record for _, found, _, _ in items if type(found) is Packed])
        if not blob:  # no article (or only empty records): nothing to map
            return items
        start = self._end
        written = os.pwrite(self._file.fileno(), blob, start)
        if written != len(blob):  # a regular file writes it all, or raises (ENOSPC)
            raise OSError(f"wrote {written} of {len(blob)} bytes of records to the spool")
        granularity = mmap.ALLOCATIONGRANULARITY
        self._end = -(-(start + len(blob)) // granularity) * granularity
        self.bytes += len(blob)
        view = memoryview(mmap.mmap(self._file.fileno(), len(blob), access=mmap.ACCESS_READ, offset=start))
        kept = []
        at = 0
        for source, found, signature, left_out in items:
            if type(found) is Packed:
                length = len(found.record)
                found = found._replace(record=view[at : at + length])
                at += length
            kept.append((source, found, signature, left_out))
        return kept
