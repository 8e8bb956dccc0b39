"""Reports (SPEC §11): definitions, rendering, deliveries, once per scheduled slot."""
