"""The one wall clock: timezone-aware UTC now, and the type of a clock that can
be injected in its place (tests move time on by hand).

Standard library only, at the bottom of the layers, so the core, the live
drivers and the web cache all read the same clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)
