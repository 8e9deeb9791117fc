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
        self._added: list[bytes | None] = []
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

    def add_record(self, source: str, published_us: int, record: bytes) -> int:
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
