"""Lemmas and parts of speech: pymorphy3 for Russian, simplemma for English, cached.

Both ship their dictionaries in their wheels: nothing is downloaded. English has lemmas
only (no offline English tagger is available without downloaded models): its part of
speech is None. Each analyser keeps a per-word cache: comments repeat their words.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import Any

from tally.text.words import Language, word_language

CACHE_WORDS = 200_000


@dataclass(frozen=True, slots=True)
class Word:
    """One word: as written (normalised), its lemma and part of speech."""

    word: str
    lemma: str
    pos: str | None
    language: Language

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"word": self.word, "lemma": self.lemma, "pos": self.pos,
                "language": self.language.value}  # fmt: skip


_lock = threading.Lock()


@functools.cache
def _russian() -> Any:
    import pymorphy3

    with _lock:  # building the analyser reads its dictionaries: once per process
        return pymorphy3.MorphAnalyzer()


@functools.lru_cache(maxsize=CACHE_WORDS)
def _ru(word: str) -> tuple[str, str | None]:
    parsed = _russian().parse(word)[0]
    pos = parsed.tag.POS
    return str(parsed.normal_form).replace("ё", "е"), None if pos is None else str(pos)


@functools.lru_cache(maxsize=CACHE_WORDS)
def _en(word: str) -> str:
    import simplemma

    return str(simplemma.lemmatize(word, lang="en"))


def analyse(word: str) -> Word:
    """A word's lemma and part of speech, by its script."""
    lang = word_language(word)
    if lang is Language.RU:
        lemma, pos = _ru(word)
        return Word(word, lemma, pos, lang)
    return Word(word, _en(word).lower(), None, lang)


def analyse_uncached(word: str) -> Word:
    """The same analysis without the caches (the benchmark's baseline)."""
    lang = word_language(word)
    if lang is Language.RU:
        parsed = _russian().parse(word)[0]
        pos = parsed.tag.POS
        return Word(word, str(parsed.normal_form), None if pos is None else str(pos), lang)
    import simplemma

    return Word(word, str(simplemma.lemmatize(word, lang="en")).lower(), None, lang)
