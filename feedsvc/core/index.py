"""The index: every article, and the feeds as queries over it.

An :class:`Index` is an immutable snapshot. A feed is a :class:`FeedRef`
(all, a topic or a provider); selecting it is a slice of a list kept sorted
newest first, so serving a feed costs O(limit) whatever the corpus size.

:meth:`Index.apply` makes the next snapshot from a few changed files without
touching the rest: only the feeds that contain (or contained) a changed
article are copied, and only those whose output can differ get a new
revision, so every other feed keeps its cached bytes and its ETag.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from heapq import merge
from itertools import count, islice, takewhile
from operator import attrgetter
from typing import NamedTuple

from feedsvc.content.model import Article, Image, Provider, Topic
from feedsvc.core.query import DEFAULT_LIMIT, MAX_LIMIT, FeedQuery, Position
from feedsvc.text import slugify

# The most items any URL can ask for; a change beyond it is invisible to the first pages.
WINDOW = MAX_LIMIT
# The items a feed shows by default: what WebSub subscribers see.
DEFAULT_WINDOW = DEFAULT_LIMIT


class FeedKind(StrEnum):
    ALL = "all"
    TOPIC = "topics"
    PROVIDER = "providers"


class FeedRef(NamedTuple):
    """Names one feed independently of its format: what the feed is a query for."""

    kind: FeedKind
    key: str = ""  # topic slug, provider domain, or "" for all

    @property
    def path(self) -> str:
        """The feed's URL path below /feeds/, without the format extension."""
        return "all" if self.kind is FeedKind.ALL else f"{self.kind.value}/{self.key}"


ALL = FeedRef(FeedKind.ALL)


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """What is known about a feed without rendering it."""

    ref: FeedRef
    name: str  # "Computer Vision", "Reuters"; "" for the all-articles feed
    count: int
    updated: datetime | None  # newest item's date; None for an empty feed
    logo: Image | None = None
    revision: int = 0  # changes whenever the feed's output may have changed
    # Changes whenever any of its members changes, at any depth: what archive pages and
    # filtered feeds are cached by (``revision`` looks at the first WINDOW items only).
    changed: int = 0


@dataclass(frozen=True, slots=True)
class IndexDiff:
    """What one :meth:`Index.apply` changed."""

    revised: frozenset[FeedRef]  # output may differ at some limit: new revision
    visible: frozenset[FeedRef]  # output differs at the default limit (what hubs are told)
    removed: frozenset[FeedRef]  # feeds that no longer exist


_generations = count(1)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def sort_key(article: Article) -> tuple[int, str]:
    """Newest first; equal dates in the order of their file names.

    Whole microseconds, not a float timestamp: exactly the order of the
    datetimes themselves, which the full build sorts by.
    """
    return (-((article.published_at - _EPOCH) // _MICROSECOND), article.source)


def feed_refs(article: Article | None) -> set[FeedRef]:
    """The feeds a published article appears in (none for unpublished or None)."""
    if article is None or not article.published:
        return set()
    refs = {ALL}
    refs.update(FeedRef(FeedKind.TOPIC, topic.slug) for topic in article.topics)
    if article.provider and article.provider.domain:
        refs.add(FeedRef(FeedKind.PROVIDER, article.provider.domain))
    return refs


class Index:
    """Articles by file, and published articles per feed, newest first."""

    def __init__(self, articles: Iterable[Article]) -> None:
        """Build a snapshot from scratch (it is on the start-up path: 20,000 articles in ~35 ms)."""
        self.generation = next(_generations)
        everything = {article.source: article for article in articles}
        by_url: dict[str, list[str]] = {}
        for article in everything.values():
            if article.published:
                by_url.setdefault(article.url, []).append(article.source)
        for url, sources in by_url.items():
            if len(sources) > 1:
                everything.update(_guids([everything[source] for source in sources]))
            elif (article := everything[sources[0]]).guid != url:  # the parser sets guid = url already
                everything[article.source] = article._replace(guid=url)
        # Almost every URL has one article: keep its source itself, not a list.
        self._by_url: dict[str, str | list[str]] = {
            url: sources[0] if len(sources) == 1 else sources for url, sources in by_url.items()
        }
        self._by_source = everything
        self.unpublished_count = sum(1 for a in everything.values() if not a.published)
        published = [a for a in everything.values() if a.published]
        # Newest first, equal dates by file name (sort_key), in two stable C-speed sorts.
        published.sort(key=attrgetter("source"))
        published.sort(key=attrgetter("published_at"), reverse=True)
        self._members = {ALL: published}
        generation = self.generation
        self._info = {ALL: FeedInfo(ALL, "", len(published), _newest(published), None, generation, generation)}
        for kind, groups in _group(published).items():
            for key, (members, first, mixed) in groups.items():
                ref = FeedRef(kind, key)
                self._members[ref] = members
                # Topics and providers are shared objects: a feed whose articles all hold the
                # same one is named by it; only one with several spellings needs counting.
                self._info[ref] = (
                    _describe(ref, members, self.generation)
                    if mixed
                    else FeedInfo(ref, first.name, len(members), _newest(members), _logo(first), generation, generation)
                )

    @property
    def articles(self) -> list[Article]:
        """Every published article, newest first."""
        return self._members[ALL]

    def article(self, source: str) -> Article | None:
        """The article read from one file (published or not), if any."""
        return self._by_source.get(source)

    def sources(self) -> Iterable[str]:
        return self._by_source.keys()

    def all_articles(self) -> Iterable[Article]:
        """Every article, published or not, in no particular order."""
        return self._by_source.values()

    def info(self, ref: FeedRef) -> FeedInfo | None:
        """Given a feed, return its description, or None when there is no such feed."""
        return self._info.get(ref)

    def select(self, ref: FeedRef, limit: int) -> Sequence[Article]:
        """Given a feed and a limit, return its newest ``limit`` articles."""
        return self._members.get(ref, [])[:limit]

    def page(self, query: FeedQuery) -> tuple[list[Article], bool]:
        """Given a query, return its items (at most ``limit``, strictly after its position,
        passing its filters) and whether more follow.

        Finding the start is a bisection whatever the depth; unfiltered, a page
        costs O(limit). Filters and unions read on from there until the page is
        full: at worst every member of the feeds named (``since`` stops early, since
        members are newest first).
        """
        streams = [_members_after(self._members.get(ref, []), query.after) for ref in query.refs]
        items: Iterator[Article] = streams[0] if len(streams) == 1 else _union(streams)
        since, passes = query.filters.since, query.filters.predicate()
        if since is not None:
            items = takewhile(lambda article: article.published_at >= since, items)
        if passes is not None:
            items = filter(passes, items)
        found = list(islice(items, query.limit + 1))
        return found[: query.limit], len(found) > query.limit

    def query_revision(self, query: FeedQuery) -> int | None:
        """What a query's documents are cached by, or None when one of its feeds does not exist:
        a number that changes whenever any article of its feeds does (cheap: the fast path asks)."""
        changed = 0
        for ref in query.refs:
            info = self._info.get(ref)
            if info is None:
                return None
            changed = max(changed, info.changed)  # generations only grow: any change raises it
        return changed

    def query_info(self, query: FeedQuery) -> FeedInfo | None:
        """What a query's documents say about their feed, or None when one of its feeds does not exist.

        One feed: its own description (``changed`` is the revision of every page
        and filter of it). A union of topics: their names joined, the newest date,
        and a revision that changes whenever any of them does (query_revision). Its
        count reads every member: ask when rendering, not on every request.
        """
        infos = [self._info.get(ref) for ref in query.refs]
        if any(info is None for info in infos):
            return None
        if len(infos) == 1:
            return infos[0]
        parts = [info for info in infos if info is not None]
        union = FeedRef(FeedKind.TOPIC, "+".join(info.ref.key for info in parts))
        updated = max((info.updated for info in parts if info.updated), default=None)
        changed = max(info.changed for info in parts)  # generations only grow: any change raises it
        count = len({id(a) for info in parts for a in self._members[info.ref]})
        return FeedInfo(union, " + ".join(info.name for info in parts), count, updated, None, changed, changed)

    def feeds(self, kind: FeedKind) -> list[FeedInfo]:
        """Every feed of one kind, sorted by name for people to read."""
        found = [info for ref, info in self._info.items() if ref.kind is kind]
        return sorted(found, key=lambda info: (info.name.lower(), info.ref.key))

    def apply(self, changes: Mapping[str, Article | None]) -> tuple[Index, IndexDiff]:
        """Given new versions of some files (None: the file is gone), return
        the next snapshot and what changed. ``self`` is left untouched."""
        new = object.__new__(Index)
        new.generation = next(_generations)
        by_source = dict(self._by_source)
        for source, article in changes.items():
            old = self._by_source.get(source)
            if article is None:
                by_source.pop(source, None)
            elif old is None or old._replace(guid=article.guid) != article:  # the guid is the index's to set
                by_source[source] = article
        touched = {s for s in changes if by_source.get(s) is not self._by_source.get(s)}
        new._by_url = dict(self._by_url)
        for url in _urls(self._by_source.get(s) for s in touched) | _urls(by_source.get(s) for s in touched):
            known = self._by_url.get(url, ())
            candidates = ({known} if isinstance(known, str) else set(known)) | touched
            group = sorted(s for s in candidates if (a := by_source.get(s)) and a.published and a.url == url)
            if group:
                new._by_url[url] = group[0] if len(group) == 1 else group
                renamed = _guids([by_source[s] for s in group])
                by_source.update(renamed)
                touched.update(renamed)
            else:
                new._by_url.pop(url, None)
        new._by_source = by_source
        new.unpublished_count = self.unpublished_count + sum(
            _unpublished(by_source.get(s)) - _unpublished(self._by_source.get(s)) for s in touched
        )
        new._members = dict(self._members)
        new._info = dict(self._info)
        affected: dict[FeedRef, list[Article]] = {}
        for source in touched:
            old, current = self._by_source.get(source), by_source.get(source)
            old_refs, current_refs = feed_refs(old), feed_refs(current)
            for ref in old_refs | current_refs:
                members = affected.get(ref)
                if members is None:
                    members = affected[ref] = list(self._members.get(ref, []))
                if old is not None and ref in old_refs:
                    _remove(members, old)
                if current is not None and ref in current_refs:
                    insort(members, current, key=sort_key)
        revised, visible, removed = set(), set(), set()
        for ref, members in affected.items():
            if not members and ref != ALL:
                new._members.pop(ref, None)
                new._info.pop(ref, None)
                removed.add(ref)
                continue
            before = self._members.get(ref, [])
            new._members[ref] = members
            previous = self._info.get(ref)
            info = _describe(ref, members, new.generation)
            same_header = previous is not None and (previous.name, previous.logo) == (info.name, info.logo)
            if previous is not None and same_header and _same_window(before, members, WINDOW):
                info = replace(info, revision=previous.revision)  # output unchanged: keep cache and ETag
            else:
                revised.add(ref)
                if not (same_header and _same_window(before, members, DEFAULT_WINDOW)):
                    visible.add(ref)
            new._info[ref] = info
        return new, IndexDiff(frozenset(revised), frozenset(visible), frozenset(removed))


def _same_window(before: list[Article], after: list[Article], size: int) -> bool:
    """Whether a first page of ``size`` items is the same: its items, and whether older ones follow (rel="next")."""
    return before[:size] == after[:size] and (len(before) > size) == (len(after) > size)


def _group(published: list[Article]) -> dict[FeedKind, dict[str, tuple[list[Article], Topic | Provider, bool]]]:
    """The members of every topic and provider feed, in order; for each, the
    first topic or provider object seen, and whether any other was seen."""
    groups: dict[FeedKind, dict[str, tuple[list[Article], Topic | Provider, bool]]] = {
        FeedKind.TOPIC: {},
        FeedKind.PROVIDER: {},
    }
    topics, providers = groups[FeedKind.TOPIC], groups[FeedKind.PROVIDER]
    for article in published:
        for topic in article.topics:
            group = topics.get(topic.slug)
            if group is None:
                topics[topic.slug] = ([article], topic, False)
            else:
                members, first, mixed = group
                if members[-1] is not article:  # a topic listed twice counts once
                    members.append(article)
                if topic is not first and not mixed:
                    topics[topic.slug] = (members, first, True)
        provider = article.provider
        if provider is not None and provider.domain:
            group = providers.get(provider.domain)
            if group is None:
                providers[provider.domain] = ([article], provider, False)
            else:
                group[0].append(article)
                if provider is not group[1] and not group[2]:
                    providers[provider.domain] = (group[0], group[1], True)
    return groups


def _describe(ref: FeedRef, members: list[Article], revision: int) -> FeedInfo:
    """A feed's header from its members: the most used name, the newest logo."""
    if ref.kind is FeedKind.TOPIC:
        names = Counter(t.name for a in members for t in a.topics if t.slug == ref.key)
        return FeedInfo(ref, _most_common(names), len(members), _newest(members), None, revision, revision)
    if ref.kind is FeedKind.PROVIDER:
        providers = [a.provider for a in members if a.provider]
        names = Counter(p.name for p in providers)
        logo = next((p.images[0] for p in providers if p.images), None)
        return FeedInfo(ref, _most_common(names), len(members), _newest(members), logo, revision, revision)
    return FeedInfo(ref, "", len(members), _newest(members), None, revision, revision)


def _newest(members: list[Article]) -> datetime | None:
    return members[0].published_at if members else None


def _logo(first: Topic | Provider) -> Image | None:
    return first.images[0] if isinstance(first, Provider) and first.images else None


def _guids(group: list[Article]) -> dict[str, Article]:
    """Give every article sharing one URL a unique guid: the earliest keeps
    the bare URL, later ones get a fragment naming their file, so adding a
    newer duplicate never changes a guid readers already have.

    Returns the articles whose guid had to change, by source.
    """
    if len(group) > 1:
        group = sorted(group, key=lambda a: (a.published_at, a.source))
    changed = {}
    for position, article in enumerate(group):
        guid = article.url if position == 0 else _with_fragment(article.url, slugify(article.source))
        if article.guid != guid:
            changed[article.source] = article._replace(guid=guid)
    return changed


def _urls(articles: Iterable[Article | None]) -> set[str]:
    return {a.url for a in articles if a is not None and a.published}


def _members_after(members: list[Article], after: Position | None) -> Iterator[Article]:
    """A feed's members strictly after a position (all of them for None), found by bisection."""
    start = 0 if after is None else bisect_right(members, after.key, key=sort_key)
    return map(members.__getitem__, range(start, len(members)))


def _union(streams: list[Iterator[Article]]) -> Iterator[Article]:
    """Several feeds' members merged into one order, each article once (it is in several topics)."""
    previous = None
    for article in merge(*streams, key=sort_key):
        if article.source != previous:
            previous = article.source
            yield article


def _remove(members: list[Article], article: Article) -> None:
    position = bisect_left(members, sort_key(article), key=sort_key)
    if position < len(members) and members[position] is article:
        del members[position]
    else:  # cannot happen while sort keys are unique (they include the file name)
        members.remove(article)


def _unpublished(article: Article | None) -> int:
    return 1 if article is not None and not article.published else 0


def _with_fragment(url: str, name: str) -> str:
    """Add a name to a URL's fragment (a URL has at most one '#')."""
    base, hash_sign, fragment = url.partition("#")
    return f"{base}#{fragment}-{name}" if hash_sign and fragment else f"{base}#{name}"


def _most_common(names: Counter[str]) -> str:
    # Most used spelling wins; ties go to the alphabetically first, for stable output.
    return min(names.items(), key=lambda item: (-item[1], item[0]))[0] if names else ""
