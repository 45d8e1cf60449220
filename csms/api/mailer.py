"""Sending email (invitations) through SMTP with aiosmtplib, without blocking the event loop.

aiosmtplib speaks SMTP on the running loop, so a slow or unreachable mail server delays only the request
that sends, never the loop (bounded by `[email] timeout`). The `Mailer` on the root app (`MAILER`) is what
handlers call; tests point `[email]` at an aiosmtpd sink on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib
import structlog
from aiohttp import web

from csms.api.auth import org_of
from csms.api.errors import ApiError, found
from csms.api.params import get_services
from csms.config import EmailConfig
from csms.domain.clock import isoformat_z
from csms.domain.identity import new_token, token_digest

log = structlog.get_logger("csms.api.mailer")


class EmailFailed(Exception):
    """The message could not be handed to the SMTP server (refused, unreachable, timed out)."""


class Mailer(Protocol):
    """Sends one plain-text email."""

    async def send(self, to: str, subject: str, body: str) -> None:
        """Hand the message to the mail server.

        Raises:
            EmailFailed: it was not accepted.
        """
        ...


class SmtpMailer:
    """A `Mailer` on the SMTP server of `[email]` (one connection per message; invitations are rare)."""

    def __init__(self, config: EmailConfig) -> None:
        self._config = config

    async def send(self, to: str, subject: str, body: str) -> None:
        """Send through the configured server (TLS, STARTTLS and AUTH as configured).

        Raises:
            EmailFailed: the server refused the message or could not be reached in `timeout` seconds.
        """
        config = self._config
        message = EmailMessage()
        message["From"] = config.from_address
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        try:
            await aiosmtplib.send(
                message,
                hostname=config.host,
                port=config.port,
                username=config.username or None,
                password=config.password or None,
                use_tls=config.use_tls,
                start_tls=config.start_tls,
                timeout=config.timeout,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            log.warning("email_failed", host=config.host, port=config.port, error=str(exc))
            raise EmailFailed(str(exc)) from exc
        log.info("email_sent", host=config.host, port=config.port, subject=subject)


MAILER = web.AppKey("mailer", Mailer)


def get_mailer(request: web.Request) -> Mailer:
    """The app's mailer (an `SmtpMailer` on `[email]` unless the app was given another)."""
    return request.config_dict[MAILER]


@dataclass(frozen=True, slots=True)
class SentInvitation:
    """An invitation whose email the mail server took: what to store (never the token itself)."""

    org_id: str
    token_digest: str
    expires_at: datetime
    sent_at: datetime


# (organization name, token, expiry as text) -> (subject, body)
InvitationEmail = Callable[[str, str, str], tuple[str, str]]


async def send_invitation(
    request: web.Request, to: str, token_prefix: str, compose: InvitationEmail
) -> SentInvitation:
    """Email a new single-use invitation token of the caller's organization to `to`, valid for `[email]
    invitation_hours`; the caller then stores the invitation from the result (nothing is stored yet, so a
    failed send leaves nothing behind).

    Raises:
        ApiError: 502 `email_failed` when the mail server did not take the message.
    """
    services = get_services(request)
    org_id = org_of(request)
    org = found(await services.store.get_organization(org_id), f"organization {org_id!r}")
    token = new_token(token_prefix)
    now = services.clock()
    expires_at = now + timedelta(hours=services.config.email.invitation_hours)
    subject, text = compose(org.name, token, isoformat_z(expires_at))
    try:
        await get_mailer(request).send(to, subject, text)
    except EmailFailed as exc:
        raise ApiError(502, "email_failed", "the invitation email could not be sent; nothing was kept",
                       {"reason": str(exc)}) from None  # fmt: skip
    return SentInvitation(org_id, token_digest(token), expires_at, now)
