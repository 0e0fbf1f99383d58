"""Telling an account something: a stored notice, then optional webhook and email.

``notify`` adds the notice to the caller's transaction (so it exists only if the change
it reports was committed); ``deliver`` sends the committed ones afterwards, best effort,
recording the outcome on each row. A ``dedupe_key`` already stored for the account makes
``notify`` a no-op, so a retried job or re-run command never tells anyone twice.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable, Iterable
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import structlog
from sqlalchemy import Select, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.config import Settings, current_settings
from app.extensions import db
from app.models import Account, Notification
from app.models.common import utcnow

log = structlog.get_logger(__name__)


def notify(
    account: Account,
    kind: str,
    subject: str,
    body: str = "",
    data: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> Notification | None:
    """Add a notice to the session (not committed). None when the key was already used.

    With a ``dedupe_key`` the row is inserted at once with ``ON CONFLICT DO NOTHING``:
    two requests that notice the same thing together store one notice, and neither
    fails on the unique constraint."""
    values = {
        "account_id": account.id,
        "kind": kind,
        "subject": subject[:300],
        "body": body,
        "data": data or {},
        "dedupe_key": dedupe_key,
    }
    if dedupe_key is None:
        notice = Notification(account=account, **values)
        db.session.add(notice)
        return notice
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(Notification.__table__)
        .values(**values, created_at=utcnow(), delivery_error="")
        .on_conflict_do_nothing(index_elements=["account_id", "dedupe_key"])
        .returning(Notification.__table__.c.id)
    )
    new_id = db.session.execute(statement).scalar_one_or_none()
    return None if new_id is None else db.session.get(Notification, new_id)


# One delivery channel: sends a notice, raises on failure.
Sender = Callable[[Notification, Settings], None]


def deliver(notices: Iterable[Notification | None]) -> None:
    """Send committed notices by webhook and email (as configured), then commit outcomes."""
    settings = current_settings()
    sent = [n for n in notices if n is not None and n.delivered_at is None]
    if not sent:
        return
    for notice in sent:
        channels = [send for _, send in _senders(settings, notice.account.contact_email)]
        if not channels:
            continue  # stored only: the console and `flask accounts notifications` show it
        errors = [error for send in channels for error in _try(send, notice, settings)]
        notice.delivery_error = "; ".join(errors)
        notice.delivered_at = None if errors else utcnow()
        log.info(
            "notification.delivered" if not errors else "notification.delivery_failed",
            notification_id=notice.id,
            kind=notice.kind,
            account=notice.account.account_number,
            error=notice.delivery_error or None,
        )
    db.session.commit()


def delivery_channels(contact_email: str | None) -> list[str]:
    """Where a notice to an account with this contact email goes, as ``deliver`` sends it
    (for previews: "who would be told")."""
    senders = _senders(current_settings(), contact_email)
    return ["console", *(label for label, _ in senders)]


def _senders(settings: Settings, contact_email: str | None) -> list[tuple[str, Sender]]:
    """The channels configured for an account: the one rule ``deliver`` and previews share."""
    senders: list[tuple[str, Sender]] = []
    if settings.NOTIFY_SMTP_URL and contact_email:
        senders.append((f"email {contact_email}", _send_email))
    if settings.NOTIFY_WEBHOOK_URL:
        senders.append(("webhook", _post_webhook))
    return senders


def payload(notice: Notification) -> dict[str, Any]:
    """The JSON a webhook receives."""
    return {
        "id": notice.id,
        "account": notice.account.account_number,
        "kind": notice.kind,
        "subject": notice.subject,
        "body": notice.body,
        "data": notice.data,
        "created_at": notice.created_at.isoformat(),
    }


def notifications_query(account: Account) -> Select[Notification]:
    return (
        select(Notification)
        .where(Notification.account_id == account.id)
        .order_by(Notification.id.desc())
    )


def list_notifications(account: Account) -> list[Notification]:
    return list(db.session.execute(notifications_query(account)).scalars())


def _try(send: Sender, notice: Notification, settings: Settings) -> list[str]:
    try:
        send(notice, settings)
    except httpx.HTTPStatusError as error:  # its message would carry the URL (maybe a token)
        return [f"webhook: HTTP {error.response.status_code}"]
    except (httpx.HTTPError, OSError, smtplib.SMTPException) as error:
        return [f"{send.__name__.removeprefix('_')}: {type(error).__name__}: {error}"]
    return []


def _post_webhook(notice: Notification, settings: Settings) -> None:
    response = httpx.post(
        settings.NOTIFY_WEBHOOK_URL, json=payload(notice), timeout=settings.NOTIFY_TIMEOUT_SECONDS
    )
    response.raise_for_status()


class PlaintextLoginRefused(smtplib.SMTPException):
    """The server offers no STARTTLS: the password is never sent in clear."""


def _send_email(notice: Notification, settings: Settings) -> None:
    to = notice.account.contact_email
    if not to:  # ``_senders`` offers email only to an account with an address
        raise smtplib.SMTPException("the account has no contact email")
    send_email(to, notice.subject, notice.body or notice.subject, settings)


def email_configured() -> bool:
    return bool(current_settings().NOTIFY_SMTP_URL)


def send_email(to: str, subject: str, body: str, settings: Settings | None = None) -> None:
    """Send one email by SMTP: implicit TLS for ``smtps://``; for ``smtp://`` STARTTLS
    whenever the server offers it, and required before any login (no TLS, no password)."""
    settings = settings or current_settings()
    url = urlsplit(settings.NOTIFY_SMTP_URL)
    message = EmailMessage()
    message["From"] = settings.NOTIFY_EMAIL_FROM
    message["To"] = to
    message["Subject"] = f"[chatdock] {subject}"
    message.set_content(body)
    host, timeout = url.hostname or "localhost", settings.NOTIFY_TIMEOUT_SECONDS
    context = ssl.create_default_context(cafile=settings.NOTIFY_SMTP_CA_FILE or None)
    smtp: smtplib.SMTP
    if url.scheme == "smtps":
        smtp = smtplib.SMTP_SSL(host, url.port or 465, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(host, url.port or 25, timeout=timeout)
    with smtp:
        if url.scheme != "smtps":
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
            elif url.username:
                raise PlaintextLoginRefused(
                    f"{host} offers no STARTTLS: refusing to send the SMTP password in clear "
                    "(use a server with STARTTLS, or smtps://)"
                )
        if url.username:
            smtp.login(unquote(url.username), unquote(url.password or ""))
        smtp.send_message(message)
