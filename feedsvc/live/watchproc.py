"""The content folder's watcher, as a process of its own.

    python -m feedsvc.live.watchproc ROOT auto|poll STEP_MS DEBOUNCE_MS POLL_DELAY_MS

Setting up watchfiles walks the whole folder to place its watches, and holds
Python's GIL while it does: 2.65 s for a million files, during which a server
doing it itself answers nothing. Here it costs the server nothing. The process
writes ``ready`` once its watches are in place, then one line per batch of
changes: the changed paths, as a JSON list. It ends when the server does (its
standard output closes, or its parent changes).
"""

from __future__ import annotations

import json
import os
import sys

# How often, with no change, the process looks whether the server is still there.
IDLE_MS = 200


def command(root: str, mode: str, step: int, debounce: int, poll_delay: int) -> list[str]:
    """The command that starts this process (main's arguments, in order)."""
    return [sys.executable, "-m", __name__, root, mode, str(step), str(debounce), str(poll_delay)]


def main(arguments: list[str]) -> int:
    from watchfiles import watch

    root, mode, step, debounce, poll_delay = arguments
    parent = os.getppid()
    out = sys.stdout
    ready = False
    for changes in watch(
        root,
        step=int(step),
        debounce=int(debounce),
        force_polling=mode == "poll",
        poll_delay_ms=int(poll_delay),
        recursive=True,
        rust_timeout=IDLE_MS,
        yield_on_timeout=True,  # the first (empty) batch: the watches are in place
        raise_interrupt=False,
    ):
        if os.getppid() != parent:
            return 0  # the server is gone
        try:
            if not ready:
                out.write("ready\n")
                ready = True
            if changes:
                out.write(json.dumps(sorted({path for _, path in changes})) + "\n")
            out.flush()
        except (BrokenPipeError, OSError):
            return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
