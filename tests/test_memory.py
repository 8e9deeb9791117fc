"""The heap pages freed as the response caches churn are given back (feedsvc.memory)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from feedsvc.memory import release_free_memory, trim_after_churn


def test_the_heap_is_trimmed_once_enough_was_evicted_and_not_before():
    async def until(condition: Callable[[], bool]) -> None:
        for _ in range(500):  # up to 5 s on a busy machine; a few ms here
            if condition():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("not trimmed")

    async def scenario() -> int:
        evicted, trims = [0], [0]
        stop = asyncio.Event()

        def release() -> None:
            trims[0] += 1

        task = asyncio.create_task(trim_after_churn(lambda: evicted[0], stop, every=0.01, after=1000, release=release))
        await asyncio.sleep(0.1)
        assert trims[0] == 0  # nothing evicted: nothing to give back
        evicted[0] = 999
        await asyncio.sleep(0.1)
        assert trims[0] == 0  # not enough yet
        evicted[0] = 1500
        await until(lambda: trims[0] == 1)
        await asyncio.sleep(0.1)
        assert trims[0] == 1  # once, not at every look
        evicted[0] = 2400
        await asyncio.sleep(0.1)
        assert trims[0] == 1  # 900 since the last trim
        evicted[0] = 2600
        await until(lambda: trims[0] == 2)
        stop.set()
        await asyncio.wait_for(task, 5)  # it ends when told to
        return trims[0]

    assert asyncio.run(scenario()) == 2


def test_the_server_runs_the_trimmer_with_its_caches_evictions(monkeypatch):
    """The app's lifespan starts it over the service's eviction count, and stops it."""
    from pathlib import Path

    from starlette.testclient import TestClient

    from feedsvc import app as app_module
    from feedsvc.settings import Settings

    seen: list[int] = []

    async def fake(freed, stop, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(freed())
        await stop.wait()
        seen.append(-1)

    monkeypatch.setattr(app_module, "trim_after_churn", fake)
    seeds = Path(__file__).resolve().parent.parent / "seeds"
    settings = Settings(content=seeds, allowed_hosts=("feeds.test",), enclosure_probe="off", watch="off")
    app = app_module.create_app(settings)
    with TestClient(app, base_url="http://feeds.test") as client:
        assert client.get("/feeds/all.rss").status_code == 200
        service = app.state.service
        service.cache.stats.evicted_bytes += 123
        assert service.evicted_bytes() >= 123
    assert seen == [0, -1]


def test_giving_memory_back_is_harmless_where_it_cannot_be_done():
    release_free_memory()  # glibc: trims; elsewhere: nothing, no error
