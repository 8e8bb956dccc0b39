"""Channels (SPEC §10): email, webhook and Slack; their secrets are write-only.

A channel is stored as `config` (what the API shows) and `secrets` (password, URL, signing
secret: read by the senders alone; the API answers `"set"`).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from sqlalchemy.engine import Connection

from tally.alerts import tables as t
from tally.alerts.guard import check_url
from tally.alerts.render import check_template
from tally.alerts.rules import NAME, Templates
from tally.errors import Conflict, NotFound, ValidationFailed
from tally.infra.metadb.db import is_id
from tally.settings import AlertsSettings

EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
SECRET_FIELDS = {"email": ("password",), "webhook": ("url", "secret"), "slack": ("url",)}


class _Channel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(pattern=NAME)
    templates: Templates | None = Field(
        default=None, description="this channel's subject and body (a rule's own win)"
    )


class EmailIn(_Channel):
    """SMTP; fields left out come from seed 001's ALERT_EMAIL_* settings."""

    kind: Literal["email"]
    host: str | None = Field(default=None, max_length=255)
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] | None = None
    user: str | None = Field(default=None, max_length=255)
    password: SecretStr | None = None
    from_: str | None = Field(default=None, alias="from", max_length=255)
    to: list[str] | None = Field(default=None, max_length=50)
    timeout_s: float | None = Field(default=None, gt=0, le=120)

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str] | None) -> list[str] | None:
        for address in value or []:
            if not EMAIL.match(address):
                raise ValueError(f"{address!r} is not an email address")
        return value

    @field_validator("from_")
    @classmethod
    def _sender(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL.match(value.split("<")[-1].rstrip(">").strip()):
            raise ValueError(f"{value!r} is not an email address")
        return value


class WebhookIn(_Channel):
    """A JSON POST; `secret` signs it (HMAC-SHA256 header); `url` defaults to ALERT_WEBHOOK_URL."""

    kind: Literal["webhook"]
    url: SecretStr | None = None
    secret: SecretStr | None = None


class SlackIn(_Channel):
    """A Slack incoming webhook, sent a Block Kit message."""

    kind: Literal["slack"]
    url: SecretStr | None = None


ChannelIn = Annotated[EmailIn | WebhookIn | SlackIn, Field(discriminator="kind")]


@dataclass(frozen=True, slots=True)
class Channel:
    """A stored channel: what may be shown, and what the senders alone read."""

    id: int
    name: str
    kind: str
    config: dict[str, Any]
    secrets: dict[str, str]

    def public(self) -> dict[str, Any]:
        """The channel as the API and dashboard show it: each secret only as `set`."""
        shown: dict[str, Any] = {"id": self.id, "name": self.name, "kind": self.kind}
        shown |= self.config
        for field in SECRET_FIELDS[self.kind]:
            shown[field] = "set" if self.secrets.get(field) else "unset"
        return shown


def split(channel: EmailIn | WebhookIn | SlackIn) -> tuple[dict[str, Any], dict[str, str]]:
    """A definition as (config, secrets)."""
    data = channel.model_dump(exclude={"name", "kind"}, by_alias=True, exclude_none=True)
    secrets: dict[str, str] = {}
    for field in SECRET_FIELDS[channel.kind]:
        value = getattr(channel, field)
        data.pop(field, None)
        if value is not None:
            secrets[field] = value.get_secret_value()
    return data, secrets


def validate(channel: EmailIn | WebhookIn | SlackIn, settings: AlertsSettings) -> None:
    """Refuse what could not be sent: no SMTP host or recipient, a URL not allowed."""
    if channel.templates is not None:
        check_template(channel.templates.subject, "templates.subject")
        check_template(channel.templates.body, "templates.body")
    if isinstance(channel, EmailIn):
        if not (channel.host or settings.email_smtp_host):
            raise ValidationFailed(
                "host", "missing", "no SMTP host: give one or set ALERT_EMAIL_SMTP_HOST"
            )
        if not (channel.to or settings.email_to):
            raise ValidationFailed("to", "missing", "no recipient: give one or set ALERT_EMAIL_TO")
        if not (channel.from_ or settings.email_from or channel.user or settings.email_user):
            raise ValidationFailed("from", "missing", "no sender: give one or set ALERT_EMAIL_FROM")
        return
    url = channel.url.get_secret_value() if channel.url else None
    if url is None and settings.webhook_url is not None:
        url = settings.webhook_url.get_secret_value()
    if url is None:
        raise ValidationFailed("url", "missing", "no URL: give one or set ALERT_WEBHOOK_URL")
    check_url(url, settings.allowed_hosts(), resolve=False)


def _of(row: Any) -> Channel:
    return Channel(row.id, row.name, row.kind, dict(row.config), dict(row.secrets))


def channels(conn: Connection) -> list[Channel]:
    """Every channel, by name."""
    return [_of(r) for r in conn.execute(sa.select(t.channels).order_by(t.channels.c.name))]


def channel(conn: Connection, ref: str | int) -> Channel:
    """One channel by id or name (NotFound otherwise)."""
    by_id = is_id(ref)
    col = t.channels.c.id if by_id else t.channels.c.name
    row = conn.execute(sa.select(t.channels).where(col == (int(ref) if by_id else ref))).first()
    if row is None:
        raise NotFound(f"no alert channel {ref!r}")
    return _of(row)


def ids_of(conn: Connection, names: list[str]) -> list[int]:
    """Channel ids of these names, in order; ValidationFailed naming an unknown one."""
    known = {c.name: c.id for c in channels(conn)}
    out = []
    for i, name in enumerate(names):
        if name not in known:
            choices = ", ".join(sorted(known)) or "none yet"
            raise ValidationFailed(
                f"channels.{i}", "unknown_channel", f"no channel {name!r} (known: {choices})"
            )
        out.append(known[name])
    return out


def save(
    conn: Connection,
    definition: EmailIn | WebhookIn | SlackIn,
    channel_id: int | None = None,
) -> int:
    """Insert (or replace) a channel; a replacement keeps the secrets it does not give."""
    now = time.time()
    config, secrets = split(definition)
    taken = conn.execute(
        sa.select(t.channels.c.id).where(t.channels.c.name == definition.name)
    ).scalar_one_or_none()
    if taken is not None and taken != channel_id:
        raise Conflict(f"an alert channel named {definition.name!r} exists", "exists")
    values = {"name": definition.name, "kind": definition.kind, "config": config, "updated_at": now}
    if channel_id is None:
        values |= {"secrets": secrets, "created_at": now}
        insert = sa.insert(t.channels).values(**values).returning(t.channels.c.id)
        return int(conn.execute(insert).scalar_one())
    old = channel(conn, channel_id)
    kept = old.secrets if old.kind == definition.kind else {}
    values["secrets"] = kept | secrets
    conn.execute(sa.update(t.channels).where(t.channels.c.id == channel_id).values(**values))
    return channel_id


def delete(conn: Connection, channel_id: int) -> None:
    """Remove a channel (rules that name it keep their other channels)."""
    conn.execute(sa.delete(t.channels).where(t.channels.c.id == channel_id))
