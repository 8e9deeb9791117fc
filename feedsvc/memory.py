"""Memory management for a process that holds every article.

glibc's allocator is told to serve big blocks from memory it can give back,
and to give back the heap pages freed after loading and as the response
caches churn (all no-ops where the C library is not glibc); the cyclic
garbage collector is kept out of loading.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when first run: loading workers import this module, and need no event loop (16 ms)
    import asyncio

_M_MMAP_THRESHOLD = -3


def tune_memory() -> None:
    """Serve feed bodies from memory the allocator can give back.

    Feed bodies are ~100 KB and come and go with the cache. glibc raises its
    mmap threshold as such blocks are freed, after which they come from the
    heap and stay resident once evicted: measured at 100,000 articles, 44 MB
    beyond the cache's own budget, against 16 MB with a fixed 64 KB threshold.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(_M_MMAP_THRESHOLD, 64 * 1024)


def release_free_memory() -> None:
    """Give the heap pages freed after loading back to the system.

    Loading allocates and frees a lot (file text, YAML nodes, pickles from the
    worker processes); without this the freed pages stay in the resident size.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


# How often the churn is looked at, and how much must have been freed since the last trim.
TRIM_EVERY = 2.0  # seconds
TRIM_AFTER = 8 * 1024 * 1024  # bytes


async def trim_after_churn(
    freed: Callable[[], int],
    stop: asyncio.Event,
    every: float = TRIM_EVERY,
    after: int = TRIM_AFTER,
    release: Callable[[], None] = release_free_memory,
) -> None:
    """Give back the heap pages that responses evicted from the caches leave free, until ``stop``.

    ``freed()`` counts the bytes evicted so far. Bodies under the mmap threshold come
    from the heap, and the pages they leave when evicted stay resident: measured at
    100,000 articles, serving every feed a second time (the cache holds a third of
    them) added ~20 MB that stayed, all of which malloc_trim gave back (2.7 ms, in a
    thread: it does not hold the interpreter).
    """
    import asyncio

    last = freed()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        now = freed()
        if now - last >= after and not stop.is_set():
            last = now
            await asyncio.to_thread(release)


def collect_from_now() -> None:
    """Turn cyclic garbage collection (back) on, leaving what exists now out of it.

    For the end of start-up: everything loaded lives on, and later collections
    need not walk it (gc.freeze). The little cyclic garbage start-up makes
    (about fifty objects per skipped file, measured) is kept with it, once.
    """
    gc.freeze()
    gc.enable()


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while loading.

    Loading makes hundreds of thousands of objects that all live on, and
    every 700 new objects the collector walks the young ones, now and then
    all of them: measured at 12% of a full load and 35% of reading a
    snapshot. The first collection after the pause walks everything made
    meanwhile once (40 ms at 20,000 articles); the server skips even that
    (``python -m feedsvc`` starts with the collector off, and
    :func:`collect_from_now` freezes what start-up made).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
