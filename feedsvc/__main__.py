from feedsvc.cli import main

# The guard matters: parallel loading starts worker processes with "spawn",
# which imports this module again in every worker.
if __name__ == "__main__":
    raise SystemExit(main())
