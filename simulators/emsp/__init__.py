"""A simulated OCPI 2.2.1 eMSP: the other side of our CPO bridge, for end-to-end tests and for people.

Server side (aiohttp on `host:port`, port 0 picks a free one), below `{url}/ocpi`:

- `versions`, version details and `credentials` (a CPO may register with us using `config.token_a`),
- RECEIVER endpoints for `locations` (PUT/PATCH per Location, EVSE or Connector), `sessions` (PUT/PATCH; a
  PATCH appends `charging_periods`), `cdrs` (POST, answered with a `Location` header) and `tariffs`
  (PUT/DELETE), each keeping the objects and recording every push in `received`, in arrival order,
- a SENDER `tokens` endpoint (paginated GET of our tokens, and real-time authorization
  `POST /tokens/{uid}/authorize` answered from our tokens or `authorizations`),
- a `commands` endpoint where CPOs POST the CommandResults of the commands we sent (the `response_url`
  that `send_command` hands out).

Client side: `register` (the full credentials handshake with a CPO, given its versions URL and a token A),
`pull` / `pull_all` (every SENDER module of the CPO, following `Link` headers), `put_token` /
`patch_token`, `send_command`, `update_credentials`, `unregister`.

`AgentClient` (`simulators.emsp.agent`) stands in for a client application of the eMSP role's Agent API
(`/agent/v1`: search, book, follow and cancel bookings).

`set_down(True)` makes the server answer 503 (or drop connections) until `set_down(False)`.

Every call and answer carries `Authorization: Token base64(token)`, `X-Request-ID`, `X-Correlation-ID`
and, on functional modules, the routing headers (OCPI 2.2.1 "Transport and format"). The simulator has
its own small OCPI helpers instead of importing the CSMS's, so the two sides check each other.

    async with EmspSimulator(EmspConfig(party_id="EMS")) as emsp:
        await emsp.register("http://127.0.0.1:8080/ocpi/versions", token_a)
        everything = await emsp.pull_all()
"""

from __future__ import annotations

from simulators.emsp.agent import (
    AgentApiError,
    AgentClient,
    AgentResponse,
    BookingEndedError,
    RateLimit,
)
from simulators.emsp.protocol import EmspConfig, EmspResponse, OcpiCallError, Push, token_header
from simulators.emsp.server import EmspServer


class EmspSimulator(EmspServer):
    """The simulated eMSP. Use as an async context manager, or `start()` then `close()`.

    Attributes:
        received: every push (locations, sessions, cdrs, tariffs) as `(method, path, body)`, in arrival
            order, refused ones included (those are also in `rejected`, with the reason).
        pushes: the same with the request headers, as `Push` objects.
        locations / sessions / cdrs / tariffs: the objects as pushed or pulled, by "cc/pid/id" (CDRs by id).
        tokens: our tokens by (uid, type); `put_token` adds to it and the tokens endpoint serves it.
        authorizations: uid -> `allowed` answer forcing real-time authorization (ALLOWED, BLOCKED, ...).
        authorize_requests: every real-time authorization request as (uid, type, body).
        command_results: every CommandResult posted to us as (command, reference, body).
        sent_commands: every command we sent as (command, body including the response_url).
        cpo_endpoints: the CPO's endpoints, "<identifier>:<ROLE>" -> url, after registration.
        pages: how many pages the last pull of each module took.
    """


__all__ = [
    "AgentApiError",
    "AgentClient",
    "AgentResponse",
    "BookingEndedError",
    "EmspConfig",
    "EmspResponse",
    "EmspSimulator",
    "OcpiCallError",
    "Push",
    "RateLimit",
    "token_header",
]
