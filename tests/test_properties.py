"""Property tests over generated article files and folders (Hypothesis).

Whatever a file holds, the loader publishes it or reports it skipped with a
reason, never raises; whatever it publishes renders in every feed it belongs
to as well-formed XML that feedparser reads with ``bozo == 0``. And the
plain-text sanitiser leaves nothing an HTML reader would take for markup.
"""

from __future__ import annotations

import html
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import feedparser
import nh3
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from feedsvc.content.loader import Skipped, load_file, load_folder
from feedsvc.content.model import Article
from feedsvc.content.parse import plain_text
from feedsvc.core.index import ALL, FeedKind, Index
from feedsvc.render import FORMATS
from feedsvc.render.spec import Site, feed_spec
from feedsvc.render.urls import Urls
from feedsvc.text import xml_safe

from .test_jsonfeed import check_json_feed

# Bounded: the whole file runs in well under a minute on two cores.
FILES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FOLDERS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TEXTS = settings(max_examples=200, deadline=None)

# Pieces that matter to YAML, HTML, XML and URLs, mixed with arbitrary text.
FRAGMENTS = [
    "<img src=x onerror=alert(1)>",
    "&lt;img src=x onerror=alert(1)&gt;",
    "&amp;lt;b&amp;gt;",
    "<<b>script>",
    "<script>alert(1)</script>",
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "<textarea>",
    "<b>",
    "</b>",
    "<",
    ">",
    "&",
    "&amp;",
    "&#1;",
    "&#x0C;",
    "&#xFFFE;",
    "&#8217;",
    "&nbsp;",
    "AT&T",
    "a < b",
    "\x00",
    "\x07",
    "\x0c",
    "\x85",
    "\u2028",
    "\ufeff",
    "\ufffe",
    "\r\n",
    "\n",
    "\t",
    " ",
    "---",
    "...",
    ": ",
    "- ",
    "#",
    "*a",
    "&a ",
    "!!int ",
    "!!python/object ",
    "'",
    '"',
    "\\",
    "{",
    "}",
    "[",
    "]",
    ",",
    "|",
    "%",
    "javascript:",
    "https://",
    "ü",
    "😀",
]
fragments = st.lists(st.one_of(st.text(max_size=8), st.sampled_from(FRAGMENTS)), max_size=8).map("".join)
urls = st.one_of(
    st.sampled_from(
        [
            "https://example.org/a",
            "http://bücher.example/straße?q=1#x#y",
            "https://e.org:99999/",
            "javascript:alert(1)",
            "data:text/html,<b>",
            "https://user:pw@e.org/",
            "//e.org/x",
            "https://e.org/100%",
            "https://[::1]/x",
        ]
    ),
    fragments.map(lambda text: f"https://example.org/{text}"),
    fragments,
)
dates = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.sampled_from(["2024-01-02T03:04:05Z", "2024-02-30", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-12:00"]),
    fragments,
)
scalars = st.one_of(
    fragments,
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(),
    st.booleans(),
    st.none(),
)
anything = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(fragments, inner, max_size=4), max_leaves=12
)
providers = st.one_of(
    st.fixed_dictionaries(
        {"name": st.one_of(fragments, anything), "domain": st.one_of(st.just("example.org"), fragments, anything)},
        optional={"images": st.lists(st.fixed_dictionaries({"url": urls}), max_size=3)},
    ),
    anything,
)
images = st.fixed_dictionaries(
    {"url": st.one_of(urls, anything)}, optional={"width": anything, "height": st.integers() | fragments}
)
related = st.fixed_dictionaries(
    {"title": st.one_of(fragments, anything), "webUrl": st.one_of(urls, anything)},
    optional={"excerpt": fragments, "publishedDateTime": dates, "provider": providers},
)
# Any field may be replaced; most keep a plausible type so that many files publish.
FIELDS = {
    "title": st.one_of(fragments, anything),
    "excerpt": st.one_of(fragments, anything),
    "webUrl": st.one_of(urls, anything),
    "originalUrl": urls,
    "publishedDateTime": st.one_of(dates, anything),
    "updatedDateTime": dates,
    "type": st.one_of(st.sampled_from(["article", "video", "Video", "podcast"]), anything),
    "published": st.one_of(st.booleans(), st.sampled_from(["yes", "no", "maybe"]), anything),
    "category": fragments,
    "provider": providers,
    "topics": st.one_of(st.lists(st.one_of(fragments, anything), max_size=6), anything),
    "images": st.one_of(st.lists(images, max_size=4), anything),
    "related": st.one_of(st.lists(related, max_size=3), anything),
    "extra": anything,
}
ATOM = {"a": "http://www.w3.org/2005/Atom"}
BASE = {"title": "A title", "webUrl": "https://example.org/story", "publishedDateTime": "2024-01-02T03:04:05Z"}


@st.composite
def article_files(draw: st.DrawFn) -> tuple[str, bytes]:
    """A file name and its bytes: front matter made from fields, or raw lines, or no text at all."""
    name = draw(st.sampled_from(["a.md", "b.markdown", "c.txt", "d.yaml", "e.yml"]))
    fields = dict(BASE)
    for key in draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=6, unique=True)):
        fields[key] = draw(FIELDS[key])
    shape = draw(st.sampled_from(["dumped", "dumped", "dumped", "raw", "bytes"]))
    if shape == "bytes":
        return name, draw(st.binary(max_size=300))
    if shape == "dumped":
        front = yaml.safe_dump(fields, allow_unicode=draw(st.booleans()), sort_keys=False)
    else:  # lines written by hand, as likely broken YAML as not
        front = "".join(f"{key}: {draw(fragments)}\n" for key in fields)
    body = draw(st.one_of(st.just(""), fragments))
    whole = "---\n{front}---\n{body}"  # most files; the others lack a delimiter or start with a BOM
    text = draw(st.sampled_from([whole, whole, whole, whole, "{front}", "---\n{front}", "\ufeff" + whole]))
    text = text.format(front=front, body=body)
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    encoding = draw(st.sampled_from(["utf-8"] * 6 + ["latin-1", "utf-16"]))
    return name, text.encode(encoding, errors="replace")


def read(folder: Path, name: str, data: bytes) -> Article | Skipped:
    (folder / name).write_bytes(data)
    return load_file(folder / name, folder)


def feeds_of(index: Index) -> list[Any]:
    return [index.info(ALL), *index.feeds(FeedKind.TOPIC), *index.feeds(FeedKind.PROVIDER)]


def render_all(articles: Sequence[Article]) -> int:
    """Render every feed of ``articles`` in every format, checking each the way readers read it."""
    index = Index(articles)
    urls = Urls("https://feeds.example.com")
    rendered = 0
    for info in feeds_of(index):
        assert info is not None
        items = index.select(info.ref, 500)
        for fmt, feed_format in FORMATS.items():
            body = feed_format.render(feed_spec(info, Site(), urls, fmt, 500, items), items)
            rendered += 1
            if fmt == "json":  # feedparser does not read JSON Feed
                assert [item["title"] for item in check_json_feed(body)["items"]] == [item.title for item in items]
                continue
            document = etree.fromstring(body)  # well-formed XML
            feed = feedparser.parse(body)
            assert feed.bozo == 0, (info.ref, fmt, feed.get("bozo_exception"))
            assert len(feed.entries) == len(items)
            # Titles read with lxml: feedparser "repairs" text that looks like mojibake ("Ã©" -> "é").
            titles = document.xpath("/rss/channel/item/title/text() | /a:feed/a:entry/a:title/text()", namespaces=ATOM)
            assert titles == [item.title for item in items]
    return rendered


@FILES
@given(article_files())
def test_any_file_is_published_and_renders_or_is_skipped_with_a_reason(file: tuple[str, bytes]):
    name, data = file
    with tempfile.TemporaryDirectory() as folder:
        result = read(Path(folder), name, data)
    if isinstance(result, Skipped):
        assert result.source == name and result.reason.strip()
        return
    assert result.title and result.url.startswith(("http://", "https://"))
    for text in (result.title, result.excerpt, result.body_html, *(topic.name for topic in result.topics)):
        assert xml_safe(text) == text
    assert render_all([result]) >= 2


@FOLDERS
@given(st.lists(article_files(), min_size=1, max_size=6))
def test_any_folder_loads_every_file_once_and_every_feed_renders(files: list[tuple[str, bytes]]):
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        written = set()
        for number, (file_name, data) in enumerate(files):
            path = folder / f"sub{number % 2}" / f"{number}-{file_name}"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(data)
            written.add(path.relative_to(folder).as_posix())
        result = load_folder(folder, log_skipped=False)
    assert {a.source for a in result.articles} | {s.source for s in result.skipped} == written
    assert len(result.articles) + len(result.skipped) == len(written)
    render_all(result.articles)


def shown_by_an_html_reader(text: str) -> str:
    return " ".join(html.unescape(nh3.clean(text, tags=set())).split())


@TEXTS
@given(fragments)
def test_plain_text_leaves_nothing_an_html_reader_would_take_for_markup(text: str):
    plain = plain_text(text)
    assert shown_by_an_html_reader(plain) == plain  # no tag, comment or character reference left
    assert plain_text(plain) == plain
    assert xml_safe(plain) == plain
    assert plain == plain.strip() and "  " not in plain
