"""`tally dbt init`: a starter project over Tally's events that runs green on the demo."""

from __future__ import annotations

from pathlib import Path

from tally.errors import ValidationFailed

FILES: dict[str, str] = {
    "dbt_project.yml": """\
# A dbt project over Tally's events (written by `tally dbt init`).
# Run it: tally enqueue dbt.build --wait   (or dbt.run, dbt.test, dbt.source_freshness)
name: tally_events
version: "1.0"
config-version: 2
profile: tally
model-paths: ["models"]
test-paths: ["tests"]
models:
  tally_events:
    +materialized: table
""",
    "models/sources.yml": """\
version: 2

sources:
  - name: tally
    schema: {database}
    description: Events as Tally stores them.
    tables:
      - name: {table}
        description: One row per event (seed 000's user_events).
        loaded_at_field: created_at
        freshness:
          warn_after: {{count: 1, period: day}}
          error_after: {{count: 3, period: day}}
        columns:
          - name: event_id
            tests: [not_null]
          - name: created_at
            tests: [not_null]
""",
    "models/daily_entity_events.sql": """\
-- Events and distinct users per day and entity.
{{{{ config(order_by='(day, entity_type, entity_id)') }}}}

select
    toDate(created_at) as day,
    entity_type,
    entity_id,
    count() as events,
    uniqExact(user_id) as users
from {{{{ source('tally', '{table}') }}}}
group by day, entity_type, entity_id
""",
    "models/schema.yml": """\
version: 2

models:
  - name: daily_entity_events
    description: Events and distinct users per day and entity.
    columns:
      - name: day
        tests: [not_null]
      - name: entity_id
        tests: [not_null]
      - name: events
        tests: [not_null]
""",
    "tests/events_are_positive.sql": """\
-- A day and entity is only there if it had events.
select * from {{ ref('daily_entity_events') }} where events <= 0
""",
}


def write(project: Path, *, database: str, table: str, force: bool = False) -> list[Path]:
    """Write the starter project into `project`; the files written."""
    if (project / "dbt_project.yml").exists() and not force:
        message = f"{project} already holds a dbt project (--force replaces it)"
        raise ValidationFailed("path", "exists", message)
    written = []
    for name, text in FILES.items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        body = text if name.startswith("tests/") else text.format(database=database, table=table)
        path.write_text(body)
        written.append(path)
    return written
