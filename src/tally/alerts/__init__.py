"""Alerts (SPEC §10): rules on events, health and analytics; each change notified once."""
