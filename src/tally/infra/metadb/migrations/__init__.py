"""Alembic scripts of the metadata database."""
