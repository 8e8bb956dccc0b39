"""Where analytics results are published and read: Redis, or this process (embedded)."""
