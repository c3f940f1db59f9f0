"""Mail on its own: SMTP URLs, a message's parts as iMIP wants them, and sending to a real SMTP
server (aiosmtpd) that asks for a password."""

import email
import email.policy
from datetime import UTC, datetime

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from integrations.mail import Mailbox, MailError, SmtpServer, compose, send
from tests.api.test_mail import free_port

SENDER = Mailbox("社区学院", "noreply@venues.example.org")
TO = Mailbox("李秀英", "lxy@example.cn")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.org", SmtpServer("mail.example.org", 25, "plain")),
        (
            "smtp+starttls://me%40x.org:p%3Ass@mail.example.org",
            SmtpServer("mail.example.org", 587, "starttls", "me@x.org", "p:ss"),
        ),
        ("smtps://me:pw@mail.example.org:2465", SmtpServer("mail.example.org", 2465, "tls", "me", "pw")),
    ],
)
def test_an_smtp_url_names_host_port_security_and_sign_in(url, expected):
    assert SmtpServer.from_url(url) == expected
    if expected.password:
        assert expected.password not in repr(SmtpServer.from_url(url))  # never in a log line


@pytest.mark.parametrize("url", ["http://mail.example.org", "smtp://", "mail.example.org:25"])
def test_anything_else_is_refused(url):
    with pytest.raises(ValueError, match="SMTP URL"):
        SmtpServer.from_url(url)


def message(invitation: bytes | None = b"BEGIN:VCALENDAR\r\nMETHOD:CANCEL\r\nEND:VCALENDAR\r\n") -> str:
    return compose(
        sender=SENDER,
        to=TO,
        subject="课次取消：书法入门 | Session cancelled",
        text="以下课次已取消。\n",
        message_id="<mail-1-2-3@venues.example.org>",
        date=datetime(2027, 3, 1, 9, 0, tzinfo=UTC),
        invitation=invitation,
        method="CANCEL",
    )


def test_the_invitation_is_a_text_calendar_part_with_its_method_and_the_names_are_encoded():
    parsed = email.message_from_string(message(), policy=email.policy.default)

    assert parsed["To"] == "李秀英 <lxy@example.cn>" and parsed["From"].addresses[0].display_name == "社区学院"
    assert message().isascii()  # headers and parts are encoded for any server
    [calendar] = [part for part in parsed.walk() if part.get_content_type() == "text/calendar"]
    assert (calendar.get_param("method"), calendar.get_param("charset"), calendar.get_filename()) == (
        "CANCEL",
        "UTF-8",
        "invite.ics",
    )
    assert b"METHOD:CANCEL" in calendar.get_payload(decode=True)
    plain = email.message_from_string(message(None), policy=email.policy.default)
    assert [part.get_content_type() for part in plain.walk()] == ["text/plain"]


class Accepting:
    def __init__(self) -> None:
        self.received: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.received.append((envelope.mail_from, envelope.rcpt_tos))
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
    good = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"venues", b"s3cret")
    return AuthResult(success=good)


@pytest.fixture
def server():
    handler = Accepting()
    controller = Controller(
        handler, hostname="127.0.0.1", port=free_port(), authenticator=authenticator, auth_require_tls=False
    )
    controller.start()
    yield handler, controller.port
    controller.stop()


def test_a_mail_is_sent_after_signing_in(server):
    handler, port = server

    send(SmtpServer("127.0.0.1", port, "plain", "venues", "s3cret"), SENDER.address, TO.address, message())

    assert handler.received == [(SENDER.address, [TO.address])]


def test_a_wrong_password_is_an_error_to_retry_not_a_refused_recipient(server):
    handler, port = server

    wrong = SmtpServer("127.0.0.1", port, "plain", "venues", "wrong")
    with pytest.raises(MailError) as failed:
        send(wrong, SENDER.address, TO.address, message(), timeout_s=5)

    assert not failed.value.permanent  # the operator's to fix: the mail waits meanwhile
    assert handler.received == []
