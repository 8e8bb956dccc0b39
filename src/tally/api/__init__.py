"""The REST API (FastAPI): ingest, buffer, flush, store stats, health, metrics."""
