"""The index: every published article, and the feeds as queries over it.

An :class:`Index` is an immutable snapshot. A feed is a :class:`FeedRef`
(all, a topic or a provider); selecting it is a slice of a list kept sorted
newest first, so serving a feed costs O(limit) whatever the corpus size.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from itertools import count

from feedsvc.model import Article, Image
from feedsvc.text import slugify


class FeedKind(StrEnum):
    ALL = "all"
    TOPIC = "topics"
    PROVIDER = "providers"


@dataclass(frozen=True, slots=True)
class FeedRef:
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
    revision: int = 0  # changes whenever the feed's articles may have changed


_generations = count(1)


class Index:
    """Published articles, newest first, grouped by topic and by provider."""

    def __init__(self, articles: Iterable[Article], skipped_count: int = 0) -> None:
        everything = list(articles)
        self.generation = next(_generations)
        self.skipped_count = skipped_count
        self.unpublished_count = sum(1 for a in everything if not a.published)
        published = assign_guids(a for a in everything if a.published)
        self.articles: list[Article] = newest_first(published)
        self._members: dict[FeedRef, list[Article]] = {ALL: self.articles}
        for article in self.articles:  # already sorted, so every group is too
            for topic in article.topics:
                self._members.setdefault(FeedRef(FeedKind.TOPIC, topic.slug), []).append(article)
            if article.provider and article.provider.domain:
                self._members.setdefault(FeedRef(FeedKind.PROVIDER, article.provider.domain), []).append(article)
        self._info = {ref: self._describe(ref, members) for ref, members in self._members.items()}

    def info(self, ref: FeedRef) -> FeedInfo | None:
        """Given a feed, return its description, or None when there is no such feed."""
        return self._info.get(ref)

    def select(self, ref: FeedRef, limit: int) -> Sequence[Article]:
        """Given a feed and a limit, return its newest ``limit`` articles."""
        return self._members.get(ref, [])[:limit]

    def feeds(self, kind: FeedKind) -> list[FeedInfo]:
        """Every feed of one kind, sorted by name for people to read."""
        found = [info for ref, info in self._info.items() if ref.kind is kind]
        return sorted(found, key=lambda info: (info.name.lower(), info.ref.key))

    def _describe(self, ref: FeedRef, members: list[Article]) -> FeedInfo:
        updated = members[0].published_at if members else None
        if ref.kind is FeedKind.TOPIC:
            names = Counter(t.name for a in members for t in a.topics if t.slug == ref.key)
            return FeedInfo(ref, _most_common(names), len(members), updated, None, self.generation)
        if ref.kind is FeedKind.PROVIDER:
            providers = [a.provider for a in members if a.provider]
            names = Counter(p.name for p in providers)
            logo = next((p.images[0] for p in providers if p.images), None)
            return FeedInfo(ref, _most_common(names), len(members), updated, logo, self.generation)
        return FeedInfo(ref, "", len(members), updated, None, self.generation)


def newest_first(articles: Iterable[Article]) -> list[Article]:
    """Sort newest first; equal dates keep the order of their file names."""
    by_source = sorted(articles, key=lambda a: a.source)
    return sorted(by_source, key=lambda a: a.published_at, reverse=True)  # stable


def assign_guids(articles: Iterable[Article]) -> list[Article]:
    """Give every article a unique guid: its URL, or for a second article
    with the same URL, the URL plus a fragment naming its file.

    The earliest article keeps the bare URL, so adding a newer duplicate
    never changes the guid readers already have.
    """
    by_url: dict[str, list[Article]] = defaultdict(list)
    for article in articles:
        by_url[article.url].append(article)
    result = []
    for url, group in by_url.items():
        group.sort(key=lambda a: (a.published_at, a.source))
        result.append(replace(group[0], guid=url))
        result.extend(replace(a, guid=_with_fragment(url, slugify(a.source))) for a in group[1:])
    return result


def _with_fragment(url: str, name: str) -> str:
    """Add a name to a URL's fragment (a URL has at most one '#')."""
    base, hash_sign, fragment = url.partition("#")
    return f"{base}#{fragment}-{name}" if hash_sign and fragment else f"{base}#{name}"


def _most_common(names: Counter[str]) -> str:
    # Most used spelling wins; ties go to the alphabetically first, for stable output.
    return min(names.items(), key=lambda item: (-item[1], item[0]))[0] if names else ""
