"""Text jobs (SPEC §14): language, lemmas with parts of speech, keywords, offline."""
