from __future__ import annotations

import gc
import logging
import os
import threading
import time
from pathlib import Path

import pytest

from feedsvc.cli import main
from feedsvc.content import loader
from feedsvc.content.folder import article_paths
from feedsvc.content.loader import LoadResult, Skipped, load_file, load_folder

from .conftest import FIXTURES, REPO

MIXED = FIXTURES / "content"
SEEDS = REPO / "seeds"
EXPECTED_SKIPS = {
    "bad-date.md": "publishedDateTime: not a date and time",
    "bad-yaml.md": "front matter is not valid YAML",
    "latin1.md": "not UTF-8 text",
    "missing-title.md": "title: missing",
    "no-front-matter.md": "no front matter",
    "python-object.md": "could not determine a constructor",
}


def test_load_folder_skips_each_bad_file_with_its_reason():
    result = load_folder(MIXED)
    skipped = {s.source: s.reason for s in result.skipped}
    assert set(skipped) == set(EXPECTED_SKIPS)
    for name, reason in EXPECTED_SKIPS.items():
        assert reason in skipped[name]


def test_load_folder_keeps_every_good_file():
    result = load_folder(MIXED)
    sources = sorted(a.source for a in result.articles)
    assert sources == ["bare.yaml", "control-chars.md", "good-article.md", "sub/nested.md", "unpublished.md"]


def test_load_folder_logs_one_line_per_skipped_file(caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.WARNING, logger="feedsvc.content.loader"):
        load_folder(MIXED)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == len(EXPECTED_SKIPS)
    assert all(line.startswith("skipped ") for line in lines)
    assert any("missing-title.md: title: missing" in line for line in lines)


def test_load_folder_ignores_hidden_files_readmes_and_backups(tmp_path: Path):
    good = (MIXED / "good-article.md").read_text()
    for name in (".hidden.md", "README.md", "good.md~", ".git/x.md", "notes.json"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(good)
    assert load_folder(tmp_path).articles == []


def test_load_file_strips_control_characters_instead_of_failing():
    loaded = load_file(MIXED / "control-chars.md", MIXED)
    assert not isinstance(loaded, Skipped)
    assert loaded.title == "Control characters here"
    assert loaded.excerpt == "Bell and escaped null"


def test_load_file_refuses_huge_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("feedsvc.content.loader.MAX_FILE_BYTES", 100)
    (tmp_path / "big.md").write_text("---\ntitle: x\n---\n" + "x" * 200)
    loaded = load_file(tmp_path / "big.md", tmp_path)
    assert isinstance(loaded, Skipped) and "larger than" in loaded.reason


def test_check_command_lists_problems_and_fails(capsys: pytest.CaptureFixture[str]):
    assert main(["check", str(MIXED)]) == 1
    out, err = capsys.readouterr()
    assert sorted(line.split(":")[0] for line in out.splitlines()) == sorted(EXPECTED_SKIPS)
    assert "6 skipped because of errors" in err


def test_check_command_passes_on_clean_folder(capsys: pytest.CaptureFixture[str]):
    assert main(["check", str(MIXED / "sub")]) == 0
    assert capsys.readouterr().out == ""


def test_check_command_on_missing_folder_says_so(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    assert main(["check", str(tmp_path / "nope")]) == 2
    assert "is not a folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    "text",
    [
        "title: Bare\nwebUrl: https://e.org/b\npublishedDateTime: 2024-01-01T00:00:00Z\n",
        "---\ntitle: Bare\nwebUrl: https://e.org/b\npublishedDateTime: 2024-01-01T00:00:00Z\n",
        "---\ntitle: Bare\nwebUrl: https://e.org/b\npublishedDateTime: 2024-01-01T00:00:00Z\n...\n",
        "---\ntitle: Bare\nwebUrl: https://e.org/b\npublishedDateTime: 2024-01-01T00:00:00Z\n---\nA body.\n",
    ],
    ids=["bare", "document-marker", "document-end", "front-matter"],
)
def test_load_file_reads_every_shape_of_yaml_file(tmp_path: Path, text: str):
    (tmp_path / "a.yaml").write_text(text)
    loaded = load_file(tmp_path / "a.yaml", tmp_path)
    assert not isinstance(loaded, Skipped), loaded
    assert loaded.title == "Bare"


def test_load_folder_publishes_partial_articles_and_logs_what_was_left_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    (tmp_path / "a.md").write_text(
        "---\ntitle: A\nwebUrl: https://e.org/a\npublishedDateTime: 2024-01-01T00:00:00Z\n"
        "images:\n  - width: 10\n  - url: https://e.org/ok.png\n---\n"
    )
    with caplog.at_level(logging.WARNING, logger="feedsvc.content.loader"):
        result = load_folder(tmp_path)
    assert [a.title for a in result.articles] == ["A"]
    assert [i.url for i in result.articles[0].images] == ["https://e.org/ok.png"]
    assert any("a.md without: images[0].url: missing" in r.getMessage() for r in caplog.records)


def test_check_command_prints_warnings_but_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    (tmp_path / "a.md").write_text(
        "---\ntitle: A\nwebUrl: https://e.org/a\npublishedDateTime: 2024-01-01T00:00:00Z\ntopics: ['!!']\n---\n"
    )
    assert main(["check", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "a.md: warning: topics[0]" in out
    assert "1 published with parts left out" in err


def test_load_folder_survives_any_exception_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def explode(text: str, source: str) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr("feedsvc.content.parse.parse_article", explode)  # imported from there at each read
    (tmp_path / "a.md").write_text("---\ntitle: A\n---\n")
    result = load_folder(tmp_path)
    assert result.skipped[0].reason == "could not be parsed (RuntimeError: boom)"


def test_load_folder_keeps_the_start_of_a_long_unexpected_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def explode(text: str, source: str) -> object:
        raise RuntimeError(text)  # a library quoting the whole file

    monkeypatch.setattr("feedsvc.content.parse.parse_article", explode)  # imported from there at each read
    (tmp_path / "a.md").write_text("x" * 1_000_000)
    reason = load_folder(tmp_path).skipped[0].reason
    assert reason == f"could not be parsed (RuntimeError: {'x' * 300})"


@pytest.fixture
def serial(monkeypatch: pytest.MonkeyPatch) -> LoadResult:
    """The seeds loaded in one process; from then on, even they load in parallel, in chunks of 7."""
    result = load_folder(SEEDS, workers=1)
    monkeypatch.setattr("feedsvc.content.loader.PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr("feedsvc.content.loader.CHUNK", 7)
    return result


@pytest.mark.parametrize("enabled", [True, False])
def test_loading_leaves_the_garbage_collector_as_it_found_it(enabled: bool):
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        load_folder(SEEDS, workers=1)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_load_folder_in_parallel_gives_the_same_result(serial: LoadResult):
    parallel = load_folder(SEEDS, workers=2)
    assert parallel.articles == serial.articles
    assert parallel.signatures == serial.signatures
    # Topics and providers parsed in either process are one object each again.
    topics = [topic for article in parallel.articles for topic in article.topics]
    assert len({id(topic) for topic in topics}) == len(set(topics))
    providers = [article.provider for article in parallel.articles if article.provider]
    assert len({id(provider) for provider in providers}) == len(set(providers))


def _take_a_chunk_and_die(chunks: list, counter: object, results: object) -> None:
    """A loading worker killed mid-chunk (by the OOM killer, say)."""
    loader._take(counter, len(chunks))
    os._exit(3)


def _die_halfway_through_a_message(chunks: list, counter: object, connection: object) -> None:
    """A loading worker killed while sending a result: the main process gets half a message."""
    import struct

    loader._take(counter, len(chunks))
    os.write(connection.fileno(), struct.pack("!i", 100_000) + b"half a pickle")  # type: ignore[attr-defined]
    os._exit(3)


def test_a_worker_killed_halfway_through_a_message_does_not_hang_the_load(
    serial: LoadResult, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    monkeypatch.setattr("feedsvc.content.loader._work", _die_halfway_through_a_message)
    parallel = load_folder(SEEDS, workers=3)
    assert parallel.articles == serial.articles
    assert "a loading worker exited early" in caplog.text


def _die_holding_the_counter(chunks: list, counter: object, connection: object) -> None:
    counter.get_lock().acquire()  # type: ignore[attr-defined]
    os._exit(3)


def test_a_worker_killed_holding_the_counter_does_not_hang_the_load(
    serial: LoadResult, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr("feedsvc.content.loader.LOCK_PATIENCE", 0.5)
    monkeypatch.setattr("feedsvc.content.loader._work", _die_holding_the_counter)
    read_chunk, calls = loader._read_chunk, []

    def slow_first_chunk(
        root: str, files: list, convert: object
    ) -> list:  # so that the worker gets at the counter first
        calls.append(len(files))
        if len(calls) == 1:
            time.sleep(1)
        return read_chunk(root, files, convert)

    monkeypatch.setattr("feedsvc.content.loader._read_chunk", slow_first_chunk)
    # A daemon thread, so that a load that hangs on the lock fails this test instead of the whole run.
    done: list[LoadResult] = []
    started = time.monotonic()
    loading = threading.Thread(target=lambda: done.append(load_folder(SEEDS, workers=2)), daemon=True)
    loading.start()
    loading.join(timeout=120)
    assert done, "the load hung on the counter's lock"
    assert time.monotonic() - started >= 1.5  # it waited for the lock (a lower bound: a busy machine only adds)
    assert done[0].articles == serial.articles  # then read the rest itself
    assert len(calls) == 9  # every chunk, here


def test_a_chunk_a_dead_worker_took_is_read_by_the_main_process(
    serial: LoadResult, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    monkeypatch.setattr("feedsvc.content.loader._work", _take_a_chunk_and_die)
    parallel = load_folder(SEEDS, workers=2)
    assert parallel.articles == serial.articles
    assert parallel.signatures == serial.signatures
    assert "a loading worker exited early" in caplog.text


def test_files_are_read_in_path_order_whatever_the_punctuation_of_folder_names(tmp_path: Path):
    # "a-b" sorts after "a" as a folder name, though "-" sorts before "/" in a string.
    names = ["a.md", "a/b.md", "a-b/c.md", "a b.md", "a/b/c.md", "a0.md", "A.md", "a/-.md"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("---\ntitle: x\n---\n")
    expected = [path.relative_to(tmp_path).as_posix() for path in article_paths(tmp_path)]
    assert loader._article_files(tmp_path) == expected
    assert expected.index("a/b/c.md") < expected.index("a-b/c.md")
