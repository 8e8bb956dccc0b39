"""Popularity and trending (SPEC §4), computed inside the store."""
