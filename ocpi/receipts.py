"""Receipts: a finished session's cost as a one-page PDF (fpdf2), for `GET /api/v1/sessions/{id}/receipt`.

The receipt prints the operator (`[ocpi] business_name` and `business_address`), the location, the charge
point and EVSE, start and end (UTC, ISO 8601), the energy (kWh), each price component excl. VAT, the VAT and
the total incl. VAT: exactly the amounts of `ocpi.session_costs.session_cost`, i.e. the CDR's, to 4
decimals as OCPI carries them. Text is written with fpdf2's core Helvetica font, which covers Latin-1 only:
other characters (in a location name, say) print as "?" and the currency is printed as its ISO code.
The content stream is left uncompressed: the PDF stays small and its text can be read back by a test.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from fpdf import FPDF

from ocpi.session_costs import CostBreakdown

DIMENSION_LABELS = {
    "flat": "Session fee",
    "energy": "Energy",
    "time": "Charging time",
    "parking": "Parking time",
    "reservation": "Reservation",
}


@dataclass(frozen=True, slots=True)
class ReceiptFacts:
    """What a receipt says besides the cost: who charged, where and when."""

    operator_name: str
    operator_address: str
    location: str  # name and address, one line
    charge_point_id: str
    evse_id: int
    started_at: datetime
    stopped_at: datetime


def _text(value: str) -> str:
    """`value` in what the core font can print (Latin-1), other characters as "?"."""
    return value.encode("latin-1", "replace").decode("latin-1")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _amount(value: Decimal, currency: str) -> str:
    return f"{value:.4f} {currency}"


def receipt_lines(facts: ReceiptFacts, cost: CostBreakdown) -> list[str]:
    """The receipt's lines, top to bottom (what `receipt_pdf` prints)."""
    lines = [
        f"Receipt for session {cost.session_id}",
        facts.operator_name,
        *([facts.operator_address] if facts.operator_address else []),
        f"Location: {facts.location}",
        f"Charge point: {facts.charge_point_id}, EVSE {facts.evse_id}",
        f"Start: {_iso(facts.started_at)}",
        f"End: {_iso(facts.stopped_at)}",
        f"Energy: {cost.energy_kwh:.3f} kWh",
        f"Tariff: {cost.tariff_id or 'none (free)'}",
    ]
    for dimension, label in DIMENSION_LABELS.items():
        amount = cost.amounts[dimension]
        if not amount.is_zero():
            lines.append(f"{label} (excl. VAT): {_amount(amount.excl_vat, cost.currency)}")
    lines += [
        f"Total excl. VAT: {_amount(cost.total.excl_vat, cost.currency)}",
        f"VAT: {_amount(cost.total.incl_vat - cost.total.excl_vat, cost.currency)}",
        f"Total incl. VAT: {_amount(cost.total.incl_vat, cost.currency)}",
    ]
    return lines


def receipt_pdf(facts: ReceiptFacts, cost: CostBreakdown) -> bytes:
    """The receipt as PDF bytes (CPU only, no I/O: callers on the event loop run it in a worker thread)."""
    pdf = FPDF()
    pdf.set_compression(False)
    pdf.set_title(_text(f"Receipt {cost.session_id}"))
    pdf.set_creator(_text(facts.operator_name))
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    for line in receipt_lines(facts, cost):
        pdf.cell(text=_text(line))
        pdf.ln(7)
    return bytes(pdf.output())
