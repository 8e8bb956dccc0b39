"""The analytics store: ClickHouse SQL, on chDB (embedded) or a ClickHouse server."""
