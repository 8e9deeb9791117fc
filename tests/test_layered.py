"""The layered map (core.layered) and the signature table (core.signatures), checked against plain dicts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsvc.core import layered
from feedsvc.core.layered import Layered

changes = st.lists(st.dictionaries(st.sampled_from("abcdefgh"), st.none() | st.integers(0, 9), max_size=4), max_size=30)


@pytest.mark.parametrize("fold", [1, 3, 8192])
@given(steps=changes)
@settings(max_examples=60, deadline=None)
def test_layered_behaves_as_a_dict_with_every_version_kept(fold: int, steps: list[dict[str, int | None]]):
    old = layered.FOLD
    layered.FOLD = fold  # small: the layer is folded into a new base often
    try:
        model: dict[str, int] = {"a": 1, "b": 2}
        current = Layered(dict(model))
        versions = [(current, dict(model))]
        for step in steps:
            current = current.updated(step)
            for key, value in step.items():
                if value is None:
                    model.pop(key, None)
                else:
                    model[key] = value
            versions.append((current, dict(model)))
        for version, expected in versions:  # updating never changed an earlier version
            assert dict(version.items()) == expected
            assert len(version) == len(expected) and sorted(version) == sorted(expected)
            for key in "abcdefghz":
                assert (key in version) == (key in expected)
                assert version.get(key) == expected.get(key)
    finally:
        layered.FOLD = old


def test_layered_missing_key_raises_key_error():
    removed = Layered({"a": 1}).updated({"a": None})
    with pytest.raises(KeyError):
        removed["a"]
    with pytest.raises(KeyError):
        Layered[str, int]()["x"]


def test_layered_shares_its_base_until_the_layer_is_large():
    base = {str(n): n for n in range(100)}
    first = Layered(base)
    second = first.updated({"x": 1})
    assert second._base() is base and len(second._layer) == 1
    folded = first
    for n in range(layered.FOLD + 1):
        folded = folded.updated({f"new{n}": n})
    assert folded._base() is not base and not folded._layer and len(folded) == 100 + layered.FOLD + 1


def test_layered_makes_a_lazy_base_once_for_every_version():
    calls = []

    def make() -> dict[str, int]:
        calls.append(1)
        return {"a": 1, "b": 2}

    first = Layered(make)
    assert not calls  # nothing asked yet
    second = first.updated({"c": 3, "a": None})
    assert dict(second.items()) == {"b": 2, "c": 3} and len(second) == 2
    assert dict(first.items()) == {"a": 1, "b": 2} and len(first) == 2
    assert len(calls) == 1


@given(steps=st.lists(st.tuples(st.sampled_from("abcdefg"), st.none() | st.integers(1, 2**190)), max_size=40))
@settings(max_examples=60, deadline=None)
def test_signature_table_behaves_as_a_dict(steps: list[tuple[str, int | None]]):
    from feedsvc.core.signatures import SignatureTable, column_of

    start = {"a": 5, "b": 2**150 + 7, "c": 0}  # c: in the snapshot, signature unknown
    others = {"x": 9}  # a skipped file: not one of the snapshot's articles
    numbers = {"a": 0, "b": 1, "c": 2}
    table = SignatureTable(lambda: numbers, column_of(iter([5, 2**150 + 7, None])), dict(others))
    model = {**start, **others}
    for key, value in steps:
        if value is None:
            table.pop(key, None)
            model.pop(key, None)
        else:
            table[key] = value
            model[key] = value
        assert dict(table.items()) == model and len(table) == len(model)
        assert all((k in table) == (k in model) and table.get(k) == model.get(k) for k in "abcdefgxz")


class Colliding(str):
    """A file name whose hash every other one shares: lookups must compare the names."""

    def __hash__(self) -> int:
        return 7


@given(
    names=st.lists(st.text(min_size=1, max_size=6), unique=True, max_size=30),
    cut=st.integers(0, 30),
    asked=st.lists(st.text(min_size=1, max_size=6), max_size=10),
    colliding=st.booleans(),
)
@settings(max_examples=200, deadline=None)
def test_source_numbers_is_the_dict_of_its_first_names(names: list[str], cut: int, asked: list[str], colliding: bool):
    from feedsvc.core.store import SourceNumbers

    sources: list[str] = [Colliding(name) if colliding else name for name in names]
    count = min(cut, len(sources))
    numbers = SourceNumbers(sources, count)
    sources.append("added.md")  # the store's list grows with later articles: not these
    model = {name: number for number, name in enumerate(names[:count])}  # by the plain names
    assert list(numbers.items()) == list(model.items()) and list(numbers) == list(model) and len(numbers) == count
    assert list(numbers.values()) == list(model.values()) and list(numbers.keys()) == list(model)
    for name in [*names, *asked, "added.md"]:
        key = Colliding(name) if colliding else name
        assert numbers.get(key) == model.get(name) and (key in numbers) == (name in model)
    layered = Layered(lambda: numbers)  # the index's map of file names, as a start from the snapshot makes it
    gone = [Colliding(name) if colliding else name for name in names[:2]]
    changed = layered.updated({**dict.fromkeys(gone), "new.md": 99})
    expected = {**model, "new.md": 99}
    for name in names[:2]:
        expected.pop(name, None)
    assert sorted(map(str, changed)) == sorted(expected) and len(changed) == len(expected)
    assert sorted((str(k), v) for k, v in changed.items()) == sorted(expected.items())
    assert sorted(changed.values()) == sorted(expected.values())
    assert [(str(k), v) for k, v in layered.items()] == list(model.items())  # the earlier map is as it was


@given(
    groups=st.lists(
        st.tuples(st.integers(0, 2**64 - 1) | st.integers(0, 40), st.lists(st.integers(0, 19), min_size=1, max_size=3)),
        max_size=25,
    ),
    asked=st.lists(st.integers(0, 2**64 - 1) | st.integers(0, 40), max_size=10),
)
@settings(max_examples=200, deadline=None)
def test_url_numbers_is_the_dict_a_snapshot_held(groups: list[tuple[int, list[int]]], asked: list[int]):
    from array import array

    from feedsvc.core.store import UrlNumbers

    sources = [f"{n:02d}.md" for n in range(20)]
    model: dict[int, str | list[str]] = {}
    keys, numbers = array("Q"), array("I")
    for key, files in groups:  # small keys collide in the table; each key's rows together, as a save writes them
        if key in model:
            continue
        model[key] = sources[files[0]] if len(files) == 1 else [sources[n] for n in files]
        keys.extend([key] * len(files))
        numbers.extend(files)
    urls = UrlNumbers(keys, numbers, sources)
    assert list(urls.items()) == list(model.items()) and list(urls) == list(model) and len(urls) == len(model)
    for key in [*model, *asked]:
        assert urls.get(key) == model.get(key) and (key in urls) == (key in model)
    changed = Layered(lambda: urls).updated({**dict.fromkeys(list(model)[:2]), 2**64: "new.md"})  # no row's key
    expected = {**model, 2**64: "new.md"}
    for key in list(model)[:2]:
        expected.pop(key)
    assert dict(changed.items()) == expected


def test_url_numbers_refuses_rows_of_one_url_apart():
    from array import array

    from feedsvc.core.store import UrlNumbers

    with pytest.raises(ValueError, match="not together"):
        UrlNumbers(array("Q", [5, 6, 5]), array("I", [0, 1, 2]), ["a.md", "b.md", "c.md"])
