"""A dictionary that is copied in O(changes): a shared base and a small layer of changes on top.

The index maps every file name and every URL to its articles; a new index
snapshot per edited file must not copy a million entries. :meth:`Layered.updated`
returns a new map sharing the base and copying only the layer, which is
folded into a new base once it is large (a copy of the base once every
``FOLD`` changes: a few hundred nanoseconds a change, spread out).

The base may also be given as a function that makes it, called once, on
first use, by whichever version of the map needs it first: a start from the
snapshot does not build maps that serving feeds never reads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, ItemsView, Iterator, Mapping, ValuesView
from typing import Any, Generic, TypeVar, cast

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")

FOLD = 8192


class _Gone:
    """Marks a key removed in the layer while the base still has it."""


_GONE = _Gone()


class Lazy(Generic[T]):
    """A value made on first use (once, whichever thread asks first)."""

    __slots__ = ("_lock", "_made", "_make")

    def __init__(self, made: T | None, make: Callable[[], T] | None = None) -> None:
        self._made, self._make = made, make
        self._lock = threading.Lock()

    def __call__(self) -> T:
        made = self._made
        if made is None:
            with self._lock:
                if self._made is None:
                    assert self._make is not None
                    self._made, self._make = self._make(), None
                made = self._made
        return made

    @property
    def made(self) -> T | None:
        """The value if it was made already, else None (without making it)."""
        return self._made


class Layered(Mapping[K, V], Generic[K, V]):
    """An immutable mapping; ``updated`` makes the next one."""

    __slots__ = ("_base", "_grown", "_layer")

    def __init__(self, base: Mapping[K, V] | Callable[[], Mapping[K, V]] | None = None) -> None:
        """``base``: a dict, or any mapping whose ``items()`` walks it without a lookup per key
        (a compact one: core.store.SourceNumbers)."""
        self._base: Lazy[Mapping[K, V]] = Lazy(None, base) if callable(base) else Lazy(base if base is not None else {})
        self._layer: dict[K, V | _Gone] = {}
        self._grown = 0  # entries added less entries removed by the layer

    def __getitem__(self, key: K) -> V:
        found = self._layer.get(key, None)
        if found is None:
            return self._base()[key]
        if found is _GONE:
            raise KeyError(key)
        return cast(V, found)

    def get(self, key: K, default: V | None = None) -> V | None:  # type: ignore[override]
        found = self._layer.get(key, None)
        if found is None:
            return self._base().get(key, default)
        return default if found is _GONE else cast(V, found)

    def __contains__(self, key: object) -> bool:
        found = self._layer.get(key, None)  # type: ignore[arg-type]
        return key in self._base() if found is None else found is not _GONE

    def __len__(self) -> int:
        return len(self._base()) + self._grown

    def __iter__(self) -> Iterator[K]:
        layer, base = self._layer, self._base()
        for key in base:
            if layer.get(key, None) is not _GONE:
                yield key
        for key, value in layer.items():
            if value is not _GONE and key not in base:
                yield key

    def items(self) -> ItemsView[K, V]:
        return _Items(self)

    def values(self) -> ValuesView[V]:
        return _Values(self)

    def plain(self) -> Mapping[K, V]:
        """The map, not to be changed: its base itself while no change is layered
        over it (a full load's maps, written to the snapshot without a copy)."""
        if not self._layer:
            return self._base()
        return dict(self.items())

    def updated(self, changes: Mapping[K, V | None]) -> Layered[K, V]:
        """The map with these changes (None: remove the key); ``self`` is left as it was."""
        new = object.__new__(Layered)
        layer = dict(self._layer)
        grown = self._grown
        for key, value in changes.items():
            had = key in self
            if value is None:
                if had:
                    layer[key] = _GONE
                    grown -= 1
                continue
            layer[key] = value
            grown += not had
        if len(layer) > FOLD:
            base = dict(self._base().items())
            for key, change in layer.items():
                if isinstance(change, _Gone):
                    base.pop(key, None)
                else:
                    base[key] = change
            new._base, new._layer, new._grown = Lazy(base), {}, 0
        else:
            new._base, new._layer, new._grown = self._base, layer, grown
        return new


class _Items(ItemsView[K, V]):
    """A layered map's items: the base's as its ``items()`` walks them, then the layer's."""

    _mapping: Layered[K, V]

    def __iter__(self) -> Iterator[tuple[K, V]]:
        layered = self._mapping
        layer, base = layered._layer, layered._base()
        for key, value in base.items():
            change = layer.get(key, None)
            if change is None:
                yield key, value
            elif change is not _GONE:
                yield key, cast(V, change)
        for key, change in layer.items():
            if change is not _GONE and key not in base:
                yield key, cast(V, change)


class _Values(ValuesView[V]):
    _mapping: Layered[Any, V]

    def __iter__(self) -> Iterator[V]:
        return (value for _, value in _Items(self._mapping))
