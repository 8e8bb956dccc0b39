"""Dashboard tests reuse the reports tests' S3-compatible server."""

from tests.reports.conftest import s3  # noqa: F401 - the fixture, reused
