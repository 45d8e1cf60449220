"""`SmtpMailer`: messages handed to a real SMTP server (the test sink), failures as `EmailFailed`."""

from __future__ import annotations

import socket

import pytest

from csms.api.mailer import EmailFailed, SmtpMailer
from csms.config import EmailConfig
from tests.smtp_sink import smtp_sink


async def test_a_message_reaches_the_server_with_its_headers() -> None:
    """From is `[email] from_address`; To, Subject and the plain-text body are as given."""
    async with smtp_sink() as sink:
        mailer = SmtpMailer(EmailConfig(port=sink.port, from_address="noreply@csms.example", timeout=5.0))
        await mailer.send("ann@example.com", "Hello", "Body text\n")
        [message] = await sink.wait_for(1)
    assert (message["From"], message["To"], message["Subject"]) == (
        "noreply@csms.example",
        "ann@example.com",
        "Hello",
    )
    body = message.get_body(("plain",))
    assert body is not None and body.get_content().rstrip() == "Body text"


async def test_an_unreachable_server_is_email_failed() -> None:
    """Nothing listening on the port: `EmailFailed`, not a connection error escaping."""
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(EmailFailed):
        await SmtpMailer(EmailConfig(port=port, timeout=5.0)).send("ann@example.com", "Hello", "Body")
