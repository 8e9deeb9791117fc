from __future__ import annotations

import random
import re
from datetime import UTC, datetime

import pytest

from feedsvc.parse import InvalidArticle, parse_article, split_front_matter

from .conftest import SEED, article, front_matter


def parse(data: dict[str, object] | str, body: str = "") -> object:
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
    assert parse(article()).published is True  # type: ignore[attr-defined]
    assert parse(article(published=False)).published is False  # type: ignore[attr-defined]


def test_parse_falls_back_to_original_url():
    parsed = parse(article(webUrl=None, originalUrl="https://example.org/original"))
    assert parsed.url == "https://example.org/original"  # type: ignore[attr-defined]


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
def test_parse_rejects_with_field_and_reason(fields: dict[str, object], expected: str):
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
def test_parse_warns_and_publishes_the_rest(fields: dict[str, object], expected: str):
    parsed = parse(article(**fields))
    warnings = [str(w) for w in parsed.warnings]  # type: ignore[attr-defined]
    assert any(w.startswith(expected) for w in warnings), warnings


def test_parse_partial_article_keeps_its_good_parts():
    parsed = parse(article(images=[{"url": "https://x.org/ok.png"}, {"width": 3}], topics=["AI", "!!!"]))
    assert [i.url for i in parsed.images] == ["https://x.org/ok.png"]  # type: ignore[attr-defined]
    assert [t.slug for t in parsed.topics] == ["ai"]  # type: ignore[attr-defined]


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
    assert parsed.title == expected  # type: ignore[attr-defined]
    assert [t.name for t in parsed.topics] == [expected]  # type: ignore[attr-defined]


def test_parse_yaml_booleans_and_numbers_still_work_where_expected():
    text = (
        "---\ntitle: t\nwebUrl: https://e.org/\npublishedDateTime: 2024-01-01T00:00:00Z\npublished: no\n"
        "images:\n  - url: https://e.org/a.png\n    width: 1280.0\n    height: 720\n---\n"
    )
    parsed = parse(text)
    assert parsed.published is False  # type: ignore[attr-defined]
    assert (parsed.images[0].width, parsed.images[0].height) == (1280, 720)  # type: ignore[attr-defined]


def test_parse_huge_numbers_are_just_text():
    text = f"---\ntitle: t\nwebUrl: https://e.org/\npublishedDateTime: 2024-01-01T00:00:00Z\nn: {'9' * 5000}\n---\n"
    assert parse(text).title == "t"  # type: ignore[attr-defined]


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
    assert parse(article(webUrl=url)).url == expected  # type: ignore[attr-defined]


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
    assert parsed.title == "Bell and null"  # type: ignore[attr-defined]
    assert parsed.excerpt == "formfeed"  # type: ignore[attr-defined]


def test_parse_strips_raw_control_characters_before_yaml_sees_them():
    text = front_matter(article()).replace("An article", "An\x01 article")
    assert parse(text).title == "An article"  # type: ignore[attr-defined]


def test_parse_naive_and_date_only_values_are_utc():
    assert parse(article(publishedDateTime="2024-01-02T03:04:05")).published_at.tzinfo is not None  # type: ignore[attr-defined]
    date_only = "---\ntitle: t\nwebUrl: https://e.org/\npublishedDateTime: 2024-01-02\n---\n"
    assert parse(date_only).published_at == datetime(2024, 1, 2, tzinfo=UTC)  # type: ignore[attr-defined]


def test_parse_other_timezones_are_converted_to_utc():
    parsed = parse(article(publishedDateTime="2024-01-02T05:04:05+02:00"))
    assert parsed.published_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)  # type: ignore[attr-defined]


def test_parse_unknown_keys_are_ignored():
    assert parse(article(somethingNew={"nested": [1, 2]})).title == "An article"  # type: ignore[attr-defined]


def test_parse_markdown_body_becomes_sanitised_html():
    parsed = parse(article(), body="Hello *world*\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))\n")
    html = parsed.body_html  # type: ignore[attr-defined]
    assert "<em>world</em>" in html
    assert "<script" not in html
    assert 'href="javascript' not in html


def test_parse_duplicate_topics_count_once():
    parsed = parse(article(topics=["AI", "ai", "A.I."]))
    assert [t.slug for t in parsed.topics] == ["ai", "a-i"]  # type: ignore[attr-defined]


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
    assert parsed.title == "Tom & Jerry return"  # type: ignore[attr-defined]
    assert parsed.excerpt == "We’re excited — really"  # type: ignore[attr-defined]
    assert parsed.provider.name == "A & B"  # type: ignore[attr-defined]


def test_parse_plain_text_keeps_angle_brackets_that_are_not_markup():
    assert parse(article(title="Using <iframe> & x < y in apps")).title == "Using <iframe> & x < y in apps"  # type: ignore[attr-defined]


def test_parse_relative_urls_in_the_body_resolve_against_the_article():
    parsed = parse(article(webUrl="https://news.example.org/2024/story"), body="![a](/img/a.png) [b](other)\n")
    html = parsed.body_html  # type: ignore[attr-defined]
    assert 'src="https://news.example.org/img/a.png"' in html
    assert 'href="https://news.example.org/2024/other"' in html


def test_parse_spaces_and_unicode_in_urls_are_percent_encoded():
    parsed = parse(article(webUrl="https://example.org/a b/ü?x=1&y=2"))
    assert parsed.url == "https://example.org/a%20b/%C3%BC?x=1&y=2"  # type: ignore[attr-defined]


def test_parse_relative_urls_survive_a_base_the_sanitiser_refuses():
    parsed = parse(article(webUrl="https://e.org/x"), body="[a](other)\n")
    assert "<a" in parsed.body_html  # type: ignore[attr-defined]


def test_parse_yaml_merge_keys_anchors_and_tags_still_work():
    text = (
        "---\nbase: &base\n  name: Example\n  domain: example.org\ntitle: !!str 123\n"
        "webUrl: https://e.org/\npublishedDateTime: 2024-01-01T00:00:00Z\nprovider:\n  <<: *base\n"
        "topics: &t [AI, Cloud]\nalso: *t\n---\n"
    )
    parsed = parse(text)
    assert parsed.title == "123"  # type: ignore[attr-defined]
    assert parsed.provider.domain == "example.org"  # type: ignore[attr-defined]
    assert [t.slug for t in parsed.topics] == ["ai", "cloud"]  # type: ignore[attr-defined]


def test_parse_yaml_alias_bomb_is_cheap():
    import time

    levels = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 10))
    text = (
        f"---\nl0: &l0 [lol]\n{levels}title: t\nwebUrl: https://e.org/\npublishedDateTime: 2024-01-01T00:00:00Z\n---\n"
    )
    started = time.perf_counter()
    assert parse(text).title == "t"  # type: ignore[attr-defined]
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("reference", ["&#12;", "&#x0C;", "&#1;", "&#xFFFE;"])
def test_parse_body_character_references_cannot_smuggle_control_characters(reference: str):
    from feedsvc.text import xml_safe

    html = parse(article(), body=f"form {reference} feed\n").body_html  # type: ignore[attr-defined]
    assert xml_safe(html) == html


def test_normalize_url_fast_path_agrees_with_the_full_normalisation():
    from itertools import product

    from feedsvc.parse import _normalize_parts, normalize_url

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
