"""What the operator API's routes of the eMSP role share (`/agent-clients`, `/emsp/cpos`): the role and the
Agent API's store, which the composition root installs when `[emsp] enabled`, and the rule that only the
organization the role serves (`[emsp] org_id`) sees them.

Another organization's caller gets an empty list, 404 for a record named by id (never 403: the API does
not confirm that another organization's resource exists) and 403 `not_emsp_organization` when it tries to
create one. Without the role the routes answer 503 with their own code.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from csms.api.auth import org_of
from csms.api.errors import ApiError
from csms.api.params import MAX_ID, int_path_param
from ocpi.agent.store import SqlAgentStore
from ocpi.emsp.role import EmspRole


@dataclass(frozen=True, slots=True)
class EmspAdmin:
    """The running eMSP role, the Agent API's store and the organization the role serves."""

    role: EmspRole
    agent_store: SqlAgentStore
    org_id: str  # `[emsp] org_id`


EMSP_ADMIN: web.AppKey[EmspAdmin] = web.AppKey("emsp_admin")


def install(app: web.Application, admin: EmspAdmin) -> None:
    """Give the routes the eMSP role and the Agent API's store (set on the root application)."""
    app[EMSP_ADMIN] = admin


def emsp_admin(request: web.Request, disabled_code: str, what: str) -> EmspAdmin:
    """The installed eMSP role and Agent API store.

    Raises:
        ApiError: 503 `disabled_code` ("`what` is not enabled here") when the server runs without them.
    """
    admin = request.config_dict.get(EMSP_ADMIN)
    if admin is None:
        raise ApiError(503, disabled_code, f"{what} not enabled here")
    return admin


def served(request: web.Request, admin: EmspAdmin) -> bool:
    """Whether the caller's organization is the one the eMSP role serves."""
    return org_of(request) == admin.org_id


def require_served(request: web.Request, admin: EmspAdmin, what: str) -> None:
    """Raises ApiError 403 `not_emsp_organization` ("`what` belong to ...") unless `served`."""
    if not served(request, admin):
        raise ApiError(403, "not_emsp_organization", f"{what} belong to the eMSP role's organization")


def served_id(request: web.Request, admin: EmspAdmin, name: str) -> int | None:
    """The integer path parameter `name`, or None when the caller is not served or it is too large to
    exist (either way the record is 404 to the caller).

    Raises:
        ApiError: 400 `invalid_request` when it is not a non-negative integer.
    """
    value = int_path_param(request, name)
    return value if served(request, admin) and value <= MAX_ID else None
