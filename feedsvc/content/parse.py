"""Turn the text of one article file into an :class:`Article`, or a list of problems.

Pure: no file system access, so the loader, the ``check`` command and the
write API all apply exactly the same rules.

The jobs around it live in modules of their own: reading the front matter
(frontmatter.py), cleaning HTML and text (cleaning.py), normalising URLs
(urlnorm.py) and sharing topic, provider and image objects (sharing.py).

Two kinds of problem: an *error* (no title, no usable URL, no date) keeps
the article out of the feeds; a *warning* (a broken image, a related link
without a URL) drops that part and publishes the rest.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import Any

from feedsvc.content.cleaning import plain_text, render_markdown
from feedsvc.content.frontmatter import (
    MAX_DEPTH,
    InvalidArticle,
    check_nesting,
    expansion_budget,
    load_yaml,
    split_front_matter,
)
from feedsvc.content.images import MAX_IMAGE_BYTES, image_media_type, is_image_size
from feedsvc.content.model import Article, Image, Problem, Provider, Related, Topic
from feedsvc.content.sharing import one_image, one_provider, one_topic, share_parts
from feedsvc.content.urlnorm import ascii_host, normalize_url
from feedsvc.text import is_domain, is_small_int, kind_of, preview, slugify, xml_safe

# The entry point of files -> articles: what other modules and the tests use.
__all__ = [
    "MAX_BODY_CHARS",
    "MAX_DEPTH",
    "MAX_IMAGE_BYTES",
    "MAX_TEXT_CHARS",
    "InvalidArticle",
    "Problem",
    "article_from_mapping",
    "check_nesting",
    "expansion_budget",
    "image_media_type",
    "is_image_size",
    "load_yaml",
    "normalize_url",
    "parse_article",
    "plain_text",
    "render_markdown",
    "share_parts",
    "split_front_matter",
]

_WHOLE_NUMBER = re.compile(r"[0-9]{1,9}(?:\.0*)?")
_TRUE, _FALSE = {"true", "yes", "on", "y"}, {"false", "no", "off", "n"}
_KINDS = ("article", "video")
_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)  # "0001-01-01" is a placeholder, not a date
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_article(text: str, source: str) -> Article:
    """Given the text of an article file, return the validated article."""
    front, body = split_front_matter(xml_safe(text.lstrip("\ufeff")))
    # YAML's text values are made of the characters of the document, XML-safe
    # now, unless an escape in double quotes ("\a", "\x00") makes others.
    return article_from_mapping(load_yaml(front), source, body, xml_safe_text="\\" not in front)


# How many of each list an article keeps (the real corpus has at most 3).
MAX_TOPICS = 50
MAX_IMAGES = 20
MAX_RELATED = 20
MAX_TOPIC_CHARS = 200  # a topic's name makes its feed's URL
# Plain-text fields and Markdown bodies are cut or left out beyond these
# lengths (the real corpus: titles up to 146 characters, excerpts up to 339).
MAX_TEXT_CHARS = 10_000
MAX_BODY_CHARS = 50_000


def article_from_mapping(data: dict[str, Any], source: str, body: str = "", xml_safe_text: bool = False) -> Article:
    """Given front-matter fields, return the article or raise every problem at once.

    ``xml_safe_text``: no text in ``data`` has a character XML forbids (so
    none is cleaned again, field by field).
    """
    fields = _Fields(data, xml_safe_text)
    title = fields.text("title", required=True, plain=True)
    url = fields.article_url()
    published_at = fields.datetime("publishedDateTime", required=True)
    updated_at = fields.datetime("updatedDateTime", severity="warning")
    kind = fields.text("type", severity="warning").lower() or "article"
    if kind not in _KINDS:
        fields.warn("type", f"{preview(kind)} is not one of {', '.join(_KINDS)}; treated as an article")
        kind = "article"
    kind = _KINDS[_KINDS.index(kind)]  # one shared string per kind
    article = Article(
        source=source,
        title=title,
        url=url,
        published_at=published_at or _EPOCH,
        updated_at=max(updated_at or _EPOCH, published_at or _EPOCH),
        excerpt=fields.text("excerpt", plain=True, severity="warning"),
        kind=kind,
        published=fields.boolean("published", default=True),
        provider=fields.provider(data.get("provider"), "provider"),
        topics=fields.topics("topics"),
        images=fields.images(data.get("images"), "images"),
        related=fields.related("related"),
        body_html=fields.body(body, url),
        category=sys.intern(fields.text("category", plain=True, severity="warning")),
        original_url=_same_or(url, fields.url(data.get("originalUrl"), "originalUrl", severity="warning")),
        guid=url,  # unless the index finds an earlier article with this URL
        warnings=tuple(p for p in fields.problems if p.severity == "warning"),
    )
    if any(p.severity == "error" for p in fields.problems):
        raise InvalidArticle(fields.problems)
    return article


class _Fields:
    """Reads typed fields out of a front-matter mapping, collecting problems."""

    def __init__(self, data: dict[str, Any], xml_safe_text: bool = False) -> None:
        self.data = data
        self.problems: list[Problem] = []
        self.xml_safe: Callable[[str], str] = _as_is if xml_safe_text else xml_safe

    def problem(self, name: str, reason: str, severity: str = "error") -> None:
        self.problems.append(Problem(name, reason, severity))

    def warn(self, name: str, reason: str) -> None:
        self.problem(name, reason, "warning")

    def text(
        self,
        name: str,
        required: bool = False,
        data: dict[str, Any] | None = None,
        path: str = "",
        plain: bool = False,
        severity: str = "error",
    ) -> str:
        value = (self.data if data is None else data).get(name)
        label = path or name
        if value is not None and not isinstance(value, (str, date)):
            self.problem(label, f"must be text, not {kind_of(value)}", severity)
            return ""
        text = self.xml_safe(str(value)).strip() if value is not None else ""
        if plain:
            text = self.plain(text, label)
        if not text and required:
            self.problem(label, "missing" if value is None else "empty")
        return text

    def plain(self, text: str, label: str) -> str:
        """XML-safe ``text`` as plain text, cut to a length no real field reaches."""
        if len(text) > MAX_TEXT_CHARS:
            # The HTML parser behind plain_text takes time quadratic in how deep
            # tags nest: 10,000 characters of "<div>" cost 7 ms, a million 65 s.
            self.warn(label, f"longer than {MAX_TEXT_CHARS:,} characters; cut")
            text = text[:MAX_TEXT_CHARS]
        return plain_text(text, xml_safe_already=True)

    def body(self, body: str, base_url: str) -> str:
        """The Markdown body as sanitised HTML; one too long to render cheaply is left out."""
        if len(body) > MAX_BODY_CHARS:
            # Rendering costs up to 15 us a character, and sanitising is quadratic in
            # the nesting of the HTML a body may contain (40,000 nested <div>: 2.6 s).
            self.warn("body", f"longer than {MAX_BODY_CHARS:,} characters; left out")
            return ""
        return render_markdown(body, base_url)

    def url(self, value: Any, label: str, severity: str = "error", required: bool = False) -> str:
        if value is None or value == "":
            if required:
                self.problem(label, "missing", severity)
            return ""
        if not isinstance(value, str):
            self.problem(label, f"must be a URL, not {kind_of(value)}", severity)
            return ""
        url = normalize_url(self.xml_safe(value))
        if url is None:
            self.problem(label, f"not an absolute http(s) URL: {preview(value, 200)}", severity)
            return ""
        return url

    def article_url(self) -> str:
        """webUrl, else originalUrl; one bad one is only a warning when the other works."""
        web = self.data.get("webUrl")
        original = self.data.get("originalUrl")
        if web in (None, "") and original in (None, ""):
            self.problem("webUrl", "missing: an article needs webUrl or originalUrl")
            return ""
        has_original = original not in (None, "") and normalize_url(str(original)) is not None
        url = self.url(web, "webUrl", "warning" if has_original else "error")
        if url:
            return url
        return self.url(original, "originalUrl", "error")

    def datetime(self, name: str, required: bool = False, severity: str = "error") -> datetime | None:
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                self.problem(name, "missing")
            return None
        parsed = _to_datetime(value)
        if parsed is None:
            self.problem(
                name, f"not a date and time (expected ISO 8601 like 2022-05-12T15:09:00Z): {preview(value)}", severity
            )
        elif parsed < _EARLIEST:
            self.problem(name, f"{parsed.date()} is not a plausible publication date", severity)
            return None
        return parsed

    def boolean(self, name: str, default: bool) -> bool:
        value = self.data.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        self.problem(name, f"must be true or false, not {preview(value)}")
        return default

    def integer(self, value: Any, label: str) -> int | None:
        if value is None or value == "":
            return None
        if type(value) is str and len(value) <= 9 and value.isascii() and value.isdigit():
            return int(value) or None  # the common case, as _WHOLE_NUMBER and int(float()) read it
        # A huge int is not turned into text: str() of one is slow, or refused.
        number_like = isinstance(value, (str, float)) or is_small_int(value)
        if not number_like or not _WHOLE_NUMBER.fullmatch(str(value)):
            self.warn(label, f"must be a whole number, not {preview(value)}; left out")
            return None
        return int(float(value)) or None

    def items(self, value: Any, label: str, limit: int) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.warn(label, f"must be a list, not {kind_of(value)}; left out")
            return []
        if len(value) > limit:
            # Each topic is a feed the article appears in, each image and related
            # link a part of every one of them: a list this long is a mistake, and
            # would multiply the work of every feed.
            self.warn(label, f"{len(value):,} items; only the first {limit} are kept")
            return value[:limit]
        return value

    def topics(self, name: str) -> tuple[Topic, ...]:
        value = self.data.get(name)
        if isinstance(value, str):
            value = [value]  # "topics: AI" means one topic
        topics: dict[str, Topic] = {}
        for i, item in enumerate(self.items(value, name, MAX_TOPICS)):
            label = f"{name}[{i}]"
            if type(item) is str and len(item) <= MAX_TOPIC_CHARS:
                topic, problems = _topic_of(item)
                self.problems.extend(problem._replace(field=label) for problem in problems)
            else:
                topic = self.read_topic(item, label)
            if topic is not None:
                topics.setdefault(topic.slug, topic)  # one topic listed twice counts once
        return tuple(topics.values())

    def read_topic(self, item: Any, label: str) -> Topic | None:
        if not isinstance(item, (str, date)):
            self.warn(label, f"must be text, not {kind_of(item)}; left out")
            return None
        topic_name = self.plain(self.xml_safe(str(item)), label)
        if len(topic_name) > MAX_TOPIC_CHARS:
            self.warn(label, f"longer than {MAX_TOPIC_CHARS} characters, too long for a feed URL; left out")
            return None
        slug = slugify(topic_name)
        if not slug:
            self.warn(label, f"{preview(topic_name)} has no letters a-z or digits to make a feed URL from; left out")
            return None
        return one_topic(topic_name, slug)

    def images(self, value: Any, prefix: str) -> tuple[Image, ...]:
        images = []
        for i, item in enumerate(self.items(value, prefix, MAX_IMAGES)):
            label = f"{prefix}[{i}]"
            if not isinstance(item, dict):
                self.warn(label, f"must be a mapping with a url, not {kind_of(item)}; left out")
                continue
            url = self.url(item.get("url"), f"{label}.url", "warning", required=True)
            if url:
                width = self.integer(item.get("width"), f"{label}.width")
                height = self.integer(item.get("height"), f"{label}.height")
                length = self.image_size(item.get("size"), f"{label}.size")
                media_type = self.image_type(item.get("type"), f"{label}.type")
                images.append(one_image(url, width, height, length, media_type))
        return tuple(images)

    def image_size(self, value: Any, label: str) -> int | None:
        """The image file's size in bytes as the front matter gives it (it wins over any probe)."""
        if value is None or value == "":
            return None
        reported = len(self.problems)
        size = self.integer(value, label)
        if size is None:
            if len(self.problems) == reported:  # 0 is no size, though integer() takes it for "unset"
                self.warn(label, "must be at least 1 byte; left out")
            return None
        if not is_image_size(size):
            self.warn(label, f"{size:,} bytes is not a plausible image size (1 to {MAX_IMAGE_BYTES:,}); left out")
            return None
        return size

    def image_type(self, value: Any, label: str) -> str:
        """The image's media type as the front matter gives it: ``image/...``, parameters dropped."""
        if value is None or value == "":
            return ""
        media_type = image_media_type(value) if isinstance(value, str) else None
        if media_type is None:
            self.warn(label, f"must be an image media type such as image/jpeg, not {preview(value)}; left out")
            return ""
        return media_type

    def provider(self, value: Any, label: str) -> Provider | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            self.warn(label, f"must be a mapping with name and domain, not {kind_of(value)}; left out")
            return None
        key = _provider_key(value)
        if key is None:
            return self.read_provider(value, label)
        known = _PROVIDERS.get(key)
        if known is None:
            fields = _Fields({})  # labels relative to the provider's, warnings as they come
            if len(_PROVIDERS) >= MAX_PROVIDERS_KNOWN:
                _PROVIDERS.clear()  # a bound, seldom reached: no bookkeeping of which is oldest
            known = _PROVIDERS[key] = fields.read_provider(value, ""), tuple(fields.problems)
        provider, problems = known
        self.problems.extend(problem._replace(field=label + problem.field) for problem in problems)
        return provider

    def read_provider(self, value: dict[str, Any], label: str) -> Provider | None:
        domain = self.text("domain", data=value, path=f"{label}.domain", severity="warning").lower().rstrip(".")
        if domain:
            ascii_domain = ascii_host(domain)
            if ascii_domain is None or not is_domain(ascii_domain):
                self.warn(f"{label}.domain", f"not a domain name: {preview(domain, 100)}; no provider feed")
                domain = ""
            else:
                domain = ascii_domain
        display = self.text("name", data=value, path=f"{label}.name", plain=True, severity="warning") or domain
        images = self.images(value.get("images"), f"{label}.images")
        if not display:
            return None
        return one_provider(display, domain, images)

    def related(self, name: str) -> tuple[Related, ...]:
        related = []
        for i, item in enumerate(self.items(self.data.get(name), name, MAX_RELATED)):
            label = f"{name}[{i}]"
            if not isinstance(item, dict):
                self.warn(label, f"must be a mapping, not {kind_of(item)}; left out")
                continue
            title = self.text("title", data=item, path=f"{label}.title", plain=True, severity="warning")
            url = self.url(item.get("webUrl"), f"{label}.webUrl", "warning") or self.url(
                item.get("originalUrl"), f"{label}.originalUrl", "warning"
            )
            if not title or not url:
                self.warn(label, "needs a title and a webUrl; left out")
                continue
            when = _to_datetime(item.get("publishedDateTime"))
            provider = self.provider(item.get("provider"), f"{label}.provider")
            excerpt = self.text("excerpt", data=item, path=f"{label}.excerpt", plain=True, severity="warning")
            related.append(Related(title, url, excerpt, when if when and when >= _EARLIEST else None, provider))
        return tuple(related)


# Thousands of articles name the same few topics: each topic as written is read once.
@lru_cache(maxsize=16384)
def _topic_of(item: str) -> tuple[Topic | None, tuple[Problem, ...]]:
    """The topic ``item`` names, and the problems reading it finds (labelled "")."""
    fields = _Fields({})
    return fields.read_topic(item, ""), tuple(fields.problems)


# A corpus names few providers, each in thousands of articles and their related
# links (the real one: 64 in 450 articles, with 13 logos): each provider as
# written is read once, and remembered by what read_provider reads of it.
MAX_PROVIDERS_KNOWN = 4096
_PROVIDERS: dict[tuple[Any, ...], tuple[Provider | None, tuple[Problem, ...]]] = {}
_IMAGE_FIELDS = ("url", "width", "height", "size", "type")


def _provider_key(value: dict[str, Any]) -> tuple[Any, ...] | None:
    """All that read_provider reads of ``value``, when all of it is text or
    missing (other values may be equal and read differently: 1 and True)."""
    images = value.get("images")
    if images is None:
        image_keys: tuple[tuple[Any, ...], ...] = ()
    elif type(images) is list and all(type(image) is dict for image in images):
        image_keys = tuple(tuple([image.get(name) for name in _IMAGE_FIELDS]) for image in images)
    else:
        return None
    key = (value.get("name"), value.get("domain"), images is None, image_keys)
    texts = [key[0], key[1], *[part for image_key in image_keys for part in image_key]]
    return key if all(part is None or type(part) is str for part in texts) else None


def _as_is(text: str) -> str:
    return text


def _same_or(url: str, other: str) -> str:
    """``other``, as the very same string object as ``url`` when equal (they usually are)."""
    return url if other == url else other


def _to_datetime(value: Any) -> datetime | None:
    """Given a YAML timestamp, date or ISO 8601 string, return an aware UTC datetime."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time(0))
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # the corpus writes UTC; naive means UTC
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
