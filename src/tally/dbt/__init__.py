"""dbt (SPEC §12): models, tests, docs and freshness over the store, run as jobs."""
