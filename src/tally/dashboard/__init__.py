"""The web dashboard (SPEC §7): server-rendered pages at `/`, charts drawn as SVG here."""
