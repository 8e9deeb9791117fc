from __future__ import annotations

import pytest

from feedsvc.text import is_domain, slugify, xml_safe


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Computer Vision", "computer-vision"),
        ("AI in Autos", "ai-in-autos"),
        ("  C++ / C#  ", "c-c"),
        ("Power Apps", "power-apps"),
        ("AI", "ai"),
        ("Café", "caf"),
        ("---", ""),
    ],
)
def test_slugify(name: str, slug: str):
    assert slugify(name) == slug


def test_xml_safe_keeps_tabs_newlines_and_unicode():
    assert xml_safe("a\tb\nc\r — ü 😀") == "a\tb\nc\r — ü 😀"
    assert xml_safe("a\x00b\x08c\x0bd\ufffe") == "abcd"


@pytest.mark.parametrize(
    ("name", "ok"), [("reuters.com", True), ("co.uk", True), ("a_b.com", False), ("x/y", False), ("", False)]
)
def test_is_domain(name: str, ok: bool):
    assert is_domain(name) is ok
