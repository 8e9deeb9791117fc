"""HTML and text cleaning: Markdown bodies to sanitised HTML, scraped text to plain text."""

from __future__ import annotations

import html
from functools import lru_cache
from typing import Any

import nh3

from feedsvc.text import xml_safe


@lru_cache(maxsize=1)
def _markdown() -> Any:
    """The CommonMark renderer, made on first use: most articles have no body."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")


def render_markdown(body: str, base_url: str = "") -> str:
    """Given a Markdown body, return sanitised HTML (empty for a blank body).

    Relative links and images are resolved against the article's URL: a feed
    reader shows the content far from where it was written.
    """
    if not body.strip():
        return ""
    # markdown-it turns character references such as &#12; into the characters
    # themselves, and so does nh3's HTML parser with those markdown-it passes
    # through (in raw HTML: "<textarea>&#1;"); both keep them: clean both outputs.
    rendered = xml_safe(_markdown().render(body))
    return xml_safe(_sanitise(rendered, base_url)).strip()


def _sanitise(rendered: str, base_url: str) -> str:
    # nh3 (ammonia) drops scripts, event handlers and unsafe URL schemes.
    if base_url:
        try:
            return nh3.clean(rendered, url_relative=("rewrite_with_base", base_url))
        except ValueError:  # a base its URL parser refuses: drop relative URLs instead
            pass
    return nh3.clean(rendered, url_relative="deny")


def plain_text(value: str, xml_safe_already: bool = False) -> str:
    """Given a title, excerpt or name as scraped, return it as plain text: the
    text an HTML reader would show, without markup or character references.

    The one sanitiser of every plain-text field. Real files carry character
    references ("We&#8217;re", sometimes encoded twice: "&amp;#8217;") and
    now and then markup ("<b>New</b>"). Feed readers often show a title as
    HTML, so none may survive, even as ``&lt;img onerror=…&gt;`` that
    decodes into markup, or as ``<<b>img …>`` that becomes markup once the
    inner tag is dropped: decoding and dropping repeat until neither changes
    anything. What an HTML reader shows as text stays: "a < b", "AT&T", "<3".

    ``xml_safe_already``: ``value`` has no character XML forbids (one pass fewer).
    """
    text = value if xml_safe_already else xml_safe(value)
    if "\ufeff" in text:  # a byte order mark from a pasted file: HTML readers drop it too
        text = text.replace("\ufeff", "")
    if "<" in text or "&" in text:  # else there is nothing to decode or drop
        for _ in range(_TEXT_PASSES):
            shown = _shown_as_html(text)
            if shown == text:
                break
            text = shown
        else:  # still changing, so encoded deeper than any real file: no "<" or "&" is left to decode
            text = text.replace("<", "").replace("&", "")
    return _single_spaced(text)


def _single_spaced(text: str) -> str:
    """``text`` with each run of whitespace as one space, none at either end."""
    # Most text is that already. In printable text the only whitespace is " ":
    # every other space, break or separator is a control or separator character.
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    return " ".join(text.split())


# Scraped text is at most encoded twice; each pass undoes one level.
_TEXT_PASSES = 4


def _shown_as_html(text: str) -> str:
    """What an HTML reader shows of ``text``: its text, with character references decoded."""
    if "<" in text:
        text = nh3.clean(text, tags=set())  # keeps the text, drops tags, comments, scripts
    return xml_safe(html.unescape(text))
