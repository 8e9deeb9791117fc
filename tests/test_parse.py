from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedsvc.content.model import Article
from feedsvc.content.parse import (
    InvalidArticle,
    Problem,
    article_from_mapping,
    load_yaml,
    parse_article,
    split_front_matter,
)
from feedsvc.text import xml_safe

from .conftest import SEED, article, front_matter
from .test_properties import article_files, providers


def parse(data: dict[str, object] | str, body: str = "") -> Article:
    text = data if isinstance(data, str) else front_matter(data, body)
    return parse_article(text, "test.md")


def problems(data: dict[str, object] | str) -> list[str]:
    with pytest.raises(InvalidArticle) as info:
        parse(data)
    return [str(problem) for problem in info.value.problems]


def test_parse_seed_article_keeps_every_field():
    seed = parse_article(SEED.read_text(), SEED.name)
    assert seed.title == "U.S. cities are backing off banning facial recognition as crime rises"
    assert seed.url.startswith("https://www.reuters.com/world/us/")
    assert seed.published_at == datetime(2022, 5, 12, 15, 9, tzinfo=UTC)
    assert [t.slug for t in seed.topics] == ["computer-vision", "ai"]
    assert seed.provider is not None and seed.provider.domain == "reuters.com"
    assert seed.provider.images[0].width == 50
    assert seed.images[0].width == 728 and seed.images[0].height == 381
    assert len(seed.related) == 3
    assert seed.related[1].provider is not None and seed.related[1].provider.name == "Biometric Companies"


def test_parse_never_keeps_the_secured_field():
    seed = parse_article(SEED.read_text(), SEED.name)
    assert "EwypnhubM16YNg3x3OEECidd" not in repr(seed)


def test_parse_missing_published_means_published_and_false_means_not():
    assert parse(article()).published is True
    assert parse(article(published=False)).published is False


def test_parse_falls_back_to_original_url():
    parsed = parse(article(webUrl=None, originalUrl="https://example.org/original"))
    assert parsed.url == "https://example.org/original"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({"title": None}, "title: missing", id="no-title"),
        pytest.param({"title": "   "}, "title: empty", id="blank-title"),
        pytest.param({"title": "<b></b>"}, "title: empty", id="title-only-markup"),
        pytest.param({"title": "&nbsp;"}, "title: empty", id="title-only-entity"),
        pytest.param({"webUrl": None}, "webUrl: missing: an article needs webUrl or originalUrl", id="no-url"),
        pytest.param({"publishedDateTime": None}, "publishedDateTime: missing", id="no-date"),
        pytest.param({"publishedDateTime": "last tuesday"}, "publishedDateTime: not a date", id="bad-date"),
        pytest.param(
            {"publishedDateTime": "0001-01-01T00:00:00Z"},
            "publishedDateTime: 0001-01-01 is not a plausible",
            id="year-1",
        ),
        pytest.param({"webUrl": "javascript:alert(1)"}, "webUrl: not an absolute http(s) URL", id="js-url"),
        pytest.param({"webUrl": "http://[oops/x"}, "webUrl: not an absolute http(s) URL", id="broken-ipv6"),
        pytest.param({"webUrl": "https://e.com:99999/"}, "webUrl: not an absolute http(s) URL", id="bad-port"),
        pytest.param({"webUrl": "http://1.2.3.999/"}, "webUrl: not an absolute http(s) URL", id="bad-ipv4"),
        pytest.param({"webUrl": "http://xn--zz.com/"}, "webUrl: not an absolute http(s) URL", id="bad-punycode"),
        pytest.param({"published": "maybe"}, "published: must be true or false", id="published-not-bool"),
    ],
)
def test_parse_rejects_with_field_and_reason(fields: dict[str, Any], expected: str):
    assert any(problem.startswith(expected) for problem in problems(article(**fields))), problems(article(**fields))


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({"topics": ["!!!"]}, "topics[0]: '!!!' has no letters", id="topic-no-slug"),
        pytest.param({"topics": {"a": "b"}}, "topics: must be a list", id="topics-not-list"),
        pytest.param({"images": [{"width": 3}]}, "images[0].url: missing", id="image-no-url"),
        pytest.param({"images": [{"url": "https://x.org/a.png", "width": "wide"}]}, "images[0].width", id="bad-width"),
        pytest.param({"images": [{"url": "https://x.org/a.png", "width": "²"}]}, "images[0].width", id="unicode-digit"),
        pytest.param(
            {"provider": {"name": "X", "domain": "not a domain"}}, "provider.domain: not a domain", id="bad-domain"
        ),
        pytest.param({"provider": "Reuters"}, "provider: must be a mapping", id="provider-string"),
        pytest.param({"related": [{"title": "R"}]}, "related[0]: needs a title and a webUrl", id="related-no-url"),
        pytest.param(
            {"webUrl": "javascript:x", "originalUrl": "https://e.org/o"},
            "webUrl: not an absolute",
            id="web-bad-original-ok",
        ),
        pytest.param({"type": "podcast"}, "type: 'podcast' is not one of", id="unknown-type"),
    ],
)
def test_parse_warns_and_publishes_the_rest(fields: dict[str, Any], expected: str):
    parsed = parse(article(**fields))
    warnings = [str(w) for w in parsed.warnings]
    assert any(w.startswith(expected) for w in warnings), warnings


def test_parse_partial_article_keeps_its_good_parts():
    parsed = parse(article(images=[{"url": "https://x.org/ok.png"}, {"width": 3}], topics=["AI", "!!!"]))
    assert [i.url for i in parsed.images] == ["https://x.org/ok.png"]
    assert [t.slug for t in parsed.topics] == ["ai"]


@pytest.mark.parametrize(
    ("yaml_value", "expected"),
    [
        ("12:30:00", "12:30:00"),
        ("1.10", "1.10"),
        ("012", "012"),
        ("0x1F", "0x1F"),
        ("NO", "NO"),
        ("2022-05-12", "2022-05-12"),
    ],
)
def test_parse_yaml_scalars_stay_the_text_that_was_written(yaml_value: str, expected: str):
    text = (
        f"---\ntitle: {yaml_value}\nwebUrl: https://e.org/\n"
        f"publishedDateTime: 2024-01-01T00:00:00Z\ntopics: [{yaml_value}]\n---\n"
    )
    parsed = parse(text)
    assert parsed.title == expected
    assert [t.name for t in parsed.topics] == [expected]


def test_parse_yaml_booleans_and_numbers_still_work_where_expected():
    text = (
        "---\ntitle: t\nwebUrl: https://e.org/\npublishedDateTime: 2024-01-01T00:00:00Z\npublished: no\n"
        "images:\n  - url: https://e.org/a.png\n    width: 1280.0\n    height: 720\n---\n"
    )
    parsed = parse(text)
    assert parsed.published is False
    assert (parsed.images[0].width, parsed.images[0].height) == (1280, 720)


def test_parse_huge_numbers_are_just_text():
    text = f"---\ntitle: t\nwebUrl: https://e.org/\npublishedDateTime: 2024-01-01T00:00:00Z\nn: {'9' * 5000}\n---\n"
    assert parse(text).title == "t"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://bücher.de/straße", "https://xn--bcher-kva.de/stra%C3%9Fe"),
        ("https://e.com/100%", "https://e.com/100%25"),
        ("https://e.com/a%20b", "https://e.com/a%20b"),
        ("https://e.com/f#a#b", "https://e.com/f#a%23b"),
        ("HTTPS://E.COM", "https://e.com/"),
        ("https://e.com/q?a=1&b=x y", "https://e.com/q?a=1&b=x%20y"),
    ],
)
def test_parse_urls_are_normalised(url: str, expected: str):
    assert parse(article(webUrl=url)).url == expected


def test_parse_reports_every_problem_at_once():
    with pytest.raises(InvalidArticle) as info:
        parse(article(title=None, publishedDateTime=None, webUrl=None, images=[{"width": 1}]))
    assert [p.severity for p in info.value.problems].count("error") == 3
    assert [p.severity for p in info.value.problems].count("warning") == 1


def test_parse_rejects_yaml_that_would_build_python_objects():
    text = "---\ntitle: !!python/object/apply:os.system ['echo hacked']\n---\n"
    assert "not valid YAML" in problems(text)[0]


def test_parse_rejects_broken_yaml_with_its_line():
    text = "---\ntitle: ok\ntopics: [unclosed\n---\n"
    assert "line" in problems(text)[0]


def test_parse_rejects_text_without_front_matter():
    assert "no front matter" in problems("title: hello\n")[0]


def test_parse_rejects_front_matter_that_is_not_a_mapping():
    assert "must be a mapping" in problems("---\n- a\n- b\n---\n")[0]


def test_parse_strips_characters_xml_forbids():
    parsed = parse(article(title="Bell\x07 and\x00 null\x1b", excerpt="form\x0cfeed"))
    assert parsed.title == "Bell and null"
    assert parsed.excerpt == "formfeed"


def test_parse_strips_raw_control_characters_before_yaml_sees_them():
    text = front_matter(article()).replace("An article", "An\x01 article")
    assert parse(text).title == "An article"


def test_parse_naive_and_date_only_values_are_utc():
    assert parse(article(publishedDateTime="2024-01-02T03:04:05")).published_at.tzinfo is not None
    date_only = "---\ntitle: t\nwebUrl: https://e.org/\npublishedDateTime: 2024-01-02\n---\n"
    assert parse(date_only).published_at == datetime(2024, 1, 2, tzinfo=UTC)


def test_parse_other_timezones_are_converted_to_utc():
    parsed = parse(article(publishedDateTime="2024-01-02T05:04:05+02:00"))
    assert parsed.published_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_parse_unknown_keys_are_ignored():
    assert parse(article(somethingNew={"nested": [1, 2]})).title == "An article"


def test_parse_markdown_body_becomes_sanitised_html():
    parsed = parse(article(), body="Hello *world*\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))\n")
    html = parsed.body_html
    assert "<em>world</em>" in html
    assert "<script" not in html
    assert 'href="javascript' not in html


def test_parse_duplicate_topics_count_once():
    parsed = parse(article(topics=["AI", "ai", "A.I."]))
    assert [t.slug for t in parsed.topics] == ["ai", "a-i"]


def test_split_front_matter_agrees_with_the_one_regex_that_defines_it():
    """The split is done with two quick searches; this is what they must mean."""
    spec = re.compile(r"\A---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)(.*)\Z", re.DOTALL | re.MULTILINE)
    pieces = ["---", "...", "--", "-", ".", " ", "\t", "\r", "\n", "\r\n", "a", "title: x", "----"]
    rng = random.Random(5)
    for _ in range(20_000):
        opening = rng.choice(["---\n", "--- \t\r\n", "---\r\n", ""])  # mostly a valid opening line
        text = opening + "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        match = spec.match(text)
        if match is None:
            with pytest.raises(InvalidArticle):
                split_front_matter(text)
        else:
            assert split_front_matter(text) == match.groups(), repr(text)


def test_split_front_matter_handles_empty_front_matter_and_crlf():
    assert split_front_matter("---\r\ntitle: x\r\n---\r\nbody") == ("title: x\r\n", "body")
    assert split_front_matter("---\n---\nbody") == ("", "body")


def test_parse_titles_and_excerpts_are_plain_text_without_entities_or_markup():
    parsed = parse(
        article(
            title="Tom &amp; Jerry <b>return</b>",
            excerpt="We&#8217;re   excited &mdash; <i>really</i>",
            provider={"name": "A &amp; B", "domain": "ab.example"},
        )
    )
    assert parsed.title == "Tom & Jerry return"
    assert parsed.excerpt == "We’re excited — really"
    assert parsed.provider is not None and parsed.provider.name == "A & B"


@pytest.mark.parametrize(
    ("scraped", "shown"),
    [
        ("<img src=x onerror=alert(1)>Hi", "Hi"),
        ("<script>alert(1)</script>Hi", "Hi"),
        ("<style>p{}</style>Hi", "Hi"),
        ("<!-- a comment -->Hi", "Hi"),
        ("<b>unclosed Hi", "unclosed Hi"),
        ("Hi<img src=x onerror=alert(1)", "Hi"),  # a tag cut off by the end of the text
        ("&lt;img src=x onerror=alert(1)&gt;Hi", "Hi"),  # markup once its references are decoded
        ("&amp;lt;img src=x onerror=alert(1)&amp;gt;Hi", "Hi"),  # encoded twice
        ("<<b>img src=x onerror=alert(1)>Hi", "Hi"),  # markup once the inner tag is dropped
        ("<textarea><img src=x onerror=alert(1)></textarea>Hi", "Hi"),  # markup inside raw text
        ("<a href='javascript:alert(1)'>Hi</a>", "Hi"),
        ("<![CDATA[<img src=x>]]>Hi", "]]>Hi"),
        ("We&#8217;re &amp;#8217; &amp;amp;", "We’re ’ &"),
        ("&amp;amp;amp;amp;amp;lt;b&gt;Hi", "amp;lt;b>Hi"),  # deeper than any real file: no "&" or "<" kept
        ("a < b, AT&T, R&D, <3, 1<2, a > b, x&lt;y", "a < b, AT&T, R&D, <3, 1<2, a > b, x"),
        ("  spaced \n\t out  ", "spaced out"),
        ("form&#12;feed&#1;", "formfeed"),
    ],
)
def test_plain_text_is_what_an_html_reader_shows_as_text(scraped: str, shown: str):
    from feedsvc.content.parse import plain_text

    assert plain_text(scraped) == shown
    assert plain_text(shown) == shown


def _plain_fields(value: str) -> dict[str, Any]:
    """``value`` in every plain-text field an article has."""
    provider = {"name": value, "domain": "example.org"}
    return {
        "title": value,
        "excerpt": value,
        "category": value,
        "provider": provider,
        "topics": [value],
        "related": [{"title": value, "excerpt": value, "webUrl": "https://e.org/r", "provider": provider}],
    }


def _plain_values(parsed: Article) -> dict[str, str]:
    """Every plain-text field of a parsed article, by where it came from."""
    related = parsed.related[0]
    assert parsed.provider is not None and related.provider is not None
    return {
        "title": parsed.title,
        "excerpt": parsed.excerpt,
        "category": parsed.category,
        "provider.name": parsed.provider.name,
        "topics[0]": parsed.topics[0].name,
        "related[0].title": related.title,
        "related[0].excerpt": related.excerpt,
        "related[0].provider.name": related.provider.name,
    }


@pytest.mark.parametrize(
    "scraped",
    ["<img src=x onerror=alert(1)>Hi", "&lt;img src=x onerror=alert(1)&gt;Hi", "<<b>img src=x onerror=alert(1)>Hi"],
)
def test_parse_every_plain_text_field_goes_through_the_one_sanitiser(scraped: str):
    values = _plain_values(parse(article(**_plain_fields(scraped))))
    assert values == dict.fromkeys(values, "Hi")


def test_parse_plain_text_keeps_angle_brackets_that_are_not_markup():
    assert parse(article(title="Using <iframe> & x < y in apps")).title == "Using & x < y in apps"
    assert parse(article(title="AT&T <3 R&D, 1<2 and a > b")).title == "AT&T <3 R&D, 1<2 and a > b"


def test_parse_relative_urls_in_the_body_resolve_against_the_article():
    parsed = parse(article(webUrl="https://news.example.org/2024/story"), body="![a](/img/a.png) [b](other)\n")
    html = parsed.body_html
    assert 'src="https://news.example.org/img/a.png"' in html
    assert 'href="https://news.example.org/2024/other"' in html


def test_parse_spaces_and_unicode_in_urls_are_percent_encoded():
    parsed = parse(article(webUrl="https://example.org/a b/ü?x=1&y=2"))
    assert parsed.url == "https://example.org/a%20b/%C3%BC?x=1&y=2"


def test_parse_relative_urls_survive_a_base_the_sanitiser_refuses():
    parsed = parse(article(webUrl="https://e.org/x"), body="[a](other)\n")
    assert "<a" in parsed.body_html


def test_parse_yaml_merge_keys_anchors_and_tags_still_work():
    text = (
        "---\nbase: &base\n  name: Example\n  domain: example.org\ntitle: !!str 123\n"
        "webUrl: https://e.org/\npublishedDateTime: 2024-01-01T00:00:00Z\nprovider:\n  <<: *base\n"
        "topics: &t [AI, Cloud]\nalso: *t\n---\n"
    )
    parsed = parse(text)
    assert parsed.title == "123"
    assert parsed.provider is not None and parsed.provider.domain == "example.org"
    assert [t.slug for t in parsed.topics] == ["ai", "cloud"]


@pytest.mark.parametrize("reference", ["&#12;", "&#x0C;", "&#1;", "&#xFFFE;"])
@pytest.mark.parametrize("template", ["form {} feed\n", "<textarea>{}</textarea>\n", "<title>{}</title>\n"])
def test_parse_body_character_references_cannot_smuggle_control_characters(reference: str, template: str):
    from feedsvc.text import xml_safe

    html = parse(article(), body=template.format(reference)).body_html
    assert xml_safe(html) == html


def test_normalize_url_fast_path_agrees_with_the_full_normalisation():
    from itertools import product

    from feedsvc.content.urlnorm import _normalize_parts, normalize_url

    hosts = [
        "e.org",
        "E.org",
        "bücher.de",
        "xn--bcher-kva.de",
        "1.2.3.4",
        "1.2.3.999",
        "e.org:8080",
        "u@e.org",
        "e.org.",
    ]
    paths = ["/", "/a b", "/x?", "/x#", "/x?#a", "/x#a#b", "/100%", "/a%20b", "/q?a=1&b=2#f", "", "/ü", "/x#a?b"]
    for scheme, host, path in product(["https", "HTTP"], hosts, paths):
        url = f"{scheme}://{host}{path}"
        assert normalize_url(url) == _normalize_parts(url), url


# Work bounded by input size (issue 8). CPU time, not wall-clock time: the
# unbounded parser took 30 s of CPU and 2.2 GB for the 400-byte bomb below.
GENEROUS_CPU_SECONDS = 2.0
HEAD = "title: t\nwebUrl: https://e.org/\npublishedDateTime: 2024-01-01T00:00:00Z\n"


def laughs(levels: int = 9, width: int = 9, use: str = "published") -> str:
    """A "billion laughs" document: each level lists the previous one ``width`` times."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
    return "---\n" + "\n".join(lines) + f"\n{HEAD}{use}: *l{levels - 1}\n---\n"


def refused_cheaply(text: str) -> list[str]:
    """The problems of a document that must be refused, checking it cost little."""
    import time

    started = time.process_time()
    with pytest.raises(InvalidArticle) as info:
        parse(text)
    assert time.process_time() - started < GENEROUS_CPU_SECONDS
    return [str(problem) for problem in info.value.problems]


@pytest.mark.parametrize("use", ["published", "publishedDateTime", "excerpt", "topics", "unused"])
def test_parse_alias_bomb_is_refused_cheaply_wherever_it_is_used(use: str):
    text = laughs(use=use)
    assert len(text) < 600
    (problem,) = refused_cheaply(text)
    assert problem.startswith("front matter: too large once its aliases are expanded (more than 12,")


def test_parse_alias_bomb_in_an_image_size_is_refused_cheaply():
    text = laughs().replace("published: *l8", "images: [{url: 'https://e.org/a.png', width: *l8}]")
    assert "too large once its aliases are expanded" in refused_cheaply(text)[0]


def test_parse_aliases_to_long_text_count_every_character():
    """Few aliases to one long text are as costly as the text repeated: each topic is read in full."""
    text = f"---\n{HEAD}long: &long {'x' * 20_000}\ntopics: [{', '.join(['*long'] * 40)}]\n---\n"
    assert "too large once its aliases are expanded" in refused_cheaply(text)[0]


def test_parse_merge_key_bomb_is_refused_cheaply():
    """PyYAML's constructor copies merged keys once per merge: nested merges multiply."""
    lines = ["m0: &m0 {a: 1, b: 2}"]
    lines += [f"m{i}: &m{i} {{<<: [{', '.join([f'*m{i - 1}'] * 9)}]}}" for i in range(1, 9)]
    text = "---\n" + "\n".join(lines) + f"\n{HEAD}---\n"
    assert "too large once its aliases are expanded" in refused_cheaply(text)[0]


def test_parse_aliases_within_the_budget_still_work():
    """Aliases are YAML: a document that uses them modestly is read as usual."""
    text = f"---\n{HEAD}t: &t [AI, Cloud]\ntopics: *t\nagain: [*t, *t, *t]\n---\n"
    assert [t.slug for t in parse(text).topics] == ["ai", "cloud"]


@pytest.mark.parametrize("structure", ["&a [*a]", "&a {self: *a}", "&a [[x, [*a]]]"], ids=["list", "mapping", "deeper"])
def test_parse_alias_to_its_own_container_is_refused(structure: str):
    text = f"---\n{HEAD}loop: {structure}\n---\n"
    assert refused_cheaply(text) == ["front matter: an alias refers to a list or mapping that contains it"]


@pytest.mark.parametrize(("opening", "closing"), [("[", "]"), ("{a: ", "}"), ("[{a: ", "}]")])
def test_parse_nesting_is_bounded(opening: str, closing: str):
    from feedsvc.content.parse import MAX_DEPTH

    def nested(levels: int) -> str:  # levels of collections below the document's mapping
        pairs = levels // (2 if len(opening) == 5 else 1)
        return f"---\n{HEAD}x: {opening * pairs}1{closing * pairs}\n---\n"

    assert parse(nested(MAX_DEPTH - 2)).title == "t"
    assert refused_cheaply(nested(MAX_DEPTH)) == [f"front matter: nested more than {MAX_DEPTH} levels deep"]
    # libyaml stops at 1,000 levels by itself; far below that, and far above, costs nothing.
    assert "nested" in refused_cheaply(nested(900))[0]
    assert "not valid YAML" in refused_cheaply(nested(200_000))[0]


def test_parse_block_nesting_is_bounded():
    lines = "".join(f"{'  ' * i}k{i}:\n" for i in range(60))
    assert refused_cheaply(f"---\n{HEAD}{lines}---\n") == ["front matter: nested more than 32 levels deep"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(f"!!int {':'.join(['59'] * 300_000)}", "a !!int value longer than 100", id="sexagesimal"),
        pytest.param(f"!!int {'9' * 1_000_000}", "a !!int value longer than 100", id="decimal"),
        pytest.param(f"!!float {'9' * 1_000_000}", "a !!float value longer than 100", id="float"),
    ],
)
def test_parse_huge_tagged_numbers_are_refused_cheaply(value: str, expected: str):
    # PyYAML converts "1:2:3…" (base 60) in quadratic time: 23 s for this one.
    assert refused_cheaply(f"---\n{HEAD}n: {value}\n---\n") == [f"front matter: {expected} characters"]


def test_parse_huge_untagged_numbers_are_text_and_cheap():
    text = f"---\n{HEAD}n: {'9' * 1_000_000}\nimages: [{{url: 'https://e.org/a.png', width: {'9' * 100_000}}}]\n---\n"
    import time

    started = time.process_time()
    warnings = [str(w) for w in parse(text).warnings]
    assert time.process_time() - started < GENEROUS_CPU_SECONDS
    assert warnings == ["images[0].width: must be a whole number, not '" + "9" * 60 + "'…; left out"]


def test_article_from_mapping_accepts_any_json_number():
    """The API reads JSON: its ints can have thousands of digits, which str() refuses past 4,300."""
    from feedsvc.content.parse import article_from_mapping

    big = 10**5000
    fields = article(images=[{"url": "https://e.org/a.png", "width": big, "height": float("inf")}], published=big)
    with pytest.raises(InvalidArticle) as info:
        article_from_mapping(fields, "x.md")
    assert [str(p) for p in info.value.problems] == [
        "published: must be true or false, not a number too large to show",
        "images[0].width: must be a whole number, not a number too large to show; left out",
        "images[0].height: must be a whole number, not inf; left out",
    ]


@pytest.mark.parametrize(
    "fields",
    [
        {"published": "x" * 1_000_000},
        {"publishedDateTime": "x" * 1_000_000},
        {"webUrl": "javascript:" + "x" * 1_000_000},
        {"type": "x" * 1_000_000},
        {"topics": ["!" * 1_000_000]},
        {"provider": {"name": "n", "domain": "-" * 1_000_000}},
        {"images": [{"url": "https://e.org/a.png", "width": "x" * 1_000_000}]},
    ],
    ids=lambda fields: next(iter(fields)),
)
def test_parse_problem_messages_quote_a_bounded_part_of_the_value(fields: dict[str, Any]):
    from feedsvc.content.parse import article_from_mapping

    try:
        problems_found = list(article_from_mapping(article(**fields), "x.md").warnings)
    except InvalidArticle as exc:
        problems_found = exc.problems
    assert problems_found
    assert all(len(str(problem)) < 400 for problem in problems_found), problems_found


def test_parse_library_error_messages_are_bounded():
    """A YAML error quotes the document (here a 1 MB tag): only its start is kept."""
    text = f"---\n{HEAD}x: !<{'a' * 1_000_000}> 1\n---\n"
    (problem,) = refused_cheaply(text)
    assert (
        problem.startswith("front matter is not valid YAML: could not determine a constructor") and len(problem) < 400
    )


def test_check_nesting_applies_the_yaml_bound_to_other_documents():
    from feedsvc.content.parse import MAX_DEPTH, check_nesting

    deep: object = "x"
    for _ in range(MAX_DEPTH - 1):
        deep = [deep]
    check_nesting({"x": deep})  # MAX_DEPTH levels with the document's own mapping
    with pytest.raises(InvalidArticle, match="nested more than 32 levels deep"):
        check_nesting({"x": [deep]})


@pytest.mark.parametrize(
    ("name", "limit"), [("topics", 50), ("images", 20), ("related", 20)], ids=["topics", "images", "related"]
)
def test_parse_long_lists_keep_their_first_items_with_a_warning(name: str, limit: int):
    items: Any = {
        "topics": [f"Topic {i}" for i in range(1_000)],
        "images": [{"url": f"https://e.org/{i}.png"} for i in range(1_000)],
        "related": [{"title": f"R{i}", "webUrl": f"https://e.org/r{i}"} for i in range(1_000)],
    }[name]
    parsed = parse(article(**{name: items}))
    assert len(getattr(parsed, name)) == limit
    assert [str(w) for w in parsed.warnings] == [f"{name}: 1,000 items; only the first {limit} are kept"]


def test_parse_topic_names_too_long_for_a_url_are_left_out():
    parsed = parse(article(topics=["AI", "x" * 201]))
    assert [t.slug for t in parsed.topics] == ["ai"]
    assert [str(w) for w in parsed.warnings] == [
        "topics[1]: longer than 200 characters, too long for a feed URL; left out"
    ]


def test_parse_impossible_dates_are_reported_on_their_field():
    text = f"---\n{HEAD.replace('2024-01-01T00:00:00Z', '2024-02-30')}updatedDateTime: 2024-13-01\n---\n"
    assert problems(text) == [
        "publishedDateTime: not a date and time (expected ISO 8601 like 2022-05-12T15:09:00Z): '2024-02-30'",
        "updatedDateTime: not a date and time (expected ISO 8601 like 2022-05-12T15:09:00Z): '2024-13-01'",
    ]


def test_parse_a_type_that_is_not_text_is_only_a_warning():
    parsed = parse(article(type=["video"]))
    assert parsed.kind == "article"
    assert [str(w) for w in parsed.warnings] == ["type: must be text, not a list"]


def test_parse_a_body_too_long_to_render_cheaply_is_left_out():
    """Sanitising is quadratic in how deep HTML nests: 40,000 nested <div> took 2.6 s."""
    import time

    from feedsvc.content.parse import MAX_BODY_CHARS

    text = front_matter(article(), body="<div>\n" * (1_000_000 // 6))
    started = time.process_time()
    parsed = parse(text)
    assert time.process_time() - started < GENEROUS_CPU_SECONDS
    assert parsed.body_html == ""
    assert [str(w) for w in parsed.warnings] == [f"body: longer than {MAX_BODY_CHARS:,} characters; left out"]
    assert parse(article(), body="x" * MAX_BODY_CHARS).body_html == f"<p>{'x' * MAX_BODY_CHARS}</p>"


def test_parse_plain_text_fields_are_cut_before_they_are_sanitised():
    import time

    from feedsvc.content.parse import MAX_TEXT_CHARS

    text = front_matter(article(excerpt="<div>" * 200_000 + "x", topics=["AI", "<b>" * 100_000]))
    started = time.process_time()
    parsed = parse(text)
    assert time.process_time() - started < GENEROUS_CPU_SECONDS
    assert parsed.excerpt == ""
    assert [t.slug for t in parsed.topics] == ["ai"]
    assert [str(w) for w in parsed.warnings][:2] == [
        f"excerpt: longer than {MAX_TEXT_CHARS:,} characters; cut",
        f"topics[1]: longer than {MAX_TEXT_CHARS:,} characters; cut",
    ]
    long_title = "word " * 3000
    assert parse(article(title=long_title)).title == long_title[:MAX_TEXT_CHARS].strip()


# Shortcuts taken for speed (issue 13) must not change any result.
SHORTCUTS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(read: Callable[[], Article]) -> Article | list[Problem] | str:
    try:
        return read()
    except InvalidArticle as exc:
        return exc.problems
    except Exception as exc:  # e.g. PyYAML's constructor on "!!int _" (the loader reports those)
        return repr(exc)


@SHORTCUTS
@given(article_files())
def test_parse_trusts_yaml_text_without_escapes_to_be_xml_safe(file: tuple[str, bytes]):
    """parse_article skips the per-field cleaning when the front matter has no
    backslash; cleaning every field anyway gives the same article."""
    name, data = file
    text = data.decode("utf-8", errors="replace")
    try:
        front, body = split_front_matter(xml_safe(text.lstrip("\ufeff")))
    except InvalidArticle:
        return
    careful = outcome(lambda: article_from_mapping(load_yaml(front), name, body))
    assert outcome(lambda: parse_article(text, name)) == careful


@SHORTCUTS
@given(
    st.text(
        alphabet=st.sampled_from(
            [" ", "\t", "\n", "\r", "\x0b", "\xa0", "\u2028", "\u3000", "\u200b", "\x1f", "\x85", "a", "é", "\ufeff"]
        )
    )
)
def test_single_spacing_shortcut_agrees_with_split_and_join(text: str):
    from feedsvc.content.cleaning import _single_spaced

    assert _single_spaced(text) == " ".join(text.split())


@SHORTCUTS
@given(st.text(alphabet=st.sampled_from(["0", "1", "9", "٣", "²", ".", " ", "-"]), max_size=12))
def test_integer_shortcut_agrees_with_the_whole_number_rule(value: str):
    from feedsvc.content.parse import _WHOLE_NUMBER, _Fields

    fields = _Fields({})
    expected = (int(float(value)) or None) if value and _WHOLE_NUMBER.fullmatch(value) else None
    assert fields.integer(value, "width") == expected
    assert bool(fields.problems) == (value != "" and not _WHOLE_NUMBER.fullmatch(value))


@SHORTCUTS
@given(
    st.text(alphabet=st.sampled_from(list("nulNL~012-:T .<=!&*yesYo")), max_size=25),
    st.booleans(),
    st.booleans(),
)
def test_yaml_resolve_shortcut_agrees_with_pyyaml(value: str, plain: bool, quoted: bool):
    import yaml

    from feedsvc.content.frontmatter import _Loader, _resolve

    loader = _Loader("")
    try:
        expected = yaml.resolver.Resolver.resolve(loader, yaml.ScalarNode, value, (plain, quoted))
        assert _resolve(loader, yaml.ScalarNode, value, (plain, quoted)) == expected
        for kind in (yaml.SequenceNode, yaml.MappingNode):
            assert _resolve(loader, kind, None, plain) == yaml.resolver.Resolver.resolve(loader, kind, None, plain)
    finally:
        loader.dispose()


@SHORTCUTS
@given(providers)
def test_providers_read_once_read_as_every_time(provider: Any):
    """Each provider as written is read once and remembered: a second article
    naming it gets the same provider and the same warnings, under its own label."""
    from feedsvc.content.parse import _Fields

    def read(remembered: bool) -> tuple[Any, list[Problem]]:
        fields = _Fields({})
        if remembered or not isinstance(provider, dict):
            return fields.provider(provider, "related[2].provider"), fields.problems
        return fields.read_provider(provider, "related[2].provider"), fields.problems

    assert read(True) == read(True) == read(False)


def test_providers_are_remembered_by_type_as_well_as_value():
    from feedsvc.content.parse import _Fields

    def warnings(width: object) -> list[str]:
        fields = _Fields({})
        logo = {"url": "https://p.org/logo.png", "width": width}
        assert fields.provider({"name": "P", "domain": "p.org", "images": [logo]}, "provider") is not None
        return [str(problem) for problem in fields.problems]

    assert warnings(1) == warnings("1") == []
    assert warnings(True) == ["provider.images[0].width: must be a whole number, not true/false; left out"]
    assert warnings(1) == []


@SHORTCUTS
@given(st.lists(st.sampled_from(["AI", "ai", " AI ", "!!!", "a" * 201, "&amp;"]) | st.text(max_size=30), max_size=6))
def test_topics_read_once_read_as_every_time(items: list[str]):
    """Each topic as written is read once and remembered: the same topics and warnings as reading each."""
    from feedsvc.content.parse import _Fields

    def read_each() -> tuple[tuple[Any, ...], list[Problem]]:
        fields, topics = _Fields({}), {}
        for i, item in enumerate(items):
            topic = fields.read_topic(item, f"topics[{i}]")
            if topic is not None:
                topics.setdefault(topic.slug, topic)
        return tuple(topics.values()), fields.problems

    remembered = _Fields({"topics": items})
    assert (remembered.topics("topics"), remembered.problems) == read_each()


@pytest.mark.parametrize("value", ["!!int _", "!!int ''", "!!float ''", "!!timestamp x", "!!bool x"])
def test_parse_rejects_a_tagged_value_yaml_cannot_read_with_a_reason(value: str):
    text = f"---\ntitle: T\nwebUrl: https://e.org/a\npublishedDateTime: 2024-01-01T00:00:00Z\nextra: {value}\n---\n"
    assert "tagged value" in problems(text)[0]
