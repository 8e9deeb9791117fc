"""Articles → index, and the synchronous state that owns it: the index
snapshots, the publisher, the start-up snapshot, durable writes and the
one clock. Nothing here imports a web framework."""
