"""Static export: every feed in every format, as files for any static host or CDN.

    feedsvc build OUT --base-url https://feeds.example.com [--content DIR] [--gzip]

The layout mirrors the URL contract (``feeds/topics/ai.rss`` ...), plus
``feeds.opml``, ``index.html``, a page per topic and provider
(``topics/ai/index.html``), ``robots.txt`` and the favicon, so the export can
be served as it is. It is written to a temporary folder next to OUT and
swapped in at the end: a reader of OUT never sees half an export.

An export replaces OUT as a whole, so it must never take anything with it
that it did not write. Each export leaves a manifest (``.feedsvc-build``)
listing every file it wrote; OUT is replaced only when it is missing, empty,
or holds exactly the files its manifest lists. Anything else (a folder of
someone else's files, a file added by hand to an old export, the content
folder itself) is refused before anything is written.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from cachetools import LRUCache

from feedsvc.content.model import Article
from feedsvc.core.index import ALL, FeedKind, FeedRef, Index
from feedsvc.render import FORMATS
from feedsvc.render.compress import gzipped
from feedsvc.render.jsonfeed import json_item
from feedsvc.render.opml import render_opml
from feedsvc.render.pages import SITE_FILES, render_feed_page, render_home, static_file
from feedsvc.render.spec import COVER, Site, feed_spec
from feedsvc.render.stylesheet import STYLESHEET, stylesheet_bytes
from feedsvc.render.urls import DEFAULT_LIMIT, Urls
from feedsvc.render.xmlfeeds import ItemRenderer, atom_entry, rss_item_renderer

log = logging.getLogger(__name__)

MANIFEST = ".feedsvc-build"
_SHOWN = 5  # foreign files named in a refusal
# Characters of rendered items each format keeps for the feeds still to come (SharedItems):
# ~16 MB of mostly ASCII text, more than the most any corpus measured needed (~13 M at 100,000).
ITEM_BUDGET = 16 * 1024 * 1024


class ExportRefused(Exception):
    """OUT holds something this export would destroy; nothing was written."""


@dataclass(frozen=True, slots=True)
class ExportResult:
    files: int
    bytes: int


def check_out(out: Path, keep: dict[str, Path]) -> None:
    """Raise ExportRefused unless replacing ``out`` can only remove an earlier export.

    ``keep`` names folders and files that must survive (the content folder,
    the snapshot), by what they are: OUT may neither be nor hold them, nor
    lie inside them.
    """
    out = out.resolve()
    for what, path in keep.items():
        path = path.resolve()
        if path == out or out in path.parents:
            raise ExportRefused(f"{out} holds the {what} ({path}): choose an output folder outside it")
        if path in out.parents:
            raise ExportRefused(f"{out} is inside the {what} ({path}): choose an output folder outside it")
    if not out.exists() and not out.is_symlink():
        return
    if not out.is_dir():
        raise ExportRefused(f"{out} exists and is not a folder: remove it or choose another output folder")
    present = _files_below(out)
    if not present:
        return
    written = _manifest(out)
    if written is None:
        raise ExportRefused(
            f"{out} is not empty and was not written by feedsvc build (no {MANIFEST} in it): "
            "choose an empty or new folder"
        )
    foreign = sorted(present - _with_folders(set(written)) - {MANIFEST})
    foreign += sorted(f"{name} (changed since it was written)" for name in _edited(out, written))
    if foreign:
        shown = ", ".join(foreign[:_SHOWN]) + (f" and {len(foreign) - _SHOWN} more" if len(foreign) > _SHOWN else "")
        raise ExportRefused(
            f"{out} holds {len(foreign)} file(s) or folder(s) an earlier build did not write ({shown}); "
            "a rebuild replaces the whole folder, so move them out first"
        )


def _files_below(folder: Path) -> set[str]:
    """Every entry below ``folder`` as a relative POSIX path, folders with a trailing "/"."""
    found: set[str] = set()
    for root, dirs, files in os.walk(folder):
        relative = Path(root).relative_to(folder)
        # A symlink to a folder is listed in dirs but not walked: it is an entry like a file.
        for name in dirs:
            link = os.path.islink(os.path.join(root, name))
            found.add((relative / name).as_posix() + ("" if link else "/"))
        found.update((relative / name).as_posix() for name in files)
    return found


def _with_folders(files: set[str]) -> set[str]:
    """The files, plus every folder that holds one (with a trailing "/")."""
    folders = {f"{parent.as_posix()}/" for name in files for parent in Path(name).parents if parent != Path(".")}
    return files | folders


def _manifest(out: Path) -> dict[str, list[int]] | None:
    """The files an earlier export listed in its manifest, with the [size, mtime_ns] each
    had when written; None if there is no manifest to trust."""
    try:
        listed = json.loads((out / MANIFEST).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(listed, dict) or not all(
        isinstance(stamp, list) and len(stamp) == 2 and all(isinstance(n, int) for n in stamp)
        for stamp in listed.values()
    ):
        return None
    return listed


def _stamp(path: Path) -> list[int]:
    status = path.lstat()
    return [status.st_size, status.st_mtime_ns]


def _edited(out: Path, written: dict[str, list[int]]) -> list[str]:
    """Files of an earlier export that someone changed since (an index.html edited by hand, say)."""
    edited = []
    for name, stamp in written.items():
        try:
            if _stamp(out / name) != stamp:
                edited.append(name)
        except OSError:
            continue  # gone: nothing to lose
    return edited


def export(
    index: Index, site: Site, base_url: str, out: Path, compress: bool = False, keep: dict[str, Path] | None = None
) -> ExportResult:
    """Write every feed, the OPML list and the pages (home, topics, providers) below ``out``.

    Raises ExportRefused, having written nothing, when ``out`` holds files an
    earlier export did not write (see check_out).
    """
    check_out(out, keep or {})
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        result = _write_all(index, site, Urls(base_url), staging, compress)
        # Checked again at the last moment: files may have been added while the export was written.
        check_out(out, keep or {})
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result


def _write_all(index: Index, site: Site, urls: Urls, root: Path, compress: bool) -> ExportResult:
    written = [0, 0]
    names: list[str] = []

    def write(relative: str, data: bytes) -> None:
        path = root / relative
        path.write_bytes(data)
        names.append(relative)
        written[0] += 1
        written[1] += len(data)
        if compress:
            (root / f"{relative}.gz").write_bytes(gzipped(data))
            names.append(f"{relative}.gz")
            written[0] += 1

    (root / "feeds" / "topics").mkdir(parents=True)
    (root / "feeds" / "providers").mkdir(parents=True)
    refs = [ALL] + [info.ref for kind in (FeedKind.TOPIC, FeedKind.PROVIDER) for info in index.feeds(kind)]
    uses = _uses(index, refs)
    shared = {extension: _shared_items(extension, site, uses) for extension in FORMATS}
    for ref in refs:
        info = index.info(ref)
        assert info is not None
        articles = index.select(ref, DEFAULT_LIMIT)  # made from their records once, for every format
        for extension, fmt in FORMATS.items():
            spec = feed_spec(info, site, urls, extension, DEFAULT_LIMIT, articles)
            write(f"feeds/{ref.path}.{extension}", fmt.render(spec, articles, shared[extension]))
    for extension, items in shared.items():
        if items is not None:
            log.debug("%s items: %s", extension, items.summary())
    formats = list(FORMATS.values())
    write("feeds.opml", render_opml(index, site, urls, formats))
    write("index.html", render_home(index, site, urls, formats))
    if site.image is None:  # the feeds name the service's own cover art
        write(COVER, static_file(COVER))
    # The feeds name it root-relative: served from OUT's root, they show as pages in a browser.
    write(STYLESHEET, stylesheet_bytes())
    # A page per topic and provider as an index.html in a folder named like its URL
    # (topics/ai/index.html for /topics/ai), which every static server finds.
    for kind in (FeedKind.TOPIC, FeedKind.PROVIDER):
        for info in index.feeds(kind):
            page = render_feed_page(index, info.ref, site, urls, formats)
            assert page is not None
            (root / info.ref.path).mkdir(parents=True)
            write(f"{info.ref.path}/index.html", page)
    for name in SITE_FILES:
        write(name, static_file(name))
    # Written last: its presence says every file it lists was written by this export,
    # with the size and mtime each had, so that a later edit by hand is noticed too.
    stamps = {name: _stamp(root / name) for name in sorted(names)}
    (root / MANIFEST).write_text(json.dumps({"files": stamps}, separators=(",", ":")), encoding="utf-8")
    return ExportResult(written[0], written[1])


def _item_renderer(extension: str, site: Site) -> ItemRenderer | None:
    """The item renderer each feed of a format would use by itself (see render_rss); None for a
    format whose items are not known here (each of its feeds then renders its own)."""
    renderers: dict[str, ItemRenderer] = {"rss": rss_item_renderer(site.podcast), "atom": atom_entry, "json": json_item}
    return renderers.get(extension)


def _shared_items(extension: str, site: Site, uses: Counter[str]) -> SharedItems | None:
    known = _item_renderer(extension, site)
    return None if known is None else SharedItems(known, uses)


def _uses(index: Index, refs: list[FeedRef]) -> Counter[str]:
    """How many of the feeds ``refs`` carry each article (by source), at the default limit."""
    return Counter(source for ref in refs for source in index.selected_sources(ref, DEFAULT_LIMIT))


class SharedItems:
    """An item renderer that renders an item carried by several feeds once, for one format.

    An item is kept only while feeds still to come carry it (``uses`` counts
    them; it is dropped after its last use, and an item of one feed is never
    kept), and at most ``budget`` characters of items are kept at once, the
    least recently used going first. So the memory is bounded whatever the
    folder's size, and the order of the feeds decides only how often an item
    is rendered again. Measured at 100,000 articles: at most ~13 M characters
    (6,000 items) kept at once per format, where keeping every item to the
    end held all 37,000 rendered, ~77 M.
    """

    def __init__(self, render: ItemRenderer, uses: Counter[str], budget: int = ITEM_BUDGET) -> None:
        self._render = render
        self._left = Counter(uses)
        self._kept: LRUCache[str, str] = LRUCache(maxsize=budget, getsizeof=len)
        self.rendered = self.reused = self.peak = 0

    def __call__(self, article: Article, urls: Urls) -> str:
        source = article.source
        self._left[source] -= 1
        last = self._left[source] <= 0
        found = self._kept.pop(source, None) if last else self._kept.get(source)
        if found is not None:
            self.reused += 1
            return found
        self.rendered += 1
        found = self._render(article, urls)
        if not last and len(found) <= self._kept.maxsize:
            self._kept[source] = found
            self.peak = max(self.peak, int(self._kept.currsize))
        return found

    @property
    def kept(self) -> int:
        """Characters of items kept now."""
        return int(self._kept.currsize)

    def summary(self) -> str:
        calls = self.rendered + self.reused
        share = self.reused / calls if calls else 0.0
        return (
            f"{self.rendered:,} rendered, {self.reused:,} reused ({share:.0%}), "
            f"at most {self.peak / 1e6:.1f} M characters kept"
        )


def _swap_in(staging: Path, out: Path) -> None:
    """Replace ``out`` with ``staging`` (two renames; the old export is removed last).

    The old export is moved to a fresh private name first, so removing it can
    never touch a folder that happened to be called like it.
    """
    os.chmod(staging, 0o755)  # noqa: S103 - mkdtemp makes it private; an export is for publishing
    if out.exists() and next(out.iterdir(), None) is not None:
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
        out.rename(old / out.name)
        staging.rename(out)
        shutil.rmtree(old)
    else:
        if out.exists():
            out.rmdir()  # empty: nothing of anyone's is lost
        staging.rename(out)
