"""Which files changed since a snapshot: the bulk comparison over its column finds what the plain one finds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from feedsvc.core import signatures
from feedsvc.core.signatures import BLOCK, SignatureTable, changes, column_of

NAMES = [f"{n:03d}.md" for n in range(12)]
SIGNATURE = st.sampled_from([1, 2, 2**150 + 7, 2**190])


def plain_changes(known: dict[str, int], now: list[tuple[str, int]]) -> set[str]:
    """The module's comparison over a plain dictionary (its first path)."""
    return set(changes(known, now))


@given(
    column=st.lists(st.none() | SIGNATURE, min_size=0, max_size=8),
    overrides=st.dictionaries(st.sampled_from(NAMES), st.none() | SIGNATURE, max_size=5),
    now=st.dictionaries(st.sampled_from(NAMES), SIGNATURE, max_size=12),
)
@settings(max_examples=300, deadline=None)
def test_the_table_finds_what_a_dictionary_finds(
    column: list[int | None], overrides: dict[str, int | None], now: dict[str, int]
):
    numbers = {name: number for number, name in enumerate(NAMES[: len(column)])}
    table = SignatureTable(lambda: numbers, column_of(iter(column)), {})
    for name, signature in overrides.items():  # set or removed since the column was made
        if signature is None:
            table.pop(name, None)
        else:
            table[name] = signature
    found = table.changes(list(now.items()))
    assert len(found) == len(set(found))  # each file once
    assert set(found) == plain_changes(dict(table.items()), list(now.items()))
    assert set(changes(table, list(now.items()))) == set(found)  # the module's function takes this path


def test_a_change_deep_in_a_large_column_is_found_and_nothing_else():
    count = 3 * BLOCK + 5
    names = [f"{n:06d}.md" for n in range(count)]
    numbers = {name: number for number, name in enumerate(names)}
    table = SignatureTable(lambda: numbers, column_of(iter(range(1, count + 1))), {})
    now = [(name, number + 1) for number, name in enumerate(names)]
    assert table.changes(now) == []
    now[2 * BLOCK + 3] = (names[2 * BLOCK + 3], 10**9)  # edited
    del now[BLOCK]  # removed
    now.append(("new.md", 5))
    assert sorted(table.changes(now)) == sorted([names[2 * BLOCK + 3], names[BLOCK], "new.md"])


def test_an_unknown_signature_is_always_a_change_and_its_file_can_be_gone():
    numbers = {"a.md": 0, "b.md": 1}
    table = SignatureTable(lambda: numbers, column_of(iter([None, 5])), {})
    assert table.changes([("a.md", 0), ("b.md", 5)]) == []  # the same as the column says (0: unknown)
    assert table.changes([("a.md", 7), ("b.md", 5)]) == ["a.md"]
    assert table.changes([("b.md", 5)]) == ["a.md"]  # gone, though its column entry is all zeros


def test_the_module_keeps_the_plain_path_for_dictionaries():
    assert signatures.changes({"a.md": 1, "b.md": 2}, [("a.md", 1), ("c.md", 3)]) == ["c.md", "b.md"]
