"""A child process ends with its parent, however the parent ends (feedsvc/children.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHILD = "from feedsvc.children import end_with_parent; end_with_parent(); import time; time.sleep(120)"
PARENT = f"""
import subprocess, sys, time
from feedsvc.children import child_environment
child = subprocess.Popen([sys.executable, "-c", {CHILD!r}], env=child_environment())
print(child.pid, flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return status != "Z"


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_a_child_ends_when_its_parent_is_killed_outright():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        time.sleep(1.0)  # the child has imported and asked by now (or ends at once when it asks)
        assert _alive(child)
        os.kill(parent.pid, signal.SIGKILL)  # no clean-up of any kind
        parent.wait()
        deadline = time.monotonic() + 30
        while _alive(child):
            assert time.monotonic() < deadline, "the child outlived its parent"
            time.sleep(0.05)
    finally:
        parent.kill()
        parent.wait()


def test_a_process_not_started_as_a_child_is_left_alone():
    script = (
        "import os; from feedsvc import children; "
        "children.end_with_parent(); "  # nothing named in its environment: nothing to do
        "children.end_with_parent(os.getppid()); "  # its parent lives: it goes on
        "print('went on')"
    )
    environment = {name: value for name, value in os.environ.items() if name != "FEEDSVC_PARENT_PID"}
    done = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "went on")
