"""Text jobs: morphology, keywords and batches of comments; seed 002's names as aliases."""

from __future__ import annotations

import uuid
from typing import Any

from tally import keys
from tally.jobs import JobContext, job
from tally.store.owner import StoreOwner
from tally.text import store as text_store
from tally.text.keywords import overall, per_comment
from tally.text.morphology import analyse
from tally.text.pipeline import analyse_all, comments_of, summary
from tally.text.words import normalise, tokens

WORDS_IN_RESULT = 200  # a larger batch's result leaves each word out (the table has them)


def morphology(text: str) -> dict[str, Any]:
    """Every word of `text`: lemma and part of speech (English: lemma only)."""
    words = [analyse(t) for t in tokens(normalise(text))]
    return {"words": [w.as_dict() for w in words], "count": len(words)}


def keywords(texts: list[str], top: int) -> dict[str, Any]:
    """Each text's keywords by TF-IDF over the texts, and theirs overall."""
    analysed = [[analyse(t) for t in tokens(normalise(x))] for x in texts]
    return {
        "keywords": [[{"keyword": k, "score": s} for k, s in found]
                     for found in per_comment(analysed, top)],
        "overall": [{"keyword": k, "texts": n} for k, n in overall(analysed, top)],
    }  # fmt: skip


@job(keys.TASK_TEXT_MORPHOLOGY, queue=keys.DEFAULT_QUEUE, max_tries=1)
def text_morphology(text: str) -> dict[str, Any]:
    """Lemmas and parts of speech of a text (Russian and English)."""
    return morphology(text)


@job(keys.TASK_TEXT_KEYWORDS, queue=keys.DEFAULT_QUEUE, max_tries=1)
def text_keywords(texts: list[str], top: int = 10) -> dict[str, Any]:
    """Keywords of each text, and of all of them."""
    return keywords(texts, top)


@job(keys.TASK_TEXT_BATCH, queue=keys.DEFAULT_QUEUE, max_tries=2)
def text_process_batch(
    ctx: JobContext, comments: list[Any], top: int = 10, *, store: bool = True,
    batch_id: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A batch: language, normalised text, lemmas, keywords, counts; rows in text_comments."""
    given = comments_of(comments)
    analysed = analyse_all(given, top=top, progress=ctx.report_progress)
    batch = batch_id or ctx.job_id or str(uuid.uuid4())
    stored = 0
    if store:
        ctx.report_progress(92, "storing the rows")
        owner = ctx.resource(StoreOwner)
        stored = text_store.insert(owner.store(), owner.store().names.database, batch, analysed)
    with_words = len(analysed) <= WORDS_IN_RESULT
    return {"batch_id": batch, "stored": stored, "summary": summary(analysed, top),
            "results": [a.as_dict(with_words=with_words) for a in analysed]}  # fmt: skip


# Seed 002's task names (its ARQ worker's functions), kept for callers that use them.
@job("analyze_text_morphology", queue=keys.DEFAULT_QUEUE, max_tries=1)
def analyze_text_morphology(text: str) -> dict[str, Any]:
    """Seed 002's name for text.morphology."""
    return morphology(text)


@job("extract_keywords", queue=keys.DEFAULT_QUEUE, max_tries=1)
def extract_keywords(texts: list[str], top: int = 10) -> dict[str, Any]:
    """Seed 002's name for text.keywords."""
    return keywords(texts, top)


@job("process_batch_comments", queue=keys.DEFAULT_QUEUE, max_tries=2)
def process_batch_comments(
    ctx: JobContext, comments: list[Any], top: int = 10, *, store: bool = True
) -> dict[str, Any]:
    """Seed 002's name for text.process_batch."""
    return text_process_batch(ctx, comments, top=top, store=store)
