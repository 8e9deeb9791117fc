"""A full load in a process of its own, which leaves the start-up snapshot behind.

    python -m feedsvc.core.coldload ROOT SNAPSHOT [WORKERS]

Reading a big folder makes and drops several times more memory than the
articles end up taking (file text, YAML nodes, articles as objects before they
become records), and the survivors are spread among it: the allocator cannot
give that memory back, and a server that loaded a million files itself would
keep gigabytes it never uses again. Loaded here, all of it goes with this
process; the server then maps the snapshot this writes, as a restart does.
Even here the records wait for the snapshot in a file, not the heap (core.spool).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from feedsvc.children import child_environment, end_with_parent
from feedsvc.core.storage import temporary_for

log = logging.getLogger(__name__)


def load_apart(root: Path, snapshot_path: Path, workers: int) -> Path | None:
    """Load ``root`` in a child process that writes its snapshot, not yet synced, to a new
    file beside ``snapshot_path``; that file's path, or None if it did not.

    The caller maps it and serves from it at once, and moves it into place
    durably meanwhile (storage.move_durably): at a million articles the
    1.2 GB it holds take seconds to reach the disk, which nobody has to wait
    for. Until then it has a hidden temporary name, which nothing else uses
    and a start-up clears if a crash left it (core.publisher).
    """
    staging = temporary_for(snapshot_path)
    command = [sys.executable, "-m", "feedsvc.core.coldload", str(root), str(snapshot_path), str(workers), str(staging)]
    level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
    try:
        # Its log lines and progress go to our standard error, as our own would.
        environment = {**child_environment(), "FEEDSVC_LOG_LEVEL": str(level)}
        done = subprocess.run(command, env=environment, check=False)  # noqa: S603
    except OSError as exc:
        log.warning("could not start a process to read %s: %s; reading it here", root, exc)
        return None
    if done.returncode != 0 or not staging.exists():
        log.warning("the process reading %s exited with %s; reading it here", root, done.returncode)
        staging.unlink(missing_ok=True)
        return None
    return staging


def main(arguments: list[str]) -> int:
    """Load ROOT and write its snapshot: durably to SNAPSHOT, or to the new file STAGING
    (not synced), if given; the image sizes known are read from beside SNAPSHOT."""
    from feedsvc.core.publisher import Publisher
    from feedsvc.core.sizes import SizeBook, sizes_path

    end_with_parent()  # a server killed outright must not leave a full load running on
    root, snapshot_path = Path(arguments[0]), Path(arguments[1])
    workers = int(arguments[2]) if len(arguments) > 2 else 0
    staging = Path(arguments[3]) if len(arguments) > 3 else None
    logging.basicConfig(
        level=os.environ.get("FEEDSVC_LOG_LEVEL", "INFO").upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    publisher = Publisher(root)
    publisher.sizes = SizeBook.load(sizes_path(snapshot_path))  # its articles are filled as the server's would be
    started = time.perf_counter()
    # The server clears stale temporaries (Publisher.catch_up). The records wait beside the
    # snapshot, in its folder, which a first start may have yet to make (as the save would).
    beside = (staging or snapshot_path).parent
    beside.mkdir(parents=True, exist_ok=True)
    publisher.read_folder(workers, spool=beside)
    loaded = time.perf_counter()
    target = staging or snapshot_path
    if not publisher.save_snapshot(target, durable=staging is None):  # it logs why
        return 1
    log.info(
        "read %d files in %.1f s; wrote the snapshot (%d MB) in %.1f s",
        len(publisher.index.store) + len(publisher.skipped),
        loaded - started,
        target.stat().st_size // 1_000_000,
        time.perf_counter() - loaded,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
