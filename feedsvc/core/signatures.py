"""The signature of every file published: what tells a changed file from an unchanged one.

After a start from the snapshot, the signatures of the files it held are a
column of 24-byte numbers in the snapshot's order (24 bytes a file, read
where they lie), and only what changed since is kept as a dictionary: a
million files do not cost a million Python integers and strings.
"""

from __future__ import annotations

from collections.abc import Callable, ItemsView, Iterable, Iterator, Mapping, MutableMapping

from feedsvc.content.folder import Signature

WIDTH = 24  # bytes: mtime in ns, size and inode, 8 bytes each (folder.signature_of)
UNKNOWN: Signature = 0  # no file has inode 0: a file with this signature is always read again


def changes(known: Mapping[str, Signature], now: Iterable[tuple[str, Signature]]) -> list[str]:
    """The files whose signature now differs from the one known (new files too), and
    the files known and no longer there."""
    if isinstance(known, SignatureTable):
        return known.changes(now)
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
        return None if number is None else self._at(number)

    def _at(self, number: int) -> Signature:
        """The signature the column holds for the article with this number."""
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

    def items(self) -> ItemsView[str, Signature]:
        return _Items(self)

    def changes(self, now: Iterable[tuple[str, Signature]]) -> list[str]:
        """What the module's ``changes(self, now)`` finds, in bulk.

        The folder's signatures are written into a column in the snapshot's
        order, then compared with this one a block at a time (a C comparison):
        an unchanged file costs a dictionary lookup and a 24-byte write, with no
        integer made from the column and no set of every name. At a million
        files that halves the comparison and takes ~1 GB off the process that
        makes it (core.verify).
        """
        numbers = self._numbers()
        column, overridden = self._column, self._changed
        count = len(column) // WIDTH
        current = bytearray(count * WIDTH)  # the folder's signatures, in the column's order
        present = bytearray(count)  # 1: a file of the column that the folder still holds
        changed: list[str] = []
        seen_overridden: set[str] = set()
        for source, signature in now:
            if source in overridden:  # set or removed since the column was made
                seen_overridden.add(source)
                if overridden[source] != signature:
                    changed.append(source)
                continue
            number = numbers.get(source)
            if number is None or number >= count:  # new since
                changed.append(source)
                continue
            present[number] = 1
            current[number * WIDTH : (number + 1) * WIDTH] = signature.to_bytes(WIDTH, "big")
        for source, known in overridden.items():
            if known is not None and source not in seen_overridden:
                changed.append(source)  # set since, and gone now
            # What the column says of an overridden file does not count: make its entries agree.
            at = numbers.get(source)
            if at is not None and at < count:
                present[at] = 1
                current[at * WIDTH : (at + 1) * WIDTH] = column[at * WIDTH : (at + 1) * WIDTH]
        differing = [number for number in _differing(current, column) if present[number]]
        gone = [number for number, there in enumerate(present) if not there] if present.count(0) else []
        if differing or gone:
            names = [""] * count
            for source, number in numbers.items():
                if number < count:
                    names[number] = source
            changed.extend(names[number] for number in differing)
            changed.extend(names[number] for number in gone)
        return changed


BLOCK = 4096  # signatures compared at once; a block that differs is compared one by one


def _differing(current: bytearray, column: bytes | memoryview) -> list[int]:
    """The numbers whose signatures differ between two columns of the same length."""
    found = []
    for start in range(0, len(current), BLOCK * WIDTH):
        end = start + BLOCK * WIDTH
        if current[start:end] != bytes(column[start:end]):
            for offset in range(start, min(end, len(current)), WIDTH):
                if current[offset : offset + WIDTH] != bytes(column[offset : offset + WIDTH]):
                    found.append(offset // WIDTH)
    return found


class _Items(ItemsView[str, Signature]):
    """A table's items in the column's order, read by number (no lookup by name each), then the rest."""

    _mapping: SignatureTable

    def __iter__(self) -> Iterator[tuple[str, Signature]]:
        table = self._mapping
        changed, numbers = table._changed, table._numbers()
        for source, number in numbers.items():
            if source in changed:
                signature = changed[source]
                if signature is not None:
                    yield source, signature
            else:
                yield source, table._at(number)
        for source, signature in changed.items():
            if signature is not None and source not in numbers:
                yield source, signature
