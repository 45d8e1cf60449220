"""The dashboard's pages: what each reads (through the domain's store and registry, scoped to the
signed-in organization) and the template it fills.

Every reader takes the organization explicitly: a station, session or reservation of another organization
is never listed and its page is 404, as in the REST API (ADR 0012).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from csms.domain.clock import isoformat_z
from csms.domain.core import Domain
from csms.domain.models import (
    ChargePoint,
    Connector,
    Reservation,
    ReservationStatus,
    Transaction,
    TransactionStatus,
)
from csms.domain.variable_keys import configuration_key
from csms.ui.live import session_energy_wh

LIST_LIMIT = 500  # rows a list page shows; a "next page" link (the store's cursor) leads on
FRAME_LIMIT = 100  # message-log frames the station page starts with
OFFLINE_ALERT = timedelta(hours=1)  # a station unseen this long is an alert on the overview


@dataclass(frozen=True, slots=True)
class StationRow:
    """One station of the list: registration, live connection and its connectors."""

    charge_point: ChargePoint
    connected: bool
    connectors: list[Connector]

    @property
    def faulted(self) -> bool:
        """True when any connector's last report is Faulted."""
        return any(str(c.status) == "Faulted" for c in self.connectors)


def session_row(tx: Transaction) -> dict[str, Any]:
    """A session as the templates show it (energy in Wh, times in UTC)."""
    return {
        "id": tx.id,
        "charge_point_id": tx.charge_point_id,
        "evse_id": tx.evse_id,
        "status": str(tx.status),
        "energy_wh": session_energy_wh(tx),
        "id_token": tx.id_token or "",
        "started_at": isoformat_z(tx.started_at),
        "stopped_at": isoformat_z(tx.stopped_at) if tx.stopped_at else "",
    }


async def station_rows(domain: Domain, org_id: str, search: str = "") -> list[StationRow]:
    """The organization's stations (id, vendor or model containing `search`, any case), by id: the first
    page of `station_list`."""
    rows, _ = await station_list(domain, org_id, search)
    return rows


async def station_list(
    domain: Domain, org_id: str, search: str = "", cursor: str | None = None
) -> tuple[list[StationRow], str | None]:
    """One page of the organization's stations by id, from `cursor` (the store's): those whose id, vendor
    or model contains `search` (any case), and the cursor of the next page or None at the end.

    The search runs over every station, not only one page's: store pages are read on until at least
    `LIST_LIMIT` match or the stations end. Raises ValueError for a cursor the store did not hand out."""
    needle = search.strip().lower()
    page: list[ChargePoint] = []
    while True:
        chunk, cursor = await domain.store.list_charge_points(limit=LIST_LIMIT, cursor=cursor, org_id=org_id)
        page += [
            cp for cp in chunk
            if not needle
            or any(needle in (v or "").lower() for v in (cp.charge_point_id, cp.vendor, cp.model))
        ]  # fmt: skip
        if cursor is None or len(page) >= LIST_LIMIT:
            break
    connectors = await domain.store.list_connectors_of([cp.charge_point_id for cp in page])
    by_station: dict[str, list[Connector]] = {}
    for c in connectors:
        by_station.setdefault(c.charge_point_id, []).append(c)
    online = domain.registry.get
    rows = [
        StationRow(cp, online(cp.charge_point_id) is not None, by_station.get(cp.charge_point_id, []))
        for cp in page
    ]
    return rows, cursor


async def station_page(domain: Domain, org_id: str, charge_point_id: str) -> dict[str, Any] | None:
    """The station page's data, or None for an unknown station or another organization's."""
    cp = await domain.store.get_charge_point(charge_point_id, org_id=org_id)
    if cp is None:
        return None
    await domain.writes.sync()  # frames and statuses only queued so far are shown too
    frames, _ = await domain.store.list_frames(charge_point_id, limit=FRAME_LIMIT)
    reservations, _ = await domain.store.list_reservations(
        limit=50, charge_point_id=charge_point_id, status=ReservationStatus.ACTIVE, org_id=org_id
    )
    variables = await domain.device_model.list_variables(charge_point_id)
    return {
        "cp": cp,
        "connected": domain.registry.get(charge_point_id) is not None,
        "connectors": await domain.store.list_connectors(charge_point_id),
        "frames": [
            {"direction": str(f.direction), "action": f.action or "", "message_id": f.message_id,
             "frame": f.frame, "at": isoformat_z(f.at)}
            for f in frames
        ],  # fmt: skip
        "sessions": [session_row(tx) for tx in await domain.store.list_active_transactions(charge_point_id)],
        "reservations": reservations,
        "configuration": [(configuration_key(v), v.value, v.readonly) for v in variables],
    }


async def session_rows(
    domain: Domain, org_id: str, status: str = "", cursor: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the organization's sessions, newest first (only `active` or `completed` ones when
    asked), from `cursor`, and the next page's cursor or None. Raises ValueError for a foreign cursor."""
    wanted = TransactionStatus(status) if status in ("active", "completed") else None
    await domain.writes.sync()
    page, after = await domain.store.list_transactions(
        limit=LIST_LIMIT, org_id=org_id, status=wanted, cursor=cursor
    )
    return [session_row(tx) for tx in page], after


def _chart_points(values: list[tuple[float, float]], width: int, height: int) -> str:
    """`x,y` pairs of an SVG polyline scaling `values` (x, y) into the box (y grows upwards)."""
    if not values:
        return ""
    xs, ys = [v[0] for v in values], [v[1] for v in values]
    x0, x1, y1 = min(xs), max(xs), max(max(ys), 1.0)
    span = (x1 - x0) or 1.0
    return " ".join(f"{(x - x0) / span * width:.1f},{height - y / y1 * height:.1f}" for x, y in values)


async def session_page(domain: Domain, org_id: str, session_id: int) -> dict[str, Any] | None:
    """A session with its meter samples as energy and power polylines, or None (unknown, other org)."""
    await domain.writes.sync()
    tx = await domain.store.get_transaction(session_id, org_id=org_id)
    if tx is None:
        return None
    samples = [s for s in await domain.store.list_meter_samples(tx.id) if s.measurand in ENERGY_MEASURANDS]
    start = tx.meter_start_wh or 0
    energy: list[tuple[float, float]] = []
    for s in samples:
        scale = (1000 if s.unit == "kWh" else 1) * 10**s.multiplier
        energy.append((s.timestamp.timestamp(), float(s.value) * scale - start))
    power: list[tuple[float, float]] = []
    for (t0, e0), (t1, e1) in zip(energy, energy[1:], strict=False):
        if t1 > t0:
            power.append((t1, (e1 - e0) * 3600 / (t1 - t0)))
    return {
        "session": session_row(tx),
        "transaction": tx,
        "energy_points": _chart_points(energy, 600, 160),
        "power_points": _chart_points(power, 600, 160),
        "samples": len(samples),
    }


ENERGY_MEASURANDS = frozenset({"Energy.Active.Import.Register"})


async def reservation_rows(
    domain: Domain, org_id: str, cursor: str | None = None
) -> tuple[list[Reservation], str | None]:
    """One page of the organization's reservations, newest first, from `cursor`, and the next page's
    cursor or None. Raises ValueError for a foreign cursor."""
    return await domain.store.list_reservations(limit=LIST_LIMIT, org_id=org_id, cursor=cursor)


def hourly_energy(sessions: list[Transaction], now: datetime) -> list[int]:
    """Energy (Wh) of the last 24 hours by hour, oldest first: each session's energy counts in the hour it
    stopped (or, still running, the current hour)."""
    hours = [0] * 24
    for tx in sessions:
        at = tx.stopped_at or now
        age = int((now - at).total_seconds() // 3600)
        if 0 <= age < 24:
            hours[23 - age] += session_energy_wh(tx)
    return hours


async def overview(domain: Domain, org_id: str) -> dict[str, Any]:
    """Counts, today's energy, the 24-hour energy chart and the alerts of the overview page."""
    rows: list[StationRow] = []
    cursor: str | None = None
    while True:  # every station counts, not only a list page's
        chunk, cursor = await station_list(domain, org_id, "", cursor)
        rows += chunk
        if cursor is None:
            break
    now = domain.clock()
    await domain.writes.sync()
    recent, _ = await domain.store.list_transactions(
        limit=LIST_LIMIT, org_id=org_id, time_from=now - timedelta(hours=48)
    )
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    counts = Counter("faulted" if r.faulted else "online" if r.connected else "offline" for r in rows)
    hours = hourly_energy(recent, now)
    peak = max(max(hours), 1)
    alerts = [
        f"{r.charge_point.charge_point_id} offline since {isoformat_z(r.charge_point.last_heartbeat_at)}"
        for r in rows
        if not r.connected and r.charge_point.last_heartbeat_at is not None
        and now - r.charge_point.last_heartbeat_at > OFFLINE_ALERT
    ] + [f"{r.charge_point.charge_point_id} has a faulted connector" for r in rows if r.faulted]
    return {
        "online": counts["online"],
        "offline": counts["offline"],
        "faulted": counts["faulted"],
        "active_sessions": sum(1 for tx in recent if tx.status is TransactionStatus.ACTIVE),
        "energy_today_wh": sum(session_energy_wh(tx) for tx in recent if (tx.stopped_at or now) >= midnight),
        "hours": [(i, wh, round(wh / peak * 120)) for i, wh in enumerate(hours)],
        # Sessions that delivered energy today: the overview prices them for today's revenue.
        "today": [tx for tx in recent if (tx.stopped_at or now) >= midnight],
        "alerts": alerts,
    }
