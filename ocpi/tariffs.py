"""OCPI 2.2.1 Tariffs, sender interface (we are the CPO): the tariffs operators manage through the REST API.

Route: `GET /ocpi/2.2.1/tariffs?date_from&date_to&offset&limit`, oldest change first (OCPI 2.2.1 Tariffs
sender; pagination as in transport). Each Tariff is the stored OCPI object (`ocpi.models.Tariff.data`) with
our own `country_code` / `party_id` (the `[ocpi]` config: the CPO owns its tariffs), its id, currency and
`last_updated` from the record, and every number written as a JSON number with at most 4 decimals (the
stored object may keep numbers as strings to stay exact).
"""

from __future__ import annotations

import functools
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from csms.domain.pricing import PricingTariff, TariffError, decimal_number, parse_tariff
from ocpi.context import OcpiContext, context_of, list_response
from ocpi.models import Tariff
from ocpi.store import Pagination
from ocpi.transport import VERSION, ocpi_datetime, partner_of

IDENTIFIER = "tariffs"
ROLE = "SENDER"

# Fields of Tariff and its parts (Price, PriceComponent, TariffRestrictions, EnergyMix) that are numbers.
_NUMBERS = frozenset(
    {
        "price",
        "vat",
        "excl_vat",
        "incl_vat",
        "min_kwh",
        "max_kwh",
        "min_current",
        "max_current",
        "min_power",
        "max_power",
        "percentage",
        "amount",
    }
)
_INTEGERS = frozenset({"step_size", "min_duration", "max_duration"})


def _numbers(value: Any, key: str | None = None) -> Any:
    """`value` with every number field as a JSON number (≤ 4 decimals), recursively."""
    if isinstance(value, dict):
        return {k: _numbers(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v, key) for v in value]
    if key in _NUMBERS or key in _INTEGERS:
        if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
            return value
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return value
        if not number.is_finite():
            return value
        if key in _INTEGERS:
            return int(number)
        return decimal_number(number)
    return value


def tariff_object(ctx: OcpiContext, tariff: Tariff) -> dict[str, Any]:
    """The OCPI Tariff object of a stored tariff (our country_code/party_id, numbers as JSON numbers)."""
    data = _numbers(dict(tariff.data))
    data.pop("country_code", None)
    data.pop("party_id", None)
    data.pop("id", None)
    data.pop("currency", None)
    data.pop("last_updated", None)
    obj: dict[str, Any] = {
        "country_code": ctx.config.country_code,
        "party_id": ctx.config.party_id,
        "id": tariff.id,
        "currency": tariff.currency,
        **data,
    }
    obj["last_updated"] = ocpi_datetime(tariff.last_updated or ctx.clock())
    return obj


def pricing_tariff(tariff: Tariff) -> PricingTariff | None:
    """The stored tariff parsed for the pricing engine, or None when it cannot be priced (malformed)."""
    try:
        return parse_tariff({**tariff.data, "id": tariff.id, "currency": tariff.currency})
    except TariffError:
        return None


async def handle_list(request: web.Request) -> web.Response:
    """GET {url}: the tariffs, paginated (OCPI 2.2.1 Tariffs sender)."""
    ctx = context_of(request)
    org_id = partner_of(request).org_id  # a partner sees its organization's tariffs only (ADR 0012)

    async def list_page(pagination: Pagination) -> tuple[list[Tariff], int]:
        return await ctx.store.list_tariffs(pagination, org_id=org_id)

    return await list_response(request, list_page, functools.partial(tariff_object, ctx))


def register(app: web.Application) -> None:
    """Add the Tariffs sender route `/2.2.1/tariffs` to the OCPI sub-application."""
    app.router.add_get(f"/{VERSION}/{IDENTIFIER}", handle_list, allow_head=False)
