"""Text jobs: 10,000 mixed Russian/English comments of ~20 words, comments/s per thread.

  python bench/text.py [--comments 10000]

Printed side by side, in one run (one thread each, as a worker thread runs a batch):
- Tally: `text.pipeline.analyse_all` (normalise, tokens, language, lemmas and parts of
  speech with per-word caches, TF-IDF keywords over the batch);
- naive baseline: the same steps with one analyser call per word and no cache.
Both run on a fresh process's caches (the first batch of a worker's life).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parents[1] / "src"))
from tally.text import keywords, morphology
from tally.text.pipeline import Comment, analyse_all
from tally.text.words import normalise, tokens

console = Console()
RU = ["доставка", "быстрая", "курьер", "вежливый", "товар", "пришел", "сломанный", "возврат", "оформили", "цена", "отличная", "качество", "плохое", "упаковка", "приятная", "магазин", "советую", "заказывал", "снова", "буду", "покупать", "телефон", "работает", "хорошо", "батарея", "держит", "долго", "экран", "яркий", "камера", "снимает"]  # fmt: skip
EN = ["delivery", "was", "fast", "courier", "polite", "product", "arrived", "broken", "refund", "processed", "price", "great", "quality", "poor", "packaging", "nice", "shop", "recommend", "ordered", "again", "will", "buy", "phone", "works", "well", "battery", "lasts", "long", "screen", "bright", "camera", "takes", "pictures"]  # fmt: skip


def corpus(n: int) -> list[Comment]:
    rng = random.Random(20)
    out = []
    for i in range(n):
        vocab = RU if i % 2 else EN
        out.append(Comment(str(i), " ".join(rng.choice(vocab) for _ in range(20))))
    return out


def naive(comments: list[Comment]) -> None:
    """One analyser call per word, no cache; keywords by the same TF-IDF."""
    words = [[morphology.analyse_uncached(t) for t in tokens(normalise(c.text))] for c in comments]
    keywords.per_comment(words, 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=10_000)
    args = parser.parse_args()
    comments = corpus(args.comments)
    morphology.analyse("прогрев")  # the dictionaries load once per process, not per batch
    morphology.analyse("warmup")
    started = time.perf_counter()
    naive(comments)
    naive_s = time.perf_counter() - started
    started = time.perf_counter()
    analyse_all(comments, top=10)
    tally_s = time.perf_counter() - started
    table = Table(title=f"{args.comments:,} comments of 20 words, half Russian, one thread")
    for col in ("way", "seconds", "comments/s", "words/s"):
        table.add_column(col, justify="left" if col == "way" else "right")
    words = args.comments * 20
    table.add_row("naive: one call per word, no cache", f"{naive_s:.2f}",
                  f"{args.comments / naive_s:,.0f}", f"{words / naive_s:,.0f}")  # fmt: skip
    table.add_row("Tally: cached lemmas + TF-IDF keywords", f"{tally_s:.2f}",
                  f"{args.comments / tally_s:,.0f}", f"{words / tally_s:,.0f}")  # fmt: skip
    console.print(table)
    console.print(f"speed-up {naive_s / tally_s:.1f}x; target >= 2,000 comments/s per thread")


if __name__ == "__main__":
    main()
