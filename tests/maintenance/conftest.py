"""Maintenance tests reuse the metadata DB and store fixtures."""

from tests.alerts.conftest import metadb, sqlite_db  # noqa: F401 - fixtures, reused
from tests.reports.conftest import chdb  # noqa: F401 - the fixture, reused
