"""Start-up snapshots: fast restarts that never serve stale or foreign content."""

from __future__ import annotations

import os
import pickle
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feedsvc.content.folder import signatures
from feedsvc.content.model import Article, Image, Provider, Related, Topic
from feedsvc.core import snapshot
from feedsvc.core.index import ALL, FeedKind, FeedRef
from feedsvc.core.publisher import Publisher

from .conftest import article, front_matter


def titles(publisher: Publisher) -> list[str]:
    return [a.title for a in publisher.index.select(ALL, 500)]


def test_snapshot_round_trip_gives_the_same_index(folder: Path, tmp_path: Path):
    path = tmp_path / "snap"
    cold = Publisher(folder)
    assert cold.load(path) == "full"
    cold.save_snapshot(path)
    warm = Publisher(folder)
    assert warm.load(path) == "snapshot"
    assert titles(warm) == titles(cold)
    assert [a.guid for a in warm.index.articles] == [a.guid for a in cold.index.articles]
    assert warm.index.unpublished_count == cold.index.unpublished_count


def test_snapshot_rereads_changed_new_and_deleted_files(folder: Path, tmp_path: Path):
    path = tmp_path / "snap"
    cold = Publisher(folder)
    cold.load(path)
    cold.save_snapshot(path)
    time.sleep(0.01)
    seed = folder / "000_84d0586a3992f50e.md"
    seed.write_text(seed.read_text().replace('title: "U.S. cities', 'title: "CHANGED U.S. cities'))
    (folder / "new.md").write_text(front_matter(article(title="Added while down", topics=["Downtime"])))
    victim = next(p for p in sorted(folder.glob("20*.md")) if "published: true" in p.read_text())
    victim_title = next(a.title for a in cold.index.articles if a.source == victim.name)
    victim.unlink()
    warm = Publisher(folder)
    assert warm.load(path) == "snapshot"
    found = titles(warm)
    assert any(t.startswith("CHANGED") for t in found)
    assert "Added while down" in found and victim_title not in found
    assert warm.index.info(FeedRef(FeedKind.TOPIC, "downtime")) is not None


def test_snapshot_of_another_folder_is_ignored(folder: Path, tmp_path: Path):
    path = tmp_path / "snap"
    other = tmp_path / "other"
    other.mkdir()
    (other / "only.md").write_text(front_matter(article(title="Only in other")))
    first = Publisher(other)
    first.load(path)
    first.save_snapshot(path)
    publisher = Publisher(folder)
    assert publisher.load(path) == "full"
    assert "Only in other" not in titles(publisher)


def test_snapshot_that_is_broken_is_ignored(folder: Path, tmp_path: Path):
    path = tmp_path / "snap"
    path.write_bytes(b"not a pickle at all")
    assert Publisher(folder).load(path) == "full"


def test_snapshot_cannot_run_code(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "snap"
    path.write_bytes(pickle.dumps({"identity": snapshot.identity(), "articles": [Evil()]}))
    path.chmod(0o600)  # private, as a real snapshot is: under umask 002 it would be refused before unpickling
    asked: list[tuple[str, str]] = []
    find_class = snapshot._Unpickler.find_class

    def spy(self: snapshot._Unpickler, module: str, name: str) -> object:
        asked.append((module, name))
        return find_class(self, module, name)

    monkeypatch.setattr(snapshot._Unpickler, "find_class", spy)
    assert Publisher(folder).load(path) == "full"
    assert not marker.exists()
    assert (os.system.__module__, "system") in asked  # the unpickler was reached, and refused it


def test_snapshot_default_path_is_per_folder(tmp_path: Path):
    assert snapshot.default_path(tmp_path / "a") != snapshot.default_path(tmp_path / "b")
    assert snapshot.default_path(tmp_path / "a").parent.name == "feedsvc"


def test_snapshot_is_skipped_when_most_files_changed(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "snap"
    cold = Publisher(folder)
    cold.load(path)
    cold.save_snapshot(path)
    monkeypatch.setattr("feedsvc.core.publisher.PARALLEL_THRESHOLD", 1)
    time.sleep(0.01)
    for changed in sorted(folder.glob("20*.md"))[:20]:
        changed.write_text(changed.read_text() + "\n")
    assert Publisher(folder).load(path) == "full"  # 20 of 58 files changed: a full load is the faster way


def _forged(folder: Path, tmp_path: Path, articles: list[object]) -> Path:
    path = tmp_path / "forged"
    payload = {
        "identity": snapshot.identity(),
        "root": str(folder.resolve()),
        "articles": articles,
        "skipped": [],
        "signatures": signatures(folder),  # the folder as it is: only the articles are forged
    }
    path.write_bytes(pickle.dumps(payload))
    path.chmod(0o600)
    return path


def test_snapshot_with_an_article_from_no_file_is_ignored(folder: Path, tmp_path: Path):
    when = datetime(2030, 1, 1, tzinfo=UTC)
    ghost = Article("ghost.md", "Injected", "javascript:alert(1)", when, when, body_html="<script>alert(1)</script>")
    publisher = Publisher(folder)
    assert publisher.load(_forged(folder, tmp_path, [ghost])) == "full"
    assert "Injected" not in titles(publisher)


_WHEN = datetime(2024, 1, 1, tzinfo=UTC)
_GOOD = Article("000_84d0586a3992f50e.md", "T", "https://e.org/", _WHEN, _WHEN)
# Forged next to this one, whose parts equal the plain tuples some cases use:
# a record must not pass for being equal to a checked one.
_RICH = _GOOD._replace(
    topics=(Topic("AI", "ai"),), images=(Image("https://e.org/i.png"),), provider=Provider("P", "p.org")
)


@pytest.mark.parametrize(
    "broken",
    [
        _GOOD._replace(published_at="not a date", updated_at="not a date"),
        _GOOD._replace(updated_at=datetime(2024, 1, 1)),  # naive
        _GOOD._replace(title=12),
        _GOOD._replace(body_html=b"<p>bytes</p>"),
        _GOOD._replace(published="yes"),
        _GOOD._replace(source=("000_84d0586a3992f50e.md",)),
        _GOOD._replace(topics=[Topic("AI", "ai")]),
        _GOOD._replace(topics=(("AI", "ai"),)),
        _GOOD._replace(topics=(Topic("AI", None),)),
        _GOOD._replace(provider=Provider("P", 3)),
        _GOOD._replace(provider=Provider("P", "p.org", (Image(None),))),
        _GOOD._replace(provider=Provider("P", "p.org", [[]])),  # unhashable
        _GOOD._replace(images=(Image(b"https://e.org/i.png"),)),
        _GOOD._replace(related=(Related("R", 5),)),
        _GOOD._replace(related=(Related("R", "https://e.org/r", "", datetime(2024, 1, 1)),)),
        _GOOD._replace(related=(Related("R", "https://e.org/r", provider=Provider(1, "p.org")),)),
        _GOOD._replace(related=("R",)),
        _GOOD._replace(images=(("https://e.org/i.png", None, None),)),  # equal to _RICH's Image
        _GOOD._replace(provider=("P", "p.org", ())),
        _GOOD._replace(images=(Image("https://e.org/i.png", "50", None),)),
        _GOOD._replace(images=(Image("https://e.org/i.png", True, None),)),
        _GOOD._replace(warnings=(("field", "reason", "warning"),)),
    ],
    ids=lambda article: repr([f for f, v in zip(Article._fields, article, strict=True) if v != getattr(_GOOD, f)]),
)
def test_snapshot_with_malformed_fields_is_ignored_not_fatal(folder: Path, tmp_path: Path, broken: Article):
    assert Publisher(folder).load(_forged(folder, tmp_path, [_RICH, broken])) == "full"


def test_the_forged_snapshot_of_the_test_above_is_otherwise_accepted(folder: Path, tmp_path: Path):
    assert Publisher(folder).load(_forged(folder, tmp_path, [_RICH, _GOOD])) == "snapshot"


def test_snapshot_writable_by_others_is_ignored(folder: Path, tmp_path: Path):
    path = tmp_path / "snap"
    cold = Publisher(folder)
    cold.load(path)
    cold.save_snapshot(path)
    assert path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o666)
    assert Publisher(folder).load(path) == "full"


def _saved(folder: Path, tmp_path: Path) -> Path:
    path = tmp_path / "snap"
    cold = Publisher(folder)
    cold.load(path)
    cold.save_snapshot(path)
    assert Publisher(folder).load(path) == "snapshot"  # usable as it is
    return path


def test_snapshot_owned_by_another_user_is_ignored(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = _saved(folder, tmp_path)
    me = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: me + 1)  # as seen by another user, the file is not theirs
    assert Publisher(folder).load(path) == "full"


@pytest.mark.skipif(os.getuid() != 0, reason="only root can give a file away")
def test_snapshot_given_away_by_root_is_ignored(folder: Path, tmp_path: Path):
    path = _saved(folder, tmp_path)
    os.chown(path, 65534, 65534)  # nobody
    assert Publisher(folder).load(path) == "full"


@pytest.mark.parametrize("mode", [0o620, 0o602])
def test_snapshot_writable_by_group_or_others_is_ignored(folder: Path, tmp_path: Path, mode: int):
    path = _saved(folder, tmp_path)
    path.chmod(mode)
    assert Publisher(folder).load(path) == "full"


def _with_new_field(monkeypatch: pytest.MonkeyPatch, kind: type, name: str, hint: object, default: object) -> None:
    """Change the model as adding ``name: hint = default`` to its class would."""
    monkeypatch.setattr(kind, "_fields", (*kind._fields, name))  # type: ignore[attr-defined]
    monkeypatch.setattr(kind, "_field_defaults", {**kind._field_defaults, name: default})  # type: ignore[attr-defined]
    monkeypatch.setattr(kind, "__annotations__", {**kind.__annotations__, name: hint})


@pytest.mark.parametrize("kind", snapshot.MODEL)
def test_snapshot_identity_changes_with_every_model_record(monkeypatch: pytest.MonkeyPatch, kind: type):
    before = snapshot.identity()
    _with_new_field(monkeypatch, kind, "language", "str", "")
    assert snapshot.identity() != before


def test_snapshot_identity_changes_with_a_field_type_or_default(monkeypatch: pytest.MonkeyPatch):
    before = snapshot.identity()
    monkeypatch.setattr(Article, "_field_defaults", {**Article._field_defaults, "kind": "video"})
    assert snapshot.identity() != before
    monkeypatch.undo()
    monkeypatch.setattr(Image, "__annotations__", {**Image.__annotations__, "width": "float | None"})
    assert snapshot.identity() != before
    monkeypatch.undo()
    assert snapshot.identity() == before  # and it is stable while nothing changes


def test_snapshot_identity_changes_with_the_version(monkeypatch: pytest.MonkeyPatch):
    before = snapshot.identity()
    monkeypatch.setattr(snapshot, "__version__", "99.0.0")
    assert snapshot.identity() != before


def test_snapshot_made_before_a_model_change_is_ignored(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # A warm start from it would serve the new field's default for every
    # unchanged file, where a cold start has what the parser fills in.
    path = _saved(folder, tmp_path)
    _with_new_field(monkeypatch, Article, "language", "str", "")
    assert Publisher(folder).load(path) == "full"


def test_snapshot_shape_checks_follow_the_model(monkeypatch: pytest.MonkeyPatch):
    # Read from the annotations, not a copy of them: a new field is checked too.
    good = _RICH._replace(category="news")
    assert snapshot._well_formed([good], {good.source: 1})
    monkeypatch.setattr(Article, "__annotations__", {**Article.__annotations__, "category": "int"})
    assert not snapshot._well_formed([good], {good.source: 1})
