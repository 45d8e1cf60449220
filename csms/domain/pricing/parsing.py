"""Parsing an OCPI 2.2.1 Tariff object (JSON; numbers as JSON numbers or strings) into Decimal structures."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from csms.domain.clock import parse_datetime, to_utc
from csms.domain.pricing.tariff import (
    DAYS,
    DIMENSIONS,
    PriceBound,
    PriceComponent,
    PricingTariff,
    Restrictions,
    TariffElement,
    TariffError,
)


def _decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise TariffError(f"{what} must be a number, not {value!r}")
    try:
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise TariffError(f"{what} must be a number, not {value!r}") from None
    if not number.is_finite():
        raise TariffError(f"{what} must be finite, not {value!r}")
    return number


def _optional_decimal(data: Mapping[str, Any], key: str, what: str) -> Decimal | None:
    value = data.get(key)
    return None if value is None else _decimal(value, f"{what}.{key}")


def _int(value: Any, what: str) -> int:
    number = _decimal(value, what)
    if number != number.to_integral_value():
        raise TariffError(f"{what} must be an integer, not {value!r}")
    return int(number)


def _time(value: Any, what: str) -> time | None:
    if value is None:
        return None
    try:
        hours, minutes = str(value).split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise TariffError(f"{what} must be HH:MM, not {value!r}") from None


def _date(value: Any, what: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise TariffError(f"{what} must be YYYY-MM-DD, not {value!r}") from None


def _datetime(value: Any, what: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return to_utc(value)
    try:
        return parse_datetime(str(value))
    except ValueError:
        raise TariffError(f"{what} must be a DateTime, not {value!r}") from None


def _bound(value: Any, what: str) -> PriceBound | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or "excl_vat" not in value:
        raise TariffError(f"{what} must be a Price with excl_vat")
    return PriceBound(
        _decimal(value["excl_vat"], f"{what}.excl_vat"), _optional_decimal(value, "incl_vat", what)
    )


def _restrictions(data: Any, what: str) -> Restrictions:
    if data is None:
        return Restrictions()
    if not isinstance(data, Mapping):
        raise TariffError(f"{what} must be an object")
    days = data.get("day_of_week") or []
    if not isinstance(days, list) or any(d not in DAYS for d in days):
        raise TariffError(f"{what}.day_of_week must list days of {', '.join(DAYS)}")
    reservation = data.get("reservation")
    if reservation not in (None, "RESERVATION", "RESERVATION_EXPIRES"):
        raise TariffError(f"{what}.reservation must be RESERVATION or RESERVATION_EXPIRES")

    def duration(key: str) -> int | None:
        value = data.get(key)
        return None if value is None else _int(value, f"{what}.{key}")

    return Restrictions(
        start_time=_time(data.get("start_time"), f"{what}.start_time"),
        end_time=_time(data.get("end_time"), f"{what}.end_time"),
        start_date=_date(data.get("start_date"), f"{what}.start_date"),
        end_date=_date(data.get("end_date"), f"{what}.end_date"),
        min_kwh=_optional_decimal(data, "min_kwh", what),
        max_kwh=_optional_decimal(data, "max_kwh", what),
        min_current=_optional_decimal(data, "min_current", what),
        max_current=_optional_decimal(data, "max_current", what),
        min_power=_optional_decimal(data, "min_power", what),
        max_power=_optional_decimal(data, "max_power", what),
        min_duration=duration("min_duration"),
        max_duration=duration("max_duration"),
        day_of_week=frozenset(DAYS.index(d) for d in days),
        reservation=reservation,
    )


def _component(data: Any, what: str) -> PriceComponent:
    if not isinstance(data, Mapping):
        raise TariffError(f"{what} must be an object")
    kind = data.get("type")
    if kind not in DIMENSIONS:
        raise TariffError(f"{what}.type must be one of {', '.join(DIMENSIONS)}, not {kind!r}")
    if "price" not in data:
        raise TariffError(f"{what}.price is required")
    step = _int(data.get("step_size", 0), f"{what}.step_size")
    if step < 0:
        raise TariffError(f"{what}.step_size must not be negative")
    return PriceComponent(
        type=kind,
        price=_decimal(data["price"], f"{what}.price"),
        vat=_optional_decimal(data, "vat", what),
        step_size=step,
    )


def parse_tariff(data: Mapping[str, Any]) -> PricingTariff:
    """Parse an OCPI 2.2.1 Tariff object (as stored in `ocpi.models.Tariff.data`) for `price_session`.

    Raises:
        TariffError: a required field is missing or a value is malformed (the message says which).
    """
    if not isinstance(data, Mapping):
        raise TariffError("a tariff must be an object")
    elements_data = data.get("elements")
    if not isinstance(elements_data, list) or not elements_data:
        raise TariffError("tariff.elements must be a non-empty list")
    elements = []
    for i, element in enumerate(elements_data):
        what = f"elements[{i}]"
        if not isinstance(element, Mapping):
            raise TariffError(f"{what} must be an object")
        components = element.get("price_components")
        if not isinstance(components, list) or not components:
            raise TariffError(f"{what}.price_components must be a non-empty list")
        elements.append(
            TariffElement(
                components=tuple(
                    _component(c, f"{what}.price_components[{j}]") for j, c in enumerate(components)
                ),
                restrictions=_restrictions(element.get("restrictions"), f"{what}.restrictions"),
            )
        )
    return PricingTariff(
        id=str(data.get("id", "")),
        currency=str(data.get("currency", "")),
        elements=tuple(elements),
        type=data.get("type"),
        min_price=_bound(data.get("min_price"), "min_price"),
        max_price=_bound(data.get("max_price"), "max_price"),
        start_date_time=_datetime(data.get("start_date_time"), "start_date_time"),
        end_date_time=_datetime(data.get("end_date_time"), "end_date_time"),
    )
