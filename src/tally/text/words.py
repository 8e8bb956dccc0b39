"""Comments as words: normalisation, tokens and the language of a comment (offline).

Language is told by script: comments here are Russian or English (seed 002), and
Cyrillic against Latin letters decides a mixed one better than a model trained on
long texts would, at no cost.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

_URL = re.compile(r"https?://\S+|www\.\S+", re.I)
_MENTION = re.compile(r"[@#][\w.]+")
_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*", re.U)
_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_LATIN = re.compile(r"[A-Za-z]")


class Language(StrEnum):
    """What a comment is written in."""

    RU = "ru"
    EN = "en"
    UNKNOWN = "unknown"


def normalise(text: str) -> str:
    """Lower case, `ё` as `е`, links and @mentions out, spaces folded."""
    text = unicodedata.normalize("NFC", text)
    text = _MENTION.sub(" ", _URL.sub(" ", text))
    text = text.lower().replace("ё", "е")
    return " ".join(text.split())


def tokens(normalised: str) -> list[str]:
    """The words of a normalised text (letters, inner hyphens and apostrophes)."""
    return [w.replace("’", "'") for w in _WORD.findall(normalised)]


def language(text: str) -> Language:
    """Russian when Cyrillic letters outnumber Latin ones, English when the reverse."""
    cyrillic = len(_CYRILLIC.findall(text))
    latin = len(_LATIN.findall(text))
    if cyrillic == latin == 0:
        return Language.UNKNOWN
    return Language.RU if cyrillic >= latin else Language.EN


def word_language(word: str) -> Language:
    """A single word's script (a mixed comment's English words are lemmatised as English)."""
    return Language.RU if _CYRILLIC.search(word) else Language.EN
