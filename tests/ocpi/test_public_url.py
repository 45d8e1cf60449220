"""URLs we hand partners use `[ocpi] public_url`, also in pagination links (behind a TLS proxy)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import aiohttp

from csms.app import Csms
from ocpi.models import Location, Partner, PartnerStatus
from ocpi.transport import encode_token, hash_token
from tests.e2e.conftest import e2e_config


async def test_pagination_link_uses_the_public_url(tmp_path: Path) -> None:
    """With public_url set, the Link header of a paginated GET points at the public URL, not the socket."""
    config = e2e_config(tmp_path)
    config = replace(
        config, ocpi=replace(config.ocpi, public_url="https://csms.example.com", max_page_limit=1)
    )
    csms = await Csms.start(config)
    try:
        store = csms.ocpi.ctx.store
        await store.add_partner(
            Partner(
                id=0,
                name="P",
                country_code="DE",
                party_id="EMS",
                status=PartnerStatus.REGISTERED,
                token_c_hash=hash_token("token-c"),
                token_b="token-b",
                version="2.2.1",
            )
        )
        for n in range(2):
            await store.save_location(
                Location(
                    id=f"L{n}",
                    name=None,
                    address="Street 1",
                    city="City",
                    country="NLD",
                    latitude="52.000000",
                    longitude="5.000000",
                    time_zone="Europe/Amsterdam",
                    country_code="NL",
                    party_id="CSM",
                )
            )
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{csms.http_port}/ocpi/2.2.1/locations"
            async with http.get(url, headers={"Authorization": encode_token("token-c")}) as resp:
                assert resp.status == 200
                link = resp.headers["Link"]
        assert link.startswith("<https://csms.example.com/ocpi/2.2.1/locations?")
        assert 'rel="next"' in link
    finally:
        await csms.stop()
