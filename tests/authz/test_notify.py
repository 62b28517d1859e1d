"""Outbound warnings and 督办: queued per configured channel, sent to a real local SMTP server and a
real local HTTP server with no transaction open, retried when a channel is down, failed after the
last attempt, never raised."""

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from authz.clock import notify
from authz.clock.models import Notification, OutboundMessage
from authz.clock.settings import ClockSettings
from authz.types import Channel, NotificationKind, OutboundStatus
from catalog_schema.department.models import Department

NOW = datetime(2026, 10, 11, 1, 0, tzinfo=UTC)
SUPERVISOR = "xiexiaofeng@sjj.rongcheng.gov.cn"
TITLE = "【督办】共享申请 SQ-2026-000001《企业登记基本信息》规范性审查已超期"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 OK"

    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(e.content, policy=default_policy) for e in self.envelopes]  # type: ignore[misc]


@contextmanager
def local_smtp() -> Iterator[tuple[int, Mailbox]]:
    """A real SMTP server on 127.0.0.1, in a thread, for the length of the block."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, mailbox
    finally:
        controller.stop()


@contextmanager
def local_webhook(
    status: int = 200, on_post: Callable[[], None] | None = None
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A real HTTP server on 127.0.0.1 answering each POST with ``status``; yields its URL and what it got.

    ``on_post`` runs while a POST is being answered, that is while the sender waits.
    """
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if on_post is not None:
                on_post()
            length = int(self.headers["Content-Length"])
            received.append(
                {
                    "json": json.loads(self.rfile.read(length).decode("utf-8")),
                    "headers": dict(self.headers),
                    "path": self.path,
                }
            )
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/govdx/warnings", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def smtp() -> Iterator[tuple[int, Mailbox]]:
    with local_smtp() as server:
        yield server


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    with local_webhook() as server:
        yield server


@pytest.fixture
def escalation(db: Session) -> Notification:
    department = db.scalar(select(Department).where(Department.slug == "shujuju"))
    assert department is not None
    notification = notify.post(
        db=db,
        department_id=department.id,
        kind=NotificationKind.escalation,
        title=TITLE,
        body="请督办联系人 谢晓峰 督促办理并反馈。",
        at=NOW,
    )
    db.flush()
    return notification


def _deliver(
    db: Session, session_factory: sessionmaker[Session], settings: ClockSettings
) -> notify.DeliveryReport:
    """One delivery run in sessions of its own; ``db`` then reads what it recorded."""
    report = notify.deliver_pending(session_factory=session_factory, settings=settings, now=NOW)
    db.expire_all()
    return report


def _queue(
    db: Session,
    notification: Notification,
    settings: ClockSettings,
    supervisor_email: str | None = SUPERVISOR,
) -> list[OutboundMessage]:
    """Queue ``notification`` the way the clock does (``outbound_values`` + ``queue_many``); the new rows."""
    rows = notify.outbound_values(
        notification_id=notification.id,
        title=notification.title,
        body=notification.body,
        at=notification.created_at,
        settings=settings,
        supervisor_email=supervisor_email,
        payload={"event": "escalation", "title": notification.title},
    )
    mine = select(OutboundMessage).where(OutboundMessage.notification_id == notification.id)
    before = set(db.scalars(mine))
    notify.queue_many(db=db, messages=rows)
    db.flush()
    return [m for m in db.scalars(mine.order_by(OutboundMessage.id)) if m not in before]


def test_nothing_is_queued_when_no_channel_is_configured(db, escalation):
    queued = _queue(db, escalation, ClockSettings(smtp_host="", notify_webhook_url=""))

    assert queued == []
    assert db.scalars(select(OutboundMessage)).all() == []


def test_mail_and_webhook_are_queued_when_both_are_configured(db, escalation):
    settings = ClockSettings(smtp_host="127.0.0.1", notify_webhook_url="http://127.0.0.1:9/hook")

    queued = _queue(db, escalation, settings)

    assert {(m.channel, m.recipient) for m in queued} == {
        (Channel.smtp, SUPERVISOR),
        (Channel.webhook, "http://127.0.0.1:9/hook"),
    }
    assert all(m.status is OutboundStatus.pending and m.notification_id == escalation.id for m in queued)


def test_no_mail_is_queued_when_the_supervisor_email_is_unknown(db, escalation):
    queued = _queue(
        db, escalation, ClockSettings(smtp_host="127.0.0.1", notify_webhook_url=""), supervisor_email=None
    )

    assert queued == []


def test_mail_reaches_a_real_smtp_server_with_its_chinese_subject(db, session_factory, escalation, smtp):
    port, mailbox = smtp
    settings = ClockSettings(smtp_host="127.0.0.1", smtp_port=port, smtp_sender="govdx@rongcheng.gov.cn")
    [message] = _queue(db, escalation, settings)

    report = _deliver(db, session_factory, settings)

    assert report == notify.DeliveryReport(sent=1, failed=0, retrying=0)
    assert (message.status, message.attempts, message.sent_at) == (OutboundStatus.sent, 1, NOW)
    [envelope] = mailbox.envelopes
    assert (envelope.mail_from, envelope.rcpt_tos) == ("govdx@rongcheng.gov.cn", [SUPERVISOR])
    [mail] = mailbox.messages()
    assert mail["Subject"] == TITLE
    assert "谢晓峰" in mail.get_content()


def test_webhook_receives_the_json_payload(db, session_factory, escalation, webhook):
    url, received = webhook
    settings = ClockSettings(notify_webhook_url=url)
    [message] = _queue(db, escalation, settings)

    report = _deliver(db, session_factory, settings)

    assert (report.sent, message.status) == (1, OutboundStatus.sent)
    [call] = received
    assert call["path"] == "/govdx/warnings"
    assert call["json"] == {"event": "escalation", "title": TITLE, "notification_id": escalation.id}
    assert call["headers"]["X-Govdx-Message-Id"] == str(message.id)


def test_a_webhook_error_status_leaves_the_message_pending_with_the_status(db, session_factory, escalation):
    with local_webhook(status=503) as (url, received):
        settings = ClockSettings(notify_webhook_url=url)
        [message] = _queue(db, escalation, settings)

        report = _deliver(db, session_factory, settings)

    assert report == notify.DeliveryReport(sent=0, failed=0, retrying=1)
    assert (message.status, message.attempts) == (OutboundStatus.pending, 1)
    assert message.last_error is not None and "HTTP 503" in message.last_error
    assert len(received) == 1


def test_an_unreachable_smtp_server_leaves_the_message_pending_with_the_error(
    db, session_factory, escalation
):
    port = free_port()  # nothing listens there
    settings = ClockSettings(smtp_host="127.0.0.1", smtp_port=port, notify_max_attempts=3)
    [message] = _queue(db, escalation, settings)

    report = _deliver(db, session_factory, settings)

    assert report == notify.DeliveryReport(sent=0, failed=0, retrying=1)
    assert (message.status, message.attempts, message.sent_at) == (OutboundStatus.pending, 1, None)
    assert message.last_error is not None and f"127.0.0.1:{port}" in message.last_error


def test_a_message_is_failed_after_the_last_attempt(db, session_factory, escalation):
    settings = ClockSettings(smtp_host="127.0.0.1", smtp_port=free_port(), notify_max_attempts=2)
    [message] = _queue(db, escalation, settings)

    first = _deliver(db, session_factory, settings)
    second = _deliver(db, session_factory, settings)
    third = _deliver(db, session_factory, settings)

    assert (first.retrying, second.failed, third) == (1, 1, notify.DeliveryReport())
    assert (message.status, message.attempts) == (OutboundStatus.failed, 2)


def test_a_channel_that_is_down_is_tried_once_per_run_and_every_message_waits(
    db, session_factory, escalation
):
    settings = ClockSettings(smtp_host="127.0.0.1", smtp_port=free_port())
    messages = _queue(db, escalation, settings) + _queue(db, escalation, settings)

    report = _deliver(db, session_factory, settings)

    assert report == notify.DeliveryReport(sent=0, failed=0, retrying=1, waiting=1)
    assert all(m.status is OutboundStatus.pending for m in messages)


def test_a_message_not_tried_because_its_channel_was_down_is_not_charged_an_attempt(
    db, session_factory, escalation
):
    settings = ClockSettings(smtp_host="127.0.0.1", smtp_port=free_port(), notify_max_attempts=2)
    tried, untried = _queue(db, escalation, settings) + _queue(db, escalation, settings)

    _deliver(db, session_factory, settings)

    assert (tried.attempts, untried.attempts, untried.last_error) == (1, 0, None)


def test_no_transaction_is_open_while_a_server_is_waited_on(db, session_factory, escalation):
    opened: list[Session] = []
    in_transaction_during_send: list[bool] = []

    def tracked() -> Session:
        session = session_factory()
        opened.append(session)
        return session

    def check() -> None:
        in_transaction_during_send.append(any(s.in_transaction() for s in opened))

    with local_webhook(on_post=check) as (url, _):
        settings = ClockSettings(notify_webhook_url=url)
        [message] = _queue(db, escalation, settings)

        report = notify.deliver_pending(session_factory=tracked, settings=settings, now=NOW)

    db.refresh(message)
    assert (report.sent, message.status) == (1, OutboundStatus.sent)
    assert in_transaction_during_send == [False]


def test_a_malformed_webhook_address_is_recorded_not_raised(db, session_factory, escalation):
    settings = ClockSettings(notify_webhook_url="not a url at all")
    [message] = _queue(db, escalation, settings)

    report = _deliver(db, session_factory, settings)

    assert (report.retrying, message.status, message.attempts) == (1, OutboundStatus.pending, 1)
    assert message.last_error


def test_mail_queued_before_smtp_was_switched_off_waits_with_the_reason(db, session_factory, escalation):
    [message] = _queue(db, escalation, ClockSettings(smtp_host="127.0.0.1"))

    _deliver(db, session_factory, ClockSettings(smtp_host=""))

    assert (message.status, message.attempts) == (OutboundStatus.pending, 1)
    assert message.last_error is not None and "GOVDX_SMTP_HOST" in message.last_error
