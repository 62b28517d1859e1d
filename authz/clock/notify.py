"""The in-app inbox, and the outbound channels (SMTP, webhook) that carry warnings and 督办.

Outbound messages are queued in the same transaction as the notification they carry and sent
later by :func:`deliver_pending` (the clock DAG's last task), so a mail server that is down never
holds up or rolls back the clock; a message is retried on each run until it is sent or has used
``notify_max_attempts``.
"""

import contextlib
import json
import smtplib
import ssl
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, cast

import httpx
from sqlalchemy import Table, insert, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from authz.clock.models import Notification, OutboundMessage
from authz.roles import Role
from authz.settings import ClockSettings
from authz.types import Channel, NotificationKind, OutboundStatus
from catalog_schema.errors import NotFound
from catalog_schema.pagination import PageParams, paginate
from catalog_schema.user.models import User

# Messages one delivery run sends at most; the rest wait for the next run (every 15 minutes).
DELIVERY_BATCH = 500
ERROR_LENGTH = 2000


def _notification_values(
    *,
    department_id: int,
    kind: NotificationKind,
    title: str,
    body: str,
    at: datetime,
    role: Role | None = None,
    user_id: int | None = None,
    stage_id: int | None = None,
    request_id: int | None = None,
) -> dict[str, Any]:
    return {
        "department_id": department_id,
        "role": role.value if role else None,
        "user_id": user_id,
        "kind": kind,
        "title": title[:200],
        "body": body,
        "stage_id": stage_id,
        "request_id": request_id,
        "created_at": at,
    }


def post(
    *,
    db: Session,
    department_id: int,
    kind: NotificationKind,
    title: str,
    body: str,
    at: datetime,
    role: Role | None = None,
    user_id: int | None = None,
    stage_id: int | None = None,
    request_id: int | None = None,
) -> Notification:
    """Put a message in a department's inbox (only ``role`` in it, or only ``user_id``, if given)."""
    notification = Notification(
        **_notification_values(
            department_id=department_id,
            kind=kind,
            title=title,
            body=body,
            at=at,
            role=role,
            user_id=user_id,
            stage_id=stage_id,
            request_id=request_id,
        )
    )
    db.add(notification)
    return notification


def post_many(*, db: Session, entries: list[dict[str, Any]]) -> list[int]:
    """Put many messages in inboxes in one INSERT, each as :func:`post`'s arguments; their ids in order."""
    if not entries:
        return []
    # The table, not the entity: ORM bulk inserts split rows by which values are None, and
    # interleaved role-less and role-bound rows would then go a few at a time.
    table = cast(Table, Notification.__table__)
    rows = [_notification_values(**entry) for entry in entries]
    return list(db.scalars(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows))


def outbound_values(
    *,
    notification_id: int,
    title: str,
    body: str,
    at: datetime,
    settings: ClockSettings,
    supervisor_email: str | None,
    payload: dict[str, Any],
) -> list[dict[str, Any]]:
    """Rows carrying one notification on each configured channel: mail to ``supervisor_email``, webhook."""
    channels = []
    if settings.smtp_host and supervisor_email:
        channels.append((Channel.smtp, supervisor_email))
    if settings.notify_webhook_url:
        channels.append((Channel.webhook, settings.notify_webhook_url))
    return [
        {
            "channel": channel,
            "recipient": recipient[:500],
            "subject": title[:200],
            "body": body,
            "payload": {**payload, "notification_id": notification_id},
            "notification_id": notification_id,
            "status": OutboundStatus.pending,
            "attempts": 0,
            "created_at": at,
        }
        for channel, recipient in channels
    ]


def queue_outbound(
    *,
    db: Session,
    notification: Notification,
    settings: ClockSettings,
    supervisor_email: str | None,
    payload: dict[str, Any],
) -> list[OutboundMessage]:
    """Queue ``notification`` on every configured channel: mail to ``supervisor_email``, the webhook."""
    if notification.id is None:
        db.flush()  # the message names the notification it carries
    queued = [
        OutboundMessage(**values)
        for values in outbound_values(
            notification_id=notification.id,
            title=notification.title,
            body=notification.body,
            at=notification.created_at,
            settings=settings,
            supervisor_email=supervisor_email,
            payload=payload,
        )
    ]
    db.add_all(queued)
    return queued


def queue_many(*, db: Session, messages: list[dict[str, Any]]) -> int:
    """Queue many :func:`outbound_values` rows in one INSERT; how many."""
    if messages:
        db.execute(insert(cast(Table, OutboundMessage.__table__)), messages)
    return len(messages)


@dataclass
class DeliveryReport:
    """What one delivery run did: sent now, failed for good now, failed now but to be retried."""

    sent: int = 0
    failed: int = 0
    retrying: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class _ChannelDown(Exception):
    """The channel itself cannot be reached: the run stops trying it and the rest wait for the next run."""


class _Mailer:
    """One SMTP session for the whole run, opened at the first message."""

    def __init__(self, settings: ClockSettings) -> None:
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if not s.smtp_host:
            raise _ChannelDown("SMTP is not configured (GOVDX_SMTP_HOST is empty)")
        try:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.notify_timeout_seconds)
            if s.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password)
        except (OSError, smtplib.SMTPException) as exc:
            raise _ChannelDown(f"SMTP {s.smtp_host}:{s.smtp_port}: {exc!r}") from exc
        return smtp

    def send(self, message: OutboundMessage) -> None:
        if self.smtp is None:
            self.smtp = self._connect()
        mail = EmailMessage()
        mail["From"] = self.settings.smtp_sender
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(idstring=f"govdx-{message.id}")
        mail.set_content(message.body, charset="utf-8")
        try:
            self.smtp.send_message(mail)
        except smtplib.SMTPServerDisconnected as exc:
            self.smtp = None
            raise _ChannelDown(f"SMTP connection lost: {exc!r}") from exc
        except smtplib.SMTPException:
            raise  # this message was refused (a recipient, its size): the others may still go
        except OSError as exc:  # SMTPException is an OSError too, hence the order
            self.smtp = None
            raise _ChannelDown(f"SMTP connection lost: {exc!r}") from exc

    def close(self) -> None:
        if self.smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.smtp.quit()


class _Webhook:
    """One HTTP client for the whole run."""

    def __init__(self, settings: ClockSettings) -> None:
        self.client = httpx.Client(timeout=settings.notify_timeout_seconds)

    def send(self, message: OutboundMessage) -> None:
        try:
            response = self.client.post(
                message.recipient,
                content=json.dumps(message.payload, ensure_ascii=False).encode("utf-8"),
                # Receivers can drop a repeat: a message whose answer was lost is sent again.
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "X-Govdx-Message-Id": str(message.id),
                },
            )
        except httpx.TransportError as exc:
            raise _ChannelDown(f"webhook {message.recipient}: {exc!r}") from exc
        if not response.is_success:
            raise RuntimeError(f"webhook answered HTTP {response.status_code}: {response.text[:200]}")

    def close(self) -> None:
        self.client.close()


def _failed_attempt(message: OutboundMessage, error: str, max_attempts: int, report: DeliveryReport) -> None:
    message.attempts += 1
    message.last_error = error[:ERROR_LENGTH]
    if message.attempts >= max_attempts:
        message.status = OutboundStatus.failed
        report.failed += 1
    else:
        report.retrying += 1


def deliver_pending(
    *, db: Session, settings: ClockSettings, now: datetime | None = None, limit: int = DELIVERY_BATCH
) -> DeliveryReport:
    """Send pending messages, oldest first; a failure is recorded on the message, never raised."""
    at = now or datetime.now(UTC)
    report = DeliveryReport()
    pending = db.scalars(
        select(OutboundMessage)
        .where(OutboundMessage.status == OutboundStatus.pending)
        .order_by(OutboundMessage.id)
        .limit(limit)
        # Two runs at once (the DAG and the CLI) never send the same message twice on PostgreSQL.
        .with_for_update(skip_locked=True)
    ).all()
    senders: dict[Channel, _Mailer | _Webhook] = {}
    down: dict[Channel, str] = {}
    try:
        for message in pending:
            if message.channel in down:
                _failed_attempt(message, down[message.channel], settings.notify_max_attempts, report)
                continue
            try:
                if message.channel not in senders:
                    senders[message.channel] = (
                        _Mailer(settings) if message.channel is Channel.smtp else _Webhook(settings)
                    )
                senders[message.channel].send(message)
            except _ChannelDown as exc:
                down[message.channel] = str(exc)
                _failed_attempt(message, str(exc), settings.notify_max_attempts, report)
            except Exception as exc:  # one bad message must not stop the others
                _failed_attempt(message, f"{exc!r}", settings.notify_max_attempts, report)
            else:
                message.attempts += 1
                message.status = OutboundStatus.sent
                message.sent_at = at
                message.last_error = None
                report.sent += 1
    finally:
        for sender in senders.values():
            sender.close()
    db.flush()
    return report


def _inbox_of(user: User) -> ColumnElement[bool]:
    """A user's own messages, and its department's addressed to its role or to everyone in it."""
    return or_(
        Notification.user_id == user.id,
        (Notification.department_id == user.department_id)
        & Notification.user_id.is_(None)
        & (Notification.role.is_(None) | (Notification.role == user.role.value)),
    )


def inbox(
    *, db: Session, user: User, params: PageParams, unread_only: bool = False
) -> tuple[list[Notification], int]:
    """``user``'s inbox, newest first."""
    stmt = select(Notification).where(_inbox_of(user)).order_by(Notification.id.desc())
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return paginate(db, stmt, params)


def mark_read(*, db: Session, user: User, notification_id: int, now: datetime | None = None) -> Notification:
    """Mark a message of ``user``'s inbox read (the first reading time is kept); NotFound otherwise."""
    notification = db.scalar(select(Notification).where(Notification.id == notification_id, _inbox_of(user)))
    if notification is None:
        raise NotFound(
            f"消息 {notification_id} 不存在",
            f"notification {notification_id} does not exist",
            code="notification_not_found",
        )
    if notification.read_at is None:
        notification.read_at = now or datetime.now(UTC)
        db.flush()
    return notification
