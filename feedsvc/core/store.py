"""Every article the index has ever held, by number: the records, and the columns sorting reads.

A :class:`Store` only grows. An article read again gets a new number, so a
number always means one exact version, and index snapshots that share a
store never see each other's changes. Articles are made from their records
when read, with a bounded memo of the ones read last.

Its records come from two places: a *base*, one buffer of records laid end to
end with their offsets (a snapshot file mapped into memory), and the records
added since, one ``bytes`` each.
"""

from __future__ import annotations

import mmap
import threading
from array import array
from collections import OrderedDict
from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, Sequence, ValuesView
from itertools import islice

from feedsvc.content.model import Article
from feedsvc.core import records
from feedsvc.core.records import Head

# Articles kept made: a feed rendered in every format makes its items once (1,024 articles: ~3 MB).
MEMO = 1024


class Store:
    """Records and sort columns by article number; safe for one writer thread and many readers."""

    def __init__(
        self,
        base: bytes | memoryview | mmap.mmap = b"",
        offsets: array[int] | None = None,
        sources: list[str] | None = None,
        published_us: array[int] | None = None,
    ) -> None:
        self._base = memoryview(base)
        self._offsets = offsets if offsets is not None else array("Q", [0])
        self._base_count = len(self._offsets) - 1
        self._added: list[bytes | memoryview | None] = []  # (views of a spool file in a load apart: core.spool)
        self.added_bytes = 0  # of the records added since it was made (edits, and what they replaced, stay)
        self.sources: list[str] = sources if sources is not None else []
        self.published_us: array[int] = published_us if published_us is not None else array("q")
        if not len(self.sources) == len(self.published_us) == self._base_count:
            raise ValueError("a store's columns must have one entry per record")
        # No lru_cache of a bound method here: that is a reference cycle, which the frozen
        # garbage collector of a server never frees (a store let go must be freed at once).
        # Oldest first. An OrderedDict lets the oldest go in O(1): a dict's first live entry is found
        # past every one deleted before it (0.75 µs an article at 1,024, against 0.24 µs).
        self._memo: OrderedDict[int, Article] = OrderedDict()
        self._memo_lock = threading.Lock()

    @property
    def mapped(self) -> bool:
        """Whether its records (those of the start) are read from a mapped snapshot file."""
        return self._base_count > 0

    def __len__(self) -> int:
        return len(self.sources)

    def add(self, article: Article) -> int:
        """Keep one article; returns its number."""
        return self.add_record(article.source, records.microseconds(article.published_at), records.pack(article))

    def add_record(self, source: str, published_us: int, record: bytes | memoryview) -> int:
        """Keep one article packed already (records.pack); returns its number."""
        self._added.append(record)
        self.added_bytes += len(record)
        self.published_us.append(published_us)
        self.sources.append(source)  # last: a number exists once its source does
        return len(self.sources) - 1

    def record(self, number: int) -> bytes | memoryview:
        if number < self._base_count:
            return self._base[self._offsets[number] : self._offsets[number + 1]]
        found = self._added[number - self._base_count]
        if found is None:
            raise KeyError(f"article {number} was released")
        return found

    def records(self, numbers: Iterable[int]) -> list[bytes | memoryview]:
        """The records of these articles, in order (a snapshot's save takes all of them)."""
        if self._base_count == 0 and None not in self._added:  # a full load's store: its records all added
            return list(map(self._added.__getitem__, numbers))  # type: ignore[arg-type]
        return list(map(self.record, numbers))

    def head(self, number: int) -> Head:
        return records.head(self.record(number))

    def article(self, number: int) -> Article:
        """The article with this number, made from its record (or remembered, if made lately)."""
        found = self._memo.get(number)
        if found is None:
            found = self._make(number)
            with self._memo_lock:
                memo = self._memo
                memo[number] = found
                if len(memo) > MEMO:
                    memo.popitem(last=False)  # the oldest made
        return found

    def _make(self, number: int) -> Article:
        return records.unpack(self.sources[number], self.published_us[number], self.record(number))

    def key(self, number: int) -> tuple[int, str]:
        """The index's sort key of an article (core.index.sort_key): newest first, ties by file name."""
        return (-self.published_us[number], self.sources[number])

    def size(self) -> int:
        """The bytes the records take."""
        return self._offsets[-1] + sum(len(r) for r in self._added if r is not None)


def _empty_table(entries: int) -> tuple[array[int], int]:
    """An open-addressed table for ``entries`` (0: a free slot), at least twice as long, and the
    mask that takes a hash to a slot: a probe from a hash meets a free slot soon."""
    size = 1 << max(3, (2 * entries).bit_length())
    return array("I", bytes(4 * size)), size - 1


class SourceNumbers(Mapping[str, int]):
    """File name → number of the first ``count`` articles of a store, in 4-8 bytes an article.

    A dict of a million file names costs ~67 bytes an article: its table, and
    an int object for each number. Here the table is one array of numbers
    (plus one, 0 for a free slot) at least twice as long as there are names,
    placed by the name's hash and found by probing from there (open
    addressing); the names are the store's own. Making it makes no object per
    name, so nothing is left behind in the allocator either (a sorted array of
    hashes needed a list of a million ints to sort). ``hash`` of a str is this
    process's own (PYTHONHASHSEED), which is all an in-memory map needs.
    """

    __slots__ = ("_count", "_mask", "_sources", "_table")

    def __init__(self, sources: Sequence[str], count: int) -> None:
        # The store's list of names grows with the articles added later: only the first ``count`` are these.
        table, mask = _empty_table(count)
        for number in range(count):
            slot = hash(sources[number]) & mask
            while table[slot]:
                slot = (slot + 1) & mask
            table[slot] = number + 1
        self._table, self._mask, self._sources, self._count = table, mask, sources, count

    def get(self, source: str, default: int | None = None) -> int | None:  # type: ignore[override]
        if not isinstance(source, str):
            return default
        table, mask, sources = self._table, self._mask, self._sources
        slot = hash(source) & mask
        while found := table[slot]:
            if sources[found - 1] == source:
                return found - 1
            slot = (slot + 1) & mask
        return default

    def __getitem__(self, source: str) -> int:
        number = self.get(source)
        if number is None:
            raise KeyError(source)
        return number

    def __contains__(self, source: object) -> bool:
        return isinstance(source, str) and self.get(source) is not None

    def __iter__(self) -> Iterator[str]:
        return islice(self._sources, self._count)

    def __len__(self) -> int:
        return self._count

    # Views that walk the names in number order, without a lookup each.
    def keys(self) -> KeysView[str]:
        return _Keys(self)

    def items(self) -> ItemsView[str, int]:
        return _Items(self)

    def values(self) -> ValuesView[int]:
        return _Values(self)


class _Keys(KeysView[str]):
    _mapping: SourceNumbers

    def __iter__(self) -> Iterator[str]:
        return iter(self._mapping)


class _Items(ItemsView[str, int]):
    _mapping: SourceNumbers

    def __iter__(self) -> Iterator[tuple[str, int]]:
        numbers = self._mapping
        return zip(iter(numbers), range(len(numbers)), strict=True)


class _Values(ValuesView[int]):
    _mapping: SourceNumbers

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self._mapping)))


class UrlNumbers(Mapping[int, "str | list[str]"]):
    """The index's URL map (url_key → the file at that URL, or the files) as a snapshot
    holds it: a column of keys and one of article numbers, a key's rows next to each
    other, and an open-addressed table of row numbers over them: ~20 bytes a URL, where
    a dict of a million took ~84 (an int object a key, and its table)."""

    __slots__ = ("_keys", "_length", "_mask", "_numbers", "_sources", "_table")

    def __init__(self, keys: array[int], numbers: array[int], sources: Sequence[str]) -> None:
        """One row a file (``keys[i]`` its URL's key, ``numbers[i]`` its number in ``sources``);
        raises ValueError unless each key's rows are next to each other, as a snapshot writes them."""
        self._table, self._mask = _empty_table(len(keys))
        self._keys, self._numbers, self._sources = keys, numbers, sources
        self._length, previous = 0, None
        for row, key in enumerate(keys):
            if key != previous:
                if self._rows(key):
                    raise ValueError("the rows of a URL are not together")
                self._length, previous = self._length + 1, key
            slot = key & self._mask
            while self._table[slot]:
                slot = (slot + 1) & self._mask
            self._table[slot] = row + 1

    def _rows(self, key: int) -> list[int]:
        """The rows of ``key``, in order."""
        table, mask, keys = self._table, self._mask, self._keys
        rows = []
        slot = key & mask
        while found := table[slot]:
            if keys[found - 1] == key:
                rows.append(found - 1)
            slot = (slot + 1) & mask
        rows.sort()
        return rows

    def _value(self, rows: list[int]) -> str | list[str]:
        sources, numbers = self._sources, self._numbers
        return sources[numbers[rows[0]]] if len(rows) == 1 else [sources[numbers[row]] for row in rows]

    def get(self, key: int, default: str | list[str] | None = None) -> str | list[str] | None:  # type: ignore[override]
        rows = self._rows(key) if type(key) is int else []
        return self._value(rows) if rows else default

    def __getitem__(self, key: int) -> str | list[str]:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __contains__(self, key: object) -> bool:
        return type(key) is int and bool(self._rows(key))

    def __iter__(self) -> Iterator[int]:
        return (key for key, _ in self._groups())

    def __len__(self) -> int:
        return self._length

    def _groups(self) -> Iterator[tuple[int, list[int]]]:
        """Each key with its rows, in the rows' order."""
        keys = self._keys
        start = 0
        for row in range(1, len(keys) + 1):
            if row == len(keys) or keys[row] != keys[start]:
                yield keys[start], list(range(start, row))
                start = row

    def items(self) -> ItemsView[int, str | list[str]]:
        return _UrlItems(self)


class _UrlItems(ItemsView[int, "str | list[str]"]):
    _mapping: UrlNumbers

    def __iter__(self) -> Iterator[tuple[int, str | list[str]]]:
        urls = self._mapping
        return ((key, urls._value(rows)) for key, rows in urls._groups())
