"""Child processes end with their parent.

The server starts processes of its own (the cold load and its workers, the
folder comparison). A server killed outright (SIGKILL, or SIGTERM before the
server has installed its handlers) runs no clean-up, so each child asks the
kernel to end it when its parent ends (Linux's PR_SET_PDEATHSIG); otherwise a
killed server would leave a full load running on, and a restart would run a
second one beside it. :class:`Child` runs one of this package's modules so,
and reads back what it writes.
"""

from __future__ import annotations

import contextlib
import ctypes
import marshal
import os
import signal
import subprocess
import sys
from pathlib import Path

PARENT = "FEEDSVC_PARENT_PID"  # in a child's environment: the process it must end with
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def child_environment() -> dict[str, str]:
    """This process's environment, naming it as the parent of the child given it."""
    return {**os.environ, PARENT: str(os.getpid())}


def end_with_parent(parent: int | None = None) -> None:
    """End this process (SIGTERM) when the process ``parent`` ends, at once if it has already;
    None: the parent named in the environment (child_environment), if any."""
    if parent is None:
        named = os.environ.get(PARENT, "")
        if not named.isdigit():
            return
        parent = int(named)
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):  # without prctl, the check below is all there is
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # it ended before we asked
        os._exit(1)


class Child:
    """``python -P -m MODULE ARGUMENTS`` of this very package, started at once in a process
    of its own that ends with this one, which writes one ``marshal`` value to its standard
    output (folder scans and comparisons: plain data only, read from our own child)."""

    def __init__(self, module: str, arguments: list[str]) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._failed = ""
        # The folder holding this package goes first on the path (-P: not the working
        # directory), so the child runs this very code.
        here = str(Path(__file__).resolve().parent.parent)
        path = os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))
        try:
            self._process = subprocess.Popen(  # noqa: S603 (this interpreter, this package's module, no shell)
                [sys.executable, "-P", "-m", module, *arguments],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={**child_environment(), "PYTHONPATH": path},
            )
        except OSError as exc:
            self._failed = f"it could not start: {exc}"

    def output(self, timeout: float) -> tuple[object, str]:
        """Wait for it: (what it wrote, ""), or (None, why not); it is ended and reaped either way."""
        process, self._process = self._process, None
        if process is None:
            return None, self._failed or "it was cancelled"
        try:
            out, err = process.communicate(timeout=timeout)
            if process.returncode != 0:
                return None, f"it exited with {process.returncode}: {err[-500:]!r}"
            return marshal.loads(out), ""  # noqa: S302 (our own child's output)
        except (subprocess.TimeoutExpired, EOFError, ValueError, TypeError) as exc:
            return None, str(exc)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    def cancel(self) -> None:
        """Not needed after all: stop it (it would block on a full pipe)."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.communicate()
