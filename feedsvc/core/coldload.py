"""A full load in a process of its own, which leaves the start-up snapshot behind.

    python -m feedsvc.core.coldload ROOT SNAPSHOT [WORKERS]

Reading a big folder makes and drops several times more memory than the
articles end up taking (file text, YAML nodes, articles as objects before they
become records), and the survivors are spread among it: the allocator cannot
give that memory back, and a server that loaded a million files itself would
keep gigabytes it never uses again. Loaded here, all of it goes with this
process; the server then maps the snapshot this writes, as a restart does.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)


def load_apart(root: Path, snapshot_path: Path, workers: int) -> bool:
    """Load ``root`` in a child process that writes the snapshot to ``snapshot_path``; whether it did."""
    command = [sys.executable, "-m", "feedsvc.core.coldload", str(root), str(snapshot_path), str(workers)]
    level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
    try:
        # Its log lines and progress go to our standard error, as our own would.
        done = subprocess.run(command, env={**os.environ, "FEEDSVC_LOG_LEVEL": str(level)}, check=False)  # noqa: S603
    except OSError as exc:
        log.warning("could not start a process to read %s: %s; reading it here", root, exc)
        return False
    if done.returncode != 0:
        log.warning("the process reading %s exited with %s; reading it here", root, done.returncode)
        return False
    return True


def main(arguments: list[str]) -> int:
    from feedsvc.core.publisher import Publisher
    from feedsvc.core.sizes import SizeBook, sizes_path

    root, snapshot_path = Path(arguments[0]), Path(arguments[1])
    workers = int(arguments[2]) if len(arguments) > 2 else 0
    logging.basicConfig(
        level=os.environ.get("FEEDSVC_LOG_LEVEL", "INFO").upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    publisher = Publisher(root)
    publisher.sizes = SizeBook.load(sizes_path(snapshot_path))  # its articles are filled as the server's would be
    started = time.perf_counter()
    publisher.load(None, workers=workers)
    loaded = time.perf_counter()
    before = _version(snapshot_path)
    publisher.save_snapshot(snapshot_path)  # logs why, if it cannot
    written = _version(snapshot_path)
    if written is None or written == before:
        return 1
    log.info(
        "read %d files in %.1f s; wrote the snapshot (%d MB) in %.1f s",
        len(publisher.index.store) + len(publisher.skipped),
        loaded - started,
        snapshot_path.stat().st_size // 1_000_000,
        time.perf_counter() - loaded,
    )
    return 0


def _version(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return (status.st_ino, status.st_mtime_ns)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
