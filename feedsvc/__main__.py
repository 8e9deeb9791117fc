"""``python -m feedsvc`` and the ``feedsvc`` command (pyproject.toml points it here)."""

import gc

# No cyclic garbage collection until the service is ready (feedsvc.cli turns
# it back on): start-up makes objects that all live on, and collecting while
# importing and loading only walks them again and again (~10 ms of imports).
gc.disable()

from feedsvc.cli import main  # noqa: E402 (after the line above, on purpose)

# The guard matters: parallel loading starts worker processes with "spawn",
# which imports this module again in every worker.
if __name__ == "__main__":
    raise SystemExit(main())
