"""Handing one message to the mail server in steps, so that no one gets it twice.

SMTP accepts a message when the client sends the final ``.`` of the DATA section. The
sender transmits envelope and content first (``stage``) while the recipient's row is
claimed as ``sending``; then it records the row as sent and writes the ``.`` (``finish``)
back to back, and reads the server's answer (``confirm``). A sender that dies before the
``.`` leaves an unfinished message, which the server discards, and a ``sending`` row that
is queued again (see ``services.sending._mark_sent_and_finish``). Other Django mail backends
(console, file, in-memory) have the same interface: ``finish`` hands them the message.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


class TemporaryFailure(Exception):
    """The server said try again later (4xx) or could not be reached."""


class PermanentFailure(Exception):
    """The server refused the recipient or the message for good (5xx).

    ``bounce`` is true when the address itself was refused (RCPT TO): it goes on the
    suppression list. A refused message (end of DATA) fails without suppressing the address.
    """

    def __init__(self, detail: str, *, bounce: bool = False) -> None:
        super().__init__(detail)
        self.bounce = bounce


class ConnectionLost(TemporaryFailure):
    """The connection itself failed: stop the batch instead of burning other recipients' tries."""


def _raise_for(code: int, text: bytes | str, what: str, *, bounce: bool = False) -> None:
    message = text.decode(errors="replace") if isinstance(text, bytes) else text
    detail = f"{what}: {code} {message}".strip()[:480]
    if 500 <= code < 600:
        raise PermanentFailure(detail, bounce=bounce)
    raise TemporaryFailure(detail)


class Transport:
    def stage(self, message: EmailMultiAlternatives) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Complete the staged message: from here on the server has it."""
        raise NotImplementedError

    def confirm(self) -> None:
        """Wait for the server's verdict on the finished message (raises on refusal)."""

    def abort(self) -> None:
        """Forget a staged message (the server discards an unfinished DATA section)."""

    def close(self) -> None:
        """Release the connection."""


class SmtpTransport(Transport):
    def __init__(self) -> None:
        self.connection: smtplib.SMTP | None = None
        self.staged = False

    def _connect(self) -> smtplib.SMTP:
        if self.connection is not None:
            return self.connection
        try:
            if settings.EMAIL_USE_SSL:
                connection: smtplib.SMTP = smtplib.SMTP_SSL(
                    settings.EMAIL_HOST,
                    settings.EMAIL_PORT,
                    timeout=settings.EMAIL_TIMEOUT,
                    context=ssl.create_default_context(),
                )
            else:
                connection = smtplib.SMTP(
                    settings.EMAIL_HOST, settings.EMAIL_PORT, timeout=settings.EMAIL_TIMEOUT
                )
                if settings.EMAIL_USE_TLS:
                    connection.starttls(context=ssl.create_default_context())
            if settings.EMAIL_HOST_USER:
                connection.login(settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD)
            # The final "." goes out as its own small write: without this, Nagle's algorithm
            # holds it until the server's delayed ACK (about 40 ms a message).
            if connection.sock is not None:
                connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except smtplib.SMTPAuthenticationError as error:
            raise ConnectionLost(f"SMTP login refused: {error.smtp_code}") from error
        except (OSError, smtplib.SMTPException) as error:
            raise ConnectionLost(f"cannot reach the SMTP server: {error}") from error
        self.connection = connection
        return connection

    def stage(self, message: EmailMultiAlternatives) -> None:
        connection = self._connect()
        # Django's MIME classes take linesep, as its own SMTP backend uses them.
        content = message.message().as_bytes(linesep="\r\n")
        try:
            connection.ehlo_or_helo_if_needed()
            code, text = connection.mail(parseaddr(message.from_email)[1])
            if code != 250:
                # The sender is refused: a problem of this installation, not of the recipient.
                self.close()
                raise ConnectionLost(f"MAIL FROM refused: {code} {text.decode(errors='replace')}"[:480])
            code, text = connection.rcpt(message.to[0])
            if code not in (250, 251):
                connection.rset()
                _raise_for(code, text, "RCPT TO", bounce=True)
            connection.putcmd("data")
            code, text = connection.getreply()
            if code != 354:
                connection.rset()
                _raise_for(code, text, "DATA")
            body = smtplib._quote_periods(content)  # type: ignore[attr-defined]
            if not body.endswith(b"\r\n"):
                body += b"\r\n"
            connection.send(body)
        except (OSError, smtplib.SMTPServerDisconnected) as error:
            self.close()
            raise ConnectionLost(f"SMTP connection lost: {error}") from error
        self.staged = True

    def finish(self) -> None:
        assert self.connection is not None
        assert self.staged
        self.staged = False
        try:
            self.connection.send(b".\r\n")
        except (OSError, smtplib.SMTPServerDisconnected) as error:
            self.close()
            raise ConnectionLost(f"SMTP connection lost before the end of the message: {error}") from error

    def confirm(self) -> None:
        assert self.connection is not None
        try:
            code, text = self.connection.getreply()
        except (OSError, smtplib.SMTPServerDisconnected) as error:
            self.close()
            raise ConnectionLost(f"SMTP connection lost after the message: {error}") from error
        if code != 250:
            _raise_for(code, text, "end of DATA")

    def abort(self) -> None:
        # An unfinished DATA section cannot be cancelled in SMTP: drop the connection.
        if self.staged:
            self.close()
        self.staged = False

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (OSError, smtplib.SMTPException):
            connection.close()


class BackendTransport(Transport):
    """Any other Django mail backend (console, file, in-memory): ``finish`` hands it the message."""

    def __init__(self) -> None:
        self.backend = get_connection(fail_silently=False)
        self.message: EmailMultiAlternatives | None = None

    def stage(self, message: EmailMultiAlternatives) -> None:
        self.message = message

    def finish(self) -> None:
        assert self.message is not None
        message, self.message = self.message, None
        try:
            self.backend.send_messages([message])
        except OSError as error:
            raise TemporaryFailure(str(error)) from error

    def abort(self) -> None:
        self.message = None

    def close(self) -> None:
        self.backend.close()


def open_transport() -> Transport:
    return SmtpTransport() if settings.EMAIL_BACKEND == SMTP_BACKEND else BackendTransport()
