"""Mail: a message with its calendar invitation composed (iMIP, RFC 6047), and sent over SMTP.

The SMTP server is given as a URL: ``smtp://host:25`` (plain), ``smtp+starttls://user:password@host:587``
(STARTTLS, then sign in) or ``smtps://user:password@host:465`` (TLS from the start).
"""

import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from urllib.parse import unquote, urlsplit

SECURITIES = {"smtp": "plain", "smtp+starttls": "starttls", "smtps": "tls"}
DEFAULT_PORTS = {"plain": 25, "starttls": 587, "tls": 465}
ATTACHMENT = "invite.ics"


class MailError(Exception):
    """A mail was not sent. ``permanent``: the server refused the recipient or the message itself
    (a 5xx answer to them), so sending it again cannot help."""

    def __init__(self, detail: str, *, permanent: bool = False) -> None:
        super().__init__(detail)
        self.detail, self.permanent = detail, permanent


@dataclass(frozen=True, slots=True)
class SmtpServer:
    host: str
    port: int
    security: str  # "plain", "starttls" or "tls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a log line

    @classmethod
    def from_url(cls, url: str) -> "SmtpServer":
        parts = urlsplit(url)
        security = SECURITIES.get(parts.scheme.lower())
        if security is None or not parts.hostname:
            raise ValueError(f"an SMTP URL is smtp://, smtp+starttls:// or smtps:// and a host, not {url!r}")
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else None
        return cls(parts.hostname, parts.port or DEFAULT_PORTS[security], security, username, password)


@dataclass(frozen=True, slots=True)
class Mailbox:
    """A sender or recipient: ``name <address>``."""

    name: str
    address: str

    @classmethod
    def parse(cls, text: str) -> "Mailbox":
        name, address = parseaddr(text)
        if "@" not in address:
            raise ValueError(f"not a mail address: {text!r}")
        return cls(name, address)

    def header(self) -> Address:
        local, _, domain = self.address.rpartition("@")
        return Address(display_name=self.name, username=local, domain=domain)


def compose(
    *,
    sender: Mailbox,
    to: Mailbox,
    subject: str,
    text: str,
    message_id: str,
    date: datetime,
    invitation: bytes | None = None,
    method: str | None = None,
) -> str:
    """The message as sent: the text, and the invitation as a ``text/calendar; method=…`` part
    (what calendar apps act on) that is also an ``invite.ics`` attachment."""
    message = EmailMessage(policy=SMTP)
    message["From"] = sender.header()
    message["To"] = to.header()
    message["Subject"] = subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: vacation responders stay quiet
    message.set_content(text, charset="utf-8")
    if invitation is not None:
        message.add_attachment(
            invitation,
            maintype="text",
            subtype="calendar",
            filename=ATTACHMENT,
            params={"method": method or "PUBLISH", "charset": "UTF-8"},
        )
    return message.as_string()


def send(server: SmtpServer, sender: str, recipient: str, content: str, *, timeout_s: float = 30.0) -> None:
    """Hand one message to the server; ``MailError`` if it was not accepted."""
    try:
        if server.security == "tls":
            smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=timeout_s, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(server.host, server.port, timeout=timeout_s)
        with smtp:
            if server.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if server.username:
                smtp.login(server.username, server.password or "")
            smtp.sendmail(sender, [recipient], content.encode())
    except smtplib.SMTPRecipientsRefused as refused:
        code, answer = next(iter(refused.recipients.values()))
        raise MailError(f"the server refused {recipient}: {code} {_text(answer)}", permanent=code >= 500) from None
    except smtplib.SMTPDataError as refused:
        detail = f"the server refused the message: {refused.smtp_code} {_text(refused.smtp_error)}"
        raise MailError(detail, permanent=refused.smtp_code >= 500) from None
    except smtplib.SMTPResponseException as failure:  # the sender refused, signing in failed: the operator's to fix
        raise MailError(f"the server answered {failure.smtp_code} {_text(failure.smtp_error)}") from None
    except (smtplib.SMTPException, OSError) as failure:
        raise MailError(f"could not reach the mail server: {failure or type(failure).__name__}") from None


def _text(answer: bytes | str) -> str:
    return answer.decode(errors="replace") if isinstance(answer, bytes) else str(answer)
