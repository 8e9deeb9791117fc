"""Filtered feeds and searches, limited by the server time they cost (a pure decision).

A filtered feed (``?q=``, ``?type=``…) reads on until its page is full, up to
``core.index.SCAN_BUDGET`` articles: ~90 ms over a million articles, on the
event loop, during which no reader is answered. A search of the home page
costs ~4 ms there. Unlimited, one client asking a dozen made-up searches a
second would hold up every reader.

So the time each of these requests took is charged to its client (an IPv4
address or an IPv6 /64, see ``client_key``) and to all clients together, in
two token buckets of server seconds that may go into debt. A request is let
in while neither is in debt. When the client's is empty it gets 429, when the
shared one is, 503; either says in ``Retry-After`` when its bucket is out of
debt. Plain feeds, the pages readers poll, are never limited, and a cached
answer costs microseconds, so it is charged next to nothing.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from cachetools import TTLCache

# Server seconds per second of time. One client may take a quarter of the event loop
# sustained, and all of them together half, so readers keep the other half whatever the load.
CLIENT_RATE = 0.25
TOTAL_RATE = 0.5
# Seconds of work a full bucket holds: ~50 full scans of a million articles for a client at
# once, far beyond what a person paging or searching asks, and twice that for everyone.
CLIENT_BURST = 5.0
TOTAL_BURST = 10.0
# Clients remembered; a flood of addresses evicts the oldest instead of growing memory
# (each new address starts with a full bucket, which the shared bucket bounds).
MAX_CLIENTS = 65_536
FORGET_AFTER = 60.0  # seconds, at least


def client_key(host: str | None) -> str:
    """The unit a limit applies to: an IPv4 address, or an IPv6 /64 (what one
    subscriber is usually given, so hopping inside it gains nothing)."""
    if not host:
        return ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is an IPv4 client on a dual-stack socket
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class Refusal(NamedTuple):
    """Why a request is not served now: its status, the whole seconds until a retry can succeed, the reason."""

    status: int
    retry_after: int
    reason: str


@dataclass(slots=True)
class _Bucket:
    """Seconds of work held at ``at`` (negative: in debt), refilled at a rate up to a burst."""

    held: float
    at: float

    def level(self, now: float, rate: float, burst: float) -> float:
        return min(burst, self.held + (now - self.at) * rate)


class WorkBudget:
    """Server time spent on filtered feeds and searches, per client and in all."""

    def __init__(
        self,
        client_rate: float = CLIENT_RATE,
        client_burst: float = CLIENT_BURST,
        total_rate: float = TOTAL_RATE,
        total_burst: float = TOTAL_BURST,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self.client_rate, self.client_burst = client_rate, client_burst
        self.total_rate, self.total_burst = total_rate, total_burst
        self._clock = clock
        self._total = _Bucket(total_burst, clock())
        # A client forgotten once its bucket would be full again loses nothing; twice that time,
        # and at least a minute, also covers the debt of one long request.
        forget = max(FORGET_AFTER, 2 * client_burst / client_rate)
        self._clients: TTLCache[str, _Bucket] = TTLCache(max_clients, ttl=forget, timer=clock)

    def refusal(self, client: str) -> Refusal | None:
        """Why ``client`` may not have a filtered feed or search now, or None when it may."""
        now = self._clock()
        bucket = self._clients.get(client)
        if bucket is not None:
            held = bucket.level(now, self.client_rate, self.client_burst)
            if held < 0:
                wait = _seconds_until_paid(held, self.client_rate)
                return Refusal(
                    429,
                    wait,
                    "too many filtered feeds and searches from this address: "
                    f"they took more server time than one client may have; try again in {wait} s",
                )
        held = self._total.level(now, self.total_rate, self.total_burst)
        if held < 0:
            wait = _seconds_until_paid(held, self.total_rate)
            return Refusal(
                503,
                wait,
                f"too many filtered feeds and searches at once: try again in {wait} s (plain feeds are served)",
            )
        return None

    def charge(self, client: str, seconds: float) -> None:
        """Count ``seconds`` of server time spent answering ``client``."""
        now = self._clock()
        bucket = self._clients.get(client)
        held = self.client_burst if bucket is None else bucket.level(now, self.client_rate, self.client_burst)
        self._clients[client] = _Bucket(held - seconds, now)
        total = self._total
        total.held, total.at = total.level(now, self.total_rate, self.total_burst) - seconds, now

    def __len__(self) -> int:
        return len(self._clients)


def _seconds_until_paid(held: float, rate: float) -> int:
    """Whole seconds until a bucket in debt (``held`` < 0) is out of it: at least 1."""
    return max(1, math.ceil(-held / rate))
