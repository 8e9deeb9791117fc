"""Failed write-API authentication, limited per client address (pure decision).

After ``limit`` wrong or missing tokens within ``window`` seconds from one
address, that address gets 429 for the rest of the window, whatever it sends:
at most ``limit`` guesses a window. A right token does not clear the count
(an address shared by a client and a guesser would otherwise give the guesser
unlimited tries). Only the API consults this, so readers are never affected,
and other addresses are not either.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from cachetools import TTLCache

LIMIT = 10
WINDOW = 60.0
# Enough for every client of a real deployment; a flood of addresses only
# evicts the oldest entries instead of growing memory (~25 MB at most).
MAX_CLIENTS = 65_536


class AuthThrottle:
    """Counts failed authentications per client in fixed windows."""

    def __init__(
        self,
        limit: int = LIMIT,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        # client -> (start of its window, failures in it); entries expire a window after their last failure
        self._failures: TTLCache[str, tuple[float, int]] = TTLCache(max_clients, ttl=window, timer=clock)

    def retry_after(self, client: str) -> int | None:
        """Seconds until ``client`` may try again, or None when it may try now."""
        start, failures = self._failures.get(client, (0.0, 0))
        remaining = start + self.window - self._clock()
        if failures >= self.limit and remaining > 0:
            return max(1, math.ceil(remaining))
        return None

    def failed(self, client: str) -> None:
        now = self._clock()
        start, failures = self._failures.get(client, (now, 0))
        if now - start >= self.window:
            start, failures = now, 0
        self._failures[client] = (start, failures + 1)

    def __len__(self) -> int:
        return len(self._failures)
