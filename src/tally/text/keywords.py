"""Keywords by TF-IDF over a batch of comments (lemmas of content words), offline.

YAKE was the measured candidate, but its licence is listed as LGPLv3/GPLv3; TF-IDF over
the batch needs no model and no dependency: a comment's keywords are its lemmas that are
frequent in it and rare in the rest of the batch. Content words: Russian nouns,
adjectives, verbs and participles (pymorphy3's tags); English words of three letters or
more that are not function words.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from tally.text.morphology import Word
from tally.text.words import Language

RU_CONTENT = {"NOUN", "ADJF", "ADJS", "COMP", "VERB", "INFN", "PRTF", "PRTS", "GRND", "ADVB"}
# Russian content words too common to say anything (auxiliaries, "very", "already"…).
RU_STOP = frozenset(
    {"быть", "мочь", "стать", "весь", "свой", "этот", "тот", "такой", "который", "очень",
     "уже", "еще", "тоже", "также", "можно", "нужно", "надо", "так", "вот", "там", "тут",
     "здесь", "когда", "сейчас", "потом", "просто", "самый", "сам", "один"}
)  # fmt: skip
# English function words (closed classes): what carries no topic.
_EN_STOP_TEXT = """
a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its itself
just me more most my myself no nor not now of off on once only or other our ours ourselves out
over own same she should so some such than that the their theirs them themselves then there
these they this those through to too under until up very was we were what when where which
while who whom why will with would you your yours yourself yourselves also get got really one
would it's i'm don't can't dont im ive i've you're thats that's lot lots much many even still
yes yeah ok okay like just thing things
"""
EN_STOP = frozenset(_EN_STOP_TEXT.split())


def content(word: Word) -> bool:
    """Whether a word can be a keyword."""
    if len(word.lemma) < 3:
        return False
    if word.language is Language.RU:
        return word.pos in RU_CONTENT and word.lemma not in RU_STOP
    return word.lemma not in EN_STOP and word.word not in EN_STOP


def per_comment(comments: Sequence[Sequence[Word]], top: int) -> list[list[tuple[str, float]]]:
    """Each comment's `top` keywords with their scores, by TF-IDF over the batch."""
    bags = [Counter(w.lemma for w in words if content(w)) for words in comments]
    df = Counter(lemma for bag in bags for lemma in bag)
    n = len(bags)
    out = []
    for bag in bags:
        total = sum(bag.values()) or 1
        scored = [(lemma, round(count / total * (math.log((1 + n) / (1 + df[lemma])) + 1), 4))
                  for lemma, count in bag.items()]  # fmt: skip
        scored.sort(key=lambda x: (-x[1], x[0]))
        out.append(scored[:top])
    return out


def overall(comments: Sequence[Sequence[Word]], top: int) -> list[tuple[str, int]]:
    """The batch's `top` keywords: in how many comments each content lemma appears."""
    df = Counter(lemma for words in comments for lemma in {w.lemma for w in words if content(w)})
    return sorted(df.items(), key=lambda x: (-x[1], x[0]))[:top]
