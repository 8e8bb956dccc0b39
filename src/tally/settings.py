"""Configuration from the environment and `.env`, in one section per part of Tally.

Each section reads its own environment names (the seeds' names where they had one); a
capability receives its section, never the whole object. `Settings` composes them.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tally.keys import QUEUES

S = TypeVar("S", bound="Section")


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


def _blank_is_none(value: object) -> object:
    return None if value == "" else value


def _five_cron_fields(value: str | None) -> str | None:
    if value is not None and len(value.split()) != 5:
        raise ValueError("expected 5 cron fields: minute hour day-of-month month day-of-week")
    return value


class Section(BaseSettings):
    """A settings section: its fields read from the environment and `.env`."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )


class RedisSettings(Section):
    """Redis: broker, job index, buffer and cache (no URL and no host: embedded mode)."""

    url: SecretStr | None = Field(default=None, validation_alias="REDIS_URL")
    host: str | None = Field(default=None, validation_alias="REDIS_HOST")
    port: int = Field(default=6379, validation_alias="REDIS_PORT")
    db: int = Field(default=0, validation_alias="REDIS_DB")
    password: SecretStr | None = Field(default=None, validation_alias="REDIS_PASSWORD")
    timeout_s: float = Field(default=2.0, gt=0, validation_alias="TALLY_REDIS_TIMEOUT_S")
    # The buffer is the only copy of an acknowledged event: an `allkeys-*` maxmemory-policy
    # may evict it, so ingest refuses then, unless this says the risk is accepted.
    allow_evicting: bool = Field(default=False, validation_alias="TALLY_ALLOW_EVICTING_REDIS")
    require_persistence: bool = Field(
        default=False,
        validation_alias="TALLY_REQUIRE_REDIS_PERSISTENCE",
        description="refuse events while Redis has no AOF (production: set it)",
    )
    policy_check_s: float = Field(default=60.0, gt=0, validation_alias="TALLY_REDIS_POLICY_CHECK_S")

    _none_if_blank = field_validator("url", "host", mode="before")(_blank_is_none)

    @field_validator("url")
    @classmethod
    def _a_redis_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            scheme = urlsplit(value.get_secret_value()).scheme
            if scheme not in ("redis", "rediss", "unix"):
                raise ValueError(
                    f"scheme {scheme or 'missing'!r}: expected redis://, rediss:// or unix://"
                )
        return value

    def url_in_force(self) -> str | None:
        """`REDIS_URL`, else one built from `REDIS_HOST/PORT/DB/PASSWORD`, else None."""
        if self.url is not None:
            return self.url.get_secret_value()
        if self.host:
            auth = ""
            if self.password is not None:
                auth = f":{quote(self.password.get_secret_value(), safe='')}@"
            return f"redis://{auth}{self.host}:{self.port}/{self.db}"
        return None

    @property
    def mode(self) -> Mode:
        """Redis mode when a Redis URL or host is configured, embedded otherwise."""
        return Mode.REDIS if self.url_in_force() else Mode.EMBEDDED


class StoreSettings(Section):
    """The analytics store: a ClickHouse server, or chDB in the data directory."""

    clickhouse_url: SecretStr | None = Field(default=None, validation_alias="CLICKHOUSE_URL")
    clickhouse_host: str | None = Field(default=None, validation_alias="CLICKHOUSE_HOST")
    clickhouse_port: int = Field(default=8123, validation_alias="CLICKHOUSE_PORT")
    clickhouse_user: str | None = Field(default=None, validation_alias="CLICKHOUSE_USER")
    clickhouse_password: SecretStr = Field(
        default=SecretStr(""), validation_alias="CLICKHOUSE_PASSWORD"
    )
    database: str = Field(
        default="analytics", validation_alias="CLICKHOUSE_DATABASE", pattern=r"^[A-Za-z_]\w*$"
    )
    table_name: str = Field(
        default="user_events", validation_alias="TABLE_NAME", pattern=r"^[A-Za-z_]\w*$"
    )
    data_dir: Path = Field(default=Path(".tally"), validation_alias="TALLY_DATA_DIR")
    retention_days: int = Field(default=90, ge=1, validation_alias="TALLY_RETENTION_DAYS")
    backup_dir: Path | None = Field(
        default=None,
        validation_alias="TALLY_BACKUP_DIR",
        description="where store backups go (default: <TALLY_DATA_DIR>/backups)",
    )

    _none_if_blank = field_validator("clickhouse_url", "clickhouse_host", "clickhouse_user",
                                     mode="before")(_blank_is_none)  # fmt: skip

    def server_url(self) -> str | None:
        """The ClickHouse server URL in force, or None for the embedded chDB store."""
        if self.clickhouse_url is not None:
            return self.clickhouse_url.get_secret_value()
        if self.clickhouse_host:
            return f"http://{self.clickhouse_host}:{self.clickhouse_port}"
        return None

    @property
    def kind(self) -> Literal["chdb", "clickhouse"]:
        """`clickhouse` when a server is configured, `chdb` (embedded) otherwise."""
        return "clickhouse" if self.server_url() else "chdb"

    @property
    def chdb_path(self) -> Path:
        """Directory the embedded chDB store owns."""
        return self.data_dir / "chdb"

    @property
    def backup_path(self) -> Path:
        """TALLY_BACKUP_DIR, or `backups` in the data directory."""
        return self.backup_dir if self.backup_dir is not None else self.data_dir / "backups"


class FlushSettings(Section):
    """Buffer → store: when to flush, how much per insert, and the dedup window."""

    batch_size: int = Field(
        default=10_000,
        ge=1,
        validation_alias=AliasChoices("TALLY_BATCH_SIZE", "ANALYTICS_BATCH_SIZE"),
    )
    interval_s: float = Field(
        default=60.0,
        gt=0,
        validation_alias=AliasChoices("TALLY_FLUSH_INTERVAL_S", "ANALYTICS_FLUSH_INTERVAL"),
    )
    # Events per store insert: one insert of 100,000 rows costs far less than ten of 10,000
    # (fixed costs per insert: a part written, a dedup lookup); ~40 MB of memory per block.
    insert_events: int = Field(default=100_000, ge=1, validation_alias="TALLY_FLUSH_INSERT_EVENTS")
    lock_ttl_s: float = Field(default=60.0, gt=0, validation_alias="TALLY_FLUSH_LOCK_TTL_S")
    max_duration_s: float = Field(default=50.0, gt=0, validation_alias="TALLY_FLUSH_MAX_DURATION_S")
    dedup_window_s: int = Field(default=86_400, ge=0, validation_alias="TALLY_DEDUP_WINDOW_S")


class IngestSettings(Section):
    """Validation limits, the per-token rate limit and IP privacy at ingest."""

    max_body_bytes: int = Field(
        default=10_000_000, ge=1024, validation_alias="TALLY_MAX_BODY_BYTES"
    )
    # Events per second per API token on ingest; 0 turns the limit off.
    rate_limit: int = Field(default=0, ge=0, validation_alias="TALLY_INGEST_RATE_LIMIT")
    max_batch_events: int = Field(default=10_000, ge=1, validation_alias="TALLY_MAX_BATCH_EVENTS")
    max_event_bytes: int = Field(default=32_768, ge=256, validation_alias="TALLY_MAX_EVENT_BYTES")
    max_future_skew_s: int = Field(default=300, ge=0, validation_alias="TALLY_MAX_FUTURE_SKEW_S")
    reject_bots: bool = Field(default=True, validation_alias="TALLY_REJECT_BOTS")
    ip_anonymization: Literal["none", "truncate", "hash"] = Field(
        default="none", validation_alias="TALLY_IP_ANONYMIZATION"
    )
    ip_hash_salt: SecretStr = Field(default=SecretStr(""), validation_alias="TALLY_IP_HASH_SALT")


class JobsSettings(Section):
    """The job platform: limits, retries, history, workers, beat and circuit breakers."""

    timeout_s: int = Field(
        default=300, ge=1, validation_alias=AliasChoices("TALLY_JOB_TIMEOUT", "ARQ_JOB_TIMEOUT")
    )
    max_tries: int = Field(
        default=3, ge=1, validation_alias=AliasChoices("TALLY_MAX_TRIES", "ARQ_MAX_TRIES")
    )
    result_expires_s: int = Field(
        default=7 * 86_400, ge=60, validation_alias="TALLY_RESULT_EXPIRES_S"
    )
    history_ttl_s: int = Field(default=7 * 86_400, ge=1, validation_alias="TALLY_JOB_HISTORY_TTL_S")
    history_max: int = Field(default=10_000, ge=1, validation_alias="TALLY_JOB_HISTORY_MAX")
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
    heartbeat_s: float = Field(default=10.0, gt=0, validation_alias="TALLY_HEARTBEAT_S")
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
    beat_lock_ttl_s: float = Field(default=30.0, ge=1, validation_alias="TALLY_BEAT_LOCK_TTL_S")
    # Circuit breakers (SPEC §6): name -> {"fail_max": N, "reset_timeout_s": S}, merged over
    # the defaults database (5, 60), dbt (3, 120), external_api (3, 120); new names add
    # breakers for user tasks.
    breakers: dict[str, dict[str, float]] = Field(
        default_factory=dict, validation_alias="TALLY_BREAKERS"
    )

    def task_module_list(self) -> list[str]:
        """Modules to import for user tasks."""
        return [m.strip() for m in self.task_modules.split(",") if m.strip()]


class AnalyticsSettings(Section):
    """Popularity and trending (SPEC §4): parameters, schedule and result keys."""

    weights: dict[str, float] | None = Field(
        default=None,
        validation_alias="TALLY_ANALYTICS_WEIGHTS",
        description="JSON object event_type -> weight; unset = seed 000's weights",
    )
    time_decay_days: float = Field(default=1.0, gt=0, validation_alias="TALLY_TIME_DECAY_DAYS")
    top_n: int = Field(default=50, ge=1, le=10_000, validation_alias="TALLY_TOP_N")
    trend_prior: float = Field(default=5.0, gt=0, validation_alias="TALLY_TREND_PRIOR")
    trend_min_events: int = Field(default=5, ge=0, validation_alias="TALLY_TREND_MIN_EVENTS")
    schedule: str = Field(
        default="0 2 * * *",
        validation_alias="TALLY_ANALYTICS_SCHEDULE",
        description="cron: minute hour day-of-month month day-of-week (UTC)",
    )
    on_startup: bool = Field(default=True, validation_alias="TALLY_ANALYTICS_ON_STARTUP")
    cache_prefix: str = Field(default="", validation_alias="TALLY_CACHE_PREFIX")
    cache_ttl_s: int = Field(default=25 * 3600, ge=60, validation_alias="TALLY_CACHE_TTL_S")

    _cron = field_validator("schedule")(_five_cron_fields)


class AlertsSettings(Section):
    """Alerts (SPEC §10): evaluation tick, delivery, rate limits, seed 001's channel defaults."""

    tick_s: float = Field(
        default=15.0,
        gt=0,
        validation_alias="TALLY_ALERTS_TICK_S",
        description="how often beat looks for rules due (each rule keeps its own schedule)",
    )
    send_lease_s: float = Field(
        default=60.0,
        gt=0,
        validation_alias="TALLY_ALERTS_SEND_LEASE_S",
        description="a send not marked done within this is taken as crashed and sent again",
    )
    max_send_tries: int = Field(default=8, ge=1, validation_alias="TALLY_ALERTS_MAX_SEND_TRIES")
    backoff_s: float = Field(default=2.0, gt=0, validation_alias="TALLY_ALERTS_BACKOFF_S")
    backoff_max_s: float = Field(default=600.0, gt=0, validation_alias="TALLY_ALERTS_BACKOFF_MAX_S")
    send_timeout_s: float = Field(
        default=10.0, gt=0, validation_alias="TALLY_ALERTS_SEND_TIMEOUT_S"
    )
    max_per_rule_per_hour: int = Field(
        default=30, ge=1, validation_alias="TALLY_ALERTS_MAX_PER_RULE_PER_HOUR"
    )
    max_per_hour: int = Field(default=500, ge=1, validation_alias="TALLY_ALERTS_MAX_PER_HOUR")
    webhook_allowed_hosts: str = Field(
        default="",
        validation_alias="TALLY_WEBHOOK_ALLOWED_HOSTS",
        description="comma-separated hosts, IPs or CIDRs a webhook may target beyond public "
        "hosts (loopback and private ranges are refused unless listed)",
    )
    public_url: str | None = Field(
        default=None,
        validation_alias="TALLY_PUBLIC_URL",
        description="the dashboard's address in notifications (default: the API's host:port)",
    )
    # Seed 001's names: what an email or webhook channel uses for a field it leaves out.
    email_smtp_host: str | None = Field(default=None, validation_alias="ALERT_EMAIL_SMTP_HOST")
    email_smtp_port: int = Field(
        default=587, ge=1, le=65535, validation_alias="ALERT_EMAIL_SMTP_PORT"
    )
    email_user: str | None = Field(
        default=None, validation_alias=AliasChoices("ALERT_EMAIL_USER", "ALERT_EMAIL_SMTP_USER")
    )
    email_password: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("ALERT_EMAIL_PASSWORD", "ALERT_EMAIL_SMTP_PASSWORD"),
    )
    email_from: str | None = Field(
        default=None, validation_alias=AliasChoices("ALERT_EMAIL_FROM", "ALERT_EMAIL_SMTP_FROM")
    )
    email_to: str | None = Field(
        default=None, validation_alias=AliasChoices("ALERT_EMAIL_TO", "ALERT_EMAIL_SMTP_TO")
    )
    email_security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls",
        validation_alias=AliasChoices("ALERT_EMAIL_SECURITY", "ALERT_EMAIL_SMTP_SECURITY"),
    )
    webhook_url: SecretStr | None = Field(default=None, validation_alias="ALERT_WEBHOOK_URL")
    history_days: float = Field(
        default=90,
        gt=0,
        validation_alias="TALLY_ALERT_HISTORY_DAYS",
        description="state changes and sent notifications older than this are removed",
    )

    _none_if_blank = field_validator(
        "public_url", "email_smtp_host", "email_user", "email_password", "email_from",
        "email_to", "webhook_url", mode="before",
    )(_blank_is_none)  # fmt: skip

    def allowed_hosts(self) -> list[str]:
        """TALLY_WEBHOOK_ALLOWED_HOSTS as a list."""
        return [h.strip().lower() for h in self.webhook_allowed_hosts.split(",") if h.strip()]


class ReportsSettings(Section):
    """Reports (SPEC §11): where files go, how long they stay, limits of a run."""

    reports_dir: Path | None = Field(
        default=None,
        validation_alias="TALLY_REPORTS_DIR",
        description="report files and directory deliveries (default: <TALLY_DATA_DIR>/reports)",
    )
    data_dir: Path = Field(default=Path(".tally"), validation_alias="TALLY_DATA_DIR")
    retention_days: float = Field(default=30, gt=0, validation_alias="TALLY_REPORT_RETENTION_DAYS")
    tick_s: float = Field(
        default=20.0,
        gt=0,
        validation_alias="TALLY_REPORTS_TICK_S",
        description="how often beat looks for scheduled reports due (each keeps its own cron)",
    )
    cleanup_schedule: str = Field(
        default="40 3 * * *",
        validation_alias="TALLY_REPORTS_CLEANUP_SCHEDULE",
        description="cron (UTC) of the cleanup of runs past TALLY_REPORT_RETENTION_DAYS",
    )
    run_lease_s: float = Field(
        default=900.0,
        gt=0,
        validation_alias="TALLY_REPORTS_RUN_LEASE_S",
        description="a run not finished within this is taken as crashed and run again",
    )
    max_document_rows: int = Field(
        default=1000,
        ge=1,
        validation_alias="TALLY_REPORTS_MAX_DOCUMENT_ROWS",
        description="rows an HTML or PDF report shows (CSV and JSON have them all)",
    )
    sql_max_rows: int = Field(
        default=10_000_000, ge=1, validation_alias="TALLY_REPORTS_SQL_MAX_ROWS"
    )
    sql_timeout_s: int = Field(default=300, ge=1, validation_alias="TALLY_REPORTS_SQL_TIMEOUT_S")
    delivery_tries: int = Field(default=6, ge=1, validation_alias="TALLY_REPORTS_DELIVERY_TRIES")
    backoff_s: float = Field(default=5.0, gt=0, validation_alias="TALLY_REPORTS_BACKOFF_S")
    backoff_max_s: float = Field(
        default=900.0, gt=0, validation_alias="TALLY_REPORTS_BACKOFF_MAX_S"
    )
    email_max_bytes: int = Field(
        default=10_000_000,
        ge=1024,
        validation_alias="TALLY_REPORTS_EMAIL_MAX_BYTES",
        description="a larger file is not attached: the email links to its download",
    )
    file_roots: str = Field(
        default="",
        validation_alias="TALLY_REPORTS_FILE_ROOTS",
        description="comma-separated folders a file:// delivery may write to, beside "
        "TALLY_REPORTS_DIR",
    )
    storage_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        validation_alias="TALLY_REPORTS_STORAGE_OPTIONS",
        description='JSON: URL scheme -> fsspec options (e.g. {"s3": {"endpoint_url": …}})',
    )

    _cron = field_validator("cleanup_schedule")(_five_cron_fields)

    @property
    def directory(self) -> Path:
        """TALLY_REPORTS_DIR, or `reports` in the data directory."""
        return self.reports_dir if self.reports_dir is not None else self.data_dir / "reports"

    def roots(self) -> list[Path]:
        """Folders file:// deliveries may write to."""
        extra = [Path(p.strip()) for p in self.file_roots.split(",") if p.strip()]
        return [self.directory, *extra]


class DbtSettings(Section):
    """dbt (SPEC §12): the project, its profile and target, and when it runs."""

    project_path: Path | None = Field(
        default=None,
        validation_alias="DBT_PROJECT_PATH",
        description="the dbt project (default: <TALLY_DATA_DIR>/dbt; `tally dbt init` writes one)",
    )
    profiles_dir: Path | None = Field(
        default=None,
        validation_alias="DBT_PROFILES_DIR",
        description="a folder with profiles.yml (unset: one generated for Tally's own store)",
    )
    target: str | None = Field(default=None, validation_alias="DBT_TARGET")
    schema_name: str = Field(
        default="analytics_dbt",
        pattern=r"^[A-Za-z_]\w*$",
        validation_alias="TALLY_DBT_SCHEMA",
        description="the database the generated profile builds models into",
    )
    threads: int = Field(default=4, ge=1, le=32, validation_alias="TALLY_DBT_THREADS")
    log_retention_days: float = Field(default=90, gt=0, validation_alias="TALLY_REFRESH_LOG_DAYS")
    build_schedule: str | None = Field(
        default=None,
        validation_alias="TALLY_DBT_BUILD_SCHEDULE",
        description="cron (UTC) of `dbt build` (unset: not scheduled)",
    )
    freshness_schedule: str | None = Field(
        default=None,
        validation_alias="TALLY_DBT_FRESHNESS_SCHEDULE",
        description="cron (UTC) of `dbt source freshness` (unset: not scheduled)",
    )
    docs_schedule: str | None = Field(
        default=None,
        validation_alias="TALLY_DBT_DOCS_SCHEDULE",
        description="cron (UTC) of `dbt docs generate` (unset: not scheduled)",
    )
    data_dir: Path = Field(default=Path(".tally"), validation_alias="TALLY_DATA_DIR")

    _none_if_blank = field_validator(
        "target", "build_schedule", "freshness_schedule", "docs_schedule", mode="before"
    )(_blank_is_none)

    _cron = field_validator("build_schedule", "freshness_schedule", "docs_schedule")(
        _five_cron_fields
    )

    @property
    def project(self) -> Path:
        """DBT_PROJECT_PATH, or `dbt` in the data directory."""
        return self.project_path if self.project_path is not None else self.data_dir / "dbt"


class MaintenanceSettings(Section):
    """Maintenance and monitoring (SPEC §13): catalog, query stats, metrics, cleanup, backups."""

    catalog_schedule: str = Field(default="15 * * * *", validation_alias="TALLY_CATALOG_SCHEDULE")
    query_stats_schedule: str = Field(
        default="5 * * * *", validation_alias="TALLY_QUERY_STATS_SCHEDULE"
    )
    monitoring_interval_s: float = Field(
        default=30.0,
        ge=5,
        validation_alias="TALLY_MONITORING_INTERVAL_S",
        description="how often each process's CPU, memory and files, and the queues, are kept",
    )
    task_stats_schedule: str = Field(
        default="*/10 * * * *", validation_alias="TALLY_TASK_STATS_SCHEDULE"
    )
    cleanup_schedule: str = Field(default="30 3 * * *", validation_alias="TALLY_CLEANUP_SCHEDULE")
    monitoring_retention_days: float = Field(
        default=30, gt=0, validation_alias="TALLY_MONITORING_RETENTION_DAYS"
    )
    backup_schedule: str | None = Field(
        default="0 * * * *",
        validation_alias="TALLY_BACKUP_SCHEDULE",
        description="cron (UTC) of incremental backups on the day's full one (seed 003: hourly)",
    )
    full_backup_schedule: str | None = Field(
        default="30 2 * * *",
        validation_alias="TALLY_FULL_BACKUP_SCHEDULE",
        description="cron (UTC) of full backups (seed 003: daily)",
    )
    backup_keep_days: float = Field(default=7, gt=0, validation_alias="TALLY_BACKUP_KEEP_DAYS")
    backup_url: str | None = Field(
        default=None,
        pattern=r"^s3://[a-z0-9.\-]{3,63}(/.*)?$",
        validation_alias="TALLY_BACKUP_URL",
        description="s3://bucket/prefix: backups to S3 instead of TALLY_BACKUP_DIR",
    )
    backup_s3_endpoint: str | None = Field(
        default=None,
        validation_alias="TALLY_BACKUP_S3_ENDPOINT",
        description="an S3-compatible endpoint (default: AWS)",
    )
    backup_s3_key: str = Field(default="", validation_alias="TALLY_BACKUP_S3_KEY")
    backup_s3_secret: SecretStr = Field(
        default=SecretStr(""), validation_alias="TALLY_BACKUP_S3_SECRET"
    )

    _none_if_blank = field_validator(
        "backup_schedule", "full_backup_schedule", "backup_url", "backup_s3_endpoint",
        mode="before",
    )(_blank_is_none)  # fmt: skip

    _cron = field_validator(
        "catalog_schedule", "query_stats_schedule", "task_stats_schedule", "cleanup_schedule",
        "backup_schedule", "full_backup_schedule",
    )(_five_cron_fields)  # fmt: skip


class TextSettings(Section):
    """Text jobs (SPEC §14): how much `POST /api/v1/text/analyze` answers at once."""

    sync_max: int = Field(
        default=200,
        ge=1,
        le=10_000,
        validation_alias="TALLY_TEXT_SYNC_MAX",
        description="more comments than this become a job (text.process_batch)",
    )
    top: int = Field(default=10, ge=1, le=100, validation_alias="TALLY_TEXT_TOP_KEYWORDS")


class CompatSettings(Section):
    """What the replaced systems' callers see (SPEC §15): seed 002's ARQ names."""

    arq_queue_name: str = Field(default="arq:queue", validation_alias="ARQ_QUEUE_NAME")


class MetadataSettings(Section):
    """The metadata database: PostgreSQL (`DATABASE_URL`), or SQLite in the data directory."""

    database_url: SecretStr | None = Field(default=None, validation_alias="DATABASE_URL")
    data_dir: Path = Field(default=Path(".tally"), validation_alias="TALLY_DATA_DIR")

    _none_if_blank = field_validator("database_url", mode="before")(_blank_is_none)


class ApiSettings(Section):
    """The REST API: where it listens and the bearer tokens it accepts."""

    tokens: SecretStr = Field(
        default=SecretStr(""),
        validation_alias="TALLY_API_TOKENS",
        description="comma-separated bearer tokens; empty is allowed in embedded mode only",
    )
    host: str = Field(default="127.0.0.1", validation_alias="TALLY_API_HOST")
    port: int = Field(default=8000, ge=1, le=65535, validation_alias="TALLY_API_PORT")

    def token_list(self) -> list[str]:
        """The accepted bearer tokens (none: auth is off, embedded development only)."""
        raw = self.tokens.get_secret_value()
        return [t.strip() for t in raw.split(",") if t.strip()]


class DashboardSettings(Section):
    """The web dashboard at `/` of the API."""

    public: bool = Field(
        default=False,
        validation_alias="TALLY_DASHBOARD_PUBLIC",
        description="let anyone read the dashboard; changes still need a token",
    )
    sample_s: float = Field(
        default=15.0,
        gt=0,
        validation_alias="TALLY_DASHBOARD_SAMPLE_S",
        description="how often the API samples the overview's last-hour charts",
    )


class FlowerSettings(Section):
    """`tally flower`: Celery's monitor behind basic auth."""

    user: str = Field(default="tally", validation_alias="TALLY_FLOWER_USER")
    password: SecretStr = Field(default=SecretStr(""), validation_alias="TALLY_FLOWER_PASSWORD")
    port: int = Field(default=5555, ge=1, le=65535, validation_alias="FLOWER_PORT")


def _concurrency(queue: str) -> Any:
    """A `WORKER_CONCURRENCY_<QUEUE>` field with seed 001's default for that queue."""
    return Field(default=QUEUES[queue], ge=1, le=256,
                 validation_alias=f"WORKER_CONCURRENCY_{queue.upper()}")  # fmt: skip


class ProcessSettings(Section):
    """How `tally up` and `tally worker` run processes (seed 001's and 002's variables)."""

    concurrency_events: int = _concurrency("events")
    concurrency_analytics: int = _concurrency("analytics")
    concurrency_dbt: int = _concurrency("dbt")
    concurrency_alerts: int = _concurrency("alerts")
    concurrency_reports: int = _concurrency("reports")
    concurrency_monitoring: int = _concurrency("monitoring")
    concurrency_default: int = _concurrency("default")
    max_jobs: int | None = Field(
        default=None, ge=1, le=256, validation_alias=AliasChoices("TALLY_MAX_JOBS", "ARQ_MAX_JOBS"),
        description="jobs at once in a `tally worker` started without -c (seed 002's ARQ_MAX_JOBS)",
    )  # fmt: skip
    burst: bool = Field(
        default=False, validation_alias=AliasChoices("TALLY_BURST", "ARQ_BURST_MODE"),
        description="`tally worker` exits once its queues are empty (seed 002's ARQ_BURST_MODE)",
    )  # fmt: skip
    prometheus_port: int | None = Field(
        default=None, ge=1, le=65535, validation_alias="PROMETHEUS_PORT",
        description="`tally metrics` (and `tally up`'s metrics process) listens here",
    )  # fmt: skip

    def concurrency(self, queue: str) -> int:
        """Jobs at once for a worker of `queue` (WORKER_CONCURRENCY_<QUEUE>)."""
        value: int = getattr(self, f"concurrency_{queue}")
        return value


class LogSettings(Section):
    """Log level and format of every process."""

    level: str = Field(default="INFO", validation_alias="TALLY_LOG_LEVEL")
    format: Literal["auto", "rich", "text", "json"] = Field(
        default="auto",
        validation_alias="TALLY_LOG_FORMAT",
        description="auto: rich on a terminal, one plain line per record otherwise",
    )


class Settings(BaseModel):
    """Every knob of Tally, one section per part; built at entry points and passed down."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    redis: RedisSettings = Field(default_factory=RedisSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    flush: FlushSettings = Field(default_factory=FlushSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    jobs: JobsSettings = Field(default_factory=JobsSettings)
    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings)
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)
    reports: ReportsSettings = Field(default_factory=ReportsSettings)
    dbt: DbtSettings = Field(default_factory=DbtSettings)
    maintenance: MaintenanceSettings = Field(default_factory=MaintenanceSettings)
    text: TextSettings = Field(default_factory=TextSettings)
    compat: CompatSettings = Field(default_factory=CompatSettings)
    metadata: MetadataSettings = Field(default_factory=MetadataSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    flower: FlowerSettings = Field(default_factory=FlowerSettings)
    processes: ProcessSettings = Field(default_factory=ProcessSettings)
    log: LogSettings = Field(default_factory=LogSettings)

    def section(self, kind: type[S]) -> S:
        """The section of type `kind` (how the job registry hands a schedule its section)."""
        for name in type(self).model_fields:
            value: Any = getattr(self, name)
            if isinstance(value, kind):
                return value
        raise KeyError(f"no settings section of type {kind.__name__}")

    @property
    def mode(self) -> Mode:
        """Redis mode when Redis is configured, embedded otherwise."""
        return self.redis.mode

    @property
    def data_dir(self) -> Path:
        """Where embedded parts keep their files (chDB, SQLite, beat's schedule)."""
        return self.store.data_dir

    def describe(self) -> dict[str, str]:
        """A redacted summary of the configuration, safe to print or log."""
        redis = self.redis.url_in_force()
        ch = self.store.server_url()
        return {
            "mode": self.mode.value,
            "redis": redact_url(redis) if redis else "none (embedded, in-process)",
            "store": redact_url(ch) if ch else f"chdb at {self.store.chdb_path}",
            "table": f"{self.store.database}.{self.store.table_name}",
        }
