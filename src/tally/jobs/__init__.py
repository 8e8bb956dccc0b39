"""The job index: what every job is doing, kept beside the broker (SPEC §5)."""
