"""A battery of bad article files, each with the outcome it must have.

The files are in tests/fixtures/bad/ (a few large ones are made here, see
GENERATED). Every one is either skipped with a reason or published, with or
without warnings; reading it costs little CPU; whatever is published renders
in every feed it belongs to, and every feed is well-formed XML that
feedparser reads with ``bozo == 0``: through the renderers, through the
service, and through the write API.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import feedparser
import lxml.html
import pytest
from lxml import etree
from starlette.testclient import TestClient

from feedsvc.content.loader import MAX_FILE_BYTES, Skipped, load_file, load_folder
from feedsvc.content.model import Article
from feedsvc.core.index import ALL, FeedKind, Index
from feedsvc.render import FORMATS
from feedsvc.render.opml import render_opml
from feedsvc.render.spec import Site, feed_spec
from feedsvc.render.urls import Urls
from feedsvc.text import xml_safe

from .conftest import FIXTURES
from .test_jsonfeed import check_json_feed

BAD = FIXTURES / "bad"
# Generous: the unbounded parser took 30 s of CPU for the 400-byte alias bomb.
GENEROUS_CPU_SECONDS = 2.0
TITLE = "A fine title"


@dataclass(frozen=True)
class Outcome:
    skipped: str = ""  # part of the reason the file is skipped; "" when it is published
    warnings: tuple[str, ...] = ()  # parts of the warnings it is published with; () for none at all
    title: str = TITLE


def skipped(reason: str) -> Outcome:
    return Outcome(skipped=reason)


def published(*warnings: str, title: str = TITLE) -> Outcome:
    return Outcome(warnings=warnings, title=title)


ALIASES = "front matter: too large once its aliases are expanded"
NESTED = "front matter: nested more than 32 levels deep"
NO_FRONT_MATTER = "no front matter: the file must start with a '---' line"
NOT_YAML = "front matter is not valid YAML"
NOT_UTF8 = "not UTF-8 text"
NOT_A_DATE = "publishedDateTime: not a date and time"

EXPECTED: dict[str, Outcome] = {
    # Work bounded by the size of the file
    "alias-bomb-unused.md": skipped(ALIASES),
    "alias-bomb-in-published.md": skipped(ALIASES),
    "alias-bomb-in-topics.md": skipped(ALIASES),
    "alias-bomb-long-text.md": skipped(ALIASES),
    "merge-key-bomb.md": skipped(ALIASES),
    "alias-to-itself.md": skipped("front matter: an alias refers to a list or mapping that contains it"),
    "aliases-modest.md": published(),
    "deep-flow-nesting.md": skipped(NESTED),
    "deep-block-nesting.md": skipped(NESTED),
    "deeper-than-libyaml.md": skipped(f"{NOT_YAML}: exceeded maximum nesting depth"),
    "huge-int-tagged.md": skipped("front matter: a !!int value longer than 100 characters"),
    "huge-sexagesimal-int.md": skipped("front matter: a !!int value longer than 100 characters"),
    "huge-float-tagged.md": skipped("front matter: a !!float value longer than 100 characters"),
    "huge-int-untagged.md": published("images[0].height: must be a whole number"),
    "long-line-1mb.md": published("title: longer than 10,000 characters; cut", title="x" * 10_000),
    "huge-topic-list.md": published("topics: 100,000 items; only the first 50 are kept"),
    "huge-image-list.md": published("images: 20,000 items; only the first 20 are kept"),
    "nested-divs-body.md": published("body: longer than 50,000 characters; left out"),
    "over-the-size-limit.md": skipped("larger than 8 MiB"),
    # YAML tags, keys and documents
    "python-object-tag.md": skipped(f"{NOT_YAML}: could not determine a constructor for the tag"),
    "python-name-tag.md": skipped(f"{NOT_YAML}: could not determine a constructor for the tag"),
    "unknown-local-tag.md": skipped(f"{NOT_YAML}: could not determine a constructor for the tag '!secret'"),
    "binary-tag.md": published(),
    "set-tag-topics.md": published("topics: must be a list, not set"),
    "unhashable-key.md": skipped(f"{NOT_YAML}: found unhashable key"),
    "timestamp-and-number-keys.md": published(),
    "duplicate-keys.md": published(title="The second title wins"),  # as PyYAML: the last one
    "broken-yaml.md": skipped(f"{NOT_YAML}: did not find expected ',' or ']' (line 6"),
    "tab-indentation.md": skipped(f"{NOT_YAML}: found character that cannot start any token (line 6"),
    "invalid-unicode-escape.md": skipped(f"{NOT_YAML}: found invalid Unicode character escape code"),
    "front-matter-is-a-list.md": skipped("front matter must be a mapping of fields, not a list"),
    "front-matter-is-text.md": skipped("front matter must be a mapping of fields, not text"),
    "empty-front-matter.md": skipped("title: missing; webUrl: missing"),
    "null-title.md": skipped("title: missing"),
    "title-only-entities.md": skipped("title: empty"),
    # Delimiters and encodings
    "no-front-matter.md": skipped(NO_FRONT_MATTER),
    "no-closing-delimiter.md": skipped(NO_FRONT_MATTER),
    "closing-delimiter-only.md": skipped(NO_FRONT_MATTER),
    "empty-file.md": skipped(NO_FRONT_MATTER),
    "bom-only.md": skipped(NO_FRONT_MATTER),
    "leading-empty-block.md": skipped("title: missing"),  # "---\n---\n": empty front matter, the rest is body
    "two-front-matter-blocks.md": published(),  # the second block is body text
    "bom.md": published(),
    "crlf.md": published(),
    "bom-crlf.yaml": published(),
    "all-front-matter.yml": published(),
    "yaml-two-documents.yaml": published(),  # a second document is body text
    "not-utf8-latin1.md": skipped(f"{NOT_UTF8} (byte 14)"),
    "utf16.md": skipped(f"{NOT_UTF8} (byte 0)"),
    "binary.md": skipped(f"{NOT_UTF8} (byte 128)"),
    "nul-bytes.md": published(),
    "control-characters.md": published(),
    "control-character-references.md": published(),
    "unicode-title.md": published(title="Ünïcödé \u202eRTL\u202c zero\u200bwidth 😀"),
    "nbsp-and-odd-spaces.md": published(),
    # Plain-text fields: markup is dropped from every one
    "markup-title-img-onerror.md": published(),
    "markup-script-excerpt.md": published(),
    "markup-encoded.md": published(),
    "markup-double-encoded.md": published(),
    "markup-comment-unclosed.md": published(),
    "markup-nested-reassembles.md": published(),
    "markup-in-related.md": published(),
    "markup-in-body.md": published(),
    "text-that-is-not-markup.md": published(title="AT&T says a < b, R&D <3 and 1<2"),
    # URLs
    "javascript-web-url.md": skipped("webUrl: not an absolute http(s) URL: 'javascript:alert(1)'"),
    "javascript-web-url-original-ok.md": published("webUrl: not an absolute http(s) URL: 'javascript:alert(1)'"),
    "javascript-image-url.md": published("images[0].url: not an absolute http(s) URL"),
    "data-url-related.md": published("related[0].webUrl: not an absolute http(s) URL", "related[0]: needs a title"),
    "url-with-credentials.md": skipped("webUrl: not an absolute http(s) URL"),
    "international-url.md": published(),
    # Wrong types for every field
    "wrong-type-title-list.md": skipped("title: must be text, not a list"),
    "wrong-type-title-mapping.md": skipped("title: must be text, not a mapping"),
    "wrong-type-title-bool.md": skipped("title: must be text, not true/false"),
    "wrong-type-url.md": skipped("webUrl: must be a URL, not a list"),
    "wrong-type-date-list.md": skipped(f"{NOT_A_DATE} (expected ISO 8601 like 2022-05-12T15:09:00Z): a list"),
    "wrong-type-date-number.md": skipped(NOT_A_DATE),
    "date-basic-format.md": published(),  # 20240102 is ISO 8601 too
    "impossible-date.md": skipped(f"{NOT_A_DATE} (expected ISO 8601 like 2022-05-12T15:09:00Z): '2024-02-30"),
    "placeholder-date.md": skipped("publishedDateTime: 0001-01-01 is not a plausible publication date"),
    "date-beyond-utc-range.md": skipped(NOT_A_DATE),
    "wrong-type-published.md": skipped("published: must be true or false, not a list"),
    "wrong-type-optional-fields.md": published(
        "updatedDateTime: not a date and time",
        "type: must be text, not a mapping",
        "excerpt: must be text, not a list",
        "provider: must be a mapping with name and domain, not text",
        "topics: must be a list, not a mapping",
        "images: must be a list, not text",
        "related: must be a list, not text",
        "category: must be text, not a list",
    ),
    "wrong-type-nested-fields.md": published(
        "provider.domain: must be text, not a mapping",
        "provider.name: must be text, not a list",
        "provider.images: must be a list, not text",
        "topics[0]: must be text, not a list",
        "topics[1]: must be text, not a mapping",
        "topics[3]: must be text, not null",
        "images[0]: must be a mapping with a url, not text",
        "images[1]: must be a mapping with a url, not a list",
        "images[2].url: must be a URL, not a list",
        "images[3].width: must be a whole number, not a list",
        "related[0]: must be a mapping, not text",
        "related[1].title: must be text, not a list",
        "related[2].webUrl: must be a URL, not a mapping",
    ),
    "image-sizes-odd.md": published(
        "images[0].width: must be a whole number, not '-5'",
        "images[0].height: must be a whole number, not '1e400'",
        "images[1].width: must be a whole number, not '²'",
        "images[1].height: must be a whole number, not '0x10'",
    ),
    # Parts left out with a warning
    "topic-without-letters.md": published("topics[0]: '!!!' has no letters a-z or digits"),
    "topic-too-long.md": published("topics[1]: longer than 200 characters"),
    "provider-bad-domain.md": published("provider.domain: not a domain name: 'not a domain'"),
    "unknown-type.md": published("type: 'podcast' is not one of article, video"),
    "related-without-url.md": published("related[0]: needs a title and a webUrl"),
}

HEAD = "title: A fine title\nwebUrl: https://example.org/story\npublishedDateTime: 2024-01-02T03:04:05Z\n"

# Large files are made when the tests run rather than kept in the repository.
GENERATED: dict[str, Callable[[], bytes]] = {
    "long-line-1mb.md": lambda: f"---\n{HEAD.replace(TITLE, 'x' * 1_000_000)}---\n".encode(),
    "huge-topic-list.md": lambda: f"---\n{HEAD}topics: [{', '.join(['AI'] * 100_000)}]\n---\n".encode(),
    "huge-image-list.md": lambda: (
        f"---\n{HEAD}images: [{', '.join(['{url: https://example.org/a.png}'] * 20_000)}]\n---\n".encode()
    ),
    "nested-divs-body.md": lambda: f"---\n{HEAD}---\n{'<div>' * 200_000}\n".encode(),
    "over-the-size-limit.md": lambda: f"---\n{HEAD}---\n".encode() + b"x" * MAX_FILE_BYTES,
}

# What an HTML reader would take for the start of a tag, a comment or a declaration.
TAG_START = re.compile(r"<[A-Za-z!/?]")


@pytest.fixture(scope="module")
def bad_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every bad file in one content folder: the committed ones and the generated ones."""
    folder = tmp_path_factory.mktemp("bad") / "content"
    shutil.copytree(BAD, folder)
    for name, make in GENERATED.items():
        (folder / name).write_bytes(make())
    return folder


def test_bad_inputs_every_file_has_an_expected_outcome():
    committed = {path.name for path in BAD.iterdir()}
    assert committed | set(GENERATED) == set(EXPECTED)
    assert not committed & set(GENERATED)
    assert len(committed) >= 40


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_input_has_its_outcome_and_costs_little(name: str, bad_folder: Path):
    expected = EXPECTED[name]
    started = time.process_time()
    result = load_file(bad_folder / name, bad_folder)
    assert time.process_time() - started < GENEROUS_CPU_SECONDS
    if expected.skipped:
        assert isinstance(result, Skipped), f"published, expected skipped: {expected.skipped}"
        assert expected.skipped in result.reason
        assert len(result.reason) < 1000  # never the whole of a huge value
        return
    assert isinstance(result, Article), f"skipped: {result}"
    assert result.title == expected.title
    warnings = [str(warning) for warning in result.warnings]
    for part in expected.warnings:
        assert any(part in warning for warning in warnings), (part, warnings)
    if not expected.warnings:
        assert warnings == []
    assert all(len(warning) < 1000 for warning in warnings)
    assert_plain_and_xml_safe(result)


def plain_texts(article: Article) -> Iterator[str]:
    """Every plain-text field of an article."""
    yield from (article.title, article.excerpt, article.category)
    yield from (topic.name for topic in article.topics)
    providers = [article.provider] + [related.provider for related in article.related]
    yield from (provider.name for provider in providers if provider)
    for related in article.related:
        yield from (related.title, related.excerpt)


def assert_plain_and_xml_safe(article: Article) -> None:
    for text in plain_texts(article):
        assert not TAG_START.search(text), text
        assert "onerror" not in text and "alert(" not in text, text
    for text in [*plain_texts(article), article.url, article.body_html, *(i.url for i in article.images)]:
        assert xml_safe(text) == text


def test_bad_inputs_load_as_a_folder(bad_folder: Path):
    result = load_folder(bad_folder, log_skipped=False)
    published_names = sorted(a.source for a in result.articles)
    assert published_names == sorted(name for name, outcome in EXPECTED.items() if not outcome.skipped)
    assert len(result.skipped) == sum(1 for outcome in EXPECTED.values() if outcome.skipped)


def test_bad_inputs_every_feed_renders_well_formed_and_parses(bad_folder: Path):
    index = Index(load_folder(bad_folder, log_skipped=False).articles)
    urls = Urls("https://feeds.example.com")
    infos = [index.info(ALL), *index.feeds(FeedKind.TOPIC), *index.feeds(FeedKind.PROVIDER)]
    assert len(infos) > 3
    for info in infos:
        assert info is not None
        items = index.select(info.ref, 500)
        for fmt, feed_format in FORMATS.items():
            body = feed_format.render(feed_spec(info, Site(), urls, fmt, 500, items), items)
            if fmt == "json":  # feedparser does not read JSON Feed
                assert [item["title"] for item in check_json_feed(body)["items"]] == [a.title for a in items]
                continue
            etree.fromstring(body)  # well-formed XML
            feed = feedparser.parse(body)
            assert feed.bozo == 0, (info.ref, fmt, feed.get("bozo_exception"))
            assert len(feed.entries) == len(items)
            assert_no_markup_in_text_elements(body)
    etree.fromstring(render_opml(index, Site(), urls, list(FORMATS.values())))


def assert_no_markup_in_text_elements(body: bytes) -> None:
    """Titles, names and categories are text, and HTML fields carry nothing active.

    Read with lxml: feedparser would sanitise the HTML itself and hide a leak.
    """
    document = etree.fromstring(body)
    for element in document.iter():
        if not isinstance(element.tag, str):
            continue
        name = etree.QName(element).localname
        text = element.text or ""
        if name in ("title", "name", "category", "creator", "source"):
            assert not TAG_START.search(text), text
        if name in ("description", "encoded", "summary", "content") and text.strip():
            assert_inactive_html(text)
        for value in element.attrib.values():
            assert not value.lower().startswith(("javascript:", "data:")), value


def assert_inactive_html(html: str) -> None:
    """No script, style or frame, no event handler, no javascript: or data: URL."""
    for element in lxml.html.fragment_fromstring(html, create_parent="div").iter():
        assert element.tag not in ("script", "style", "iframe", "object", "embed"), html
        for attribute, value in element.attrib.items():
            assert not attribute.lower().startswith("on"), html
            assert not value.strip().lower().startswith(("javascript:", "data:")), html


def test_bad_inputs_through_the_service(bad_folder: Path, client_for: Callable[..., TestClient]):
    client = client_for(bad_folder)
    health = client.get("/healthz").json()
    assert health["skipped_files"] == sum(1 for outcome in EXPECTED.values() if outcome.skipped)
    opml = etree.fromstring(client.get("/feeds.opml").content)
    feed_urls = [outline.get("xmlUrl") for outline in opml.iter("outline") if outline.get("xmlUrl")]
    assert len(feed_urls) > 6
    for url in feed_urls:
        response = client.get(url)
        assert response.status_code == 200, url
        if url.endswith(".json"):
            check_json_feed(response.content)
        else:
            assert feedparser.parse(response.content).bozo == 0, url
    assert client.get("/").status_code == 200


TOKEN = "bad-inputs-token-0123456789"


def test_bad_inputs_through_the_write_api(tmp_path: Path, client_for: Callable[..., TestClient]):
    """The API applies the same rules: a document the loader skips is refused with its problems."""
    folder = tmp_path / "content"
    folder.mkdir()
    client = client_for(folder, api_token=TOKEN)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "text/markdown; charset=utf-8"}
    for path in sorted(BAD.glob("*.md")):
        slug = path.name.removesuffix(".md")
        response = client.put(f"/api/articles/{slug}", content=path.read_bytes(), headers=headers)
        if EXPECTED[path.name].skipped:
            assert response.status_code == 422, (path.name, response.status_code, response.text[:300])
            assert response.json()["problems"]
        else:
            assert response.status_code == 201, (path.name, response.status_code, response.text[:300])
    feed = feedparser.parse(client.get("/feeds/all.rss?limit=500").content)
    assert feed.bozo == 0
    assert len(feed.entries) == sum(1 for path in BAD.glob("*.md") if not EXPECTED[path.name].skipped)
    assert len(feed.entries) > 20
