"""The running CSMS serves the estimates API (`/v1`, `ocpi.chargeprice`) on its HTTP port."""

from __future__ import annotations

import aiohttp

from csms.app import Csms
from csms.domain.secrets import hash_secret, new_api_key


async def test_estimates_are_served_beside_the_rest_api(csms: Csms) -> None:
    """`/v1/vehicles` refuses a request without a key (JSON:API 403) and lists the catalogue for an operator
    key sent as `Api-Key`; a tariff created at `/api/v1/tariffs` is estimated by `POST /v1/charge_prices`."""
    key, prefix = new_api_key()
    await csms.services.store.add_api_key("estimates", prefix, hash_secret(key, rounds=4), "admin")
    base = f"http://127.0.0.1:{csms.http_port}"
    tariff = {
        "id": "E2E",
        "currency": "EUR",
        "elements": [
            {"price_components": [{"type": "ENERGY", "price": "0.35", "vat": "20", "step_size": 1}]}
        ],
    }
    request = {
        "data": {
            "type": "charge_price_request",
            "attributes": {
                "data_adapter": "chargeprice",
                "station": {
                    "longitude": 5.1,
                    "latitude": 52.1,
                    "country": "NL",
                    "network": csms.services.config.ocpi.party_id,
                    "charge_points": [{"power": 11, "plug": "type2"}],
                },
                "options": {"energy": 20, "duration": 120},
            },
        }
    }
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/v1/vehicles") as response:
            assert response.status == 403
            assert (await response.json(content_type=None))["errors"][0]["code"] == "FORBIDDEN"
        async with session.get(f"{base}/v1/vehicles", headers={"Api-Key": key}) as response:
            assert response.status == 200
            assert len((await response.json(content_type=None))["data"]) >= 5
        bearer = {"Authorization": f"Bearer {key}"}
        async with session.post(f"{base}/api/v1/tariffs", json=tariff, headers=bearer) as response:
            assert response.status == 201, await response.text()
        async with session.post(
            f"{base}/v1/charge_prices", json=request, headers={"Api-Key": key}
        ) as response:
            body = await response.json(content_type=None)
    assert response.status == 200, body
    (item,) = body["data"]
    assert item["attributes"]["charge_point_prices"][0]["price"] == 8.4  # 20 × 0.35 × 1.2
