"""A batch of comments through the text pipeline: language, words, lemmas, keywords, counts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tally.text import keywords as kw
from tally.text.morphology import Word, analyse
from tally.text.words import Language, language, normalise, tokens

Progress = Callable[[float, str], None]
CHUNK = 500  # comments between progress reports


@dataclass(frozen=True, slots=True)
class Comment:
    """A comment to analyse: its id (given, or its position) and text."""

    id: str
    text: str


@dataclass(slots=True)
class Analysed:
    """What the pipeline made of one comment."""

    comment: Comment
    language: Language
    normalised: str
    words: list[Word]
    keywords: list[tuple[str, float]] = field(default_factory=list)

    def as_dict(self, *, with_words: bool = True) -> dict[str, Any]:
        """JSON-ready form (`with_words`: every word's lemma and POS)."""
        out: dict[str, Any] = {
            "id": self.comment.id, "language": self.language.value,
            "normalized": self.normalised,
            "keywords": [{"keyword": k, "score": s} for k, s in self.keywords],
            "counts": {"words": len(self.words),
                       "unique_lemmas": len({w.lemma for w in self.words})},
        }  # fmt: skip
        if with_words:
            out["lemmas"] = [w.as_dict() for w in self.words]
        return out


def comments_of(items: Sequence[Any]) -> list[Comment]:
    """Strings or {"id", "text"} objects as comments (an id defaults to the position)."""
    out = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            out.append(Comment(str(i), item))
        else:
            out.append(Comment(str(item.get("id", i)), str(item.get("text", ""))))
    return out


def analyse_all(comments: Sequence[Comment], *, top: int, progress: Progress | None = None
                ) -> list[Analysed]:  # fmt: skip
    """Every comment analysed, then keywords by TF-IDF over the whole batch."""
    out: list[Analysed] = []
    for start in range(0, len(comments), CHUNK):
        for c in comments[start : start + CHUNK]:
            norm = normalise(c.text)
            out.append(Analysed(c, language(norm), norm, [analyse(t) for t in tokens(norm)]))
        if progress is not None:
            done = min(len(comments), start + CHUNK)
            progress(90 * done / max(1, len(comments)), f"{done}/{len(comments)} comments")
    for analysed, found in zip(out, kw.per_comment([a.words for a in out], top), strict=True):
        analysed.keywords = found
    return out


def summary(analysed: Sequence[Analysed], top: int) -> dict[str, Any]:
    """The batch in figures: comments per language, words, and its top keywords."""
    by_language: dict[str, int] = {}
    for a in analysed:
        by_language[a.language.value] = by_language.get(a.language.value, 0) + 1
    return {
        "comments": len(analysed),
        "languages": by_language,
        "words": sum(len(a.words) for a in analysed),
        "keywords": [{"keyword": k, "comments": n}
                     for k, n in kw.overall([a.words for a in analysed], top)],
    }  # fmt: skip
