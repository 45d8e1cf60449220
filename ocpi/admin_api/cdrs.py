"""`/cdrs/{cdr_id}`, `/cdrs/{cdr_id}/corrections` and `/sessions/{session_id}/cdrs`: the CDRs partners are
billed with, and their corrections (`ocpi.corrections`: a credit CDR plus a new one, never an edit).

A correction is for admins only (it bills a partner again); reading is for viewers. Without the OCPI store
these answer 503 `ocpi_disabled`; without a running bridge a correction is stored but pushed to nobody
(partners get it on their next pull).
"""

from __future__ import annotations

from aiohttp import web

from csms.api.auth import Role, org_of
from csms.api.errors import ApiError, found
from csms.api.params import MAX_ID, get_services, int_path_param
from csms.api.responses import created, json_response
from csms.api.routes import Route
from ocpi.admin_api import models
from ocpi.admin_api.bodies import CdrCorrectionBody
from ocpi.admin_api.params import operations
from ocpi.admin_api.partners import get_ocpi_store, read_exact_model
from ocpi.admin_api.session_costs import request_context
from ocpi.cdrs import cdr_object
from ocpi.corrections import CorrectionError, correct_cdr, effective_of

api = operations()


@api("GET", "/cdrs/{cdr_id}", {200: models.OcpiCdr}, errors=(404, 503), name="cdr")
async def handle_get_cdr(request: web.Request) -> web.Response:
    """One CDR, as partners get it.

    `GET /cdrs/{cdr_id}`: the OCPI 2.2.1 CDR object (a credit CDR has `credit` true).

    Errors: 404 `not_found` unknown CDR; 503 `ocpi_disabled`.
    """
    cdr_id = request.match_info["cdr_id"]
    cdr = await get_ocpi_store(request).get_cdr(cdr_id)
    cdr = found(cdr if cdr is not None and cdr.org_id == org_of(request) else None, f"CDR {cdr_id!r}")
    return json_response(cdr_object(cdr))


@api("POST", "/cdrs/{cdr_id}/corrections", {201: models.CdrCorrection}, errors=(400, 404, 409, 503),
     role=Role.ADMIN, body=CdrCorrectionBody,
     description="OCPI 2.2.1 Credit CDRs: the CDR stays as it is; a credit CDR (`<id>-C`, `credit` true, "
                 "`credit_reference_id` the CDR's id, `total_cost` negated) and a replacement CDR "
                 "(`<session>-R<n>`, priced again by the session's tariff or `tariff_id`, with "
                 "`total_energy_wh` if given) are stored and POSTed, in that order, to the partner owning "
                 "the session. `Location`: the replacement. 409 `cdr_already_credited` (a CDR is credited "
                 "once), `cdr_is_credit` (a credit CDR is not corrected), `cdr_not_correctable` (its "
                 "session or published location is gone).")
async def handle_correct_cdr(request: web.Request) -> web.Response:
    """Correct a CDR: credit it and replace it.

    `POST /cdrs/{cdr_id}/corrections` `{reason, tariff_id?, total_energy_wh?}`: 201 with the credit CDR and
    the replacement CDR.

    Errors: 400 `invalid_request` (bad body, unknown `tariff_id`); 404 `not_found` unknown CDR; 409
    `cdr_already_credited`, `cdr_is_credit`, `cdr_not_correctable`; 503 `ocpi_disabled`.
    """
    ctx = request_context(request)
    body = await read_exact_model(request, CdrCorrectionBody)
    try:
        correction = await correct_cdr(
            ctx,
            request.match_info["cdr_id"],
            body.reason,
            tariff_id=body.tariff_id,
            energy_wh=body.total_energy_wh,
            org_id=org_of(request),
        )
    except CorrectionError as exc:
        field = exc.details.pop("field", None)
        details = [{"field": field, "reason": exc.message}] if field is not None else exc.details or None
        raise ApiError(exc.status, exc.code, exc.message, details) from None
    data = {"credit": cdr_object(correction.credit), "replacement": cdr_object(correction.replacement)}
    return created(request, data, "cdr", cdr_id=correction.replacement.id)


@api("GET", "/sessions/{session_id}/cdrs", {200: models.SessionCdrs}, errors=(400, 404, 503))
async def handle_list_session_cdrs(request: web.Request) -> web.Response:
    """A session's CDRs and their corrections.

    `GET /sessions/{session_id}/cdrs`: every CDR of the session, oldest first, and which one bills it
    (`effective_cdr_id`: the latest replacement once corrected).

    Errors: 404 `not_found` unknown session; 503 `ocpi_disabled`.
    """
    store = get_ocpi_store(request)
    services = get_services(request)
    session_id = int_path_param(request, "session_id")
    org_id = org_of(request)
    tx = await services.store.get_transaction(session_id, org_id=org_id) if session_id <= MAX_ID else None
    found(tx, f"session {session_id}")
    cdrs = await store.list_transaction_cdrs(session_id)
    effective = effective_of(cdrs)
    return json_response({
        "session_id": session_id,
        "effective_cdr_id": effective.id if effective is not None else None,
        "cdrs": [cdr_object(cdr) for cdr in cdrs],
    })


ROUTES: tuple[Route, ...] = tuple(api.routes)
