"""Static export: every feed in every format, as files for any static host or CDN.

    feedsvc build OUT --base-url https://feeds.example.com [--content DIR] [--gzip]

The layout mirrors the URL contract (``feeds/topics/ai.rss`` ...), plus
``feeds.opml`` and ``index.html``, so the export can be served as it is. It
is written to a temporary folder next to OUT and swapped in at the end: a
reader of OUT never sees half an export.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from feedsvc.index import ALL, FeedKind, Index
from feedsvc.model import Article
from feedsvc.render import FORMATS
from feedsvc.render.home import render_home
from feedsvc.render.opml import render_opml
from feedsvc.render.spec import Site, feed_spec
from feedsvc.render.xmlfeeds import atom_entry, rss_item
from feedsvc.urls import DEFAULT_LIMIT, Urls
from feedsvc.web.conditional import gzipped

ITEM_RENDERERS = {"rss": rss_item, "atom": atom_entry}


@dataclass(frozen=True, slots=True)
class ExportResult:
    files: int
    bytes: int


def export(index: Index, site: Site, base_url: str, out: Path, compress: bool = False) -> ExportResult:
    """Write every feed, the OPML list and the home page below ``out``."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        result = _write_all(index, site, Urls(base_url), staging, compress)
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result


def _write_all(index: Index, site: Site, urls: Urls, root: Path, compress: bool) -> ExportResult:
    written = [0, 0]

    def write(relative: str, data: bytes) -> None:
        path = root / relative
        path.write_bytes(data)
        written[0] += 1
        written[1] += len(data)
        if compress:
            (root / f"{relative}.gz").write_bytes(gzipped(data))
            written[0] += 1

    (root / "feeds" / "topics").mkdir(parents=True)
    (root / "feeds" / "providers").mkdir(parents=True)
    refs = [ALL] + [info.ref for kind in (FeedKind.TOPIC, FeedKind.PROVIDER) for info in index.feeds(kind)]
    for extension, fmt in FORMATS.items():
        # An article appears in several feeds; render its item once per format.
        memo: dict[str, str] = {}
        item = _memoized(ITEM_RENDERERS[extension], memo)
        for ref in refs:
            info = index.info(ref)
            assert info is not None
            articles = index.select(ref, DEFAULT_LIMIT)
            spec = feed_spec(info, site, urls, extension, DEFAULT_LIMIT, articles)
            write(f"feeds/{ref.path}.{extension}", fmt.render(spec, articles, item))
    formats = list(FORMATS.values())
    write("feeds.opml", render_opml(index, site, urls, formats))
    write("index.html", render_home(index, site, urls, formats))
    return ExportResult(written[0], written[1])


def _memoized(render: Callable[[Article, Urls], str], memo: dict[str, str]) -> Callable[[Article, Urls], str]:
    def item(article: Article, urls: Urls) -> str:
        found = memo.get(article.source)
        if found is None:
            found = memo[article.source] = render(article, urls)
        return found

    return item


def _swap_in(staging: Path, out: Path) -> None:
    """Replace ``out`` with ``staging`` (two renames; the old export is removed last)."""
    os.chmod(staging, 0o755)  # noqa: S103 - mkdtemp makes it private; an export is for publishing
    if out.exists():
        old = out.with_name(f".{out.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
        staging.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(out)
