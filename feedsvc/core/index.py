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

from array import array
from bisect import bisect_left, bisect_right, insort
from collections import Counter
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from heapq import merge
from itertools import count
from typing import NamedTuple, overload

from feedsvc.content.model import Article, Image, Provider, Topic
from feedsvc.core import packed as packing
from feedsvc.core.layered import Layered
from feedsvc.core.packed import Packed, packed, unpacked
from feedsvc.core.query import DEFAULT_LIMIT, MAX_LIMIT, FeedQuery, Position
from feedsvc.core.records import Head, moment
from feedsvc.core.store import Store
from feedsvc.text import slugify

# The most items any URL can ask for; a change beyond it is invisible to the first pages.
WINDOW = MAX_LIMIT
# The items a feed shows by default: what WebSub subscribers see.
DEFAULT_WINDOW = DEFAULT_LIMIT
# The most articles one page of a filtered feed reads (~40 ms): past it, the page ends early.
SCAN_BUDGET = 10_000


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


def feed_refs(article: Article | Head | None) -> set[FeedRef]:
    """The feeds a published article appears in (none for unpublished or None); its record's head says as much."""
    if article is None or not article.published:
        return set()
    refs = {ALL}
    refs.update(FeedRef(FeedKind.TOPIC, topic.slug) for topic in article.topics)
    if article.provider and article.provider.domain:
        refs.add(FeedRef(FeedKind.PROVIDER, article.provider.domain))
    return refs


class Articles(Sequence[Article]):
    """A feed's members as articles, made from their records when read (a view, not a copy)."""

    __slots__ = ("_numbers", "_store")

    def __init__(self, store: Store, numbers: array[int]) -> None:
        self._store, self._numbers = store, numbers

    def __len__(self) -> int:
        return len(self._numbers)

    @overload
    def __getitem__(self, position: int) -> Article: ...
    @overload
    def __getitem__(self, position: slice) -> list[Article]: ...
    def __getitem__(self, position: int | slice) -> Article | list[Article]:
        if isinstance(position, slice):
            return list(map(self._store.article, self._numbers[position]))
        return self._store.article(self._numbers[position])

    def __iter__(self) -> Iterator[Article]:
        return map(self._store.article, self._numbers)


@dataclass(frozen=True, slots=True)
class Parts:
    """Everything an index is made of: what the snapshot saves and restores."""

    store: Store
    # Either map may be given as a function that makes it, on first use (see core.layered).
    by_source: Mapping[str, int] | Callable[[], Mapping[str, int]]
    # By url_key: the files of the published articles at each URL (a key may stand for two URLs).
    by_url: Mapping[int, str | list[str]] | Callable[[], Mapping[int, str | list[str]]]
    members: dict[FeedRef, array[int]]
    info: dict[FeedRef, FeedInfo]
    names: dict[FeedRef, Counter[str]]
    unpublished_count: int


class Index:
    """Articles by file, and published articles per feed, newest first.

    Articles are kept as records in a :class:`Store` and named by number; a
    feed's members are an array of numbers, newest first. Nothing here holds
    an :class:`Article` object: they are made when read.
    """

    def __init__(self, articles: Iterable[Article]) -> None:
        """Build a snapshot from scratch."""
        self._build([packed(article) for article in articles])

    @classmethod
    def from_records(cls, items: Iterable[Packed]) -> Index:
        """Build a snapshot from articles packed where they were parsed (a full load:
        core.packed), reading only their records' heads (20,000 articles in ~50 ms)."""
        index = object.__new__(cls)
        index._build(items)
        return index

    def _build(self, items: Iterable[Packed]) -> None:
        listed = list(items)
        by_source = {item.source: number for number, item in enumerate(listed)}
        if len(by_source) < len(listed):  # a file given twice: the last one counts, in the first one's place
            listed = list({item.source: item for item in listed}.values())
            by_source = {item.source: number for number, item in enumerate(listed)}
        # Guids are unique: the parser sets guid = url, and articles sharing a URL get a fragment.
        # Only those few articles are made (and packed again), and a key two URLs share is split.
        # One walk in the order listed, without a list a key (a million lists at a million articles).
        by_url: dict[int, str | list[str]] = {}
        crowded: dict[int, list[str]] = {}  # the keys held by several articles, or by one whose guid is not its URL
        for item in listed:
            if item.published:
                holder = by_url.setdefault(item.url_key, item.source)
                if holder != item.source:
                    crowded.setdefault(item.url_key, [holder]).append(item.source)  # type: ignore[list-item]
                elif not item.guid_is_url:
                    crowded[item.url_key] = [item.source]
        for url_key, sources in crowded.items():
            articles = [unpacked(listed[by_source[source]]) for source in sources]
            for url in dict.fromkeys(article.url for article in articles):
                at_url = [article for article in articles if article.url == url]
                changed = _guids(at_url)
                for source, article in changed.items():
                    listed[by_source[source]] = packed(article)
            by_url[url_key] = sources[0] if len(sources) == 1 else sorted(sources)
        store = Store()
        numbers = [store.add_record(item.source, item.published_us, item.record) for item in listed]
        # numbers are 0, 1, 2, ...: a number is a position in ``listed``
        published = [number for number in numbers if listed[number].published]
        # Newest first, equal dates by file name (sort_key), in two stable C-speed sorts.
        published.sort(key=store.sources.__getitem__)
        published.sort(key=store.published_us.__getitem__, reverse=True)
        generation = next(_generations)
        members = {ALL: array("I", published)}
        info = {ALL: FeedInfo(ALL, "", len(published), _newest(store, members[ALL]), None, generation, generation)}
        names: dict[FeedRef, Counter[str]] = {}
        for kind, groups in _group(listed, published).items():
            for key, (group, first, mixed) in groups.items():
                ref = FeedRef(kind, key)
                members[ref] = found_members = array("I", group)
                # Topics and providers are shared objects: a feed whose articles all hold the
                # same one is named by it; only one with several spellings needs counting.
                if mixed:
                    names[ref] = _spellings(ref, (listed[n] for n in group))
                    name, logo = _most_common(names[ref]), _first_logo(ref, (listed[n] for n in group))
                else:
                    name, logo = first.name, _logo(first)
                info[ref] = FeedInfo(
                    ref, name, len(found_members), _newest(store, found_members), logo, generation, generation
                )
        self._set(
            Parts(
                store,
                by_source,  # numbers are positions in ``listed``
                by_url,
                members,
                info,
                names,
                sum(1 for found in listed if not found.published),
            ),
            generation,
        )

    @classmethod
    def restore(cls, parts: Parts) -> Index:
        """An index from the parts another one was made of (see :meth:`parts`)."""
        index = object.__new__(cls)
        generation = next(_generations)
        # Revisions are this process's: new ones, so that no cached ETag of an earlier run can match by chance.
        info = {ref: replace(found, revision=generation, changed=generation) for ref, found in parts.info.items()}
        index._set(replace(parts, info=info), generation)
        return index

    def adopt(self, parts: Parts) -> Index:
        """This same index over other parts holding the same articles (its own snapshot, mapped
        from the file it was just saved to): same generation, feeds and revisions, so no cache
        or ETag changes; the records move out of this process's heap into the mapped file."""
        index = object.__new__(Index)
        index._set(replace(parts, info=self._info, names=self._names), self.generation)
        if index._members.keys() != self._members.keys() or any(
            len(index._members[ref]) != len(members) for ref, members in self._members.items()
        ):
            raise ValueError("the parts hold other articles than this index")
        return index

    def _set(self, parts: Parts, generation: int) -> None:
        self.generation = generation
        self._store = parts.store
        self._by_source: Layered[str, int] = Layered(parts.by_source)
        self._by_url: Layered[int, str | list[str]] = Layered(parts.by_url)
        self._members = parts.members
        self._info = parts.info
        self._names = parts.names
        self.unpublished_count = parts.unpublished_count

    def parts(self) -> Parts:
        """What this index is made of, for the snapshot (the maps made when read)."""
        return Parts(
            self._store,
            self._by_source.plain,
            self._by_url.plain,
            self._members,
            self._info,
            self._names,
            self.unpublished_count,
        )

    def prepare(self) -> None:
        """Make the maps a start from the snapshot left for first use (what :meth:`apply` reads),
        so that the first change after a start costs no more than any other."""
        len(self._by_source)
        len(self._by_url)

    @property
    def store(self) -> Store:
        return self._store

    @property
    def articles(self) -> Articles:
        """Every published article, newest first."""
        return Articles(self._store, self._members[ALL])

    def article(self, source: str) -> Article | None:
        """The article read from one file (published or not), if any."""
        number = self._by_source.get(source)
        return None if number is None else self._store.article(number)

    def sources(self) -> Iterable[str]:
        return self._by_source.keys()

    def all_articles(self) -> Iterable[Article]:
        """Every article, published or not, in no particular order (each one made: O(all))."""
        return map(self._store.article, self._by_source.values())

    def info(self, ref: FeedRef) -> FeedInfo | None:
        """Given a feed, return its description, or None when there is no such feed."""
        return self._info.get(ref)

    def select(self, ref: FeedRef, limit: int) -> list[Article]:
        """Given a feed and a limit, return its newest ``limit`` articles."""
        numbers = self._members.get(ref)
        return [] if numbers is None else list(map(self._store.article, numbers[:limit]))

    def selected_sources(self, ref: FeedRef, limit: int) -> list[str]:
        """The file names of ``select(ref, limit)``, without making the articles."""
        numbers = self._members.get(ref)
        return [] if numbers is None else list(map(self._store.sources.__getitem__, numbers[:limit]))

    def page(self, query: FeedQuery) -> tuple[list[Article], Position | None]:
        """Given a query, return its items (at most ``limit``, strictly after its position,
        passing its filters) and where the next page starts (None: nothing older passes).

        Finding the start is a bisection whatever the depth; unfiltered, a page
        costs O(limit). Filters and unions read on from there until the page is
        full, ``since`` stops at the first older article, and no page reads more
        than SCAN_BUDGET articles: a rare search over a million articles returns
        what it found so far (perhaps nothing) and a next page that goes on from
        the last article read, so each request costs the same bounded time.
        """
        store = self._store
        streams = [_members_after(store, self._members.get(ref, _EMPTY), query.after) for ref in query.refs]
        numbers = streams[0] if len(streams) == 1 else _union(store, streams)
        since, passes = query.filters.since, query.filters.predicate()
        found: list[Article] = []
        last = -1
        for read, number in enumerate(numbers):
            if read == SCAN_BUDGET:  # go on after the last article read
                return found, Position(store.published_us[last], store.sources[last])
            article = store.article(number)
            if since is not None and article.published_at < since:
                return found, None
            last = number
            if passes is None or passes(article):
                found.append(article)
                if len(found) > query.limit:
                    return found[: query.limit], Position.of(found[query.limit - 1])
        return found, None

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
        count = len(set().union(*(self._members[info.ref] for info in parts)))
        return FeedInfo(union, " + ".join(info.name for info in parts), count, updated, None, changed, changed)

    def feeds(self, kind: FeedKind) -> list[FeedInfo]:
        """Every feed of one kind, sorted by name for people to read."""
        found = [info for ref, info in self._info.items() if ref.kind is kind]
        return sorted(found, key=lambda info: (info.name.lower(), info.ref.key))

    def images(self, start: int = 0, stop: int | None = None) -> Iterator[Image]:
        """Every image of the published articles, newest article first (reads only the records' heads);
        of the ``start``-th to the ``stop``-th article only, when given."""
        head = self._store.head
        for number in self._members[ALL][start:stop]:
            yield from head(number).images

    def published_count(self) -> int:
        """How many articles are published (the length of the order ``images`` follows)."""
        return len(self._members[ALL])

    def listing(
        self, topic: str | None = None, provider: str | None = None, published: bool | None = None
    ) -> tuple[int, Iterator[Article]]:
        """Every article, published or not, of a topic (slug) and a provider (domain) when given,
        in the feeds' order (sort_key), and how many: the write API's list.

        Published ones come from the feeds' member arrays as they are; of the
        rest only the records' heads are read, and only the articles asked
        for are made.
        """
        store = self._store
        streams: list[Sequence[int]] = []

        def wanted(head: Head) -> bool:
            in_topic = topic is None or any(t.slug == topic for t in head.topics)
            return in_topic and (provider is None or (head.provider is not None and head.provider.domain == provider))

        if published is not False:
            ref = FeedRef(FeedKind.TOPIC, topic) if topic else FeedRef(FeedKind.PROVIDER, provider) if provider else ALL
            members: Sequence[int] = self._members.get(ref, _EMPTY)
            if topic and provider:
                members = [number for number in members if wanted(store.head(number))]
            streams.append(members)
        if published is not True:
            shown = set(self._members[ALL])
            others = (number for number in self._by_source.values() if number not in shown)
            streams.append(sorted((n for n in others if wanted(store.head(n))), key=store.key))
        count = sum(map(len, streams))
        return count, map(store.article, merge(*streams, key=store.key))

    def holding(self, urls: Container[str], unsized: bool = False) -> Iterator[str]:
        """The file of every article, published or not, with an image at one of these URLs (reads every head);
        with ``unsized``, only images whose size or type is missing count (the rest are not looked up)."""
        store = self._store
        for source, number in self._by_source.items():
            images = store.head(number).images
            if any((not unsized or image.length is None or not image.type) and image.url in urls for image in images):
                yield source

    def apply(self, changes: Mapping[str, Article | None]) -> tuple[Index, IndexDiff]:
        """Given new versions of some files (None: the file is gone), return
        the next snapshot and what changed. ``self`` is left untouched.

        It costs O(changes) whatever the folder's size, apart from copying the
        arrays of the feeds the changed articles are in (4 bytes a member).
        """
        store, by_source = self._store, self._by_source
        current: dict[str, Article | None] = {}  # the new version of every touched file
        for source, article in changes.items():
            number = by_source.get(source)
            if article is None:
                if number is not None:
                    current[source] = None
            elif number is None or store.article(number)._replace(guid=article.guid) != article:
                current[source] = article  # the guid is the index's to set
        url_changes: dict[int, str | list[str] | None] = {}
        touched_urls = _urls(self._head(s) for s in current) | _urls(current.values())
        arriving: dict[int, set[str]] = {}  # the changed files' new URLs, by key
        for source, article in current.items():
            if article is not None and article.published:
                arriving.setdefault(packing.url_key(article.url), set()).add(source)
        for url in sorted(touched_urls):
            key = packing.url_key(url)
            known = url_changes[key] if key in url_changes else self._by_url.get(key)
            candidates = ({known} if isinstance(known, str) else set(known or ())) | arriving.get(key, set())
            group = sorted(s for s in candidates if (a := self._after(s, current)) and a.published and a.url == url)
            if group:
                current.update(_guids([a for s in group if (a := self._after(s, current)) is not None]))
            # Kept under the key: this URL's files, and those of any other URL with the same key (one pair in 2**64).
            kept = sorted(
                s
                for s in candidates
                if (a := self._after(s, current)) and a.published and packing.url_key(a.url) == key
            )
            url_changes[key] = (kept[0] if len(kept) == 1 else kept) if kept else None
        new = object.__new__(Index)
        new.generation = next(_generations)
        new._store = store
        numbers: dict[str, int | None] = {
            source: None if article is None else store.add(article) for source, article in current.items()
        }
        new._by_source = by_source.updated(numbers)
        new._by_url = self._by_url.updated(url_changes)
        new.unpublished_count = self.unpublished_count + sum(
            _unpublished(current[s]) - _unpublished(self._head(s)) for s in current
        )
        new._members = dict(self._members)
        new._info = dict(self._info)
        new._names = dict(self._names)
        affected: dict[FeedRef, _Change] = {}
        for source, article in current.items():
            old_number = by_source.get(source)
            old = None if old_number is None else store.head(old_number)
            old_refs, current_refs = feed_refs(old), feed_refs(article)
            for ref in old_refs | current_refs:
                change = affected.get(ref)
                if change is None:
                    change = affected[ref] = _Change(array("I", self._members.get(ref, _EMPTY)))
                if old is not None and old_number is not None and ref in old_refs:
                    _remove(store, change.members, old_number)
                    change.gone.append(old)
                new_number = numbers[source]
                if article is not None and new_number is not None and ref in current_refs:
                    insort(change.members, new_number, key=store.key)
                    change.added.append(article)
        revised, visible, removed = set(), set(), set()
        for ref, change in affected.items():
            members = change.members
            if not members and ref != ALL:
                new._members.pop(ref, None)
                new._info.pop(ref, None)
                new._names.pop(ref, None)
                removed.add(ref)
                continue
            before = self._members.get(ref, _EMPTY)
            new._members[ref] = members
            previous = self._info.get(ref)
            info = new._describe(ref, members, previous, change)
            same_header = previous is not None and (previous.name, previous.logo) == (info.name, info.logo)
            if previous is not None and same_header and _same_window(before, members, WINDOW):
                info = replace(info, revision=previous.revision)  # output unchanged: keep cache and ETag
            else:
                revised.add(ref)
                if not (same_header and _same_window(before, members, DEFAULT_WINDOW)):
                    visible.add(ref)
            new._info[ref] = info
        return new, IndexDiff(frozenset(revised), frozenset(visible), frozenset(removed))

    def _head(self, source: str) -> Head | None:
        """The head of the version of a file this index holds, if any."""
        number = self._by_source.get(source)
        return None if number is None else self._store.head(number)

    def _after(self, source: str, current: Mapping[str, Article | None]) -> Article | None:
        """A file's article once the changes are made."""
        if source in current:
            return current[source]
        number = self._by_source.get(source)
        return None if number is None else self._store.article(number)

    def _describe(self, ref: FeedRef, members: array[int], previous: FeedInfo | None, change: _Change) -> FeedInfo:
        """A changed feed's header: the most used name (counting only when spellings differ), the newest logo."""
        revision = self.generation
        newest = _newest(self._store, members)
        if ref.kind is FeedKind.ALL:
            return FeedInfo(ref, "", len(members), newest, None, revision, revision)
        added = _spellings(ref, change.added)
        names = self._names.get(ref)
        if names is not None or previous is None or set(added) - {previous.name}:
            if names is None:  # a new feed, or a second spelling: count every member's
                names = _spellings(ref, map(self._store.head, members))
            else:
                names = names + added  # Counter addition drops what falls to zero
                names.subtract(_spellings(ref, change.gone))
                names = +names
            name = _most_common(names)
            if len(names) > 1:
                self._names[ref] = names
            else:
                self._names.pop(ref, None)
        else:
            name = previous.name  # one spelling before and after
        logo = None
        if ref.kind is FeedKind.PROVIDER and (previous is None or previous.logo is not None or _has_logo(change.added)):
            logo = _first_logo(ref, map(self._store.head, members))
        return FeedInfo(ref, name, len(members), newest, logo, revision, revision)


@dataclass(slots=True)
class _Change:
    """One feed's new members during an apply, and the articles that came and went."""

    members: array[int]
    added: list[Article] = field(default_factory=list)
    gone: list[Head] = field(default_factory=list)


_EMPTY: array[int] = array("I")


def _spellings(ref: FeedRef, articles: Iterable[Article | Head | Packed]) -> Counter[str]:
    """How often each spelling of a feed's name occurs in these articles."""
    if ref.kind is FeedKind.TOPIC:
        return Counter(t.name for a in articles for t in a.topics if t.slug == ref.key)
    return Counter(a.provider.name for a in articles if a.provider is not None and a.provider.domain == ref.key)


def _first_logo(ref: FeedRef, articles: Iterable[Article | Head | Packed]) -> Image | None:
    """A provider feed's logo: the newest member's provider's first image."""
    if ref.kind is not FeedKind.PROVIDER:
        return None
    return next((a.provider.images[0] for a in articles if a.provider is not None and a.provider.images), None)


def _has_logo(articles: Iterable[Article]) -> bool:
    return any(a.provider is not None and a.provider.images for a in articles)


def _same_window(before: array[int], after: array[int], size: int) -> bool:
    """Whether a first page of ``size`` items is the same: its items, and whether older ones follow (rel="next")."""
    return before[:size] == after[:size] and (len(before) > size) == (len(after) > size)


def _group(
    listed: list[Packed], published: list[int]
) -> dict[FeedKind, dict[str, tuple[list[int], Topic | Provider, bool]]]:
    """The members of every topic and provider feed, in the order of ``published`` (article
    numbers: positions in ``listed``); for each, the first topic or provider seen, and whether
    another spelling was seen (articles from one loading worker's chunk share one object for
    each: most tests are identity).

    The articles are walked in the order listed, which is their order in memory, each noting
    its place in ``published``; each feed's places are sorted at the end. Walked newest first,
    they were read at random: at a million articles that took 4 of the 6 s of a full build.
    """
    place = [-1] * len(listed)
    for position, number in enumerate(published):
        place[number] = position
    groups: dict[FeedKind, dict[str, tuple[list[int], Topic | Provider, bool]]] = {
        FeedKind.TOPIC: {},
        FeedKind.PROVIDER: {},
    }
    topics, providers = groups[FeedKind.TOPIC], groups[FeedKind.PROVIDER]
    for position, article in zip(place, listed, strict=True):
        if position < 0:  # not published
            continue
        for topic in article.topics:
            group = topics.get(topic.slug)
            if group is None:
                topics[topic.slug] = ([position], topic, False)
            else:
                members, first, mixed = group
                if members[-1] != position:  # a topic listed twice counts once
                    members.append(position)
                if not mixed and topic is not first and topic != first:
                    topics[topic.slug] = (members, first, True)
        provider = article.provider
        if provider is not None and provider.domain:
            group = providers.get(provider.domain)
            if group is None:
                providers[provider.domain] = ([position], provider, False)
            else:
                group[0].append(position)
                if not group[2] and provider is not group[1] and provider != group[1]:
                    providers[provider.domain] = (group[0], group[1], True)
    for kind_groups in groups.values():
        for key, (places, first, mixed) in kind_groups.items():
            places.sort()
            kind_groups[key] = (list(map(published.__getitem__, places)), first, mixed)
    return groups


def _newest(store: Store, members: array[int]) -> datetime | None:
    return moment(store.published_us[members[0]]) if members else None


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


def keyed_urls(by_url: dict[str, list[str]]) -> dict[int, str | list[str]]:
    """The URL map by url_key: the files at each URL (one file: the file name itself)."""
    keyed: dict[int, str | list[str]] = {}
    for url, sources in by_url.items():
        key = packing.url_key(url)
        known = keyed.get(key)
        merged = (
            sorted(sources) if known is None else sorted({*sources, *([known] if isinstance(known, str) else known)})
        )
        keyed[key] = merged[0] if len(merged) == 1 else merged
    return keyed


def _urls(articles: Iterable[Article | Head | None]) -> set[str]:
    return {a.url for a in articles if a is not None and a.published}


def _members_after(store: Store, members: array[int], after: Position | None) -> Iterator[int]:
    """A feed's members strictly after a position (all of them for None), found by bisection."""
    start = 0 if after is None else bisect_right(members, after.key, key=store.key)
    return map(members.__getitem__, range(start, len(members)))


def _union(store: Store, streams: list[Iterator[int]]) -> Iterator[int]:
    """Several feeds' members merged into one order, each article once (it is in several topics)."""
    previous = None
    for number in merge(*streams, key=store.key):
        if number != previous:
            previous = number
            yield number


def _remove(store: Store, members: array[int], number: int) -> None:
    position = bisect_left(members, store.key(number), key=store.key)
    if position < len(members) and members[position] == number:
        del members[position]
    else:  # cannot happen while sort keys are unique (they include the file name)
        members.remove(number)


def _unpublished(article: Article | Head | None) -> int:
    return 1 if article is not None and not article.published else 0


def _with_fragment(url: str, name: str) -> str:
    """Add a name to a URL's fragment (a URL has at most one '#')."""
    base, hash_sign, fragment = url.partition("#")
    return f"{base}#{fragment}-{name}" if hash_sign and fragment else f"{base}#{name}"


def _most_common(names: Counter[str]) -> str:
    # Most used spelling wins; ties go to the alphabetically first, for stable output.
    return min(names.items(), key=lambda item: (-item[1], item[0]))[0] if names else ""
