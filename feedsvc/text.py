"""Small pure helpers for text: XML-safe cleaning and URL slugs."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

# XML 1.0 allows #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
# C1 controls and DEL are allowed by XML but rejected by YAML readers and
# useless in a title, so they go too.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_DOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$")


def xml_safe(text: str) -> str:
    """Given any text, return it without the characters XML 1.0 forbids."""
    return _XML_FORBIDDEN.sub("", text)


def slugify(name: str) -> str:
    """Given a topic name, return its URL slug ("AI in Autos" -> "ai-in-autos")."""
    return _NOT_SLUG.sub("-", name.lower()).strip("-")


def is_domain(name: str) -> bool:
    """Return True when ``name`` is a lower-case DNS name usable in a URL path."""
    return bool(_DOMAIN.match(name))


# Untrusted values in problem messages


def is_small_int(value: Any) -> bool:
    return type(value) is int and -(10**12) < value < 10**12


def preview(value: Any, limit: int = 60) -> str:
    """An untrusted value as a problem message shows it: text is cut *before*
    it is formatted (``f"{value!r:.50}"`` formats all of it first, which for
    a list built from nested aliases is billions of items), anything else is
    only named."""
    if isinstance(value, str):
        return repr(value[:limit]) + ("…" if len(value) > limit else "")
    if isinstance(value, (date, float)) or is_small_int(value):
        return str(value)
    if type(value) is int:
        return "a number too large to show"
    return kind_of(value)


def clip(message: str, limit: int = 300) -> str:
    """A message from a library (which may quote the document) cut to a readable length."""
    return message if len(message) <= limit else message[:limit] + "…"


def kind_of(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "text", bool: "true/false", type(None): "null"}
    return names.get(type(value), type(value).__name__)
