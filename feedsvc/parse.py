"""Turn the text of one article file into an :class:`Article`, or a list of problems.

Pure: no file system access, so the loader, the ``check`` command and (later)
the write API all apply exactly the same rules.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import quote, urlsplit

import nh3
import yaml
from markdown_it import MarkdownIt

from feedsvc.model import Article, Image, Provider, Related, Topic
from feedsvc.text import is_domain, slugify, xml_safe

# The C loader is ~10x faster; both are "safe": they never build Python objects.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.DOTALL | re.MULTILINE)
_EMPTY_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.DOTALL)
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~"
_HTML_END_TAG = re.compile(r"</[A-Za-z][A-Za-z0-9]*\s*>")
_markdown = MarkdownIt("commonmark")


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a document cannot be published: which field, and why."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}" if self.field else self.reason


class InvalidArticle(ValueError):
    """Raised with every problem found in one document."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def split_front_matter(text: str) -> tuple[str, str]:
    """Given a whole file, return (YAML front matter, Markdown body)."""
    match = _FRONT_MATTER.match(text) or _EMPTY_FRONT_MATTER.match(text)
    if match is None:
        raise InvalidArticle(
            [Problem("", "no front matter: the file must start with a '---' line and close it with another")]
        )
    if match.re is _EMPTY_FRONT_MATTER:
        return "", match.group(1)
    return match.group(1), match.group(2)


def parse_article(text: str, source: str) -> Article:
    """Given the text of an article file, return the validated article."""
    front, body = split_front_matter(xml_safe(text.lstrip("\ufeff")))
    try:
        data = yaml.load(front, Loader=_Loader)  # noqa: S506 - a safe loader, see _Loader
    except yaml.YAMLError as exc:
        raise InvalidArticle([Problem("", f"front matter is not valid YAML: {_yaml_reason(exc)}")]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidArticle([Problem("", f"front matter must be a mapping of fields, not {_kind(data)}")])
    return article_from_mapping(data, source, body)


def article_from_mapping(data: dict[str, Any], source: str, body: str = "") -> Article:
    """Given front-matter fields, return the article or raise every problem at once."""
    fields = _Fields(data)
    title = fields.text("title", required=True, plain=True)
    web_url = fields.url("webUrl")
    original_url = fields.url("originalUrl")
    if not web_url and not original_url and "webUrl" not in fields.failed and "originalUrl" not in fields.failed:
        fields.problem("webUrl", "missing: an article needs webUrl or originalUrl")
    published_at = fields.datetime("publishedDateTime", required=True)
    updated_at = fields.datetime("updatedDateTime")
    article = Article(
        source=source,
        title=title,
        url=web_url or original_url,
        published_at=published_at or _EPOCH,
        updated_at=max(updated_at or published_at or _EPOCH, published_at or _EPOCH),
        excerpt=fields.text("excerpt", plain=True),
        kind=fields.text("type") or "article",
        published=fields.boolean("published", default=True),
        provider=fields.provider("provider"),
        topics=fields.topics("topics"),
        images=fields.images("images"),
        related=fields.related("related"),
        body_html=render_markdown(body, web_url or original_url),
        category=fields.text("category"),
        original_url=original_url,
    )
    if fields.problems:
        raise InvalidArticle(fields.problems)
    return article


def render_markdown(body: str, base_url: str = "") -> str:
    """Given a Markdown body, return sanitised HTML (empty for a blank body).

    Relative links and images are resolved against the article's URL: a feed
    reader shows the content far from where it was written.
    """
    if not body.strip():
        return ""
    rendered = _markdown.render(body)
    # nh3 (ammonia) drops scripts, event handlers and unsafe URL schemes.
    if base_url:
        return nh3.clean(rendered, url_relative=("rewrite_with_base", base_url)).strip()
    return nh3.clean(rendered, url_relative="deny").strip()


def plain_text(value: str) -> str:
    """Given a title or excerpt as scraped, return it as plain text.

    Real files carry HTML character references ("We&#8217;re") and now and
    then markup ("<b>New</b>"); readers must show neither literally.
    """
    if _HTML_END_TAG.search(value):
        value = nh3.clean(value, tags=set())  # keeps the text, drops the tags
    return " ".join(html.unescape(value).split())


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _Fields:
    """Reads typed fields out of a front-matter mapping, collecting problems."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.problems: list[Problem] = []
        self.failed: set[str] = set()

    def problem(self, name: str, reason: str) -> None:
        self.failed.add(name)
        self.problems.append(Problem(name, reason))

    def text(
        self, name: str, required: bool = False, data: dict[str, Any] | None = None, path: str = "", plain: bool = False
    ) -> str:
        value = (self.data if data is None else data).get(name)
        label = path or name
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problem(label, "missing")
            return ""
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.problem(label, f"must be text, not {_kind(value)}")
            return ""
        text = xml_safe(str(value)).strip()
        return plain_text(text) if plain else text

    def url(self, name: str, data: dict[str, Any] | None = None, path: str = "", required: bool = False) -> str:
        raw = self.text(name, required=required, data=data, path=path)
        if not raw:
            return ""
        parts = urlsplit(raw)
        if (
            parts.scheme.lower() not in ("http", "https")
            or not parts.hostname
            or any(c.isspace() for c in parts.netloc)
        ):
            self.problem(path or name, f"not an absolute http(s) URL: {raw[:200]!r}")
            return ""
        # Percent-encode what RSS (URIs, not IRIs) does not allow, such as
        # spaces and non-ASCII in a path; leave valid escapes and the rest alone.
        return quote(raw, safe=_URL_SAFE)

    def datetime(
        self, name: str, required: bool = False, data: dict[str, Any] | None = None, path: str = ""
    ) -> datetime | None:
        value = (self.data if data is None else data).get(name)
        label = path or name
        if value is None or value == "":
            if required:
                self.problem(label, "missing")
            return None
        parsed = _to_datetime(value)
        if parsed is None:
            self.problem(
                label, f"not a date and time (expected ISO 8601 like 2022-05-12T15:09:00Z): {str(value)[:100]!r}"
            )
        return parsed

    def boolean(self, name: str, default: bool) -> bool:
        value = self.data.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problem(name, f"must be true or false, not {value!r:.50}")
            return default
        return value

    def integer(self, value: Any, label: str) -> int | None:
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
            self.problem(label, f"must be a whole number, not {str(value)[:50]!r}")
            return None
        return int(value)

    def items(self, name: str, data: dict[str, Any] | None = None, path: str = "") -> list[Any]:
        value = (self.data if data is None else data).get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(path or name, f"must be a list, not {_kind(value)}")
            return []
        return value

    def mapping(self, value: Any, label: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.problem(label, f"must be a mapping of fields, not {_kind(value)}")
            return None
        return value

    def topics(self, name: str) -> tuple[Topic, ...]:
        topics: dict[str, Topic] = {}
        for i, value in enumerate(self.items(name)):
            label = f"{name}[{i}]"
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                self.problem(label, f"must be text, not {_kind(value)}")
                continue
            topic_name = plain_text(xml_safe(str(value)))
            slug = slugify(topic_name)
            if not slug:
                self.problem(label, f"{topic_name!r} has no letters a-z or digits to make a feed URL from")
                continue
            topics.setdefault(slug, Topic(topic_name, slug))  # one topic listed twice counts once
        return tuple(topics.values())

    def images(self, name: str, data: dict[str, Any] | None = None, path: str = "") -> tuple[Image, ...]:
        images = []
        prefix = path or name
        for i, value in enumerate(self.items(name, data, prefix)):
            label = f"{prefix}[{i}]"
            image = self.mapping(value, label)
            if image is None:
                continue
            url = self.url("url", image, f"{label}.url", required=True)
            width = self.integer(image.get("width"), f"{label}.width")
            height = self.integer(image.get("height"), f"{label}.height")
            if url:
                images.append(Image(url, width or None, height or None))
        return tuple(images)

    def provider(self, name: str, data: dict[str, Any] | None = None, path: str = "") -> Provider | None:
        value = (self.data if data is None else data).get(name)
        label = path or name
        if value is None:
            return None
        provider = self.mapping(value, label)
        if provider is None:
            return None
        domain = self.text("domain", data=provider, path=f"{label}.domain").lower().rstrip(".")
        if domain and not is_domain(domain):
            self.problem(f"{label}.domain", f"not a domain name: {domain[:100]!r}")
            domain = ""
        display = self.text("name", data=provider, path=f"{label}.name", plain=True) or domain
        images = self.images("images", provider, f"{label}.images")
        if not display:
            return None
        return Provider(display, domain, images)

    def related(self, name: str) -> tuple[Related, ...]:
        related = []
        for i, value in enumerate(self.items(name)):
            label = f"{name}[{i}]"
            item = self.mapping(value, label)
            if item is None:
                continue
            title = self.text("title", required=True, data=item, path=f"{label}.title", plain=True)
            url = self.url("webUrl", item, f"{label}.webUrl") or self.url("originalUrl", item, f"{label}.originalUrl")
            if not url and f"{label}.webUrl" not in self.failed and f"{label}.originalUrl" not in self.failed:
                self.problem(f"{label}.webUrl", "missing")
            published = self.datetime("publishedDateTime", data=item, path=f"{label}.publishedDateTime")
            provider = self.provider("provider", item, f"{label}.provider")
            excerpt = self.text("excerpt", data=item, path=f"{label}.excerpt", plain=True)
            if title and url:
                related.append(Related(title, url, excerpt, published, provider))
        return tuple(related)


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


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false"}.get(type(value), type(value).__name__)


def _yaml_reason(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        # +2: the YAML starts on the file's second line, after the opening '---'.
        return f"{problem} (line {mark.line + 2}, column {mark.column + 1})"
    return str(problem)
