"""Popularity and trending as one ClickHouse query: one scan, deduplicated by event_id."""

from __future__ import annotations

from typing import Final

from tally.analytics.params import (
    BASELINE_WINDOW_H,
    POPULARITY_WINDOW_H,
    AnalyticsParams,
)
from tally.store.lookups import CATEGORY_KEY, CATEGORY_KEY_BITS, ENTITY_KEY
from tally.store.sql import Names, quote

DIMENSIONS: Final = ("country", "category")
HOUR_MS: Final = 3_600_000
DAY_MS: Final = 24 * HOUR_MS


def _weights(params: AnalyticsParams) -> str:
    """`w`: the event's weight; unknown types weigh 0 (transform's default)."""
    names = ", ".join(quote(n) for n in params.weights)
    values = ", ".join(repr(float(v)) for v in params.weights.values())
    return f"transform(event_type, [{names}]::Array(String), [{values}]::Array(Float64), 0.)"


# The store's thread count, which the scan keeps when the aggregation above it is told to use one.
MAX_THREADS: Final = "SELECT toUInt64(getSetting('max_threads')) AS n"


def analytics(names: Names, as_of_ms: int, params: AnalyticsParams, read_threads: int) -> str:
    """Per (dimension, group): totals, the top popular and the top trending entities.

    Windows are half-open on the left, (a, b]: `t > a AND t <= b`. Popularity decays with
    exp(-(T - t) / tau); trending compares the last 24 h with half the 48 h before, shrunk by
    the prior k so that a handful of events cannot outrank a large, steady rise. FINAL
    reads each event once even before ReplacingMergeTree has merged its copies.
    `read_threads` is the store's max_threads (see MAX_THREADS), kept by the scan and hashing.

    The aggregations group on numbers only: an entity key, and one UInt64 holding the country
    (2 bytes, upper 16 bits) and a category key (lower 48 bits). Names are joined back per
    entity and per group at the end (store.lookups): strings carried through the cells as
    `any()` states cost more than half the run's memory.
    """
    recent_from = as_of_ms - POPULARITY_WINDOW_H * HOUR_MS
    window_from = recent_from - BASELINE_WINDOW_H * HOUR_MS
    tau_ms = repr(float(params.time_decay_days) * DAY_MS)
    k = repr(float(params.trend_prior))
    category_bit = 1 << CATEGORY_KEY_BITS  # set in a group key: a category group, not a country
    first_day = f"toDate(fromUnixTimestamp64Milli({window_from}, 'UTC'))"
    return f"""
WITH per_cell AS (
    -- (entity, country, category) cells. Two UInt64 keys hash as one 128-bit key. The table
    -- keeps each day's events in entity order, so an entity's cells are filled together and
    -- stay in the CPU cache (README, Performance).
    SELECT entity_key, place,
           sumIf(w * exp((t_ms - {as_of_ms}) / {tau_ms}), recent) AS score,
           countIf(recent) AS events,
           sumIf(w, recent) AS recent_w,
           sumIf(w, NOT recent) AS baseline_w,
           countIf(NOT recent) AS baseline_events
    FROM (
        SELECT {ENTITY_KEY} AS entity_key,
               bitOr(bitShiftLeft(toUInt64(reinterpretAsUInt16(country)), {CATEGORY_KEY_BITS}),
                     {CATEGORY_KEY}) AS place,
               {_weights(params)} AS w,
               toUnixTimestamp64Milli(created_at) AS t_ms, t_ms > {recent_from} AS recent
        FROM {names.events} FINAL
        WHERE created_at > fromUnixTimestamp64Milli({window_from}, 'UTC')
          AND created_at <= fromUnixTimestamp64Milli({as_of_ms}, 'UTC')
        -- Copies of an event share its day, hence its partition: FINAL need not merge across.
        SETTINGS max_threads = {int(read_threads)}, do_not_merge_across_partitions_select_final = 1
    )
    -- The scan and hashing above keep every thread; one thread fills the hash table, which is
    -- then never split into two-level buckets: same time, less memory (README, Performance).
    GROUP BY entity_key, place SETTINGS max_threads = 1
),
per_entity AS (
    -- Sums and counts add up, so each dimension is a roll-up of the cells. Group key: the
    -- country code alone, or the category key with category_bit set.
    SELECT group_key, entity_key,
           sum(score) AS score, sum(events) AS events,
           sum(recent_w) AS recent_w, sum(baseline_w) AS baseline_w,
           sum(baseline_events) AS baseline_events
    FROM per_cell
    ARRAY JOIN [toUInt64(bitShiftRight(place, {CATEGORY_KEY_BITS})),
                toUInt64(bitOr(bitAnd(place, {category_bit - 1}), {category_bit}))] AS group_key
    GROUP BY group_key, entity_key SETTINGS max_threads = 1
),
scored AS (
    SELECT group_key, entity_type, entity_id, score, events, recent_w, baseline_w,
           baseline_events, baseline_w / 2 AS expected,
           (recent_w - expected) / sqrt(greatest(expected, 0) + {k}) AS trend_score,
           if(expected > 0, (recent_w - expected) / expected, NULL) AS growth
    FROM per_entity
    ANY LEFT JOIN (
        SELECT entity_key, entity_type, entity_id FROM {names.entity_names} FINAL
        WHERE last_seen >= {first_day}
    ) AS n USING entity_key
),
per_group AS (
    SELECT group_key,
           sum(events) AS total_events,
           sum(baseline_events) AS total_baseline_events,
           sum(score) AS total_score,
           countIf(events > 0) AS total_entities,
           -- groupArraySorted keeps only the top N per group as it goes (a bounded heap),
           -- instead of collecting every entity and sorting it; same order (score desc, then
           -- entity_type, entity_id asc). The score is negated to sort, then back.
           arrayMap(x -> (x.2, x.3, -x.1, x.4), groupArraySortedIf({int(params.top_n)})(
               (-score, entity_type, entity_id, events), score > 0)) AS popular,
           arrayMap(x -> (x.2, x.3, -x.1, x.4, x.5, x.6, x.7, x.8, x.9),
               groupArraySortedIf({int(params.top_n)})(
                   (-trend_score, entity_type, entity_id, events, recent_w, baseline_w,
                    expected, growth, baseline_events),
                   events >= {int(params.trend_min_events)} AND trend_score > 0)) AS trending
    FROM scored
    GROUP BY group_key
)
SELECT if(group_key >= {category_bit}, {quote(DIMENSIONS[1])}, {quote(DIMENSIONS[0])}) AS dimension,
       if(group_key >= {category_bit}, c.category, reinterpretAsString(toUInt16(group_key)))
           AS grp,
       total_events, total_baseline_events, total_score, total_entities, popular, trending
FROM per_group AS g
ANY LEFT JOIN (
    SELECT category_key, category FROM {names.category_names} FINAL
    WHERE last_seen >= {first_day}
) AS c ON c.category_key = bitAnd(g.group_key, {category_bit - 1})
ORDER BY dimension, grp
"""
