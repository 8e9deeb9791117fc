"""The home page: every topic and provider with counts and feed links."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

from feedsvc.core.index import ALL, FeedKind, Index
from feedsvc.render import FeedFormat
from feedsvc.render.spec import Site, feed_spec
from feedsvc.render.urls import Urls, anchor

if TYPE_CHECKING:
    from jinja2 import Environment


@cache
def _templates() -> Environment:
    """The template environment, made on first use (keeps jinja2 off the start-up path)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(
        loader=PackageLoader("feedsvc", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_home(index: Index, site: Site, urls: Urls, formats: Sequence[FeedFormat]) -> bytes:
    """Given the index, return the HTML home page as UTF-8 bytes."""
    all_info = index.info(ALL)
    assert all_info is not None

    def rows(kind: FeedKind) -> list[dict[str, object]]:
        return [
            {
                "name": info.name,
                "key": info.ref.key,
                "anchor": anchor(info.ref),
                "count": info.count,
                "updated": info.updated,
                "links": [(fmt.label, urls.feed(info.ref, fmt.extension)) for fmt in formats],
            }
            for info in index.feeds(kind)
        ]

    page = (
        _templates()
        .get_template("home.html")
        .render(
            site=site,
            all_count=all_info.count,
            updated=all_info.updated,
            alternates=[(fmt, feed_spec(all_info, site, urls, fmt.extension)) for fmt in formats],
            opml_url=urls.opml(),
            topics=rows(FeedKind.TOPIC),
            providers=rows(FeedKind.PROVIDER),
        )
    )
    return page.encode("utf-8")
