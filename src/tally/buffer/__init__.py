"""The durable event buffer between ingest and the store."""
