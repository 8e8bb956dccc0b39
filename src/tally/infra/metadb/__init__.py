"""The metadata database (DATABASE_URL): relational state beside the events store."""
