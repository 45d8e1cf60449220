"""An SMTP sink for tests: aiosmtpd's SMTP protocol served on the test's own event loop on 127.0.0.1, port 0,
keeping every message it receives (or refusing them all, to test a failing mail server)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.utils import MS

INVITATION_TOKEN = re.compile(r"csmsinv_[A-Za-z0-9_-]+")
SITE_OWNER_TOKEN = re.compile(r"csmsso_[A-Za-z0-9_-]+")
DRIVER_TOKEN = re.compile(r"csmsdrv_[A-Za-z0-9_-]+")


class SmtpSink:
    """aiosmtpd handler: `messages` as they arrived; with `refuse`, every message is answered 554."""

    def __init__(self, *, refuse: bool = False) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse = refuse
        self.port = 0
        self._arrived = asyncio.Condition()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if self.refuse:
            return "554 5.7.1 refused by the test sink"
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        async with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()
        return "250 OK"

    async def wait_for(self, count: int, timeout: float = 5000 * MS) -> list[EmailMessage]:  # noqa: ASYNC109
        """The first `count` messages, waiting until that many arrived."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.messages) >= count)
        return self.messages[:count]


def invitation_token(message: EmailMessage, pattern: re.Pattern[str] = INVITATION_TOKEN) -> str:
    """The invitation token in an invitation email's body (a member's; with `pattern`, e.g.
    `SITE_OWNER_TOKEN` or `DRIVER_TOKEN`, another kind)."""
    body = message.get_body(("plain",))
    assert body is not None
    found = pattern.search(body.get_content())
    assert found is not None, body.get_content()
    return found.group(0)


@asynccontextmanager
async def smtp_sink(**options: Any) -> AsyncIterator[SmtpSink]:
    """Serve an `SmtpSink(**options)` on 127.0.0.1 on a free port (`sink.port`) until the block ends."""
    sink = SmtpSink(**options)
    loop = asyncio.get_running_loop()
    # hostname given: aiosmtpd would otherwise look up the host's FQDN, a blocking call on the loop.
    server = await loop.create_server(lambda: SMTP(sink, hostname="sink.test"), "127.0.0.1", 0)
    sink.port = server.sockets[0].getsockname()[1]
    try:
        yield sink
    finally:
        server.close()
        await server.wait_closed()
