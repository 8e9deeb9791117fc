from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

from feedsvc.settings import Settings
from feedsvc.web.app import create_app

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FEEDSVC_SHARED", REPO.parent / "shared"))
CORPUS = SHARED / "corpus" / "everyday-powerapps"
SEED = REPO / "seeds" / "000_84d0586a3992f50e.md"
FIXTURES = Path(__file__).parent / "fixtures"

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the real corpus is not at {CORPUS}")


def article(title: str | None = "An article", **fields: Any) -> dict[str, Any]:
    """Front-matter fields of a valid article, overridable per test."""
    data: dict[str, Any] = {
        "title": title,
        "excerpt": f"About {title}.",
        "publishedDateTime": "2024-01-02T03:04:05Z",
        "webUrl": f"https://example.org/{(title or 'untitled').lower().replace(' ', '-')}",
        "provider": {"name": "Example News", "domain": "example.org"},
        "topics": ["Testing"],
    }
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


def front_matter(data: dict[str, Any], body: str = "") -> str:
    return f"---\n{yaml.safe_dump(data, sort_keys=False, allow_unicode=True)}---\n{body}"


@pytest.fixture
def content(tmp_path: Path) -> Callable[..., Path]:
    """Write one article file into a fresh content folder; returns the folder."""
    folder = tmp_path / "content"
    folder.mkdir()

    def write(name: str, data: dict[str, Any] | str, body: str = "") -> Path:
        text = data if isinstance(data, str) else front_matter(data, body)
        (folder / name).write_text(text, encoding="utf-8")
        return folder

    return write


@pytest.fixture
def client_for() -> Iterator[Callable[..., TestClient]]:
    """Start the real ASGI app on a content folder, with optional settings."""
    clients: list[TestClient] = []

    def make(folder: Path, **settings: Any) -> TestClient:
        client = TestClient(create_app(Settings(content=folder, **settings)), base_url="http://feeds.test")
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def seed_client(client_for: Callable[..., TestClient]) -> TestClient:
    return client_for(REPO / "seeds")
