"""Configuration from the environment and `.env`, read at entry points and passed down."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Mode(StrEnum):
    """How the job engine and buffer run: on Redis, or inside one process."""

    REDIS = "redis"
    EMBEDDED = "embedded"


def redact_url(url: str) -> str:
    """Return `url` with any password replaced, so it can be logged or shown."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.hostname or ""
    netloc = f"{parts.username}:***@{netloc}" if parts.username else f":***@{netloc}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class Settings(BaseSettings):
    """Every knob of Tally; environment names follow the seeds where they had one."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # --- Redis (no URL and no host => embedded mode) ---
    redis_url: SecretStr | None = Field(default=None, validation_alias="REDIS_URL")
    redis_host: str | None = Field(default=None, validation_alias="REDIS_HOST")
    redis_port: int = Field(default=6379, validation_alias="REDIS_PORT")
    redis_db: int = Field(default=0, validation_alias="REDIS_DB")
    redis_password: SecretStr | None = Field(default=None, validation_alias="REDIS_PASSWORD")
    redis_timeout_s: float = Field(default=2.0, gt=0, validation_alias="TALLY_REDIS_TIMEOUT_S")

    # --- Analytics store ---
    clickhouse_url: SecretStr | None = Field(default=None, validation_alias="CLICKHOUSE_URL")
    clickhouse_host: str | None = Field(default=None, validation_alias="CLICKHOUSE_HOST")
    clickhouse_port: int = Field(default=8123, validation_alias="CLICKHOUSE_PORT")
    clickhouse_user: str = Field(default="default", validation_alias="CLICKHOUSE_USER")
    clickhouse_password: SecretStr = Field(
        default=SecretStr(""), validation_alias="CLICKHOUSE_PASSWORD"
    )
    clickhouse_database: str = Field(
        default="analytics", validation_alias="CLICKHOUSE_DATABASE", pattern=r"^[A-Za-z_]\w*$"
    )
    table_name: str = Field(
        default="user_events", validation_alias="TABLE_NAME", pattern=r"^[A-Za-z_]\w*$"
    )
    data_dir: Path = Field(default=Path(".tally"), validation_alias="TALLY_DATA_DIR")
    retention_days: int = Field(default=90, ge=1, validation_alias="TALLY_RETENTION_DAYS")

    # --- Circuit breakers (SPEC §6): name -> {"fail_max": N, "reset_timeout_s": S}, merged
    # over the defaults database (5, 60), dbt (3, 120), external_api (3, 120); new names
    # add breakers for user tasks.
    breakers: dict[str, dict[str, float]] = Field(
        default_factory=dict, validation_alias="TALLY_BREAKERS"
    )

    # --- Metadata DB (alerts, reports, logs); SQLite in the data dir when unset ---
    database_url: SecretStr | None = Field(default=None, validation_alias="DATABASE_URL")

    # --- Events ---
    batch_size: int = Field(
        default=10_000,
        ge=1,
        validation_alias=AliasChoices("TALLY_BATCH_SIZE", "ANALYTICS_BATCH_SIZE"),
    )
    flush_interval_s: float = Field(
        default=60.0,
        gt=0,
        validation_alias=AliasChoices("TALLY_FLUSH_INTERVAL_S", "ANALYTICS_FLUSH_INTERVAL"),
    )
    # Events per store insert: one insert of 100,000 rows costs far less than ten of 10,000
    # (fixed costs per insert: a part written, a dedup lookup); ~40 MB of memory per block.
    flush_insert_events: int = Field(
        default=100_000, ge=1, validation_alias="TALLY_FLUSH_INSERT_EVENTS"
    )
    flush_lock_ttl_s: float = Field(default=60.0, gt=0, validation_alias="TALLY_FLUSH_LOCK_TTL_S")
    flush_max_duration_s: float = Field(
        default=50.0, gt=0, validation_alias="TALLY_FLUSH_MAX_DURATION_S"
    )
    dedup_window_s: int = Field(default=86_400, ge=0, validation_alias="TALLY_DEDUP_WINDOW_S")
    max_body_bytes: int = Field(
        default=10_000_000, ge=1024, validation_alias="TALLY_MAX_BODY_BYTES"
    )
    # Events per second per API token on ingest; 0 turns the limit off.
    ingest_rate_limit: int = Field(default=0, ge=0, validation_alias="TALLY_INGEST_RATE_LIMIT")
    max_batch_events: int = Field(default=10_000, ge=1, validation_alias="TALLY_MAX_BATCH_EVENTS")
    max_event_bytes: int = Field(default=32_768, ge=256, validation_alias="TALLY_MAX_EVENT_BYTES")
    max_future_skew_s: int = Field(default=300, ge=0, validation_alias="TALLY_MAX_FUTURE_SKEW_S")
    reject_bots: bool = Field(default=True, validation_alias="TALLY_REJECT_BOTS")
    ip_anonymization: Literal["none", "truncate", "hash"] = Field(
        default="none", validation_alias="TALLY_IP_ANONYMIZATION"
    )
    ip_hash_salt: SecretStr = Field(default=SecretStr(""), validation_alias="TALLY_IP_HASH_SALT")

    # --- Jobs ---
    job_timeout_s: int = Field(
        default=300, ge=1, validation_alias=AliasChoices("TALLY_JOB_TIMEOUT", "ARQ_JOB_TIMEOUT")
    )
    max_tries: int = Field(
        default=3, ge=1, validation_alias=AliasChoices("TALLY_MAX_TRIES", "ARQ_MAX_TRIES")
    )
    result_expires_s: int = Field(
        default=7 * 86_400, ge=60, validation_alias="TALLY_RESULT_EXPIRES_S"
    )
    job_history_ttl_s: int = Field(
        default=7 * 86_400, ge=1, validation_alias="TALLY_JOB_HISTORY_TTL_S"
    )
    job_history_max: int = Field(default=10_000, ge=1, validation_alias="TALLY_JOB_HISTORY_MAX")
    retry_backoff_s: int = Field(default=1, ge=1, validation_alias="TALLY_RETRY_BACKOFF_S")
    retry_backoff_max_s: int = Field(
        default=600, ge=1, validation_alias="TALLY_RETRY_BACKOFF_MAX_S"
    )
    abort_check_s: float = Field(default=0.5, gt=0, validation_alias="TALLY_ABORT_CHECK_S")
    scheduler_poll_s: float = Field(default=0.5, gt=0, validation_alias="TALLY_SCHEDULER_POLL_S")
    task_modules: str = Field(
        default="",
        validation_alias="TALLY_TASK_MODULES",
        description="comma-separated modules whose @job functions become tasks",
    )
    worker_heartbeat_s: float = Field(default=10.0, gt=0, validation_alias="TALLY_HEARTBEAT_S")
    shutdown_grace_s: float = Field(
        default=25.0,
        ge=0,
        validation_alias="TALLY_SHUTDOWN_GRACE_S",
        description="on SIGTERM, how long running jobs may finish before they are re-queued",
    )
    visibility_margin_s: int = Field(
        default=60,
        ge=1,
        validation_alias="TALLY_VISIBILITY_MARGIN_S",
        description="added to the longest hard limit to give the broker's visibility timeout",
    )
    redelivery_check_s: int = Field(
        default=5,
        ge=1,
        validation_alias="TALLY_REDELIVERY_CHECK_S",
        description="how often workers look for messages of dead workers to re-deliver",
    )
    embedded_poll_interval_s: float = Field(
        default=0.01, gt=0, validation_alias="TALLY_EMBEDDED_POLL_INTERVAL_S"
    )

    # --- Analytics (SPEC §4) ---
    analytics_weights: dict[str, float] | None = Field(
        default=None,
        validation_alias="TALLY_ANALYTICS_WEIGHTS",
        description="JSON object event_type -> weight; unset = seed 000's weights",
    )
    time_decay_days: float = Field(default=1.0, gt=0, validation_alias="TALLY_TIME_DECAY_DAYS")
    top_n: int = Field(default=50, ge=1, le=10_000, validation_alias="TALLY_TOP_N")
    trend_prior: float = Field(default=5.0, gt=0, validation_alias="TALLY_TREND_PRIOR")
    trend_min_events: int = Field(default=5, ge=0, validation_alias="TALLY_TREND_MIN_EVENTS")
    analytics_schedule: str = Field(
        default="0 2 * * *",
        validation_alias="TALLY_ANALYTICS_SCHEDULE",
        description="cron: minute hour day-of-month month day-of-week (UTC)",
    )
    analytics_on_startup: bool = Field(default=True, validation_alias="TALLY_ANALYTICS_ON_STARTUP")
    cache_prefix: str = Field(default="", validation_alias="TALLY_CACHE_PREFIX")
    cache_ttl_s: int = Field(default=25 * 3600, ge=60, validation_alias="TALLY_CACHE_TTL_S")
    beat_lock_ttl_s: float = Field(default=30.0, ge=1, validation_alias="TALLY_BEAT_LOCK_TTL_S")

    # --- API ---
    api_tokens: SecretStr = Field(
        default=SecretStr(""),
        validation_alias="TALLY_API_TOKENS",
        description="comma-separated bearer tokens; empty is allowed in embedded mode only",
    )
    api_host: str = Field(default="127.0.0.1", validation_alias="TALLY_API_HOST")
    api_port: int = Field(default=8000, ge=1, le=65535, validation_alias="TALLY_API_PORT")
    request_timeout_s: float = Field(default=30.0, gt=0, validation_alias="TALLY_REQUEST_TIMEOUT_S")
    log_level: str = Field(default="INFO", validation_alias="TALLY_LOG_LEVEL")
    dashboard_public: bool = Field(
        default=False,
        validation_alias="TALLY_DASHBOARD_PUBLIC",
        description="let anyone read the dashboard; changes still need a token",
    )
    dashboard_sample_s: float = Field(
        default=15.0,
        gt=0,
        validation_alias="TALLY_DASHBOARD_SAMPLE_S",
        description="how often the API samples the overview's last-hour charts",
    )
    flower_user: str = Field(default="tally", validation_alias="TALLY_FLOWER_USER")
    flower_password: SecretStr = Field(
        default=SecretStr(""), validation_alias="TALLY_FLOWER_PASSWORD"
    )
    log_format: Literal["auto", "rich", "text", "json"] = Field(
        default="auto",
        validation_alias="TALLY_LOG_FORMAT",
        description="auto: rich on a terminal, one plain line per record otherwise",
    )

    @field_validator("redis_host", "clickhouse_host", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("redis_url", "clickhouse_url", "database_url", mode="before")
    @classmethod
    def _blank_url_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("analytics_schedule")
    @classmethod
    def _five_cron_fields(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError("expected 5 cron fields: minute hour day-of-month month day-of-week")
        return value

    def api_token_list(self) -> list[str]:
        """The accepted bearer tokens (none: auth is off, embedded development only)."""
        raw = self.api_tokens.get_secret_value()
        return [t.strip() for t in raw.split(",") if t.strip()]

    def task_module_list(self) -> list[str]:
        """Modules to import for user tasks."""
        return [m.strip() for m in self.task_modules.split(",") if m.strip()]

    @property
    def mode(self) -> Mode:
        """Redis mode when a Redis URL or host is configured, embedded otherwise."""
        return Mode.REDIS if self.broker_redis_url() else Mode.EMBEDDED

    def broker_redis_url(self) -> str | None:
        """The Redis URL in force: `REDIS_URL`, else one built from `REDIS_HOST/PORT/DB`."""
        if self.redis_url is not None:
            return self.redis_url.get_secret_value()
        if self.redis_host:
            auth = ""
            if self.redis_password is not None:
                auth = f":{quote(self.redis_password.get_secret_value(), safe='')}@"
            return f"redis://{auth}{self.redis_host}:{self.redis_port}/{self.redis_db}"
        return None

    def clickhouse_server_url(self) -> str | None:
        """The ClickHouse server URL in force, or None for the embedded chDB store."""
        if self.clickhouse_url is not None:
            return self.clickhouse_url.get_secret_value()
        if self.clickhouse_host:
            return f"http://{self.clickhouse_host}:{self.clickhouse_port}"
        return None

    @property
    def store_kind(self) -> Literal["chdb", "clickhouse"]:
        """`clickhouse` when a server is configured, `chdb` (embedded) otherwise."""
        return "clickhouse" if self.clickhouse_server_url() else "chdb"

    @property
    def chdb_path(self) -> Path:
        """Directory the embedded chDB store owns."""
        return self.data_dir / "chdb"

    def describe(self) -> dict[str, str]:
        """A redacted summary of the configuration, safe to print or log."""
        redis = self.broker_redis_url()
        ch = self.clickhouse_server_url()
        return {
            "mode": self.mode.value,
            "redis": redact_url(redis) if redis else "none (embedded, in-process)",
            "store": redact_url(ch) if ch else f"chdb at {self.chdb_path}",
            "table": f"{self.clickhouse_database}.{self.table_name}",
        }
