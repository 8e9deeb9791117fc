"""Command line: ``feedsvc serve`` and ``feedsvc check``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from feedsvc import __version__
from feedsvc.loader import load_folder
from feedsvc.settings import SETTINGS, ConfigError, check_content, load_settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="feedsvc", description="RSS and Atom feeds from a folder of articles.")
    parser.add_argument("--version", action="version", version=f"feedsvc {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the feeds over HTTP")
    for setting in SETTINGS:
        default = "unset" if setting.default in (None, ()) else setting.default
        serve.add_argument(
            setting.flag, dest=setting.name, default=None, help=f"{setting.help} [{setting.env}; default: {default}]"
        )
    check = commands.add_parser(
        "check",
        help="report every article file that cannot be published (exit 1) or is published with parts left out",
    )
    check.add_argument("content", type=Path, help="the content folder")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "check":
        return check(args.content)
    return serve(vars(args))


def check(content: Path) -> int:
    """Print every problem in a content folder; non-zero exit if there is any."""
    try:
        check_content(content)
    except ConfigError as exc:
        print(f"feedsvc check: {exc}", file=sys.stderr)
        return 2
    result = load_folder(content, log_skipped=False)  # printed below instead
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
    import uvicorn

    from feedsvc.web.app import create_app

    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    # "auto" picks uvloop and httptools when installed (uvicorn[standard]).
    uvicorn.run(app, host=settings.host, port=settings.port, loop="auto", http="auto", log_level=settings.log_level)
    return 0
