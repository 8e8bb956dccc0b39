"""Boundaries to foreign services: Redis, the metadata DB, breakers, metrics, leases."""
