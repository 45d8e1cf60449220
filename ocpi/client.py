"""Outgoing OCPI calls to partners: one `PartnerClient` (on the shared aiohttp `ClientSession`) for
registration, pushes, command results and real-time authorization.

Every call carries `Authorization: Token base64(token)` (OCPI 2.2.1 "Transport and format": authorization
header), a fresh `X-Request-ID`, an `X-Correlation-ID` and, for functional modules, the routing headers.
Answers come back as a `PartnerResponse`; connection errors and timeouts raise `PartnerUnreachable`, so a
caller (the outbox) can retry. Tokens are never logged.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass
from typing import Any
from urllib.parse import urljoin

import aiohttp
import orjson
import structlog

from csms.config import OcpiConfig
from ocpi.models import Partner
from ocpi.transport import dumps, encode_token

log = structlog.get_logger("ocpi.client")


class PartnerUnreachable(Exception):
    """The partner could not be reached: connection refused or reset, DNS failure, TLS error or timeout.

    Nothing is known about whether the partner processed the request; retry later or give up.
    """


@dataclass(frozen=True, slots=True)
class PartnerResponse:
    """What a partner answered.

    `status_code` and `data` come from the OCPI envelope (`data` is None when absent); both are None when
    the body is not an envelope (not JSON, or JSON without `status_code`). `headers` are the HTTP response
    headers (e.g. `Location` of a CDR POST, `Link` / `X-Total-Count` of a page).
    """

    http_status: int
    status_code: int | None
    data: Any
    headers: Mapping[str, str]
    status_message: str | None = None

    @property
    def success(self) -> bool:
        """HTTP 2xx with OCPI status 1000 (any 1xxx) — the partner accepted the request."""
        return (
            200 <= self.http_status < 300 and self.status_code is not None and 1000 <= self.status_code < 2000
        )


def endpoint(partner: Partner, identifier: str, role: str) -> str | None:
    """The partner's endpoint URL of module `identifier` in `role` ("SENDER"/"RECEIVER"), as stored from its
    version details at registration (`partner.endpoints["<identifier>:<ROLE>"]`); None if it has none."""
    return partner.endpoints.get(f"{identifier}:{role.upper()}")


def sending_party(partner: Partner, module: str, url: str, body: Any) -> tuple[str, str] | None:
    """Which of our parties a push to `partner` is from: the `{country_code}/{party_id}` following the
    partner's `module` receiver endpoint in `url` (Locations, Sessions and Tariffs receivers name the
    object's party there), else the body's `country_code`/`party_id` (a CDR is POSTed to the endpoint
    itself); None when neither names one. Pass it as `PartnerClient.request(sender=...)`."""
    base = endpoint(partner, module, "RECEIVER")
    if base is not None and url.startswith(base.rstrip("/") + "/"):
        segments = url[len(base.rstrip("/")) + 1 :].split("/")
        if len(segments) >= 2:
            return segments[0], segments[1]
    if not isinstance(body, dict):
        return None
    country_code, party_id = body.get("country_code"), body.get("party_id")
    if isinstance(country_code, str) and isinstance(party_id, str):
        return country_code, party_id
    return None


@dataclass(slots=True)
class PartnerClient:
    """Calls partners over HTTP with OCPI headers; shares one aiohttp `ClientSession` (never closes it).

    Args:
        session: the shared session (its owner closes it at shutdown).
        config: our `[ocpi]` configuration (our country code and party id for the routing headers).
        timeout: default total timeout of one call, in seconds.
    """

    session: aiohttp.ClientSession
    config: OcpiConfig
    _: KW_ONLY
    timeout: float = 10.0

    async def request(
        self,
        partner: Partner,
        method: str,
        url: str,
        body: Any = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 (the shared interface; applied per call)
        token: str | None = None,
        correlation_id: str | None = None,
        routing: bool = True,
        params: Mapping[str, str] | None = None,
        sender: tuple[str, str] | None = None,
    ) -> PartnerResponse:
        """Send one request to `partner` and read its answer.

        Args:
            partner: who is called (its `token_b` authenticates us unless `token` is given; its country code
                and party id go into the OCPI-to-* headers).
            method: GET, PUT, PATCH, POST or DELETE.
            url: the full URL (an endpoint from the partner's version details, possibly with a suffix).
            body: sent as JSON when not None (Decimal as numbers, see `ocpi.transport.dumps`).
            timeout: seconds for the whole call; default the client's.
            token: the token to authenticate with instead of `partner.token_b` (token A or B during
                registration).
            correlation_id: `X-Correlation-ID` to keep (e.g. of the request that caused this call); a new
                UUID otherwise. `X-Request-ID` is always new.
            routing: send the OCPI-from/to-* routing headers; False for versions and credentials calls,
                which never carry them (OCPI 2.2.1 "Transport and format": message routing).
            params: query parameters.
            sender: which of our parties calls (country code, party id) for the OCPI-from-* headers, e.g.
                `sending_party(...)` of a push; default, or when it is not one of ours, the `[ocpi]`
                default party.

        Returns:
            The answer, whatever its HTTP status; check `success` or `status_code`.

        Raises:
            PartnerUnreachable: the connection failed or the call timed out.
            ValueError: there is no token to call this partner with.
        """
        use_token = token if token is not None else partner.token_b
        if not use_token:
            raise ValueError(f"no token to call OCPI partner {partner.id}")
        request_id = str(uuid.uuid4())
        call_log = log.bind(partner_id=partner.id, method=method, url=url, request_id=request_id)
        headers = {
            "Authorization": encode_token(use_token),
            "X-Request-ID": request_id,
            "X-Correlation-ID": correlation_id or str(uuid.uuid4()),
            "Accept": "application/json",
        }
        if routing:
            # FROM is the party of ours the call is on behalf of (OCPI 2.2.1 transport: message routing;
            # a platform serving several parties sends for each of them).
            ours = self.config.party(*sender) if sender is not None else None
            ours = ours or self.config.parties()[0]
            headers["OCPI-from-country-code"] = ours.country_code
            headers["OCPI-from-party-id"] = ours.party_id
            if partner.country_code and partner.party_id:
                headers["OCPI-to-country-code"] = partner.country_code
                headers["OCPI-to-party-id"] = partner.party_id
        data: bytes | None = None
        if body is not None:
            data = dumps(body)
            headers["Content-Type"] = "application/json"
        seconds = self.timeout if timeout is None else timeout
        started = time.monotonic()
        try:
            async with self.session.request(
                method,
                url,
                data=data,
                headers=headers,
                params=params,
                timeout=aiohttp.ClientTimeout(total=seconds),
                allow_redirects=False,
            ) as resp:
                raw = await resp.read()
                response_headers: Mapping[str, str] = resp.headers.copy()
                http_status = resp.status
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            call_log.warning("ocpi_call_failed", error=f"{type(exc).__name__}: {exc}")
            raise PartnerUnreachable(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        status_code, payload, message = _read_envelope(raw)
        call_log.info(
            "ocpi_call",
            http_status=http_status,
            status_code=status_code,
            duration_ms=round((time.monotonic() - started) * 1000, 1),
        )
        return PartnerResponse(http_status, status_code, payload, response_headers, message)


def _read_envelope(raw: bytes) -> tuple[int | None, Any, str | None]:
    """(status_code, data, status_message) of an OCPI response body; Nones when it is not an envelope."""
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return None, None, None
    if not isinstance(body, dict) or not isinstance(body.get("status_code"), int):
        return None, None, None
    message = body.get("status_message")
    return body["status_code"], body.get("data"), message if isinstance(message, str) else None


_NEXT = re.compile(r'<([^>]*)>\s*;[^,]*\brel="?next"?', re.IGNORECASE)


def next_link(header: str | None, base: str | None = None) -> str | None:
    """The URL of `Link: <url>; rel="next"` (OCPI 2.2.1 "Pagination"), or None on the last page; a relative
    URL is resolved against `base` (the page's own URL) when given."""
    if not header:
        return None
    match = _NEXT.search(header)
    if match is None:
        return None
    return urljoin(base, match.group(1)) if base else match.group(1)
