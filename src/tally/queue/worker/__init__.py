"""A worker's parts: the task body, signals, watchdog, heartbeat, promoter and burst exit."""
