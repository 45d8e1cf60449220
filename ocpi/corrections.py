"""CDR corrections (issue 11, item 4): a CDR is never edited; it is credited and replaced.

OCPI 2.2.1 CDRs, "Credit CDRs": a CPO that must change a CDR the eMSP has sends a Credit CDR for it, then a
new CDR. The Credit CDR carries all the data of the CDR it credits, except:

- `id`: the credited CDR's id plus `-C` (`credit_cdr_id`; OCPI allows 39 characters for this, 36 for others);
- `credit`: true, and `credit_reference_id`: the id of the CDR it credits;
- `total_cost`: the credited CDR's, negated (both `excl_vat` and `incl_vat`): the spec says "only the values
  in the total_cost field SHALL contain the negative amounts", so the per-dimension costs, energy and times
  are kept as they were;
- `last_updated`: when the correction was made (and `remark`: the operator's reason, when given).

The replacement is a new CDR of the same session (`session_id`) with a new id, `<transaction id>-R<n>` for
the n-th correction of the transaction, priced again exactly as the first CDR was (`ocpi.cdrs.build_cdr`),
optionally with another tariff or a corrected energy; it has no `credit`/`credit_reference_id`.

Both are stored in one store transaction next to the CDR they correct, which stays unchanged
(`OcpiStore.save_cdrs`). A CDR is "credited" when a credit CDR names it in `credit_reference_id`
(`credited_ids`): no column marks it; since the credit's id is derived from the credited CDR's, a second
correction of the same CDR fails on the store's primary key even when two run at once. The CDR that bills a
session is its one CDR neither credited nor a credit (`effective_cdr`): the newest replacement.

Both are then POSTed to the session's owners (`ocpi.push.session_owners`) through the durable outbox under the
session's object key, so each receives the credit first, then the replacement, after the session's earlier
pushes. Partners that pull (`GET /ocpi/2.2.1/cdrs`) see them like any CDR of their sessions.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog

from csms.domain.ports import AlreadyExists
from csms.domain.pricing import PricingTariff, decimal_number
from ocpi.cdrs import REMARK_MAX, build_cdr
from ocpi.context import OcpiContext
from ocpi.models import Cdr, Tariff
from ocpi.push import push_to_receivers, session_owners
from ocpi.store import OcpiStore
from ocpi.tariffs import pricing_tariff
from ocpi.transport import ocpi_datetime

log = structlog.get_logger("ocpi.corrections")

CREDIT_SUFFIX = "-C"
REPLACEMENT_MARK = "-R"


class CorrectionError(Exception):
    """A correction that cannot be made; `code` is stable (the REST error code), `status` its HTTP status."""

    status = 409

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


class CdrNotFound(CorrectionError):
    """No CDR has that id."""

    status = 404


class InvalidCorrection(CorrectionError):
    """The correction names something unusable (`details["field"]`: which input)."""

    status = 400


@dataclass(frozen=True, slots=True)
class Correction:
    """What a correction stored: the credit CDR and the replacement CDR."""

    credit: Cdr
    replacement: Cdr


def is_credit(cdr: Cdr) -> bool:
    """Whether `cdr` is a Credit CDR (OCPI 2.2.1 CDR.credit)."""
    return cdr.data.get("credit") is True


def credit_cdr_id(cdr_id: str) -> str:
    """The id of the credit CDR of CDR `cdr_id` (OCPI 2.2.1: "the id of the original CDR with something
    appended like -C"): at most 36 + 2 characters, within CDR.id's 39."""
    return cdr_id + CREDIT_SUFFIX


def replacement_cdr_id(transaction_pk: int, correction: int) -> str:
    """The id of the replacement CDR of the `correction`-th (1, 2, ...) correction of a transaction."""
    return f"{transaction_pk}{REPLACEMENT_MARK}{correction}"


def _negated(price: Any) -> Any:
    """An OCPI Price with every amount negated (a number of at most 4 decimals, as stored)."""
    if not isinstance(price, dict):
        return price
    return {
        key: decimal_number(-Decimal(str(value))) if key in ("excl_vat", "incl_vat") and value is not None
        else value
        for key, value in price.items()
    }


def credit_cdr(original: Cdr, now: datetime, remark: str | None = None) -> Cdr:
    """The Credit CDR of `original` (a pure function; see the module docstring for its fields).

    Args:
        original: a CDR that is not itself a credit.
        now: the correction's time (`last_updated`).
        remark: the reason, put in `remark` (cut to OCPI's 255 characters); None keeps the original's.
    """
    credit_id = credit_cdr_id(original.id)
    data: dict[str, Any] = copy.deepcopy(original.data)
    data["id"] = credit_id
    data["total_cost"] = _negated(data.get("total_cost"))
    data["credit"] = True
    data["credit_reference_id"] = original.id
    if remark:
        data["remark"] = remark[:REMARK_MAX]
    data["last_updated"] = ocpi_datetime(now)
    return Cdr(
        id=credit_id,
        transaction_pk=original.transaction_pk,
        data=data,
        total_cost_excl_vat=-original.total_cost_excl_vat,
        last_updated=now,
        org_id=original.org_id,
    )


def credited_ids(cdrs: Sequence[Cdr]) -> set[str]:
    """The ids of the CDRs among `cdrs`' that a credit CDR among them credits."""
    return {str(c.data.get("credit_reference_id")) for c in cdrs if is_credit(c)}


def effective_of(cdrs: Sequence[Cdr]) -> Cdr | None:
    """The CDR that bills a transaction, of its CDRs in store order (`list_transaction_cdrs`): the newest
    that is neither a credit nor credited. None when it has none."""
    credited = credited_ids(cdrs)
    live = [c for c in cdrs if not is_credit(c) and c.id not in credited]
    return live[-1] if live else None


async def effective_cdr(store: OcpiStore, transaction_pk: int) -> Cdr | None:
    """`effective_of` the transaction's stored CDRs: its CDR, or its latest replacement once corrected."""
    return effective_of(await store.list_transaction_cdrs(transaction_pk))


async def _tariff(
    ctx: OcpiContext, tariff_id: str | None, org_id: str
) -> tuple[Tariff, PricingTariff] | None:
    if tariff_id is None:
        return None
    stored = await ctx.store.get_tariff(tariff_id, org_id=org_id)  # only the CDR's organization's tariffs
    if stored is None:
        raise InvalidCorrection("invalid_request", f"no tariff {tariff_id!r}", field="tariff_id")
    parsed = pricing_tariff(stored)
    if parsed is None:  # pragma: no cover - stored tariffs were checked by the engine when accepted
        raise InvalidCorrection(
            "invalid_request", f"tariff {tariff_id!r} cannot be priced", field="tariff_id"
        )
    return stored, parsed


async def correct_cdr(
    ctx: OcpiContext,
    cdr_id: str,
    reason: str,
    *,
    tariff_id: str | None = None,
    energy_wh: int | None = None,
    org_id: str | None = None,
) -> Correction:
    """Credit CDR `cdr_id` and replace it (module docstring): both stored, then queued for its owners.

    Args:
        reason: why (the operator's words), logged and put in both CDRs' `remark`.
        tariff_id: price the replacement with this stored tariff instead of the session's.
        energy_wh: the session's corrected energy (Wh) instead of the metered one.
        org_id: the caller's organization: another organization's CDR is not found (None: any).

    Raises:
        CdrNotFound: no such CDR (`not_found`).
        InvalidCorrection: unknown `tariff_id` (`invalid_request`).
        CorrectionError: 409 `cdr_is_credit` (a credit is not corrected), `cdr_already_credited`, or
            `cdr_not_correctable` (its transaction is gone, or its charge point is in no published location).
    """
    original = await ctx.store.get_cdr(cdr_id)
    if original is None or (org_id is not None and original.org_id != org_id):
        raise CdrNotFound("not_found", f"CDR {cdr_id!r} not found")
    if is_credit(original):
        raise CorrectionError("cdr_is_credit", f"CDR {cdr_id!r} is a credit CDR: it cannot be corrected",
                              cdr_id=cdr_id)
    chain = await ctx.store.list_transaction_cdrs(original.transaction_pk)
    if original.id in credited_ids(chain):
        raise _already_credited(cdr_id)
    tariff = await _tariff(ctx, tariff_id, original.org_id)
    tx = await ctx.domain.store.get_transaction(original.transaction_pk)
    number = 1 + sum(1 for c in chain if is_credit(c))
    replacement = None
    if tx is not None:
        replacement = await build_cdr(
            ctx,
            tx,
            replacement_cdr_id(original.transaction_pk, number),
            tariff=tariff,
            energy_wh=energy_wh,
            remark=reason,
        )
    if replacement is None:
        raise CorrectionError(
            "cdr_not_correctable",
            f"CDR {cdr_id!r} cannot be priced again: its session or its published location is gone",
            cdr_id=cdr_id,
        )
    credit = credit_cdr(original, replacement.last_updated or ctx.clock(), reason)
    try:
        await ctx.store.save_cdrs([credit, replacement])
    except AlreadyExists:  # corrected meanwhile by another request
        raise _already_credited(cdr_id) from None
    log.info(
        "cdr_corrected",
        cdr_id=cdr_id,
        credit_cdr_id=credit.id,
        replacement_cdr_id=replacement.id,
        total_excl_vat=str(replacement.total_cost_excl_vat),
        reason=reason,
    )
    await _push(ctx, original, (credit, replacement))
    return Correction(credit, replacement)


def _already_credited(cdr_id: str) -> CorrectionError:
    return CorrectionError("cdr_already_credited", f"CDR {cdr_id!r} was credited already", cdr_id=cdr_id)


async def _push(ctx: OcpiContext, original: Cdr, cdrs: Sequence[Cdr]) -> None:
    """POST `cdrs`, in order, to the owners of the session (the same key as its pushes: after them). A
    failure to queue is logged: the CDRs are stored, and partners get them on their next pull."""
    session_id = str(original.data.get("session_id") or original.transaction_pk)
    try:
        owners = await session_owners(ctx, {"id": session_id})
        for cdr in cdrs:
            await push_to_receivers(ctx, "cdrs", f"session:{session_id}", "POST", "", cdr.data, only=owners)
    except Exception:
        log.exception("cdr_correction_push_failed", cdr_id=original.id)
