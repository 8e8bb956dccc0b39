"""Maintenance tests reuse the metadata DB and store fixtures."""

from tests.alerts.conftest import metadb, sqlite_db  # noqa: F401 - fixtures, reused
from tests.reports.conftest import chdb, s3  # noqa: F401 - fixtures, reused
