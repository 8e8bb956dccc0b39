"""Sending one notification: SMTP (smtplib) and HTTP POSTs (httpx), with one outcome type.

Errors of smtplib and httpx are translated here, once: a sender returns a `Sent`, it never
raises. Nothing secret goes into an outcome: no URL path, password or message body.
"""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import orjson

from tally.alerts.guard import check_url
from tally.errors import ValidationFailed

MAX_REDIRECTS = 3
SIGNATURE_HEADER = "X-Tally-Signature"
TIMESTAMP_HEADER = "X-Tally-Timestamp"


@dataclass(frozen=True, slots=True)
class Sent:
    """One attempt's outcome; `permanent`: trying again cannot help (refused URL, 4xx)."""

    ok: bool
    status_code: int | None = None
    error: str | None = None
    permanent: bool = False

    @classmethod
    def done(cls, status_code: int) -> Sent:
        """Accepted by the receiver."""
        return cls(ok=True, status_code=status_code)

    @classmethod
    def fail(cls, error: str, status_code: int | None = None, *, permanent: bool = False) -> Sent:
        """Not sent, and why."""
        return cls(ok=False, status_code=status_code, error=error, permanent=permanent)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256(secret, timestamp + "." + body): what receivers verify."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def post_json(
    url: str,
    payload: dict[str, Any],
    *,
    notification_id: str,
    secret: str | None,
    allowed: list[str],
    timeout_s: float,
) -> Sent:
    """POST the payload; follow redirects only to the same host; 2xx is sent."""
    body = orjson.dumps(payload)
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Tally-Alerts/1",
        "Idempotency-Key": notification_id,
        TIMESTAMP_HEADER: stamp,
    }
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, stamp, body)
    target = url
    try:
        host = check_url(target, allowed)
        with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
            for _ in range(MAX_REDIRECTS + 1):
                answer = client.post(target, content=body, headers=headers)
                if not answer.is_redirect:
                    break
                target = urljoin(target, answer.headers.get("location", ""))
                if (urlsplit(target).hostname or "").lower() != host:
                    return Sent.fail(
                        "redirect to another host refused", answer.status_code, permanent=True
                    )
                check_url(target, allowed)
            else:
                return Sent.fail("too many redirects", answer.status_code, permanent=True)
    except ValidationFailed as exc:
        return Sent.fail(exc.message, permanent=True)
    except httpx.TimeoutException:
        return Sent.fail(f"timed out after {timeout_s:g} s")
    except httpx.HTTPError as exc:
        said = _first_line(exc).replace(target, "<url>").replace(url, "<url>")
        return Sent.fail(f"{type(exc).__name__}: {said}")
    if answer.is_success:
        return Sent.done(answer.status_code)
    # 4xx other than 408/429 will not get better by retrying: the receiver refuses this.
    permanent = 400 <= answer.status_code < 500 and answer.status_code not in (408, 409, 429)
    return Sent.fail(f"HTTP {answer.status_code}", answer.status_code, permanent=permanent)


@dataclass(frozen=True, slots=True)
class Smtp:
    """Where and how to send mail."""

    host: str
    port: int
    security: str
    user: str | None
    password: str | None
    sender: str
    to: list[str]
    timeout_s: float


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a message (reports attach theirs)."""

    filename: str
    data: bytes
    media_type: str  # "text/csv", "application/pdf", …


def send_email(
    smtp: Smtp,
    subject: str,
    text: str,
    *,
    notification_id: str,
    attachments: tuple[Attachment, ...] = (),
) -> Sent:
    """Send one message (STARTTLS, SSL or plain; login when a user is given)."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = smtp.sender
    message["To"] = ", ".join(smtp.to)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(idstring=notification_id.replace("-", ""))
    message["X-Tally-Notification-Id"] = notification_id
    message.set_content(text)
    for item in attachments:
        main, _, sub = item.media_type.partition(";")[0].strip().partition("/")
        message.add_attachment(item.data, maintype=main, subtype=sub, filename=item.filename)
    context = ssl.create_default_context()
    try:
        client: smtplib.SMTP
        if smtp.security == "ssl":
            client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout_s, context=context)
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s)
        with client:
            if smtp.security == "starttls":
                client.starttls(context=context)
            if smtp.user:
                client.login(smtp.user, smtp.password or "")
            client.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        return Sent.fail("SMTP login refused", exc.smtp_code, permanent=True)
    except smtplib.SMTPRecipientsRefused:
        return Sent.fail("every recipient was refused", permanent=True)
    except smtplib.SMTPResponseException as exc:
        return Sent.fail(f"SMTP {exc.smtp_code}", exc.smtp_code, permanent=exc.smtp_code >= 500)
    except (smtplib.SMTPException, OSError) as exc:
        return Sent.fail(f"{type(exc).__name__}: {_first_line(exc)}")
    return Sent.done(250)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:300]
