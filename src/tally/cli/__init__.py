"""The `tally` command line (typer + rich)."""
