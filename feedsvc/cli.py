"""Command line: ``feedsvc serve``, ``build``, ``check`` and ``config``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from feedsvc import __version__
from feedsvc.content.loader import load_folder
from feedsvc.memory import collect_from_now
from feedsvc.progress import reporting
from feedsvc.settings import (
    CONFIG_ENV,
    DEFAULT_ORIGIN,
    SECRETS,
    SETTINGS,
    ConfigError,
    check_content,
    load_settings,
    resolve,
)

CONFIG_HELP = f"a TOML file of settings, keys named as the flags (base-url = ...) [{CONFIG_ENV}]"


def _add_settings(parser: argparse.ArgumentParser) -> None:
    """Every setting as a flag, and --config."""
    parser.add_argument("--config", default=None, help=CONFIG_HELP)
    for setting in SETTINGS:
        default = "unset" if setting.default in (None, ()) else setting.default
        parser.add_argument(
            setting.flag, dest=setting.name, default=None, help=f"{setting.help} [{setting.env}; default: {default}]"
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="feedsvc", description="RSS and Atom feeds from a folder of articles.")
    parser.add_argument("--version", action="version", version=f"feedsvc {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_settings(commands.add_parser("serve", help="serve the feeds over HTTP"))
    _add_settings(
        commands.add_parser(
            "config",
            help="print the effective configuration and where each value came from (flag, environment, file, default)",
        )
    )
    build = commands.add_parser("build", help="write every feed in every format to a folder, for a static host or CDN")
    build.add_argument(
        "out",
        type=Path,
        help="a new or empty folder, or an earlier export (replaced as a whole when the new one is complete)",
    )
    build.add_argument(
        "--content", type=Path, default=None, help="the content folder [FEEDSVC_CONTENT; default: seeds]"
    )
    build.add_argument("--base-url", default=None, help="public URL the export will be served at [FEEDSVC_BASE_URL]")
    build.add_argument("--gzip", action="store_true", help="also write a .gz next to every file (nginx gzip_static)")
    build.add_argument("--config", default=None, help=CONFIG_HELP)
    check = commands.add_parser(
        "check",
        help="report every article file that cannot be published (exit 1) or is published with parts left out",
    )
    check.add_argument("content", type=Path, help="the content folder")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command != "serve":
        collect_from_now()  # serve does, once it is ready
    if args.command == "check":
        return check(args.content)
    if args.command == "build":
        return build(args.out, args.content, args.base_url, args.gzip, args.config)
    if args.command == "config":
        return show_config(vars(args))
    return serve(vars(args))


def show_config(given: dict[str, str | None]) -> int:
    """Print each setting's effective value and its source; secrets masked."""
    try:
        resolved = resolve(given, os.environ)
        load_settings(given, os.environ)  # and the checks across settings that start-up makes
    except ConfigError as exc:
        print(f"feedsvc config: {exc}", file=sys.stderr)
        return 2
    rows = []
    for setting in SETTINGS:
        value, origin = resolved[setting.name]
        shown = _shown(value)
        if setting.name in SECRETS and value is not None:
            shown = "******** (set)"
        rows.append((setting.flag[2:], shown, origin))
    width = max(len(name) for name, _, _ in rows)
    shown_width = min(max(len(shown) for _, shown, _ in rows), 48)
    for name, shown, origin in rows:
        print(f"{name:<{width}}  {shown:<{shown_width}}  {origin if origin != DEFAULT_ORIGIN else '(default)'}")
    return 0


def _shown(value: object) -> str:
    """A value as its flag would take it."""
    if value is None:
        return "unset"
    if isinstance(value, tuple):
        return ",".join(str(item) for item in value) or "unset"
    return str(value)


def build(out: Path, content: Path | None, base_url: str | None, compress: bool, config: str | None = None) -> int:
    """Export every feed to ``out``; feeds need a base URL for their absolute links."""
    given = {"content": str(content) if content else None, "base_url": base_url, "config": config}
    try:
        settings = load_settings(given, os.environ)
    except ConfigError as exc:
        print(f"feedsvc build: {exc}", file=sys.stderr)
        return 2
    if settings.base_url is None:
        print(
            "feedsvc build: --base-url / FEEDSVC_BASE_URL: required, the public URL the export is served at",
            file=sys.stderr,
        )
        return 2
    from feedsvc.core.publisher import Publisher
    from feedsvc.core.snapshot import path_for
    from feedsvc.export import ExportRefused, check_out, export
    from feedsvc.render.spec import Site

    path = path_for(settings)
    keep = {"content folder": settings.content} | ({"snapshot": path} if path is not None else {})
    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    try:
        check_out(out, keep)  # before the load too: refuse at once
        publisher = Publisher(settings.content)
        if publisher.load(path) == "full" and path is not None:
            publisher.save_snapshot(path)  # the next build re-reads only what changed
        site = Site.from_settings(settings)
        result = export(publisher.index, site, settings.base_url, out, compress, keep)
    except ExportRefused as exc:
        print(f"feedsvc build: refused: {exc}", file=sys.stderr)
        return 2
    # A build from the snapshot logs no skipped file (they were logged when it was made): count them here.
    skipped = len(publisher.skipped)
    print(
        f"wrote {result.files} files ({result.bytes / 1e6:.1f} MB) to {out} in {time.perf_counter() - started:.2f}s"
        + (f"; {skipped} content file(s) skipped for errors (feedsvc check lists them)" if skipped else ""),
        file=sys.stderr,
    )
    return 0


def check(content: Path) -> int:
    """Print every problem in a content folder; non-zero exit if there is any."""
    try:
        check_content(content)
    except ConfigError as exc:
        print(f"feedsvc check: {exc}", file=sys.stderr)
        return 2
    with reporting(f"checking {content}") as progress:
        result = load_folder(content, log_skipped=False, progress=progress)  # printed below instead
    for skipped in result.skipped:
        print(skipped)
    partial = [article for article in result.articles if article.warnings]
    for article in partial:
        for warning in article.warnings:
            print(f"{article.source}: warning: {warning}")
    published = sum(1 for article in result.articles if article.published)
    print(
        f"{len(result.articles) + len(result.skipped)} files: {published} published, "
        f"{len(result.articles) - published} unpublished, {len(result.skipped)} skipped because of errors, "
        f"{len(partial)} published with parts left out",
        file=sys.stderr,
    )
    return 1 if result.skipped else 0


def serve(given: dict[str, str | None]) -> int:
    try:
        settings = load_settings(given, os.environ)
    except ConfigError as exc:
        print(f"feedsvc: {exc}", file=sys.stderr)
        return 2
    from feedsvc.app import serving_app
    from feedsvc.web.server import serve as serve_http

    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    app = serving_app(settings)
    collect_from_now()
    # uvicorn with uvloop and httptools, bounded per client (web/server.py).
    return serve_http(app, settings)
