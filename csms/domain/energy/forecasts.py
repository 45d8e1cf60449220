"""Per-site forecasts of the energy price (Decimal per kWh) and the carbon intensity (gCO2/kWh), per interval,
and the CSV and JSON forms they are imported from.

CSV (an upload, `POST /api/v1/locations/{id}/energy-prices` or `/carbon-intensity`, `text/csv`): a header
line, then one interval per line: `start,end,value` with RFC 3339 UTC times, e.g.
`2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,0.25`. JSON (the HTTP source, `[energy] forecast_url`):
`{"currency": "EUR", "prices": [{"start", "end", "price_per_kwh"}], "carbon_intensity": [{"start", "end",
"g_co2_per_kwh"}]}`, prices as strings or numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar


class ForecastError(ValueError):
    """A forecast that cannot be used: `reason` says what is wrong (line numbers count the header as 1)."""


@dataclass(frozen=True, slots=True)
class PricePoint:
    """The energy price from `start` (inclusive) to `end` (exclusive), per kWh in the forecast's currency."""

    start: datetime
    end: datetime
    price_per_kwh: Decimal


@dataclass(frozen=True, slots=True)
class CarbonPoint:
    """The grid's carbon intensity from `start` to `end`, in grams of CO2 per kWh."""

    start: datetime
    end: datetime
    g_co2_per_kwh: int


@dataclass(slots=True)
class SiteForecast:
    """What one site (an OCPI location) plans with: prices (in `currency`) and carbon intensity, each sorted
    by start and without overlaps; `updated_at` is when either was last replaced."""

    location_id: str
    currency: str | None = None
    prices: list[PricePoint] = field(default_factory=list)
    carbon: list[CarbonPoint] = field(default_factory=list)
    updated_at: datetime | None = None

    def price_at(self, at: datetime) -> Decimal | None:
        """The price of the interval holding `at` (None: no forecast for that time)."""
        return next((p.price_per_kwh for p in self.prices if p.start <= at < p.end), None)

    def carbon_at(self, at: datetime) -> int | None:
        """The carbon intensity of the interval holding `at` (None: no forecast for that time)."""
        return next((c.g_co2_per_kwh for c in self.carbon if c.start <= at < c.end), None)

    def boundaries(self, start: datetime, end: datetime) -> list[datetime]:
        """Every interval boundary of both series strictly between `start` and `end`, sorted."""
        points = {t for p in self.prices for t in (p.start, p.end)}
        points |= {t for c in self.carbon for t in (c.start, c.end)}
        return sorted(t for t in points if start < t < end)


def parse_time(raw: str) -> datetime:
    """An RFC 3339 time as an aware UTC datetime.

    Raises:
        ValueError: not a time, or without a UTC offset.
    """
    value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"{raw!r} has no UTC offset")
    return value.astimezone(UTC)


def _check_sorted(points: Sequence[PricePoint | CarbonPoint]) -> None:
    for before, after in zip(points, points[1:], strict=False):
        if after.start < before.end:
            raise ForecastError(f"intervals overlap at {after.start.isoformat()}")


def _interval(start: str, end: str, where: str) -> tuple[datetime, datetime]:
    try:
        begin, finish = parse_time(start), parse_time(end)
    except ValueError as exc:
        raise ForecastError(f"{where}: {exc}") from None
    if finish <= begin:
        raise ForecastError(f"{where}: end is not after start")
    return begin, finish


def _rows(text: str) -> list[tuple[int, list[str]]]:
    rows = [(n, row) for n, row in enumerate(csv.reader(io.StringIO(text)), start=1) if row]
    if len(rows) < 2:
        raise ForecastError("a header line and at least one interval are required")
    body = rows[1:]
    for n, row in body:
        if len(row) != 3:
            raise ForecastError(f"line {n}: 3 columns (start,end,value) expected")
    return body


def parse_price_csv(text: str) -> list[PricePoint]:
    """Price intervals from CSV (`start,end,price_per_kwh`), sorted by start.

    Raises:
        ForecastError: malformed line, negative or non-decimal price, overlapping intervals.
    """
    points = [_price(row[0], row[1], row[2], f"line {n}") for n, row in _rows(text)]
    return _sorted(points)


def parse_carbon_csv(text: str) -> list[CarbonPoint]:
    """Carbon intensity intervals from CSV (`start,end,g_co2_per_kwh`), sorted by start.

    Raises:
        ForecastError: malformed line, a value that is not a non-negative integer, overlapping intervals.
    """
    points = [_carbon(row[0], row[1], row[2], f"line {n}") for n, row in _rows(text)]
    return _sorted(points)


def _price(start: str, end: str, raw: object, where: str) -> PricePoint:
    begin, finish = _interval(start, end, where)
    try:
        price = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ForecastError(f"{where}: price {raw!r} is not a decimal") from None
    if not price.is_finite() or price < 0:
        raise ForecastError(f"{where}: price must be a non-negative decimal")
    return PricePoint(begin, finish, price)


def _carbon(start: str, end: str, raw: object, where: str) -> CarbonPoint:
    text = str(raw).strip()
    if isinstance(raw, bool) or not text.isdigit():
        raise ForecastError(f"{where}: carbon intensity {raw!r} is not a non-negative integer")
    begin, finish = _interval(start, end, where)
    return CarbonPoint(begin, finish, int(text))


P = TypeVar("P", PricePoint, CarbonPoint)


def _sorted(points: list[P]) -> list[P]:
    points.sort(key=lambda p: p.start)
    _check_sorted(points)
    return points


def parse_source_json(location_id: str, body: Any) -> SiteForecast:
    """A site's forecast from the HTTP source's JSON (module docstring).

    Raises:
        ForecastError: not the documented shape.
    """
    if not isinstance(body, Mapping):
        raise ForecastError("a JSON object is expected")
    currency = body.get("currency")
    if currency is not None and not (isinstance(currency, str) and len(currency) == 3):
        raise ForecastError("currency must be an ISO 4217 code")
    prices, carbon = body.get("prices", []), body.get("carbon_intensity", [])
    if not isinstance(prices, list) or not isinstance(carbon, list):
        raise ForecastError("prices and carbon_intensity must be arrays")
    try:
        price_points = [
            _price(str(p["start"]), str(p["end"]), p["price_per_kwh"], f"prices[{i}]")
            for i, p in enumerate(prices)
        ]
        carbon_points = [
            _carbon(str(c["start"]), str(c["end"]), c["g_co2_per_kwh"], f"carbon_intensity[{i}]")
            for i, c in enumerate(carbon)
        ]
    except (KeyError, TypeError) as exc:
        raise ForecastError(f"interval without {exc}") from None
    if price_points and currency is None:
        raise ForecastError("prices need a currency")
    return SiteForecast(location_id, currency, _sorted(price_points), _sorted(carbon_points))


def prices_json(points: Sequence[PricePoint]) -> list[list[str]]:
    """Price intervals as stored: `[[start, end, price], ...]`, RFC 3339 UTC and decimal text."""
    return [[p.start.isoformat(), p.end.isoformat(), format(p.price_per_kwh, "f")] for p in points]


def carbon_json(points: Sequence[CarbonPoint]) -> list[list[str | int]]:
    """Carbon intervals as stored: `[[start, end, g_co2_per_kwh], ...]`."""
    return [[c.start.isoformat(), c.end.isoformat(), c.g_co2_per_kwh] for c in points]


def forecast_of(
    location_id: str, currency: str | None, prices: Sequence[Sequence[Any]], carbon: Sequence[Sequence[Any]]
) -> SiteForecast:
    """A stored forecast back (the inverse of `prices_json` / `carbon_json`)."""
    return SiteForecast(
        location_id,
        currency,
        [PricePoint(parse_time(a), parse_time(b), Decimal(str(v))) for a, b, v in prices],
        [CarbonPoint(parse_time(a), parse_time(b), int(v)) for a, b, v in carbon],
    )
