"""Archive pages: the first page of a feed against a deep one, on a synthetic index.

    python -m bench.archive [--count 100000] [--repeat 2000]

Selection only (Index.page), and a whole render of the same pages, at the
default 50 items: keyset pages find their start by bisection, so the last
page should cost what the first costs. Also a filter (?q=) and a union of
two topics, which read on from the start until the page is full.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from feedsvc.content.model import Article, Provider, Topic
from feedsvc.core.index import ALL, FeedKind, FeedRef, Index
from feedsvc.core.query import FeedQuery, Filters
from feedsvc.render.spec import Site, feed_spec
from feedsvc.render.urls import Urls
from feedsvc.render.xmlfeeds import render_rss

START = datetime(2020, 1, 1, tzinfo=UTC)
TOPICS = [Topic(f"Topic {n}", f"topic-{n}") for n in range(100)]
PROVIDERS = [Provider(f"Provider {n}", f"p{n}.example") for n in range(1000)]


def synthetic(count: int) -> Index:
    """``count`` articles a minute apart, each in two of 100 topics and one of 1,000 providers."""
    articles = []
    for n in range(count):
        moment = START + timedelta(minutes=n)
        articles.append(
            Article(
                f"{n:07d}.md",
                f"Article number {n} about things",
                f"https://example.org/{n}",
                moment,
                moment,
                excerpt=f"The excerpt of article {n}.",
                provider=PROVIDERS[n % len(PROVIDERS)],
                topics=(TOPICS[n % len(TOPICS)], TOPICS[(n * 7 + 3) % len(TOPICS)]),
            )
        )
    return Index(articles)


def per_call(work: Callable[[], object], repeat: int) -> float:
    """Microseconds per call, the best of three runs of ``repeat`` calls."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(repeat):
            work()
        best = min(best, (time.perf_counter() - started) / repeat)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2_000)
    args = parser.parse_args()
    started = time.perf_counter()
    index = synthetic(args.count)
    print(f"index of {args.count:,} articles built in {time.perf_counter() - started:.2f} s")
    site, urls = Site(), Urls("https://feeds.example.com")
    info = index.info(ALL)
    assert info is not None
    first = FeedQuery((ALL,))
    deep = first.next(index.articles[-51])  # the last page: the 50 oldest articles
    union = FeedQuery((FeedRef(FeedKind.TOPIC, "topic-1"), FeedRef(FeedKind.TOPIC, "topic-2")))
    rare = FeedQuery((ALL,), filters=Filters(text="number 7"))
    rows = [("first page", first), ("last page", deep), ("union of 2 topics", union), ("?q= filter", rare)]
    print(f"{'':24}{'select µs':>12}{'select+render µs':>20}")
    for name, query in rows:

        def select(query: FeedQuery = query) -> object:
            return index.page(query)

        def render(query: FeedQuery = query) -> object:
            items, more = index.page(query)
            return render_rss(feed_spec(info, site, urls, "rss", query.limit, items, query, more), items)

        items, _ = index.page(query)
        assert len(items) == 50, (name, len(items))
        print(f"{name:24}{per_call(select, args.repeat):12.1f}{per_call(render, max(args.repeat // 20, 10)):20.1f}")


if __name__ == "__main__":
    main()
