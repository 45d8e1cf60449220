"""OCPI transport (ocpi/transport.py): envelope, token auth, tracing and routing headers, pagination, errors.

A small OCPI sub-application built from the transport pieces alone (the middlewares, `ok`, `page`,
`pagination`, `read_json`) is served by aiohttp's test server and called over HTTP.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from ocpi.models import Partner, PartnerStatus
from ocpi.transport import (
    TOKEN,
    TOKEN_KIND,
    VERSION,
    OcpiError,
    Status,
    auth_middleware,
    dumps,
    encode_token,
    envelope,
    error_middleware,
    hash_token,
    ocpi_datetime,
    ok,
    page,
    pagination,
    parse_ocpi_datetime,
    partner_of,
    read_json,
    token_candidates,
    token_from_header,
)
from tests.fakes.ocpi_memory_store import MemoryOcpiStore
from tests.ocpi.conftest import FakeClock

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
MAX_LIMIT = 3
ITEMS = [{"id": str(i), "last_updated": f"2024-05-01T12:0{i}:00Z"} for i in range(7)]


@dataclass
class Tokens:
    """The tokens of the partners in the test app's store."""

    registered: str  # token C of a REGISTERED partner
    token_a: str  # token A of a PENDING partner
    pending_c: str  # token C of a partner still PENDING (registration in progress)
    unregistered: str  # token C of an UNREGISTERED partner


async def handle_items(request: web.Request) -> web.Response:
    """A paginated list of ITEMS, filtered by date_from/date_to, capped at MAX_LIMIT."""
    params = pagination(request, MAX_LIMIT)
    selected = [
        item
        for item in ITEMS
        if (params.date_from is None or parse_ocpi_datetime(item["last_updated"]) >= params.date_from)
        and (params.date_to is None or parse_ocpi_datetime(item["last_updated"]) < params.date_to)
    ]
    return page(
        request, selected[params.offset : params.offset + params.limit], len(selected), params, MAX_LIMIT
    )


async def handle_dated(request: web.Request) -> web.Response:
    """A list that requires date_from (as Sessions does)."""
    params = pagination(request, MAX_LIMIT, date_from_required=True)
    return page(request, [], 0, params, MAX_LIMIT)


async def handle_item(request: web.Request) -> web.Response:
    """One item, 404 when unknown, and who asked (partner id, token kind)."""
    item_id = request.match_info["item_id"]
    if item_id == "boom":
        raise RuntimeError("secret detail")
    if item_id not in {i["id"] for i in ITEMS} and item_id != "versions":
        raise OcpiError(404, Status.CLIENT_ERROR, f"unknown item {item_id}")
    return ok({"id": item_id, "partner": partner_of(request).id, "kind": request[TOKEN_KIND]})


async def handle_echo(request: web.Request) -> web.Response:
    """Echo a JSON object body back with a Decimal added."""
    body = await read_json(request)
    return ok({"echo": body, "amount": Decimal("1.23456")}, http_status=201)


async def handle_nothing(request: web.Request) -> web.Response:
    """A success without data (as a Session PUT answer)."""
    return ok()


async def handle_whoami(request: web.Request) -> web.Response:
    """Registration-path route: who authenticated, with which token kind and token."""
    return ok({"partner": partner_of(request).id, "kind": request[TOKEN_KIND], "token": request[TOKEN]})


def build_app(store: MemoryOcpiStore) -> web.Application:
    """A root app with an OCPI-like sub-app at /ocpi using the transport middlewares."""
    sub = web.Application(middlewares=[error_middleware, auth_middleware(store)])
    sub.router.add_get("/versions", handle_whoami)
    sub.router.add_get(f"/{VERSION}", handle_whoami)
    sub.router.add_get(f"/{VERSION}/credentials", handle_whoami)
    sub.router.add_get(f"/{VERSION}/items", handle_items)
    sub.router.add_get(f"/{VERSION}/dated", handle_dated)
    sub.router.add_get(f"/{VERSION}/items/{{item_id}}", handle_item)
    sub.router.add_post(f"/{VERSION}/items", handle_echo)
    sub.router.add_put(f"/{VERSION}/nothing", handle_nothing)
    root = web.Application()
    root.add_subapp("/ocpi", sub)
    return root


@pytest.fixture
async def tokens(memory_ocpi_store: MemoryOcpiStore) -> Tokens:
    """Four partners in the store: registered, pending with token A, pending mid-handshake, unregistered."""
    result = Tokens(
        registered="registered-token-c", token_a="token-a", pending_c="pending-c", unregistered="gone-c"
    )
    store = memory_ocpi_store
    await store.add_partner(
        Partner(
            id=0,
            name="Registered",
            country_code="DE",
            party_id="REG",
            status=PartnerStatus.REGISTERED,
            token_c_hash=hash_token(result.registered),
            token_b="b",
        )
    )
    await store.add_partner(
        Partner(
            id=0, name="Pending", country_code="DE", party_id="PEN", token_a_hash=hash_token(result.token_a)
        )
    )
    await store.add_partner(
        Partner(
            id=0, name="Midway", country_code="DE", party_id="MID", token_c_hash=hash_token(result.pending_c)
        )
    )
    await store.add_partner(
        Partner(
            id=0,
            name="Gone",
            country_code="DE",
            party_id="GON",
            status=PartnerStatus.UNREGISTERED,
            token_c_hash=hash_token(result.unregistered),
        )
    )
    return result


@pytest.fixture
async def client(
    memory_ocpi_store: MemoryOcpiStore, tokens: Tokens
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """An HTTP client of the test app on 127.0.0.1."""
    async with TestClient(TestServer(build_app(memory_ocpi_store), host="127.0.0.1")) as test_client:
        yield test_client


def auth(token: str) -> dict[str, str]:
    """The 2.2.1 Authorization header for `token`."""
    return {"Authorization": encode_token(token)}


# -- envelope ----------------------------------------------------------------------------------------


async def test_success_envelope_shape(
    client: TestClient[web.Request, web.Application], tokens: Tokens
) -> None:
    """A success answer is the envelope: data, status_code 1000, a UTC timestamp ending in Z, no message."""
    resp = await client.get(f"/ocpi/{VERSION}/items/1", headers=auth(tokens.registered))
    assert resp.status == 200
    assert resp.content_type == "application/json"
    body = await resp.json()
    assert set(body) == {"data", "status_code", "timestamp"}
    assert body["status_code"] == 1000
    assert TIMESTAMP.match(body["timestamp"])
    assert body["data"] == {"id": "1", "partner": 1, "kind": "C"}


async def test_success_without_data_omits_data(
    client: TestClient[web.Request, web.Application], tokens: Tokens
) -> None:
    """`ok()` without data answers an envelope without a `data` field."""
    resp = await client.put(f"/ocpi/{VERSION}/nothing", headers=auth(tokens.registered))
    body = await resp.json()
    assert resp.status == 200
    assert "data" not in body and body["status_code"] == 1000


async def test_error_envelope_for_unknown_object(
    client: TestClient[web.Request, web.Application], tokens: Tokens
) -> None:
    """An OcpiError becomes its HTTP status and an envelope with status_code and status_message, no data."""
    resp = await client.get(f"/ocpi/{VERSION}/items/nope", headers=auth(tokens.registered))
    assert resp.status == 404
    body = await resp.json()
    assert body["status_code"] == 2000
    assert body["status_message"] == "unknown item nope"
    assert "data" not in body
    assert TIMESTAMP.match(body["timestamp"])


async def test_unexpected_exception_is_3000_without_details(
    client: TestClient[web.Request, web.Application], tokens: Tokens
) -> None:
    """An unexpected exception answers HTTP 500 with status 3000 and does not leak the exception text."""
    resp = await client.get(f"/ocpi/{VERSION}/items/boom", headers=auth(tokens.registered))
    assert resp.status == 500
    body = await resp.json()
    assert body["status_code"] == 3000
    assert "secret" not in orjson.dumps(body).decode()


async def test_decimal_is_emitted_as_number_with_four_decimals(
    client: TestClient[web.Request, web.Application], tokens: Tokens
) -> None:
    """A Decimal in the data is a JSON number rounded to 4 decimals, and `http_status` is honoured."""
    resp = await client.post(f"/ocpi/{VERSION}/items", json={"a": 1}, headers=auth(tokens.registered))
    assert resp.status == 201
    text = await resp.text()
    assert '"amount":1.2346' in text
    assert (await resp.json())["data"]["echo"] == {"a": 1}


# -- errors of the transport layer -------------------------------------------------------------------


async def test_invalid_json_is_400_2001(
    client: TestClient[web.Request, web.Application], tokens: Tokens
) -> None:
    """A body that is not JSON is HTTP 400 with status 2001."""
    resp = await client.post(
        f"/ocpi/{VERSION}/items",
        data=b"{not json",
        headers={**auth(tokens.registered), "Content-Type": "application/json"},
    )
    assert resp.status == 400
    assert (await resp.json())["status_code"] == 2001


async def test_json_that_is_not_an_object_is_2001_without_http_error(
    client: TestClient[web.Request, web.Application], tokens: Tokens
) -> None:
    """Valid JSON of the wrong shape reached the OCPI layer: HTTP 200 with status 2001."""
    resp = await client.post(f"/ocpi/{VERSION}/items", json=[1, 2], headers=auth(tokens.registered))
    assert resp.status == 200
    assert (await resp.json())["status_code"] == 2001


async def test_unknown_path_is_404_envelope_even_without_token(
    client: TestClient[web.Request, web.Application], tokens: Tokens
) -> None:
    """A path no route serves is HTTP 404 in the envelope (status 2000), with or without a token."""
    for headers in ({}, auth(tokens.registered)):
        resp = await client.get(f"/ocpi/{VERSION}/no-such-module", headers=headers)
        assert resp.status == 404
        body = await resp.json()
        assert body["status_code"] == 2000
        assert TIMESTAMP.match(body["timestamp"])


async def test_wrong_method_is_405_with_allow(
    client: TestClient[web.Request, web.Application], tokens: Tokens
) -> None:
    """A method the resource does not take is HTTP 405 in the envelope, keeping the Allow header."""
    resp = await client.delete(f"/ocpi/{VERSION}/items", headers=auth(tokens.registered))
    assert resp.status == 405
    assert "GET" in resp.headers["Allow"]
    assert (await resp.json())["status_code"] == 2000


# -- token authentication --------------------------------------------------------------------------


async def test_base64_and_raw_tokens_are_both_accepted(
    client: TestClient[web.Request, web.Application], tokens: Tokens
) -> None:
    """`Token base64(token)` (2.2.1) and `Token token` (2.1.1 and many 2.2 peers) authenticate alike."""
    for header in (
        encode_token(tokens.registered),
        f"Token {tokens.registered}",
        f"token  {tokens.registered}",
    ):
        resp = await client.get(f"/ocpi/{VERSION}/items/2", headers={"Authorization": header})
        assert resp.status == 200, header
        assert (await resp.json())["data"]["partner"] == 1


async def test_raw_token_that_is_valid_base64_is_still_found(
    memory_ocpi_store: MemoryOcpiStore, client: TestClient[web.Request, web.Application]
) -> None:
    """A raw token that happens to be valid base64 of printable text is tried raw when decoded fails."""
    raw = "dGVzdA=="  # base64 of "test", but here the token itself
    await memory_ocpi_store.add_partner(
        Partner(
            id=0,
            name="B64",
            country_code="DE",
            party_id="B64",
            status=PartnerStatus.REGISTERED,
            token_c_hash=hash_token(raw),
        )
    )
    resp = await client.get(f"/ocpi/{VERSION}/items/3", headers={"Authorization": f"Token {raw}"})
    assert resp.status == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer registered-token-c"},
        {"Authorization": "Token "},
        {"Authorization": encode_token("not-a-known-token")},
        {"Authorization": encode_token("gone-c")},
    ],
    ids=["missing", "other-scheme", "empty", "unknown", "unregistered-partner"],
)
async def test_missing_or_unknown_token_is_401(
    client: TestClient[web.Request, web.Application], headers: dict[str, str]
) -> None:
    """No token, another scheme, an unknown token or an unregistered partner's token is HTTP 401 (2000)."""
    resp = await client.get(f"/ocpi/{VERSION}/items/1", headers=headers)
    assert resp.status == 401
    body = await resp.json()
    assert body["status_code"] == 2000
    assert "status_message" in body


async def test_token_a_only_opens_versions_and_credentials(
    client: TestClient[web.Request, web.Application], tokens: Tokens
) -> None:
    """Token A works on versions, version details and credentials, and is 401 on any other module."""
    for path in ("/ocpi/versions", f"/ocpi/{VERSION}", f"/ocpi/{VERSION}/credentials"):
        resp = await client.get(path, headers=auth(tokens.token_a))
        assert resp.status == 200, path
        assert (await resp.json())["data"] == {"partner": 2, "kind": "A", "token": tokens.token_a}
    for path in (f"/ocpi/{VERSION}/items", f"/ocpi/{VERSION}/items/1"):
        resp = await client.get(path, headers=auth(tokens.token_a))
        assert resp.status == 401, path


async def test_token_a_is_refused_on_an_object_called_versions(
    client: TestClient[web.Request, web.Application], tokens: Tokens
) -> None:
    """An object id that looks like a registration path (`/items/versions`) does not open it to token A."""
    resp = await client.get(f"/ocpi/{VERSION}/items/versions", headers=auth(tokens.token_a))
    assert resp.status == 401
    resp = await client.get(f"/ocpi/{VERSION}/items/versions", headers=auth(tokens.registered))
    assert resp.status == 200


async def test_pending_partner_token_only_opens_registration_endpoints(
    client: TestClient[web.Request, web.Application], tokens: Tokens
) -> None:
    """The token of a partner whose handshake is not finished works on versions and credentials only."""
    resp = await client.get("/ocpi/versions", headers=auth(tokens.pending_c))
    assert resp.status == 200
    assert (await resp.json())["data"]["kind"] == "C"
    resp = await client.get(f"/ocpi/{VERSION}/items", headers=auth(tokens.pending_c))
    assert resp.status == 401


# -- tracing and routing headers -------------------------------------------------------------------


async def test_request_and_correlation_ids_are_echoed(
    client: TestClient[web.Request, web.Application], tokens: Tokens
) -> None:
    """X-Request-ID and X-Correlation-ID come back unchanged, on success and on errors alike."""
    headers = {"X-Request-ID": "req-1", "X-Correlation-ID": "corr-1"}
    for path, extra in (
        (f"/ocpi/{VERSION}/items/1", auth(tokens.registered)),
        (f"/ocpi/{VERSION}/items/1", {}),
        (f"/ocpi/{VERSION}/items/nope", auth(tokens.registered)),
    ):
        resp = await client.get(path, headers={**headers, **extra})
        assert resp.headers["X-Request-ID"] == "req-1"
        assert resp.headers["X-Correlation-ID"] == "corr-1"


async def test_tracing_ids_are_minted_when_absent(
    client: TestClient[web.Request, web.Application], tokens: Tokens
) -> None:
    """Without tracing headers the answer carries a new UUID request id, used as correlation id too."""
    resp = await client.get(f"/ocpi/{VERSION}/items/1", headers=auth(tokens.registered))
    request_id = resp.headers["X-Request-ID"]
    assert uuid.UUID(request_id)
    assert resp.headers["X-Correlation-ID"] == request_id


async def test_routing_headers_are_swapped(
    client: TestClient[web.Request, web.Application], tokens: Tokens
) -> None:
    """The answer's OCPI-to-* are the request's OCPI-from-* and vice versa."""
    resp = await client.get(
        f"/ocpi/{VERSION}/items/1",
        headers={
            **auth(tokens.registered),
            "OCPI-from-country-code": "DE",
            "OCPI-from-party-id": "REG",
            "OCPI-to-country-code": "NL",
            "OCPI-to-party-id": "CSM",
        },
    )
    assert resp.headers["OCPI-to-country-code"] == "DE"
    assert resp.headers["OCPI-to-party-id"] == "REG"
    assert resp.headers["OCPI-from-country-code"] == "NL"
    assert resp.headers["OCPI-from-party-id"] == "CSM"


async def test_no_routing_headers_without_request_routing_headers(
    client: TestClient[web.Request, web.Application], tokens: Tokens
) -> None:
    """A request without routing headers gets none back."""
    resp = await client.get(f"/ocpi/{VERSION}/items/1", headers=auth(tokens.registered))
    assert not [h for h in resp.headers if h.lower().startswith("ocpi-")]


# -- pagination ------------------------------------------------------------------------------------


async def test_pagination_headers_and_server_cap(
    client: TestClient[web.Request, web.Application], tokens: Tokens
) -> None:
    """A limit above the server cap is capped: X-Limit is the cap, X-Total-Count the total, Link next."""
    resp = await client.get(f"/ocpi/{VERSION}/items", params={"limit": "50"}, headers=auth(tokens.registered))
    assert resp.status == 200
    assert [i["id"] for i in (await resp.json())["data"]] == ["0", "1", "2"]
    assert resp.headers["X-Total-Count"] == "7"
    assert resp.headers["X-Limit"] == str(MAX_LIMIT)
    link = resp.headers["Link"]
    assert link.endswith('>; rel="next"')
    assert f"{client.server.scheme}://" in link
    assert "offset=3" in link and "limit=3" in link


async def test_following_link_reads_every_page_once(
    client: TestClient[web.Request, web.Application], tokens: Tokens
) -> None:
    """Following Link from the first page yields every item once, oldest first; the last page has no Link."""
    url: str | None = f"/ocpi/{VERSION}/items?limit=2"
    seen: list[str] = []
    pages = 0
    while url is not None:
        resp = await client.session.get(
            url if url.startswith("http") else client.make_url(url), headers=auth(tokens.registered)
        )
        seen.extend(i["id"] for i in (await resp.json())["data"])
        link = resp.headers.get("Link")
        url = re.match(r"<([^>]+)>", link).group(1) if link else None  # type: ignore[union-attr]
        pages += 1
    assert seen == [i["id"] for i in ITEMS]
    assert pages == 4


async def test_link_keeps_the_date_filters(
    client: TestClient[web.Request, web.Application], tokens: Tokens
) -> None:
    """The next-page Link repeats date_from and date_to, and X-Total-Count counts the filtered items."""
    resp = await client.get(
        f"/ocpi/{VERSION}/items",
        params={"date_from": "2024-05-01T12:01:00Z", "date_to": "2024-05-01T12:06:00Z", "limit": "2"},
        headers=auth(tokens.registered),
    )
    assert [i["id"] for i in (await resp.json())["data"]] == ["1", "2"]
    assert resp.headers["X-Total-Count"] == "5"
    link = resp.headers["Link"]
    assert "date_from=2024-05-01T12%3A01%3A00Z" in link
    assert "date_to=2024-05-01T12%3A06%3A00Z" in link
    assert "offset=2" in link


async def test_last_page_has_no_link(
    client: TestClient[web.Request, web.Application], tokens: Tokens
) -> None:
    """The last page (and a page past the end) carries X-Total-Count and X-Limit but no Link."""
    for offset in ("6", "40"):
        resp = await client.get(
            f"/ocpi/{VERSION}/items", params={"offset": offset}, headers=auth(tokens.registered)
        )
        assert "Link" not in resp.headers
        assert resp.headers["X-Total-Count"] == "7"
        assert resp.headers["X-Limit"] == str(MAX_LIMIT)


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "x"},
        {"offset": "-1"},
        {"limit": "-5"},
        {"date_from": "yesterday"},
        {"date_to": "2024-13-01"},
    ],
    ids=["limit-text", "offset-negative", "limit-negative", "date-from-text", "date-to-invalid"],
)
async def test_bad_pagination_parameters_are_2001(
    client: TestClient[web.Request, web.Application], tokens: Tokens, params: dict[str, str]
) -> None:
    """Malformed pagination parameters answer status 2001 without an HTTP error (OCPI 2.2.1 status codes)."""
    resp = await client.get(f"/ocpi/{VERSION}/items", params=params, headers=auth(tokens.registered))
    assert resp.status == 200
    body = await resp.json()
    assert body["status_code"] == 2001
    assert "data" not in body


async def test_required_date_from_missing_is_2001(
    client: TestClient[web.Request, web.Application], tokens: Tokens
) -> None:
    """A module that requires date_from answers 2001 without it."""
    resp = await client.get(f"/ocpi/{VERSION}/dated", headers=auth(tokens.registered))
    assert (await resp.json())["status_code"] == 2001
    resp = await client.get(
        f"/ocpi/{VERSION}/dated",
        params={"date_from": "2024-05-01T00:00:00Z"},
        headers=auth(tokens.registered),
    )
    assert (await resp.json())["status_code"] == 1000
    assert resp.headers["X-Total-Count"] == "0"


# -- pure functions ----------------------------------------------------------------------------------


def test_token_header_decoding() -> None:
    """token_candidates reads base64 first then raw; token_from_header returns the most likely one."""
    assert token_candidates(encode_token("abc-123")) == ["abc-123", base64.b64encode(b"abc-123").decode()]
    assert token_candidates("Token raw-token-with-dash") == ["raw-token-with-dash"]
    assert (
        token_candidates(None) == [] and token_candidates("Basic x") == [] and token_candidates("Token") == []
    )
    # The spec's own example encodes a trailing newline: the token is "example-token".
    assert token_from_header("Token ZXhhbXBsZS10b2tlbgo=") == "example-token"
    # Decoding to non-printable bytes means it was a raw token.
    assert token_from_header("Token AAAA") == "AAAA"
    assert token_from_header(None) is None


def test_encode_token_is_base64_of_utf8() -> None:
    """encode_token gives `Token <base64>` (RFC 4648 §4), the digest's corrected example."""
    assert encode_token("example-token") == "Token ZXhhbXBsZS10b2tlbg=="


def test_ocpi_datetime_is_utc_with_z() -> None:
    """OCPI timestamps are UTC, whole seconds, ending in Z — never +00:00."""
    cest = timezone(timedelta(hours=2))
    assert ocpi_datetime(datetime(2024, 5, 1, 14, 0, 5, 123456, tzinfo=cest)) == "2024-05-01T12:00:05Z"
    assert ocpi_datetime(datetime(2024, 5, 1, 12, 0, 5)) == "2024-05-01T12:00:05Z"
    assert parse_ocpi_datetime("2024-05-01T12:00:05") == datetime(2024, 5, 1, 12, 0, 5, tzinfo=UTC)
    assert parse_ocpi_datetime("2024-05-01T12:00:05.5Z").microsecond == 500000
    with pytest.raises(OcpiError) as caught:
        parse_ocpi_datetime("noon")
    assert (caught.value.http_status, caught.value.status_code) == (200, Status.INVALID_PARAMETERS)


def test_dumps_decimal_and_datetime() -> None:
    """dumps writes Decimal as a number of at most 4 decimals and datetimes in UTC with Z."""
    data = {
        "a": Decimal("0.1"),
        "b": Decimal("2.00005"),
        "c": Decimal("10"),
        "d": Decimal("5.50"),
        "t": datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
    }
    assert orjson.loads(dumps(data)) == {
        "a": 0.1,
        "b": 2.0001,
        "c": 10,
        "d": 5.5,
        "t": "2024-05-01T12:00:00Z",
    }
    with pytest.raises(TypeError):
        dumps({"x": object()})


def test_envelope_uses_the_given_clock() -> None:
    """envelope() stamps the time of the clock it is given and includes the message of an error."""
    clock = FakeClock()
    body = envelope(None, status_code=Status.UNKNOWN_TOKEN, message="unknown", clock=clock)
    assert body == {"status_code": 2004, "timestamp": "2024-05-01T12:00:00Z", "status_message": "unknown"}


def test_hash_token_is_sha256_hex() -> None:
    """Tokens are stored as SHA-256 hex, so the stored value never equals the token."""
    digest = hash_token("secret")
    assert len(digest) == 64 and digest != "secret" and digest == hash_token("secret")
