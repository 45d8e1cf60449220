"""Bearer API-key authentication, roles and the bcrypt verification cache."""

from __future__ import annotations

import pytest

import csms.domain.secrets
from tests.api.conftest import ApiClient, KeyFactory, error_of


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer not-a-csms-key",
        "Bearer csms_00000000_unknownprefixsecret",
    ],
)
async def test_missing_or_bad_key_is_unauthorized(
    client: ApiClient, api_key: str, header: str | None
) -> None:
    """A request without a well-formed, known key is a 401 `unauthorized` naming the Bearer scheme."""
    headers = {} if header is None else {"Authorization": header}
    response = await client.get("/api/v1/charge-points", headers=headers)
    error = await error_of(response, 401)
    assert error["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_wrong_secret_with_known_prefix_is_unauthorized(client: ApiClient, api_key: str) -> None:
    """A key whose prefix exists but whose secret does not match the stored hash is a 401."""
    forged = api_key[:-4] + ("AAAA" if not api_key.endswith("AAAA") else "BBBB")
    response = await client.get("/api/v1/charge-points", headers={"Authorization": f"Bearer {forged}"})
    assert (await error_of(response, 401))["code"] == "unauthorized"


async def test_scheme_is_case_insensitive(client: ApiClient, api_key: str) -> None:
    """`bearer` in lower case is accepted like `Bearer` (RFC 9110 auth schemes are case-insensitive)."""
    response = await client.get("/api/v1/charge-points", headers={"Authorization": f"bearer {api_key}"})
    assert response.status == 200


async def test_viewer_may_read_but_not_write(client: ApiClient, make_api_key: KeyFactory) -> None:
    """A `viewer` key may GET but a POST is a 403 `forbidden` and changes nothing."""
    headers = {"Authorization": f"Bearer {await make_api_key('viewer')}"}
    assert (await client.get("/api/v1/charge-points", headers=headers)).status == 200
    response = await client.post("/api/v1/charge-points", json={"charge_point_id": "CP-1"}, headers=headers)
    assert (await error_of(response, 403))["code"] == "forbidden"
    assert (await client.get("/api/v1/charge-points/CP-1", headers=headers)).status == 404


async def test_member_may_manage_tokens_but_not_charge_points(
    client: ApiClient, make_api_key: KeyFactory
) -> None:
    """A `member` key may register id tokens, but registering charge points needs `admin` (403)."""
    headers = {"Authorization": f"Bearer {await make_api_key('member')}"}
    assert (await client.post("/api/v1/id-tokens", json={"id_token": "T"}, headers=headers)).status == 201
    response = await client.post("/api/v1/charge-points", json={"charge_point_id": "CP-1"}, headers=headers)
    error = await error_of(response, 403)
    assert error["details"] == {"role": "member", "required_role": "admin"}


async def test_unknown_role_counts_as_viewer(client: ApiClient, make_api_key: KeyFactory) -> None:
    """A stored role this version does not know reads like a viewer and may change nothing."""
    headers = {"Authorization": f"Bearer {await make_api_key('operator')}"}
    assert (await client.get("/api/v1/charge-points", headers=headers)).status == 200
    response = await client.post("/api/v1/id-tokens", json={"id_token": "T"}, headers=headers)
    assert (await error_of(response, 403))["code"] == "forbidden"


async def test_bcrypt_runs_once_per_key(
    client: ApiClient, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second request with the same key is answered from the verifier cache, without bcrypt."""
    calls: list[str] = []
    original = csms.domain.secrets._check

    def counting_check(secret: str, stored_hash: str) -> bool:
        calls.append(secret)
        return original(secret, stored_hash)

    monkeypatch.setattr(csms.domain.secrets, "_check", counting_check)
    assert (await client.get("/api/v1/charge-points", headers=auth)).status == 200
    assert (await client.get("/api/v1/charge-points", headers=auth)).status == 200
    assert len(calls) == 1
