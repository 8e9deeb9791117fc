"""Filtered feeds and searches are limited by the server time they cost (web/budget.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import feedparser
import pytest
from starlette.testclient import TestClient

from feedsvc.web.budget import WorkBudget


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def budget(clock: Clock, **limits: float) -> WorkBudget:
    settings = {"client_rate": 0.25, "client_burst": 5.0, "total_rate": 0.5, "total_burst": 10.0, **limits}
    return WorkBudget(clock=clock, **settings)


def test_a_client_within_its_burst_is_let_in():
    clock = Clock()
    limits = budget(clock)
    for _ in range(4):
        assert limits.refusal("192.0.2.1") is None
        limits.charge("192.0.2.1", 1.0)
    assert limits.refusal("192.0.2.1") is None  # 4 of 5 seconds spent


def test_a_client_past_its_burst_gets_429_until_its_bucket_refills():
    clock = Clock()
    limits = budget(clock)
    limits.charge("192.0.2.1", 5.5)  # one long request may go into debt: 0.5 s
    refusal = limits.refusal("192.0.2.1")
    assert refusal is not None
    assert refusal.status == 429
    assert refusal.retry_after == 2  # 0.5 s of debt at 0.25 s a second
    assert "try again in 2 s" in refusal.reason
    clock.now += 1.9
    assert limits.refusal("192.0.2.1") is not None
    clock.now += 0.2
    assert limits.refusal("192.0.2.1") is None


def test_one_client_in_debt_does_not_hold_up_another():
    clock = Clock()
    limits = budget(clock)
    limits.charge("192.0.2.1", 6.0)
    assert limits.refusal("192.0.2.1") is not None
    assert limits.refusal("192.0.2.2") is None


def test_all_clients_together_are_limited_with_503():
    clock = Clock()
    limits = budget(clock)
    for number in range(3):  # each within its own burst, 12 s of work in all
        limits.charge(f"192.0.2.{number}", 4.0)
    refusal = limits.refusal("198.51.100.7")  # a newcomer, with a full bucket of its own
    assert refusal is not None
    assert refusal.status == 503
    assert refusal.retry_after == 4  # 2 s of shared debt at 0.5 s a second
    clock.now += 4.0
    assert limits.refusal("198.51.100.7") is None


def test_buckets_refill_only_up_to_their_burst():
    clock = Clock()
    limits = budget(clock)
    clock.now += 3600  # an hour idle banks no more than the burst
    limits.charge("192.0.2.1", 5.5)
    assert limits.refusal("192.0.2.1") is not None


def test_a_flood_of_addresses_is_bounded_in_memory():
    clock = Clock()
    limits = WorkBudget(clock=clock, max_clients=100, total_burst=1e9)
    for number in range(1000):
        limits.charge(f"10.0.{number // 256}.{number % 256}", 0.001)
    assert len(limits) == 100


# Through HTTP: the real app, its budget replaced by one on a clock the test moves.


@pytest.fixture
def limited(client_for: Callable[..., TestClient], folder: Path) -> tuple[TestClient, Clock]:
    client = client_for(folder)
    clock = Clock()
    # No burst: the first request is let in, and any time it took puts the client in debt.
    client.app.state.work_budget = budget(clock, client_burst=0.0, total_burst=100.0)  # type: ignore[attr-defined]
    return client, clock


def test_a_filtered_feed_past_the_budget_gets_429_with_retry_after(limited: tuple[TestClient, Clock]):
    client, clock = limited
    first = client.get("/feeds/all.rss?q=power")
    assert first.status_code == 200
    refused = client.get("/feeds/all.rss?q=apps")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert "too many filtered feeds and searches from this address" in refused.text
    # The feeds readers poll are never limited.
    plain = client.get("/feeds/all.rss")
    assert plain.status_code == 200 and feedparser.parse(plain.content).entries
    clock.now += 60
    assert client.get("/feeds/all.rss?q=apps").status_code == 200


def test_a_search_past_the_budget_gets_429(limited: tuple[TestClient, Clock]):
    client, _ = limited
    assert client.get("/?q=power").status_code == 200
    refused = client.get("/?q=apps")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert client.get("/").status_code == 200  # the home page itself is not a search


def test_everyone_past_the_shared_budget_gets_503(client_for: Callable[..., TestClient], folder: Path):
    client = client_for(folder)
    clock = Clock()
    limits = budget(clock, total_burst=0.0)
    client.app.state.work_budget = limits  # type: ignore[attr-defined]
    assert client.get("/feeds/all.rss?type=article").status_code == 200
    refused = client.get("/feeds/all.rss?type=video")
    assert refused.status_code == 503
    assert "plain feeds are served" in refused.text
    assert int(refused.headers["retry-after"]) >= 1
