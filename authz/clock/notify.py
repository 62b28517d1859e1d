"""The in-app inbox, and the outbound channels (SMTP, webhook) that carry warnings and 督办.

Outbound messages are queued in the same transaction as the notification they carry and sent
later by :func:`deliver_pending` (the clock DAG's last task), so a mail server that is down never
holds up or rolls back the clock; a message is retried on each run until it is sent or has used
``notify_max_attempts``. Sending happens with no transaction open.

Read state is per person (:class:`NotificationReceipt`): a department-wide entry read by one
approver is still unread for the others.
"""

import contextlib
import json
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, cast

import httpx
from sqlalchemy import Table, exists, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from authz.clock.models import Notification, NotificationReceipt, OutboundMessage
from authz.clock.settings import ClockSettings
from authz.types import Channel, NotificationKind, OutboundStatus
from catalog_schema.database import for_writing
from catalog_schema.errors import NotFound
from catalog_schema.pagination import PageParams, paginate
from catalog_schema.user.models import User
from catalog_schema.user.roles import Role

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


def queue_many(*, db: Session, messages: list[dict[str, Any]]) -> int:
    """Queue many :func:`outbound_values` rows in one INSERT; how many."""
    if messages:
        db.execute(insert(cast(Table, OutboundMessage.__table__)), messages)
    return len(messages)


@dataclass
class DeliveryReport:
    """One delivery run: sent, failed for good, failed but retried later, not tried (channel down)."""

    sent: int = 0
    failed: int = 0
    retrying: int = 0
    waiting: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class _Outgoing:
    """A pending message as plain data: sending needs no session."""

    id: int
    channel: Channel
    recipient: str
    subject: str
    body: str
    payload: dict[str, Any]


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

    def send(self, message: _Outgoing) -> None:
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

    def send(self, message: _Outgoing) -> None:
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


def _pending(session_factory: Callable[[], Session], limit: int) -> list[_Outgoing]:
    """The oldest pending messages, read in a short transaction of their own.

    Nothing marks them taken: a second run overlapping this one (the DAG and ``govdx clock run``)
    may send some of them again, which the webhook's X-Govdx-Message-Id lets receivers drop.
    """
    with session_factory() as db:
        rows = db.scalars(
            select(OutboundMessage)
            .where(OutboundMessage.status == OutboundStatus.pending)
            .order_by(OutboundMessage.id)
            .limit(limit)
        ).all()
        return [_Outgoing(m.id, m.channel, m.recipient, m.subject, m.body, dict(m.payload)) for m in rows]


def _send_all(messages: list[_Outgoing], settings: ClockSettings) -> dict[int, str | None]:
    """Send each message, with no transaction open; its error, None when sent, absent when not tried."""
    outcomes: dict[int, str | None] = {}
    senders: dict[Channel, _Mailer | _Webhook] = {}
    down: set[Channel] = set()
    try:
        for message in messages:
            if message.channel in down:
                continue  # not tried, so not charged an attempt: it waits for the next run
            try:
                if message.channel not in senders:
                    senders[message.channel] = (
                        _Mailer(settings) if message.channel is Channel.smtp else _Webhook(settings)
                    )
                senders[message.channel].send(message)
            except _ChannelDown as exc:
                down.add(message.channel)
                outcomes[message.id] = str(exc)
            except Exception as exc:  # one bad message must not stop the others
                outcomes[message.id] = f"{exc!r}"
            else:
                outcomes[message.id] = None
    finally:
        for sender in senders.values():
            sender.close()
    return outcomes


def _record(
    session_factory: Callable[[], Session],
    outcomes: dict[int, str | None],
    settings: ClockSettings,
    at: datetime,
    report: DeliveryReport,
) -> None:
    """Record each tried message's outcome in a short transaction of its own."""
    if not outcomes:
        return
    with session_factory() as db:
        for_writing(db)
        messages = db.scalars(
            select(OutboundMessage)
            # A message another run has meanwhile recorded keeps what that run recorded.
            .where(OutboundMessage.id.in_(outcomes), OutboundMessage.status == OutboundStatus.pending)
            .order_by(OutboundMessage.id)
            .with_for_update()
        ).all()
        for message in messages:
            error = outcomes[message.id]
            message.attempts += 1
            if error is None:
                message.status = OutboundStatus.sent
                message.sent_at = at
                message.last_error = None
                report.sent += 1
                continue
            message.last_error = error[:ERROR_LENGTH]
            if message.attempts >= settings.notify_max_attempts:
                message.status = OutboundStatus.failed
                report.failed += 1
            else:
                report.retrying += 1
        db.commit()


def deliver_pending(
    *,
    session_factory: Callable[[], Session],
    settings: ClockSettings,
    now: datetime | None = None,
    limit: int = DELIVERY_BATCH,
) -> DeliveryReport:
    """Send pending messages, oldest first; a failure is recorded on the message, never raised.

    Reading the batch and recording the outcomes are two short transactions of their own
    (sessions from ``session_factory``); no database lock is held while a server is waited on.
    """
    at = now or datetime.now(UTC)
    pending = _pending(session_factory, limit)
    outcomes = _send_all(pending, settings)
    report = DeliveryReport(waiting=len(pending) - len(outcomes))
    _record(session_factory, outcomes, settings, at, report)
    return report


def _inbox_of(user: User) -> ColumnElement[bool]:
    """A user's own messages, and its department's addressed to its role or to everyone in it."""
    return or_(
        Notification.user_id == user.id,
        (Notification.department_id == user.department_id)
        & Notification.user_id.is_(None)
        & (Notification.role.is_(None) | (Notification.role == user.role.value)),
    )


def _unread_by(user: User) -> ColumnElement[bool]:
    return ~exists().where(
        NotificationReceipt.notification_id == Notification.id, NotificationReceipt.user_id == user.id
    )


def _receipt(db: Session, user: User, notification_id: int) -> NotificationReceipt | None:
    return db.scalar(
        select(NotificationReceipt).where(
            NotificationReceipt.notification_id == notification_id, NotificationReceipt.user_id == user.id
        )
    )


def inbox(
    *, db: Session, user: User, params: PageParams, unread_only: bool = False
) -> tuple[list[tuple[Notification, datetime | None]], int]:
    """``user``'s inbox, newest first, each entry with when ``user`` read it (None: unread)."""
    stmt = select(Notification).where(_inbox_of(user)).order_by(Notification.id.desc())
    if unread_only:
        stmt = stmt.where(_unread_by(user))
    found, total = paginate(db, stmt, params)
    receipts = db.execute(
        select(NotificationReceipt.notification_id, NotificationReceipt.read_at).where(
            NotificationReceipt.user_id == user.id,
            NotificationReceipt.notification_id.in_([n.id for n in found]),
        )
    )
    read = {notification_id: read_at for notification_id, read_at in receipts}
    return [(n, read.get(n.id)) for n in found], total


def mark_read(
    *, db: Session, user: User, notification_id: int, now: datetime | None = None
) -> tuple[Notification, datetime]:
    """Record that ``user`` read an entry of its inbox (the first time is kept); NotFound otherwise."""
    notification = db.scalar(select(Notification).where(Notification.id == notification_id, _inbox_of(user)))
    if notification is None:
        raise NotFound(
            f"消息 {notification_id} 不存在",
            f"notification {notification_id} does not exist",
            code="notification_not_found",
        )
    receipt = _receipt(db, user, notification_id)
    if receipt is None:
        try:
            with db.begin_nested():
                receipt = NotificationReceipt(
                    notification_id=notification_id, user_id=user.id, read_at=now or datetime.now(UTC)
                )
                db.add(receipt)
        except IntegrityError:  # the same person's second tab got there first
            receipt = _receipt(db, user, notification_id)
            assert receipt is not None
    return notification, receipt.read_at
