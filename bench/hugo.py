"""Hugo as the peer: the same articles as a Hugo site that builds per-topic and
per-provider RSS (taxonomy term feeds only, no HTML pages).

Preparing the site (copying the articles with the two fields Hugo needs added)
is setup and is not timed; ``build`` times ``hugo`` itself.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import yaml

from feedsvc.content.folder import article_paths
from feedsvc.content.parse import split_front_matter

CONFIG = """\
baseURL = "https://feeds.example.com/"
# Term feeds only: no home, sections, sitemaps, and articles listed but not rendered.
disableKinds = ["home", "section", "sitemap", "robotsTXT", "404", "taxonomy"]
ignoreErrors = ["error-disable-taxonomy"]
[[cascade]]
  [cascade._build]
    render = "never"
    list = "always"
  [cascade._target]
    kind = "page"
[taxonomies]
  topic = "topics"
  provider = "providers"
[outputs]
  term = ["RSS"]
[services.rss]
  limit = 50
"""


def prepare(content: Path, site: Path) -> Path:
    """Write a Hugo site for the articles in ``content``; returns the site folder."""
    if site.exists():
        shutil.rmtree(site)
    posts = site / "content" / "posts"
    posts.mkdir(parents=True)
    (site / "hugo.toml").write_text(CONFIG)
    for path in article_paths(content):
        front, body = split_front_matter(path.read_text(encoding="utf-8"))
        data = yaml.safe_load(front) or {}
        data["date"] = data.get("publishedDateTime")  # Hugo's name for it; it honours `published` as is
        data["description"] = data.get("excerpt", "")
        provider = data.get("provider") or {}
        if provider.get("domain"):
            data["providers"] = [provider["domain"]]  # a taxonomy needs a top-level list
        text = "---\n" + yaml.safe_dump(data, sort_keys=False, allow_unicode=True) + "---\n" + body
        (posts / path.name).write_text(text, encoding="utf-8")
    return site


def build(site: Path, out: Path) -> float:
    """Run one Hugo build; return its wall time in seconds."""
    if out.exists():
        shutil.rmtree(out)
    started = time.perf_counter()
    subprocess.run(["hugo", "--quiet", "-s", str(site), "-d", str(out)], check=True, capture_output=True)
    return time.perf_counter() - started
