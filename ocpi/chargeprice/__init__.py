"""Price estimates for price comparison apps in the Chargeprice API format (JSON:API), served under `/v1`.

`request` reads a `charge_price_request`, `vehicles` holds the vehicle catalogue and what a vehicle charges
at a charge point, `estimate` prices our tariffs with the pricing engine (`csms.domain.pricing`), `app` is
the aiohttp sub-application (authentication, routes), mounted by the composition root (`csms.app`).
"""

from __future__ import annotations

from ocpi.chargeprice.app import create_app

__all__ = ["create_app"]
