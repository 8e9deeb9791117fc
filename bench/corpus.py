"""Build a synthetic-but-realistic content folder of N articles from the real corpus.

    python -m bench.corpus OUT --count 20000 [--seed 1] [--source ../shared/corpus/everyday-powerapps]

Real titles, excerpts and images from the source articles; URLs made unique;
dates spread over five years; a few hundred topics and a few thousand
providers with Zipf-like popularity; about 30% with related lists and 10%
unpublished. The same seed and count always give the same files.
"""

from __future__ import annotations

import argparse
import random
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from feedsvc.content.folder import article_paths
from feedsvc.content.parse import load_yaml, split_front_matter

DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "everyday-powerapps"
START = datetime(2020, 1, 1, tzinfo=UTC)
FIVE_YEARS = timedelta(days=5 * 365)


def read_sources(source: Path) -> list[dict[str, Any]]:
    """The front matter of every real article, as dicts."""
    found = []
    for path in article_paths(source):
        front, _ = split_front_matter(path.read_text(encoding="utf-8"))
        found.append(load_yaml(front))
    return found


def zipf_weights(count: int, exponent: float = 1.1) -> list[float]:
    return [1 / (rank**exponent) for rank in range(1, count + 1)]


def generate(out: Path, count: int, seed: int = 1, source: Path = DEFAULT_SOURCE) -> Path:
    """Write ``count`` article files into ``out`` (emptied first); return ``out``."""
    rng = random.Random(seed)
    originals = read_sources(source)
    topics = [f"Topic {i:03d} {rng.choice(['AI', 'Cloud', 'Data', 'Apps', 'Security', 'Dev'])}" for i in range(300)]
    providers = [(f"Provider {i:04d}", f"provider-{i:04d}.example.com") for i in range(3000)]
    topic_weights, provider_weights = zipf_weights(len(topics)), zipf_weights(len(providers))
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for number in range(count):
        base = rng.choice(originals)
        name, domain = rng.choices(providers, provider_weights)[0]
        when = START + timedelta(seconds=rng.randrange(int(FIVE_YEARS.total_seconds())))
        slug = f"article-{number:06d}"
        data: dict[str, Any] = {
            "category": "news",
            "title": f"{base['title']} ({number})",
            "excerpt": base.get("excerpt", ""),
            "publishedDateTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "originalUrl": f"https://{domain}/{when:%Y/%m}/{slug}",
            "webUrl": f"https://{domain}/{when:%Y/%m}/{slug}",
            "type": base.get("type", "article"),
            "published": rng.random() >= 0.10,
            "provider": {
                "name": name,
                "domain": domain,
                "images": [{"url": f"https://cdn.example.com/logos/{domain}-50x50.jpg", "width": 50, "height": 50}],
            },
            "topics": sorted(set(rng.choices(topics, topic_weights, k=rng.randint(1, 3)))),
            "images": base.get("images", []),
            "secured": "opaque",
        }
        if rng.random() < 0.30:
            data["related"] = [_related(rng, originals, providers) for _ in range(rng.randint(1, 4))]
        text = "---\n" + yaml.safe_dump(data, sort_keys=False, allow_unicode=True) + "---\n"
        (out / f"{slug}.md").write_text(text, encoding="utf-8")
    return out


def _related(rng: random.Random, originals: list[dict[str, Any]], providers: list[tuple[str, str]]) -> dict[str, Any]:
    base = rng.choice(originals)
    name, domain = rng.choice(providers)
    return {
        "title": base["title"],
        "excerpt": base.get("excerpt", ""),
        "publishedDateTime": base["publishedDateTime"].strftime("%Y-%m-%dT%H:%M:%SZ")
        if isinstance(base["publishedDateTime"], datetime)
        else str(base["publishedDateTime"]),
        "webUrl": f"https://{domain}/related/{rng.randrange(10**9)}",
        "type": "article",
        "provider": {"name": name, "domain": domain},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    args = parser.parse_args()
    generate(args.out, args.count, args.seed, args.source)
    print(f"wrote {args.count} articles to {args.out}")


if __name__ == "__main__":
    main()
