"""Turn the text of one article file into an :class:`Article`, or a list of problems.

Pure: no file system access, so the loader, the ``check`` command and the
write API all apply exactly the same rules.

Two kinds of problem: an *error* (no title, no usable URL, no date) keeps
the article out of the feeds; a *warning* (a broken image, a related link
without a URL) drops that part and publishes the rest.
"""

from __future__ import annotations

import html
import ipaddress
import re
import sys
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import nh3
import yaml

from feedsvc.model import Article, Image, Problem, Provider, Related, Topic
from feedsvc.text import is_domain, slugify, xml_safe

__all__ = ["InvalidArticle", "Problem", "article_from_mapping", "parse_article", "share_parts", "split_front_matter"]

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[valid-type,misc]
    """The C safe loader (never builds Python objects), reading YAML 1.1's
    implicit booleans and numbers as the text they are.

    Otherwise ``title: 12:30:00`` becomes 45000 (base 60), ``topics: [NO]``
    becomes False and ``title: 1.10`` becomes 1.1. Dates and times stay
    typed: they are what ``publishedDateTime`` holds.
    """


_TEXT_TAGS = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag not in _TEXT_TAGS]
    for first, resolvers in _Base.yaml_implicit_resolvers.items()
}
# No remaining implicit type (null, timestamp, merge, value) starts with a letter
# except null itself, so such a plain scalar (most titles, names, URLs) is text.
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_NULLS = frozenset({"null", "Null", "NULL"})
_base_resolve = _Loader.resolve


def _resolve(self: yaml.SafeLoader, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
    if kind is yaml.ScalarNode and implicit[0] and value and value[0] in _LETTERS and value not in _NULLS:
        return "tag:yaml.org,2002:str"
    return str(_base_resolve(self, kind, value, implicit))


def _no_path_resolvers(self: yaml.SafeLoader, *args: Any) -> None:
    """We register no path resolvers, so there is nothing to track per node."""


_Loader.descend_resolver = _no_path_resolvers
_Loader.ascend_resolver = _no_path_resolvers
_Loader.resolve = _resolve

# Front matter opens with a "---" line and closes with the next "---" or "..." line.
_OPENING = re.compile(r"---[ \t]*\r?\n")
_CLOSING = re.compile(r"\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)")  # searched from the opening line's "\n"
_HTML_END_TAG = re.compile(r"</[A-Za-z][A-Za-z0-9]*\s*>")
_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SPACE = re.compile(r"\s")
_CLEAN_URL = re.compile(r"https?://([a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)/[A-Za-z0-9\-._~:/?@!$&'()*+,;=%#]*")
_URI_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?@!$&'()*+,;=%]*")  # no "#": a second one must be encoded
_WHOLE_NUMBER = re.compile(r"[0-9]{1,9}(?:\.0*)?")
_TRUE, _FALSE = {"true", "yes", "on", "y"}, {"false", "no", "off", "n"}
_KINDS = ("article", "video")
_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)  # "0001-01-01" is a placeholder, not a date
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=1)
def _markdown() -> Any:
    """The CommonMark renderer, made on first use: most articles have no body."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")


class InvalidArticle(ValueError):
    """Raised with every problem found in one document (errors and warnings)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems if p.severity == "error"))
        self.problems = problems


def split_front_matter(text: str) -> tuple[str, str]:
    """Given a whole file, return (YAML front matter, Markdown body)."""
    opening = _OPENING.match(text)
    closing = _CLOSING.search(text, opening.end() - 1) if opening else None
    if opening is None or closing is None:
        raise InvalidArticle(
            [Problem("", "no front matter: the file must start with a '---' line and close it with another")]
        )
    return text[opening.end() : closing.start() + 1], text[closing.end() :]


def parse_article(text: str, source: str) -> Article:
    """Given the text of an article file, return the validated article."""
    front, body = split_front_matter(xml_safe(text.lstrip("\ufeff")))
    return article_from_mapping(load_yaml(front), source, body)


def load_yaml(front: str) -> dict[str, Any]:
    """Given front matter, return its fields, or raise InvalidArticle saying why not."""
    try:
        data = _load(front)
    except yaml.YAMLError as exc:
        raise InvalidArticle([Problem("", f"front matter is not valid YAML: {_yaml_reason(exc)}")]) from None
    except (ValueError, RecursionError) as exc:  # e.g. a date the constructor cannot build
        raise InvalidArticle([Problem("", f"front matter is not valid YAML: {exc}")]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidArticle([Problem("", f"front matter must be a mapping of fields, not {_kind(data)}")])
    return data


_STR, _NULL, _TIMESTAMP = "tag:yaml.org,2002:str", "tag:yaml.org,2002:null", "tag:yaml.org,2002:timestamp"
_MAP, _SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


class _OtherTag(Exception):
    """A node the fast path does not build: let PyYAML's safe constructor do it."""


def _load(text: str) -> Any:
    """Parse with the C loader, then build the values directly.

    Front matter is text, lists, mappings and dates; building those without
    PyYAML's generic constructor machinery halves the cost of a file. Any
    other tag (!!binary, !!set, a merge key, an unknown or Python tag) goes
    through the safe constructor as usual, which accepts or refuses it.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        try:
            return _build(node, loader, {})
        except _OtherTag:
            return loader.construct_document(node)
    finally:
        loader.dispose()


def _build(node: yaml.Node, loader: yaml.SafeLoader, built: dict[int, Any]) -> Any:
    kind, tag = type(node), node.tag
    if kind is yaml.ScalarNode:
        if tag == _STR:
            return node.value
        if tag == _NULL:
            return None
        if tag == _TIMESTAMP:
            return loader.construct_yaml_timestamp(node)  # type: ignore[arg-type]
        raise _OtherTag
    # Anchors make several references to one node: build each collection once
    # (as PyYAML does), so an alias bomb costs nothing.
    known = built.get(id(node))
    if known is not None:
        return known
    value: Any
    if kind is yaml.MappingNode and tag == _MAP:
        value = built[id(node)] = {}
        for key_node, value_node in node.value:
            if key_node.tag != _STR or type(key_node) is not yaml.ScalarNode:
                raise _OtherTag  # merge keys, non-text keys
            value[key_node.value] = _build(value_node, loader, built)
    elif kind is yaml.SequenceNode and tag == _SEQ:
        value = built[id(node)] = []
        value.extend([_build(item, loader, built) for item in node.value])
    else:
        raise _OtherTag
    return value


def article_from_mapping(data: dict[str, Any], source: str, body: str = "") -> Article:
    """Given front-matter fields, return the article or raise every problem at once."""
    fields = _Fields(data)
    title = fields.text("title", required=True, plain=True)
    url = fields.article_url()
    published_at = fields.datetime("publishedDateTime", required=True)
    updated_at = fields.datetime("updatedDateTime", severity="warning")
    kind = fields.text("type").lower() or "article"
    if kind not in _KINDS:
        fields.warn("type", f"{kind!r} is not one of {', '.join(_KINDS)}; treated as an article")
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
        body_html=render_markdown(body, url),
        category=sys.intern(fields.text("category", severity="warning")),
        original_url=_same_or(url, fields.url(data.get("originalUrl"), "originalUrl", severity="warning")),
        guid=url,  # unless the index finds an earlier article with this URL
        warnings=tuple(p for p in fields.problems if p.severity == "warning"),
    )
    if any(p.severity == "error" for p in fields.problems):
        raise InvalidArticle(fields.problems)
    return article


def render_markdown(body: str, base_url: str = "") -> str:
    """Given a Markdown body, return sanitised HTML (empty for a blank body).

    Relative links and images are resolved against the article's URL: a feed
    reader shows the content far from where it was written.
    """
    if not body.strip():
        return ""
    # markdown-it turns character references such as &#12; into the characters
    # themselves, and nh3 keeps them: clean the output as well as the input.
    rendered = xml_safe(_markdown().render(body))
    # nh3 (ammonia) drops scripts, event handlers and unsafe URL schemes.
    if base_url:
        try:
            return nh3.clean(rendered, url_relative=("rewrite_with_base", base_url)).strip()
        except ValueError:  # a base its URL parser refuses: drop relative URLs instead
            pass
    return nh3.clean(rendered, url_relative="deny").strip()


def plain_text(value: str) -> str:
    """Given a title or excerpt as scraped, return it as plain text.

    Real files carry HTML character references ("We&#8217;re") and now and
    then markup ("<b>New</b>"); readers must show neither literally.
    """
    if _HTML_END_TAG.search(value):
        value = nh3.clean(value, tags=set())  # keeps the text, drops the tags
    return " ".join(xml_safe(html.unescape(value)).split())


def normalize_url(raw: str) -> str | None:
    """Given a URL as written, return it as an absolute http(s) URI, or None.

    International host names become punycode, characters URIs do not allow
    (spaces, non-ASCII, a stray "%" or a second "#") are percent-encoded,
    valid escapes are kept.
    """
    fast = _CLEAN_URL.fullmatch(raw)
    if fast is not None and _canonical_as_written(raw):
        # Already a canonical URI (the common case): only the host needs checking.
        host = fast.group(1)
        return raw if _ascii_host(host) == host else None
    return _normalize_parts(raw)


def _canonical_as_written(raw: str) -> bool:
    """Would the full normalisation leave this clean-looking URL unchanged?

    It encodes a lone "%" and a second "#", and drops an empty query or
    fragment ("x?", "x#", "x?#a").
    """
    return raw.count("#") <= 1 and not _LONE_PERCENT.search(raw) and not raw.endswith(("?", "#")) and "?#" not in raw


def _normalize_parts(raw: str) -> str | None:
    try:
        parts = urlsplit(raw.strip())
        port = parts.port
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host or _SPACE.search(parts.netloc):
        return None
    host = _ascii_host(host)
    if host is None:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    if parts.username or parts.password:
        return None  # credentials do not belong in a published URL
    path = _encode(parts.path or "/", "/:@!$&'()*+,;=~")
    query = _encode(parts.query, "/?:@!$&'()*+,;=~")
    fragment = _encode(parts.fragment, "/?:@!$&'()*+,;=~")
    return urlunsplit((parts.scheme.lower(), netloc, path, query, fragment))


def _encode(component: str, safe: str) -> str:
    if _URI_CHARS.fullmatch(component) and not _LONE_PERCENT.search(component):
        return component  # the common case: nothing to encode
    return quote(_LONE_PERCENT.sub("%25", component), safe=safe + "%")


@lru_cache(maxsize=65536)  # a corpus has far fewer hosts than URLs
def _ascii_host(host: str) -> str | None:
    if ":" in host or re.fullmatch(r"[0-9.]+", host):
        try:
            return str(ipaddress.ip_address(host))
        except ValueError:
            return None
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
        for label in ascii_host.split("."):
            if label.startswith("xn--"):
                label.encode("ascii").decode("idna")  # refuses broken punycode
    except UnicodeError:
        return None
    return ascii_host if is_domain(ascii_host.rstrip(".")) else None


class _Fields:
    """Reads typed fields out of a front-matter mapping, collecting problems."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.problems: list[Problem] = []

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
            self.problem(label, f"must be text, not {_kind(value)}", severity)
            return ""
        text = xml_safe(str(value)).strip() if value is not None else ""
        if plain:
            text = plain_text(text)
        if not text and required:
            self.problem(label, "missing" if value is None else "empty")
        return text

    def url(self, value: Any, label: str, severity: str = "error", required: bool = False) -> str:
        if value is None or value == "":
            if required:
                self.problem(label, "missing", severity)
            return ""
        if not isinstance(value, str):
            self.problem(label, f"must be a URL, not {_kind(value)}", severity)
            return ""
        url = normalize_url(xml_safe(value))
        if url is None:
            self.problem(label, f"not an absolute http(s) URL: {value[:200]!r}", severity)
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
                name, f"not a date and time (expected ISO 8601 like 2022-05-12T15:09:00Z): {value!s:.100}", severity
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
        self.problem(name, f"must be true or false, not {value!r:.50}")
        return default

    def integer(self, value: Any, label: str) -> int | None:
        if value is None or value == "":
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float, str))
            or not _WHOLE_NUMBER.fullmatch(str(value))
        ):
            self.warn(label, f"must be a whole number, not {str(value)[:50]!r}; left out")
            return None
        return int(float(value)) or None

    def items(self, value: Any, label: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.warn(label, f"must be a list, not {_kind(value)}; left out")
            return []
        return value

    def topics(self, name: str) -> tuple[Topic, ...]:
        value = self.data.get(name)
        if isinstance(value, str):
            value = [value]  # "topics: AI" means one topic
        topics: dict[str, Topic] = {}
        for i, item in enumerate(self.items(value, name)):
            label = f"{name}[{i}]"
            if not isinstance(item, (str, date)):
                self.warn(label, f"must be text, not {_kind(item)}; left out")
                continue
            topic_name = plain_text(str(item))
            slug = slugify(topic_name)
            if not slug:
                self.warn(label, f"{topic_name!r} has no letters a-z or digits to make a feed URL from; left out")
                continue
            topics.setdefault(slug, _topic(topic_name, slug))  # one topic listed twice counts once
        return tuple(topics.values())

    def images(self, value: Any, prefix: str) -> tuple[Image, ...]:
        images = []
        for i, item in enumerate(self.items(value, prefix)):
            label = f"{prefix}[{i}]"
            if not isinstance(item, dict):
                self.warn(label, f"must be a mapping with a url, not {_kind(item)}; left out")
                continue
            url = self.url(item.get("url"), f"{label}.url", "warning", required=True)
            if url:
                width = self.integer(item.get("width"), f"{label}.width")
                height = self.integer(item.get("height"), f"{label}.height")
                images.append(_image(url, width, height))
        return tuple(images)

    def provider(self, value: Any, label: str) -> Provider | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            self.warn(label, f"must be a mapping with name and domain, not {_kind(value)}; left out")
            return None
        domain = self.text("domain", data=value, path=f"{label}.domain", severity="warning").lower().rstrip(".")
        if domain:
            ascii_domain = _ascii_host(domain)
            if ascii_domain is None or not is_domain(ascii_domain):
                self.warn(f"{label}.domain", f"not a domain name: {domain[:100]!r}; no provider feed")
                domain = ""
            else:
                domain = ascii_domain
        display = self.text("name", data=value, path=f"{label}.name", plain=True, severity="warning") or domain
        images = self.images(value.get("images"), f"{label}.images")
        if not display:
            return None
        return _provider(display, domain, images)

    def related(self, name: str) -> tuple[Related, ...]:
        related = []
        for i, item in enumerate(self.items(self.data.get(name), name)):
            label = f"{name}[{i}]"
            if not isinstance(item, dict):
                self.warn(label, f"must be a mapping, not {_kind(item)}; left out")
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


def _same_or(url: str, other: str) -> str:
    """``other``, as the very same string object as ``url`` when equal (they usually are)."""
    return url if other == url else other


# Thousands of articles name the same few topics and providers: share one
# object for each (less memory, smaller snapshots), with a bound on the cache.
@lru_cache(maxsize=16384)
def _topic(name: str, slug: str) -> Topic:
    return Topic(name, slug)


@lru_cache(maxsize=16384)  # default images and logos repeat across articles too
def _image(url: str, width: int | None, height: int | None) -> Image:
    return Image(url, width, height)


@lru_cache(maxsize=16384)
def _provider(name: str, domain: str, images: tuple[Image, ...]) -> Provider:
    return Provider(name, domain, images)


def share_parts(article: Article) -> Article:
    """The same article, holding this process's shared topic, provider and
    image objects: articles parsed in another process arrive with copies."""
    return article._replace(
        provider=_shared_provider(article.provider),
        topics=tuple([_topic(*topic) for topic in article.topics]),
        images=tuple([_image(*image) for image in article.images]),
        related=tuple([r._replace(provider=_shared_provider(r.provider)) for r in article.related]),
    )


def _shared_provider(provider: Provider | None) -> Provider | None:
    if provider is None:
        return None
    return _provider(provider.name, provider.domain, tuple([_image(*image) for image in provider.images]))


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
