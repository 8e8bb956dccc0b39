"""dbt tests reuse the metadata DB fixtures (SQLite and PostgreSQL)."""

from tests.alerts.conftest import metadb  # noqa: F401 - the fixture, reused
