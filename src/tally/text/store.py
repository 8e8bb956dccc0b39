"""The `text_comments` table: a batch's comments with lemmas and keywords, for analytics
and reports to read (`SELECT … FROM analytics.text_comments`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import orjson

from tally.store.base import Store
from tally.store.sql import quote
from tally.text.pipeline import Analysed

STATEMENT_BYTES = 200_000  # under ClickHouse's max_query_size (256 KiB) with room to spare
STRUCTURE = (
    "batch_id String, comment_id String, language String, text String, normalized String, "
    "lemmas Array(String), pos Array(String), keywords Array(String), words UInt32, "
    "processed_at DateTime64(3, 'UTC')"
)


def table(database: str) -> str:
    """The table's full name."""
    return f"{database}.text_comments"


def create(store: Store, database: str) -> None:
    """Create the table if it is missing (a batch stored twice keeps one row per comment)."""
    store.command(
        f"CREATE TABLE IF NOT EXISTS {table(database)} ({STRUCTURE})"
        " ENGINE = ReplacingMergeTree(processed_at) ORDER BY (batch_id, comment_id)"
    )


def insert(store: Store, database: str, batch_id: str, analysed: Sequence[Analysed]) -> int:
    """Write the batch's rows, in statements the store accepts; how many rows."""
    create(store, database)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    lines = [
        orjson.dumps({
            "batch_id": batch_id, "comment_id": a.comment.id, "language": a.language.value,
            "text": a.comment.text, "normalized": a.normalised,
            "lemmas": [w.lemma for w in a.words], "pos": [w.pos or "" for w in a.words],
            "keywords": [k for k, _ in a.keywords], "words": len(a.words), "processed_at": now,
        }).decode()
        for a in analysed
    ]  # fmt: skip
    chunk: list[str] = []
    size = 0
    for line in [*lines, None]:
        if chunk and (line is None or size + len(line) > STATEMENT_BYTES):
            data = "\n".join(chunk)
            # The rows travel as one quoted literal: the store parses them, no value is SQL.
            store.command(f"INSERT INTO {table(database)} SELECT * FROM "  # noqa: S608
                          f"format(JSONEachRow, {quote(STRUCTURE)}, {quote(data)})")  # fmt: skip
            chunk, size = [], 0
        if line is not None:
            chunk.append(line)
            size += len(line) + 1
    return len(lines)
