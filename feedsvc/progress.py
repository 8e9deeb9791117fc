"""How far a long load has got: a bar on a terminal, log lines elsewhere.

A loader calls the progress function with (files done, files in all) now
and then, at most once per chunk of files, so reporting costs nothing next
to the reading. On a terminal (``feedsvc check``, ``build`` or ``serve`` run
by a person) that draws a tqdm bar on stderr, which appears only when the
load takes a while and is wiped when it ends; elsewhere (a service manager,
a container, a test) it writes a log line every few seconds instead, so a
log shows a large start-up advancing rather than going quiet.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn, TextIO

Progress = Callable[[int, int], None]  # (files done, files in all)

log = logging.getLogger(__name__)

LOG_EVERY = 5.0  # seconds between log lines
BAR_DELAY = 0.5  # seconds before a bar appears: quick loads draw nothing


def ignore(done: int, total: int) -> None:
    """No reporting."""


@contextmanager
def reporting(what: str, stream: TextIO | None = None) -> Iterator[Progress]:
    """A progress function for ``what`` ("loading seeds"), for the length of the block."""
    stream = stream or sys.stderr
    if stream.isatty():
        with _bar(what, stream) as update:
            yield update
    else:
        yield _log_lines(what, time.monotonic)


@contextmanager
def _bar(what: str, stream: TextIO) -> Iterator[Progress]:
    from tqdm import tqdm  # only on a terminal: keeps the import off service start-up

    bars: list[tqdm[NoReturn]] = []  # made at the first report, once the total is known

    def update(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(desc=what, total=total, unit=" files", file=stream, leave=False, delay=BAR_DELAY))
        bars[0].update(done - bars[0].n)

    try:
        yield update
    finally:
        for bar in bars:
            bar.close()


def _log_lines(what: str, clock: Callable[[], float], every: float = LOG_EVERY) -> Progress:
    """A log line when ``every`` seconds have passed since the start or the last line."""
    last = clock()

    def update(done: int, total: int) -> None:
        nonlocal last
        now = clock()
        if now - last >= every and total:
            last = now
            log.info("%s: %d of %d files (%d%%)", what, done, total, 100 * done // total)

    return update
