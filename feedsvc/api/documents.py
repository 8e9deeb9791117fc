"""Article documents as the API receives and returns them (pure functions).

A JSON body is read with bounds on everything a small body can make costly
(nesting, number length, repeated keys), checked against ``ARTICLE_FIELDS``
(the very schema /api/openapi.json publishes), then validated by the same
rules as a file on disk.
"""

from __future__ import annotations

import json
import math
import re
from functools import cache
from itertools import islice
from typing import Any

import yaml

from feedsvc.content.model import Article, Image, Provider, Related
from feedsvc.content.parse import MAX_DEPTH, MAX_IMAGE_BYTES, InvalidArticle, Problem, check_nesting, parse_article
from feedsvc.core.index import feed_refs
from feedsvc.render import FORMATS
from feedsvc.render.urls import Urls

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,127}")
MARKDOWN_TYPES = ("text/markdown", "text/x-markdown", "text/plain")
JSON_TYPES = ("application/json",)

# Bounds on a JSON body: nesting as for front matter (MAX_DEPTH, from parse.py); numbers
# are image sizes; an article has a few hundred values. Writing a value back as YAML
# and reading it again costs ~15 µs, so 10,000 values bound that work to ~0.15 s
# where a 1 MiB body of nested lists would have cost 7 s.
MAX_NUMBER_CHARS = 40
MAX_VALUES = 10_000
MAX_PROBLEMS = 20
# A PUT body must keep coming and be complete in time (nginx: client_body_timeout), so
# that even a client holding the token cannot keep a request open by trickling its body.
BODY_IDLE_SECONDS = 10.0
BODY_SECONDS = 60.0

# --- The JSON form of an article, as published in /api/openapi.json --------------------
#
# Every pattern below is a *sufficient* condition for the article rules in
# parse.py: a value that matches is accepted (tests/test_api.py checks this
# with generated values). The API enforces the schema, so the document is
# exact in both directions, which is what lets schemathesis hold us to it.

_NOT_VISIBLE = r"\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff\ufffe\uffff"
# Some visible character comes before any markup and is not part of a character reference,
# so the title is not empty once markup and references are dropped.
VISIBLE_TEXT = rf"^(?:[^<]*[^<&#;A-Za-z0-9{_NOT_VISIBLE}]|(?:[^<]*[^<&#A-Za-z0-9])?[A-Za-z0-9])"
_LABEL = r"(?![Xx][Nn]--)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_TOP_LABEL = r"(?![Xx][Nn]--)[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# http(s), a DNS host name of at most 253 characters, an optional port, then anything.
HTTP_URL = (
    rf"^[Hh][Tt][Tt][Pp][Ss]?://(?![^/?#:]{{254}})(?:{_LABEL}\.)*{_TOP_LABEL}(?::[0-9]{{1,4}})?(?:[/?#][\s\S]*)?$"
)
_YEAR = r"(?:190[1-9]|19[1-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2})"
_LEAP_YEAR = r"(?:(?:19|[2-8][0-9]|9[0-8])(?:0[48]|[2468][048]|[13579][26])|(?:[2468][048]|[3579][26])00)"
_MONTH_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    r"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_TIME = r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
# RFC 3339, with a calendar date in 1901-9899 (never before 1900 in UTC, never past 9999).
DATE_TIME = rf"^(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29){_TIME}$"

_DATE_TIME = {
    "type": "string",
    "format": "date-time",
    "pattern": DATE_TIME,
    "description": "RFC 3339 date and time with a zone, years 1901 to 9899 (2024-01-02T03:04:05Z)",
}
_URL = {"type": "string", "pattern": HTTP_URL, "description": "an absolute http(s) URL with a host name"}
_TEXT = {"type": ["string", "null"]}
_SIZE = {"type": ["integer", "null"], "minimum": 0, "maximum": 999_999_999}
_IMAGE = {
    "type": "object",
    "required": ["url"],
    "properties": {
        "url": {"type": "string"},
        "width": _SIZE,
        "height": _SIZE,
        "size": {
            "type": ["integer", "null"],
            "minimum": 1,
            "maximum": MAX_IMAGE_BYTES,
            "description": "the image file's size in bytes; given, it wins over what the enclosure probe finds",
        },
        "type": {
            "type": ["string", "null"],
            "pattern": "^[Ii][Mm][Aa][Gg][Ee]/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$",
            "description": "an image media type such as image/jpeg (given, it wins over what the probe finds)",
        },
    },
}
_PROVIDER = {
    "type": ["object", "null"],
    "properties": {"name": _TEXT, "domain": _TEXT, "images": {"type": ["array", "null"], "items": _IMAGE}},
}
ARTICLE_FIELDS: dict[str, Any] = {
    "type": "object",
    "description": "The front-matter fields of an article file, plus an optional Markdown body. "
    "Fields not listed are stored as sent and ignored by the feeds; null means the field is absent.",
    "required": ["title", "publishedDateTime"],
    "examples": [
        {
            "title": "Robots learn to fold laundry",
            "excerpt": "A lab shows a two-armed robot folding towels.",
            "publishedDateTime": "2024-05-12T15:09:00Z",
            "webUrl": "https://example.org/robots-laundry",
            "provider": {"name": "Example News", "domain": "example.org"},
            "topics": ["Robotics", "AI"],
            "images": [
                {
                    "url": "https://example.org/robot.jpg",
                    "width": 1200,
                    "height": 800,
                    "size": 91542,
                    "type": "image/jpeg",
                }
            ],
            "body": "The robot took *four minutes* a towel.",
        }
    ],
    "anyOf": [
        {"required": ["webUrl"]},
        {"required": ["originalUrl"]},
    ],
    "properties": {
        "title": {
            "type": "string",
            "minLength": 1,
            "pattern": VISIBLE_TEXT,
            "description": "plain text (markup is dropped) with a visible character before any markup",
        },
        "webUrl": _URL,
        "originalUrl": _URL,
        "publishedDateTime": _DATE_TIME,
        "updatedDateTime": {"anyOf": [_DATE_TIME, {"type": "null"}], "description": _DATE_TIME["description"]},
        "excerpt": _TEXT,
        "type": {"enum": ["article", "video", None]},
        "published": {"type": ["boolean", "null"], "description": "false: never published; null or absent: true"},
        "category": _TEXT,
        "provider": _PROVIDER,
        "topics": {"type": ["array", "null"], "items": {"type": "string"}},
        "images": {"type": ["array", "null"], "items": _IMAGE},
        "related": {
            "type": ["array", "null"],
            "items": {
                "type": "object",
                "properties": {
                    "title": _TEXT,
                    "webUrl": _TEXT,
                    "originalUrl": _TEXT,
                    "excerpt": _TEXT,
                    "publishedDateTime": _TEXT,
                    "provider": _PROVIDER,
                },
            },
        },
        "body": {"type": "string", "description": "Markdown, published as part of the item's HTML content"},
    },
}
_ANY_OF_REASON = "missing: an article needs webUrl or originalUrl"


def is_slug(value: str) -> bool:
    return SLUG.fullmatch(value) is not None


def source_for(slug: str) -> str:
    """The file the API keeps an article in, relative to the content folder."""
    return f"{slug}.md"


def slug_of(source: str) -> str | None:
    """The API slug of a file, or None when the API cannot address it."""
    if "/" not in source and source.endswith(".md") and is_slug(source[:-3]):
        return source[:-3]
    return None


def document_from_markdown(raw: bytes, source: str) -> tuple[Article, bytes]:
    """Given a front-matter document, return the article and the exact bytes to store."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidArticle([Problem("", f"the document is not UTF-8 text (byte {exc.start})")]) from None
    return parse_article(text, source), raw


def document_from_json(raw: bytes, source: str) -> tuple[Article, bytes]:
    """Given the front-matter fields as JSON (plus an optional Markdown
    ``body``), return the article and the front-matter file to store.

    Every field sent is stored, known or not, so nothing is silently dropped.
    The article is read from the file as it will be stored, so what is
    validated is exactly what the feeds will publish.
    """
    data = read_json_object(raw)
    check_fields(data)
    body = data.pop("body", None) or ""
    stored = front_matter_document(data, body)
    return parse_article(stored, source), stored.encode("utf-8")


def front_matter_document(fields: dict[str, Any], body: str) -> str:
    """Given front-matter fields and a Markdown body, return the article file's text."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's emitter: ~10x faster
    front = yaml.dump(fields, Dumper=dumper, sort_keys=False, allow_unicode=True, default_flow_style=False)
    separator = "\n" if body and not body.startswith("\n") else ""
    return f"---\n{front}---\n{separator}{body}"


class _Refused(ValueError):
    """A JSON value we will not build (raised from inside the decoder)."""


def _integer(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:  # int() of a long digit string is quadratic, and nothing needs one
        raise _Refused(f"a number of {len(text)} digits (at most {MAX_NUMBER_CHARS})")
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number of {len(text)} characters (at most {MAX_NUMBER_CHARS})")
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"a number too large to represent ({text})")
    return value


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):  # which one a reader keeps is not defined (RFC 8259 §4)
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"the key {key[:100]!r} is given twice in one object")
            seen.add(key)
    return value


def read_json_object(raw: bytes) -> dict[str, Any]:
    """Given a request body, return the JSON object in it, or raise
    InvalidArticle saying why not.

    The cost is bounded by the body's size: values are counted before any is
    built, numbers are length-checked before they are converted, nesting stops
    at the decoder's recursion guard and then at ``MAX_DEPTH``, and error
    messages never quote the body.
    """
    try:
        text = raw.decode("utf-8")  # RFC 8259 §8.1: UTF-8 only, no guessing
    except UnicodeDecodeError as exc:
        raise _invalid(f"the body is not UTF-8 text (byte {exc.start})") from None
    if value_bound(text) > MAX_VALUES:
        raise _invalid(f"more than {MAX_VALUES:,} values (an article has a few hundred)")
    try:
        data = json.loads(
            text, parse_int=_integer, parse_float=_float, parse_constant=_constant, object_pairs_hook=_object
        )
    except json.JSONDecodeError as exc:
        raise _invalid(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise _invalid(f"not valid JSON here: nested more than {MAX_DEPTH} levels deep") from None
    except _Refused as exc:
        raise _invalid(f"not valid JSON here: {exc}") from None
    if not isinstance(data, dict):
        raise _invalid(f"the JSON document must be an object of article fields, not {_json_kind(data)}")
    check_nesting(data)  # what front matter allows, so the stored file reads back
    if "\\u" in text and _has_lone_surrogate(data):
        raise _invalid("the JSON text holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not a character")
    return data


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')


def value_bound(text: str) -> int:
    """An upper bound on the values (arrays, objects, numbers, strings...; not keys) in
    the JSON ``text``, exact but for one extra per empty array or object: every value but
    the first of its array or object follows a comma. Counted at C speed, before parsing."""
    bound = text.count(",") + text.count("[") + text.count("{") + 1
    if bound <= MAX_VALUES:
        return bound
    outside = _JSON_STRING.sub("", text)  # commas and brackets in strings are text, not structure
    return outside.count(",") + outside.count("[") + outside.count("{") + 1


def _invalid(reason: str) -> InvalidArticle:
    return InvalidArticle([Problem("", reason)])


def _json_kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "true/false", type(None): "null"}.get(type(value), "a number")


def _has_lone_surrogate(data: dict[str, Any]) -> bool:
    """JSON's \\uXXXX escapes can spell half a surrogate pair, which no UTF-8 file can hold."""
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


@cache
def _validator() -> Any:
    # Imported here, on the first JSON document: jsonschema-rs is ~3 MB resident that a
    # server whose write API gets no JSON (or is off, the default) never needs.
    import jsonschema_rs

    return jsonschema_rs.validator_for(ARTICLE_FIELDS, validate_formats=True)


def check_fields(data: dict[str, Any]) -> None:
    """Raise InvalidArticle with every way ``data`` breaks ``ARTICLE_FIELDS`` (at most MAX_PROBLEMS)."""
    problems: dict[str, Problem] = {}
    for error in islice(_validator().iter_errors(data), MAX_PROBLEMS):
        problem = _problem(error)
        problems.setdefault(problem.field, problem)  # one reason a field: "" breaks minLength and pattern
    if problems:
        raise InvalidArticle(list(problems.values()))


def _problem(error: Any) -> Problem:
    """A schema violation as a problem, worded from the schema (never quoting the value)."""
    field = field_path(list(error.instance_path))
    kind = error.kind
    name = type(kind).__name__
    if name == "Required":
        return Problem(field_path([*error.instance_path, str(kind.property)]), "missing")
    if name == "AnyOf" and not field:
        return Problem("webUrl", _ANY_OF_REASON)
    if name == "Type":
        types = sorted(kind.types, key=lambda t: t == "null")  # "text or null", however the validator orders them
        return Problem(field, f"must be {' or '.join(_TYPE_WORDS.get(t, t) for t in types)}")
    if name == "Enum":
        return Problem(field, f"must be one of {', '.join(json.dumps(o) for o in kind.options)}")
    if name == "MinLength":
        return Problem(field, "empty")
    if name in ("Minimum", "Maximum"):
        return Problem(field, f"must be at {'least' if name == 'Minimum' else 'most'} {kind.limit}")
    description = _schema_at(list(error.schema_path)).get("description")
    return Problem(field, f"not valid: must be {description}" if description else f"not valid ({name.lower()})")


_TYPE_WORDS = {
    "string": "text",
    "object": "an object",
    "array": "an array",
    "boolean": "true or false",
    "integer": "a whole number",
}


def _schema_at(path: list[str | int]) -> dict[str, Any]:
    """The subschema that holds the failing keyword (the path's last part)."""
    node: Any = ARTICLE_FIELDS
    for part in path[:-1]:
        node = node[part]
    return node if isinstance(node, dict) else {}


def field_path(parts: list[str | int]) -> str:
    """["images", 0, "url"] -> "images[0].url"."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def problems_json(problems: list[Problem]) -> dict[str, Any]:
    return {"problems": [{"field": p.field or None, "reason": p.reason, "severity": p.severity} for p in problems]}


def feed_urls(article: Article, base_url: str) -> list[str]:
    """Every feed URL the article appears in (none when unpublished)."""
    urls = Urls(base_url)
    refs = sorted(feed_refs(article), key=lambda ref: (ref.kind.value != "all", ref.kind.value, ref.key))
    return [urls.feed(ref, extension) for ref in refs for extension in FORMATS]


def article_json(article: Article) -> dict[str, Any]:
    """Given an article, return it as the API shows it (never the secret)."""
    return {
        "slug": slug_of(article.source),
        "source": article.source,
        "title": article.title,
        "url": article.url,
        "guid": article.guid or article.url,
        "published": article.published,
        "publishedDateTime": article.published_at.isoformat().replace("+00:00", "Z"),
        "updatedDateTime": article.updated_at.isoformat().replace("+00:00", "Z"),
        "excerpt": article.excerpt,
        "type": article.kind,
        "category": article.category or None,
        "provider": _provider(article.provider),
        "topics": [{"name": t.name, "slug": t.slug} for t in article.topics],
        "images": [_image(i) for i in article.images],
        "related": [_related(r) for r in article.related],
        "bodyHtml": article.body_html,
    }


def _provider(provider: Provider | None) -> dict[str, Any] | None:
    if provider is None:
        return None
    return {"name": provider.name, "domain": provider.domain or None, "images": [_image(i) for i in provider.images]}


def _image(image: Image) -> dict[str, Any]:
    # size and type: what the feeds carry, from the front matter or the enclosure probe; null while unknown.
    return {
        "url": image.url,
        "width": image.width,
        "height": image.height,
        "size": image.length,
        "type": image.type or None,
    }


def _related(related: Related) -> dict[str, Any]:
    return {
        "title": related.title,
        "url": related.url,
        "excerpt": related.excerpt,
        "publishedDateTime": related.published.isoformat().replace("+00:00", "Z") if related.published else None,
        "provider": _provider(related.provider),
    }
