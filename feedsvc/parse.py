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
    except _Refused as exc:
        raise InvalidArticle([Problem("", f"front matter: {exc}")]) from None
    except yaml.YAMLError as exc:
        raise InvalidArticle([Problem("", f"front matter is not valid YAML: {_yaml_reason(exc)}")]) from None
    except (ValueError, RecursionError) as exc:  # e.g. a date the constructor cannot build
        raise InvalidArticle([Problem("", f"front matter is not valid YAML: {_clip(str(exc))}")]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidArticle([Problem("", f"front matter must be a mapping of fields, not {_kind(data)}")])
    return data


_STR, _NULL, _TIMESTAMP = "tag:yaml.org,2002:str", "tag:yaml.org,2002:null", "tag:yaml.org,2002:timestamp"
_MAP, _SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_NUMBER_TAGS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"})
_Scalar = yaml.ScalarNode

# Bounds on the work a document may ask for, whatever it contains. Real front
# matter nests 5 levels deep (related[0].provider.images[0].url) and never
# uses aliases.
MAX_DEPTH = 32
# Without aliases a document's expanded size (values plus characters of text,
# see _Builder) stays below twice its length; aliases may multiply it this much.
EXPANSION = 4
EXPANSION_FLOOR = 10_000
# An explicitly tagged number (``!!int 1:2:3…``) is converted by PyYAML in
# time quadratic in its length; no real number is this long.
MAX_NUMBER_CHARS = 100


# How many of each list an article keeps (the real corpus has at most 3).
MAX_TOPICS = 50
MAX_IMAGES = 20
MAX_RELATED = 20
MAX_TOPIC_CHARS = 200  # a topic's name makes its feed's URL
# Plain-text fields and Markdown bodies are cut or left out beyond these
# lengths (the real corpus: titles up to 146 characters, excerpts up to 339).
MAX_TEXT_CHARS = 10_000
MAX_BODY_CHARS = 50_000


def expansion_budget(size: int) -> int:
    """The largest expanded size accepted from front matter of ``size`` characters."""
    return EXPANSION_FLOOR + EXPANSION * size


class _Refused(Exception):
    """The document asks for more work than its size allows (the message says how)."""


def _load(text: str) -> Any:
    """Parse with the C loader, then build the values directly.

    Front matter is text, lists, mappings and dates; building those without
    PyYAML's generic constructor machinery halves the cost of a file. Any
    other tag (!!binary, !!set, a merge key, an unknown or Python tag) goes
    through the safe constructor as usual, which accepts or refuses it, but
    only once the whole document has been measured and found within bounds.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        builder = _Builder(loader, expansion_budget(len(text)))
        value = builder.build(node, 0)
        return loader.construct_document(node) if builder.other_tags else value
    finally:
        loader.dispose()


class _Builder:
    """Builds front-matter values from PyYAML's node graph, refusing a graph
    that asks for more work than the text it came from.

    An alias is another reference to a node, and each node is built once, so
    building stays cheap whatever the aliases. But whatever walks the values
    afterwards (a field reader, an error message, the API writing a document
    back, the safe constructor's merge keys) does the work of the *expanded*
    document, which nested aliases make exponential ("billion laughs": 400
    bytes that expand to 387 million strings). So the expanded size is
    counted here, every alias counting all it stands for, and must stay
    within ``budget``; nesting is bounded too, and an alias may not refer to
    a node that contains it.
    """

    def __init__(self, loader: yaml.SafeLoader, budget: int) -> None:
        self.loader = loader
        self.budget = budget
        self.size = 0  # expanded size so far: one per node plus the characters of each text
        self.values: dict[int, Any] = {}  # built collections, by node id
        self.sizes: dict[int, int] = {}  # their expanded sizes, once complete
        self.other_tags = False  # a node only the safe constructor builds

    def build(self, node: yaml.Node, depth: int) -> Any:
        if type(node) is _Scalar:
            self.size += 1 + len(node.value)
            return self.scalar(node)
        known = self.sizes.get(id(node))
        if known is not None:  # an alias: all it stands for counts again
            self.size += known
            self.check()
            return self.values[id(node)]
        if id(node) in self.values:
            raise _Refused("an alias refers to a list or mapping that contains it")
        if depth >= MAX_DEPTH:
            raise _Refused(f"nested more than {MAX_DEPTH} levels deep")
        start = self.size
        text = 0  # the size of the text values below, counted here: most values are text
        value: Any
        if type(node) is yaml.MappingNode:
            value = self.values[id(node)] = {}
            self.other_tags |= node.tag != _MAP
            for key_node, value_node in node.value:
                if type(value_node) is _Scalar and value_node.tag == _STR:
                    item = value_node.value
                    text += 1 + len(item)
                else:
                    item = self.build(value_node, depth + 1)
                if type(key_node) is _Scalar and key_node.tag == _STR:
                    text += 1 + len(key_node.value)
                    value[key_node.value] = item
                else:  # a merge key or a key that is not text
                    self.build(key_node, depth + 1)
                    self.other_tags = True
        else:
            value = self.values[id(node)] = []
            self.other_tags |= node.tag != _SEQ
            for item_node in node.value:
                if type(item_node) is _Scalar and item_node.tag == _STR:
                    text += 1 + len(item_node.value)
                    value.append(item_node.value)
                else:
                    value.append(self.build(item_node, depth + 1))
        self.size += text + 1
        self.sizes[id(node)] = self.size - start
        self.check()
        return value

    def scalar(self, node: yaml.Node) -> Any:
        tag = node.tag
        if tag == _STR:
            return node.value
        if tag == _NULL:
            return None
        if tag == _TIMESTAMP:
            try:
                return self.loader.construct_yaml_timestamp(node)  # type: ignore[arg-type]
            except (ValueError, OverflowError):  # 2024-02-30: left as text, for the field to report
                return node.value
        if tag in _NUMBER_TAGS and len(node.value) > MAX_NUMBER_CHARS:
            raise _Refused(f"a !!{tag.rsplit(':', 1)[-1]} value longer than {MAX_NUMBER_CHARS} characters")
        self.other_tags = True
        return None

    def check(self) -> None:
        if self.size > self.budget:
            raise _Refused(
                f"too large once its aliases are expanded (more than {self.budget:,} values and characters"
                " for a document of this size)"
            )


def check_nesting(value: Any, limit: int = MAX_DEPTH) -> None:
    """Given front-matter fields from elsewhere (a JSON document), raise
    InvalidArticle when they nest deeper than YAML front matter may."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth >= limit:
                raise InvalidArticle([Problem("", f"front matter: nested more than {limit} levels deep")])
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def article_from_mapping(data: dict[str, Any], source: str, body: str = "") -> Article:
    """Given front-matter fields, return the article or raise every problem at once."""
    fields = _Fields(data)
    title = fields.text("title", required=True, plain=True)
    url = fields.article_url()
    published_at = fields.datetime("publishedDateTime", required=True)
    updated_at = fields.datetime("updatedDateTime", severity="warning")
    kind = fields.text("type", severity="warning").lower() or "article"
    if kind not in _KINDS:
        fields.warn("type", f"{_preview(kind)} is not one of {', '.join(_KINDS)}; treated as an article")
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


def plain_text(value: str) -> str:
    """Given a title, excerpt or name as scraped, return it as plain text: the
    text an HTML reader would show, without markup or character references.

    The one sanitiser of every plain-text field. Real files carry character
    references ("We&#8217;re", sometimes encoded twice: "&amp;#8217;") and
    now and then markup ("<b>New</b>"). Feed readers often show a title as
    HTML, so none may survive, even as ``&lt;img onerror=…&gt;`` that
    decodes into markup, or as ``<<b>img …>`` that becomes markup once the
    inner tag is dropped: decoding and dropping repeat until neither changes
    anything. What an HTML reader shows as text stays: "a < b", "AT&T", "<3".
    """
    text = xml_safe(value)
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
    return " ".join(text.split())


# Scraped text is at most encoded twice; each pass undoes one level.
_TEXT_PASSES = 4


def _shown_as_html(text: str) -> str:
    """What an HTML reader shows of ``text``: its text, with character references decoded."""
    if "<" in text:
        text = nh3.clean(text, tags=set())  # keeps the text, drops tags, comments, scripts
    return xml_safe(html.unescape(text))


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
            text = self.plain(text, label)
        if not text and required:
            self.problem(label, "missing" if value is None else "empty")
        return text

    def plain(self, text: str, label: str) -> str:
        """``text`` as plain text, cut to a length no real field reaches."""
        if len(text) > MAX_TEXT_CHARS:
            # The HTML parser behind plain_text takes time quadratic in how deep
            # tags nest: 10,000 characters of "<div>" cost 7 ms, a million 65 s.
            self.warn(label, f"longer than {MAX_TEXT_CHARS:,} characters; cut")
            text = text[:MAX_TEXT_CHARS]
        return plain_text(text)

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
            self.problem(label, f"must be a URL, not {_kind(value)}", severity)
            return ""
        url = normalize_url(xml_safe(value))
        if url is None:
            self.problem(label, f"not an absolute http(s) URL: {_preview(value, 200)}", severity)
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
                name, f"not a date and time (expected ISO 8601 like 2022-05-12T15:09:00Z): {_preview(value)}", severity
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
        self.problem(name, f"must be true or false, not {_preview(value)}")
        return default

    def integer(self, value: Any, label: str) -> int | None:
        if value is None or value == "":
            return None
        # A huge int is not turned into text: str() of one is slow, or refused.
        number_like = isinstance(value, (str, float)) or _small_int(value)
        if not number_like or not _WHOLE_NUMBER.fullmatch(str(value)):
            self.warn(label, f"must be a whole number, not {_preview(value)}; left out")
            return None
        return int(float(value)) or None

    def items(self, value: Any, label: str, limit: int) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.warn(label, f"must be a list, not {_kind(value)}; left out")
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
            if not isinstance(item, (str, date)):
                self.warn(label, f"must be text, not {_kind(item)}; left out")
                continue
            topic_name = self.plain(str(item), label)
            if len(topic_name) > MAX_TOPIC_CHARS:
                self.warn(label, f"longer than {MAX_TOPIC_CHARS} characters, too long for a feed URL; left out")
                continue
            slug = slugify(topic_name)
            if not slug:
                self.warn(
                    label, f"{_preview(topic_name)} has no letters a-z or digits to make a feed URL from; left out"
                )
                continue
            topics.setdefault(slug, _topic(topic_name, slug))  # one topic listed twice counts once
        return tuple(topics.values())

    def images(self, value: Any, prefix: str) -> tuple[Image, ...]:
        images = []
        for i, item in enumerate(self.items(value, prefix, MAX_IMAGES)):
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
                self.warn(f"{label}.domain", f"not a domain name: {_preview(domain, 100)}; no provider feed")
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
        for i, item in enumerate(self.items(self.data.get(name), name, MAX_RELATED)):
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


def _small_int(value: Any) -> bool:
    return type(value) is int and -(10**12) < value < 10**12


def _preview(value: Any, limit: int = 60) -> str:
    """An untrusted value as a problem message shows it: text is cut *before*
    it is formatted (``f"{value!r:.50}"`` formats all of it first, which for
    a list built from nested aliases is billions of items), anything else is
    only named."""
    if isinstance(value, str):
        return repr(value[:limit]) + ("…" if len(value) > limit else "")
    if isinstance(value, (date, float)) or _small_int(value):
        return str(value)
    if type(value) is int:
        return "a number too large to show"
    return _kind(value)


def _clip(message: str, limit: int = 300) -> str:
    """A message from a library (which may quote the document) cut to a readable length."""
    return message if len(message) <= limit else message[:limit] + "…"


def _kind(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "text", bool: "true/false", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _yaml_reason(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        # +2: the YAML starts on the file's second line, after the opening '---'.
        return f"{_clip(str(problem))} (line {mark.line + 2}, column {mark.column + 1})"
    return _clip(str(problem))
