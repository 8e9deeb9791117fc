"""The signature of every file published: what tells a changed file from an unchanged one.

After a start from the snapshot, the signatures of the files it held are a
column of 24-byte numbers in the snapshot's order (24 bytes a file, read
where they lie), and only what changed since is kept as a dictionary: a
million files do not cost a million Python integers and strings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping

from feedsvc.content.folder import Signature

WIDTH = 24  # bytes: mtime in ns, size and inode, 8 bytes each (folder.signature_of)
UNKNOWN: Signature = 0  # no file has inode 0: a file with this signature is always read again


def changes(known: Mapping[str, Signature], now: Iterable[tuple[str, Signature]]) -> list[str]:
    """The files whose signature now differs from the one known (new files too), and
    the files known and no longer there."""
    changed: list[str] = []
    seen: set[str] = set()
    for source, signature in now:
        seen.add(source)
        if known.get(source) != signature:
            changed.append(source)
    changed.extend(source for source in known if source not in seen)
    return changed


def column_of(signatures: Iterator[Signature | None]) -> bytes:
    """The column for these signatures, in order (None: unknown)."""
    return b"".join((signature or UNKNOWN).to_bytes(WIDTH, "big") for signature in signatures)


class SignatureTable(MutableMapping[str, Signature]):
    """File name → signature: a snapshot's column by article number, and a dictionary of changes over it."""

    def __init__(
        self,
        numbers: Callable[[], Mapping[str, int]],
        column: bytes | memoryview,
        others: dict[str, Signature],
    ) -> None:
        """``numbers``: each snapshot file's number (made on first use); ``others``: files
        that are not articles of the snapshot (those skipped, for one)."""
        self._numbers, self._column = numbers, column
        self._changed: dict[str, Signature | None] = dict(others)  # None: gone since
        self.touched: set[str] = set()  # the files set or removed since it was made

    def copy(self) -> SignatureTable:
        """The same signatures, apart from later changes to this table: O(changes), the column is shared."""
        copied = SignatureTable(self._numbers, self._column, {})
        copied._changed = dict(self._changed)  # None too: gone since
        return copied

    def _from_column(self, source: str) -> Signature | None:
        number = self._numbers().get(source)
        if number is None:
            return None
        return int.from_bytes(self._column[number * WIDTH : (number + 1) * WIDTH], "big")

    def get(self, source: str, default: Signature | None = None) -> Signature | None:  # type: ignore[override]
        found = self._changed[source] if source in self._changed else self._from_column(source)
        return default if found is None else found

    def __getitem__(self, source: str) -> Signature:
        found = self.get(source)
        if found is None:
            raise KeyError(source)
        return found

    def __setitem__(self, source: str, signature: Signature) -> None:
        self._changed[source] = signature
        self.touched.add(source)

    def __delitem__(self, source: str) -> None:
        if self.get(source) is None:
            raise KeyError(source)
        self._changed[source] = None
        self.touched.add(source)

    def __contains__(self, source: object) -> bool:
        return isinstance(source, str) and self.get(source) is not None

    def __iter__(self) -> Iterator[str]:
        changed = self._changed
        numbers = self._numbers()
        for source in numbers:
            if source not in changed:
                yield source
        for source, signature in changed.items():
            if signature is not None:
                yield source

    def __len__(self) -> int:
        return sum(1 for _ in self)
