"""Front matter: the YAML between a file's "---" lines, read with work bounded by its size.

PyYAML's C safe loader parses; the values are built here (text, lists,
mappings and dates), counting what aliases expand to, so a document can never
ask for more work than its length allows. Anything else goes through the safe
constructor, after the document has been measured.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from feedsvc.content.model import Problem
from feedsvc.text import clip, kind_of

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[valid-type,misc]
    """The C safe loader (never builds Python objects), reading YAML 1.1's
    implicit booleans and numbers as the text they are.

    Otherwise ``title: 12:30:00`` becomes 45000 (base 60), ``topics: [NO]``
    becomes False and ``title: 1.10`` becomes 1.1. Dates and times stay
    typed: they are what ``publishedDateTime`` holds.
    """


_TEXT_TAGS = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
_IMPLICIT: dict[str, list[tuple[str, re.Pattern[str]]]] = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag not in _TEXT_TAGS]
    for first, resolvers in _Base.yaml_implicit_resolvers.items()
}
_Loader.yaml_implicit_resolvers = _IMPLICIT
# The first characters of the plain scalars that may be anything but text.
_TYPED_FIRST = frozenset(first for first, resolvers in _IMPLICIT.items() if resolvers)
_STR, _MAP, _SEQ = _Base.DEFAULT_SCALAR_TAG, _Base.DEFAULT_MAPPING_TAG, _Base.DEFAULT_SEQUENCE_TAG


def _resolve(self: yaml.SafeLoader, kind: type, value: Any, implicit: Any) -> str:
    """The tag PyYAML's Resolver.resolve gives, less its steps for what we never
    register (path resolvers, resolvers for any first character): it runs for
    every node, ~60 times a file."""
    if kind is not yaml.ScalarNode:
        return _MAP if kind is yaml.MappingNode else _SEQ
    first = value[:1]
    if implicit[0] and first in _TYPED_FIRST:  # plain, and may be null, a timestamp, a merge key...
        for tag, pattern in _IMPLICIT[first]:
            if pattern.match(value):
                return tag
    return _STR


# The composer tells the resolver of every step down and back up the tree, for
# path resolvers. We register none, so there is nothing to track: "".format
# takes any arguments and does nothing, in C (a Python no-op is two calls into
# Python a node, ~4 us of a file's ~65 us of composing).
_Loader.descend_resolver = _Loader.ascend_resolver = "".format
_Loader.resolve = _resolve

# Front matter opens with a "---" line and closes with the next "---" or "..." line.
_OPENING = re.compile(r"---[ \t]*\r?\n")
_CLOSING = re.compile(r"\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)")  # searched from the opening line's "\n"


class InvalidArticle(ValueError):
    """Raised with every problem found in one document (errors and warnings)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems if p.severity == "error"))
        self.problems = problems


def split_front_matter(text: str) -> tuple[str, str]:
    """Given a whole file, return (YAML front matter, Markdown body)."""
    opening = _OPENING.match(text)
    closing = _CLOSING.search(text, opening.end() - 1) if opening else None
    if opening is None or closing is None:
        raise InvalidArticle(
            [Problem("", "no front matter: the file must start with a '---' line and close it with another")]
        )
    return text[opening.end() : closing.start() + 1], text[closing.end() :]


def load_yaml(front: str) -> dict[str, Any]:
    """Given front matter, return its fields, or raise InvalidArticle saying why not."""
    try:
        data = _load(front)
    except _Refused as exc:
        raise InvalidArticle([Problem("", f"front matter: {exc}")]) from None
    except yaml.YAMLError as exc:
        raise InvalidArticle([Problem("", f"front matter is not valid YAML: {_yaml_reason(exc)}")]) from None
    except (ValueError, RecursionError) as exc:  # e.g. a date the constructor cannot build
        raise InvalidArticle([Problem("", f"front matter is not valid YAML: {clip(str(exc))}")]) from None
    except (IndexError, KeyError, AttributeError, TypeError):
        # PyYAML's constructors fail this way on an explicitly tagged value they cannot read
        # (``!!int ''``, ``!!bool x``, ``!!timestamp x``): bad input, not a bug of ours.
        raise InvalidArticle(
            [Problem("", "front matter is not valid YAML: a tagged value (!!…) cannot be read")]
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidArticle([Problem("", f"front matter must be a mapping of fields, not {kind_of(data)}")])
    return data


_NULL, _TIMESTAMP = "tag:yaml.org,2002:null", "tag:yaml.org,2002:timestamp"
_NUMBER_TAGS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"})
_Scalar = yaml.ScalarNode

# Bounds on the work a document may ask for, whatever it contains. Real front
# matter nests 5 levels deep (related[0].provider.images[0].url) and never
# uses aliases.
MAX_DEPTH = 32
# Without aliases a document's expanded size (values plus characters of text,
# see _Builder) stays below twice its length; aliases may multiply it this much.
EXPANSION = 4
EXPANSION_FLOOR = 10_000
# An explicitly tagged number (``!!int 1:2:3…``) is converted by PyYAML in
# time quadratic in its length; no real number is this long.
MAX_NUMBER_CHARS = 100


def expansion_budget(size: int) -> int:
    """The largest expanded size accepted from front matter of ``size`` characters."""
    return EXPANSION_FLOOR + EXPANSION * size


class _Refused(Exception):
    """The document asks for more work than its size allows (the message says how)."""


def _load(text: str) -> Any:
    """Parse with the C loader, then build the values directly.

    Front matter is text, lists, mappings and dates; building those without
    PyYAML's generic constructor machinery halves the cost of a file. Any
    other tag (!!binary, !!set, a merge key, an unknown or Python tag) goes
    through the safe constructor as usual, which accepts or refuses it, but
    only once the whole document has been measured and found within bounds.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        builder = _Builder(loader, expansion_budget(len(text)))
        value = builder.build(node, 0)
        return loader.construct_document(node) if builder.other_tags else value
    finally:
        loader.dispose()


class _Builder:
    """Builds front-matter values from PyYAML's node graph, refusing a graph
    that asks for more work than the text it came from.

    An alias is another reference to a node, and each node is built once, so
    building stays cheap whatever the aliases. But whatever walks the values
    afterwards (a field reader, an error message, the API writing a document
    back, the safe constructor's merge keys) does the work of the *expanded*
    document, which nested aliases make exponential ("billion laughs": 400
    bytes that expand to 387 million strings). So the expanded size is
    counted here, every alias counting all it stands for, and must stay
    within ``budget``; nesting is bounded too, and an alias may not refer to
    a node that contains it.
    """

    def __init__(self, loader: yaml.SafeLoader, budget: int) -> None:
        self.loader = loader
        self.budget = budget
        self.size = 0  # expanded size so far: one per node plus the characters of each text
        self.values: dict[int, Any] = {}  # built collections, by node id
        self.sizes: dict[int, int] = {}  # their expanded sizes, once complete
        self.other_tags = False  # a node only the safe constructor builds

    def build(self, node: yaml.Node, depth: int) -> Any:
        if type(node) is _Scalar:
            self.size += 1 + len(node.value)
            return self.scalar(node)
        known = self.sizes.get(id(node))
        if known is not None:  # an alias: all it stands for counts again
            self.size += known
            self.check()
            return self.values[id(node)]
        if id(node) in self.values:
            raise _Refused("an alias refers to a list or mapping that contains it")
        if depth >= MAX_DEPTH:
            raise _Refused(f"nested more than {MAX_DEPTH} levels deep")
        start = self.size
        text = 0  # the size of the text values below, counted here: most values are text
        value: Any
        if type(node) is yaml.MappingNode:
            value = self.values[id(node)] = {}
            self.other_tags |= node.tag != _MAP
            for key_node, value_node in node.value:
                if type(value_node) is _Scalar and value_node.tag == _STR:
                    item = value_node.value
                    text += 1 + len(item)
                else:
                    item = self.build(value_node, depth + 1)
                if type(key_node) is _Scalar and key_node.tag == _STR:
                    text += 1 + len(key_node.value)
                    value[key_node.value] = item
                else:  # a merge key or a key that is not text
                    self.build(key_node, depth + 1)
                    self.other_tags = True
        else:
            value = self.values[id(node)] = []
            self.other_tags |= node.tag != _SEQ
            for item_node in node.value:
                if type(item_node) is _Scalar and item_node.tag == _STR:
                    text += 1 + len(item_node.value)
                    value.append(item_node.value)
                else:
                    value.append(self.build(item_node, depth + 1))
        self.size += text + 1
        self.sizes[id(node)] = self.size - start
        self.check()
        return value

    def scalar(self, node: yaml.Node) -> Any:
        tag = node.tag
        if tag == _STR:
            return node.value
        if tag == _NULL:
            return None
        if tag == _TIMESTAMP:
            try:
                return self.loader.construct_yaml_timestamp(node)  # type: ignore[arg-type]
            except (ValueError, OverflowError):  # 2024-02-30: left as text, for the field to report
                return node.value
        if tag in _NUMBER_TAGS and len(node.value) > MAX_NUMBER_CHARS:
            raise _Refused(f"a !!{tag.rsplit(':', 1)[-1]} value longer than {MAX_NUMBER_CHARS} characters")
        self.other_tags = True
        return None

    def check(self) -> None:
        if self.size > self.budget:
            raise _Refused(
                f"too large once its aliases are expanded (more than {self.budget:,} values and characters"
                " for a document of this size)"
            )


def check_nesting(value: Any, limit: int = MAX_DEPTH) -> None:
    """Given front-matter fields from elsewhere (a JSON document), raise
    InvalidArticle when they nest deeper than YAML front matter may."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth >= limit:
                raise InvalidArticle([Problem("", f"front matter: nested more than {limit} levels deep")])
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def _yaml_reason(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        # +2: the YAML starts on the file's second line, after the opening '---'.
        return f"{clip(str(problem))} (line {mark.line + 2}, column {mark.column + 1})"
    return clip(str(problem))
