"""Housekeeping jobs (SPEC §13): catalog, cleanup, monitoring and backup grow here."""
