"""Bad input at scale (issue 13): a big folder with a few broken files among the good ones
loads every good file and reports each broken file exactly once, by name and reason."""

from __future__ import annotations

import logging
import random
from collections import Counter
from pathlib import Path

import pytest

from feedsvc.cli import main
from feedsvc.content.loader import MAX_FILE_BYTES, PARALLEL_THRESHOLD, LoadResult, load_folder

from .conftest import article, front_matter

GOOD = 3000
FOLDERS = 6  # files spread over sub-folders, as a big archive is
# Every way a file can be broken, with what its reason must say.
BROKEN: dict[str, tuple[bytes, str]] = {
    "bad-yaml": (b"---\ntitle: [never closed\nwebUrl: https://example.org/x\n---\n", "front matter is not valid YAML"),
    "tab-indent": (b"---\ntitle: x\n\tprovider: y\n---\n", "front matter is not valid YAML"),
    "no-title": (front_matter(article(title=None)).encode(), "title: missing"),
    "no-date": (front_matter(article("Undated", publishedDateTime=None)).encode(), "publishedDateTime: missing"),
    "bad-date": (front_matter(article("Dated", publishedDateTime="yesterday")).encode(), "not a date and time"),
    "no-url": (front_matter(article("Nowhere", webUrl=None)).encode(), "webUrl"),
    "binary": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)), "not UTF-8 text"),
    "empty": (b"", "no front matter"),
    "no-front-matter": (b"Just some prose, no front matter at all.\n", "no front matter"),
    "unclosed": (b"---\ntitle: x\n", "no front matter"),
    "python-tag": (b'---\ntitle: !!python/object/apply:os.system ["echo pwned"]\n---\n', "could not determine"),
    "list-not-map": (b"---\n- a\n- b\n---\n", "front matter"),
    "huge": (b"---\ntitle: big\n---\n" + b"x" * MAX_FILE_BYTES, "larger than"),
}
EVERY = 100  # about 1% broken


def _good(number: int) -> bytes:
    # Written out rather than dumped with PyYAML: a tenth of the time, for thousands of files.
    return (
        f"---\ntitle: Article {number}\nexcerpt: About article {number}.\n"
        f"publishedDateTime: 2024-{number % 12 + 1:02d}-{number % 28 + 1:02d}T{number % 24:02d}:{number % 60:02d}:00Z\n"
        f"webUrl: https://example.org/a/{number}\n"
        f"provider:\n  name: Provider {number % 11}\n  domain: p{number % 11}.example.org\n"
        f"topics:\n  - Topic {number % 7}\n---\n"
    ).encode()


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str], dict[str, str]]:
    """A folder of GOOD good files with one broken file every EVERY files, of every kind
    in turn; returns it, the good files' names and each broken file's expected reason."""
    folder = tmp_path_factory.mktemp("archive")
    rng = random.Random(13)
    good: set[str] = set()
    broken: dict[str, str] = {}
    kinds = list(BROKEN.items())
    for number in range(GOOD + GOOD // EVERY):
        sub = f"{number // 7 % FOLDERS:02d}"
        (folder / sub).mkdir(exist_ok=True)
        if number % EVERY == EVERY // 2:
            kind, (data, reason) = kinds[len(broken) % len(kinds)]
            name = f"{sub}/{number:05d}-{kind}.md"
            if kind == "binary":
                data += rng.randbytes(64)
            broken[name] = reason
        else:
            name, data = f"{sub}/{number:05d}.md", _good(number)
            good.add(name)
        (folder / name).write_bytes(data)
    assert len(good) + len(broken) >= PARALLEL_THRESHOLD  # big enough for the parallel loader
    return folder, good, broken


def _check(result: LoadResult, good: set[str], broken: dict[str, str]) -> None:
    loaded = Counter(a.source for a in result.articles)
    assert set(loaded) == good
    assert max(loaded.values()) == 1
    skipped = Counter(s.source for s in result.skipped)
    assert set(skipped) == set(broken), "exactly the broken files are skipped"
    assert max(skipped.values()) == 1, "each broken file is reported once"
    for s in result.skipped:
        assert broken[s.source] in s.reason, (s.source, s.reason)


def test_a_big_folder_with_one_percent_broken_loads_the_rest_in_parallel(
    archive: tuple[Path, set[str], dict[str, str]], caplog: pytest.LogCaptureFixture
):
    folder, good, broken = archive
    with caplog.at_level(logging.WARNING, logger="feedsvc.content.loader"):
        result = load_folder(folder, workers=2)
    assert "parallel loading failed" not in caplog.text
    _check(result, good, broken)
    # One log line per broken file, naming it and saying why; none for the good ones.
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipped ")]
    assert sorted(lines) == sorted(f"skipped {s}" for s in result.skipped)
    assert Counter(line.split(":")[0].removeprefix("skipped ") for line in lines) == Counter(list(broken))


def test_the_parallel_and_the_serial_load_skip_the_same_files(archive: tuple[Path, set[str], dict[str, str]]):
    folder, good, broken = archive
    serial = load_folder(folder, workers=1, log_skipped=False)
    _check(serial, good, broken)
    parallel = load_folder(folder, workers=2, log_skipped=False)
    assert parallel.skipped == serial.skipped
    assert [a.source for a in parallel.articles] == [a.source for a in serial.articles]


def test_build_of_a_big_folder_with_broken_files_writes_the_rest_and_names_each_once(
    archive: tuple[Path, set[str], dict[str, str]],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
):
    folder, _, broken = archive
    monkeypatch.setenv("FEEDSVC_SNAPSHOT", str(tmp_path / "snapshot"))
    for run in ("full", "from the snapshot"):
        out = tmp_path / "site"
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            code = main(["build", str(out), "--content", str(folder), "--base-url", "https://feeds.example.com"])
        assert code == 0, run
        assert f"; {len(broken)} content file(s) skipped for errors" in capsys.readouterr().err, run
        named = Counter(
            r.getMessage().split(":")[0].removeprefix("skipped ")
            for r in caplog.records
            if r.getMessage().startswith("skipped ")
        )
        # Named once each by the full load; a start from the snapshot may name them again, never twice.
        assert set(named) == set(broken) if run == "full" else set(named) <= set(broken), run
        assert set(named.values()) <= {1}, run
        all_rss = (out / "feeds" / "all.rss").read_text(encoding="utf-8")
        assert all_rss.count("<item>") == 50, run  # the newest 50 of the good files
        assert len(list((out / "feeds" / "topics").glob("*.rss"))) == 7, run
        assert len(list((out / "feeds" / "providers").glob("*.rss"))) == 11, run
