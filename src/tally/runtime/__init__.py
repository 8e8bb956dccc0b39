"""Wiring: builds the parts a process needs for the configured mode."""
