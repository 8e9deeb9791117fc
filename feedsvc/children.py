"""Child processes end with their parent.

The server starts processes of its own (the cold load and its workers, the
folder comparison). A server killed outright (SIGKILL, or SIGTERM before the
server has installed its handlers) runs no clean-up, so each child asks the
kernel to end it when its parent ends (Linux's PR_SET_PDEATHSIG); otherwise a
killed server would leave a full load running on, and a restart would run a
second one beside it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys

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
