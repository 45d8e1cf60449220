"""The operator API's route table: one `Route` per operation drives both the aiohttp registration (path,
handler, required role) and the OpenAPI 3.1 document (`csms.api.openapi`).

A route names the pydantic model of each response status (`ok`); the registered handler is wrapped so that
a JSON answer (`csms.api.responses.json_response`) is validated with, and written by, the model of its
status. So the documented schema of a response is, by construction, the schema of the model that wrote it;
a handler answering with data its model does not describe is a 500 (`response_model_mismatch`), which the
tests and the OpenAPI fuzzer would see.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict, TypeVar, Unpack

import orjson
import structlog
from aiohttp import web
from pydantic import BaseModel, ValidationError

from csms.api.auth import Role, add_route, default_role
from csms.api.errors import ApiError
from csms.api.responses import JsonReply

log = structlog.get_logger("csms.api")

JsonSchema = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)

ROUTES = web.AppKey("api_routes", list["Route"])

ERRORS = {
    400: "invalid input: `details` names each field and why",
    401: "no key, or an unknown or wrong key",
    403: "the key's role may not do this (`forbidden`), or its organization is not the eMSP role's "
         "(`not_emsp_organization`)",
    404: "unknown resource",
    409: "wrong state: charge point offline, EVSE occupied, reservation used, last admin, ...",
    410: "gone: the invitation expired (`invitation_expired`) or was cancelled (`invitation_cancelled`)",
    502: "the station answered with a CALLERROR (`station_error`, details: error_code, description), or the"
    " mail server refused an email (`email_failed`)",
    504: "the station did not answer in time (`station_timeout`)",
    503: "the OCPI bridge (`ocpi_disabled`), webhooks (`webhooks_disabled`), the eMSP role "
         "(`emsp_disabled`) or its Agent API (`agent_disabled`) are not enabled on this server",
    413: "the body is larger than allowed (`request_too_large`)",
    429: "over the rate limit (`rate_limited`) or the organization's monthly quota (`quota_exceeded`); "
         "`Retry-After` says when to try again",
}
COMMAND_ERRORS = (400, 404, 409, 502, 504)

LINK_HEADER = {
    "Link": {
        "description": 'RFC 8288 `<...>; rel="next"` when there is a next page',
        "schema": {"type": "string"},
    }
}
LOCATION_HEADER = {
    "Location": {"description": "the URL of the created resource", "schema": {"type": "string"}}
}


def param(name: str, where: str, schema: JsonSchema, description: str, required: bool = False) -> JsonSchema:
    """An OpenAPI parameter object (path parameters are always required)."""
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "description": description,
        "schema": schema,
    }


STRING: JsonSchema = {"type": "string"}
ID: JsonSchema = {"type": "integer", "minimum": 0}
Q_LIMIT = param(
    "limit", "query", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}, "page size"
)
Q_CURSOR = param("cursor", "query", STRING, "`next_cursor` of the previous page")
Q_CHARGE_POINT = param("charge_point_id", "query", STRING, "only this charge point's")
PAGE = (Q_LIMIT, Q_CURSOR)

# Every path parameter of the API's own paths, documented once; `route` picks those its path names.
PATH_PARAMETERS: dict[str, JsonSchema] = {
    "charge_point_id": param("charge_point_id", "path", STRING, "the charge point's id"),
    "session_id": param("session_id", "path", ID, "the session's id"),
    "reservation_id": param("reservation_id", "path", ID, "the reservation's id"),
    "id_token": param("id_token", "path", STRING, "the id token"),
}


@dataclass(frozen=True, slots=True)
class Route:
    """One operation: how it is served and how it is documented.

    `ok` maps each success status to the model its body is written with (None: no body); `errors` lists the
    error statuses it documents besides 401/403 (added for every non-public route) and `default`.
    """

    method: str
    path: str
    handler: Handler
    operation_id: str
    summary: str
    role: Role
    ok: dict[int, type[BaseModel] | None]
    errors: tuple[int, ...] = ()
    parameters: list[JsonSchema] = field(default_factory=list)
    body: type[BaseModel] | None = None
    body_required: bool = True
    description: str = ""
    headers: dict[int, dict[str, JsonSchema]] = field(default_factory=dict)
    name: str | None = None  # the aiohttp route name, for url_for
    # The media type of the success answers when it is not JSON (e.g. application/pdf): the handler then
    # returns a plain `web.Response`, documented as a binary string.
    media_type: str | None = None
    # The media type of a raw request body (application/octet-stream for a firmware image: a binary string;
    # text/csv for a forecast upload: a string); the handler reads the body itself.
    raw_body: str | None = None

    def serve(self) -> Handler:
        """The aiohttp handler: run `handler`, then write a JSON answer with the model of its status."""

        async def serve(request: web.Request) -> web.StreamResponse:
            response = await self.handler(request)
            if isinstance(response, JsonReply):
                response.body = orjson.dumps(self.dump(response.status, response.data))
            return response

        serve.__name__ = getattr(self.handler, "__name__", "serve")
        return serve

    def dump(self, status: int, data: Any) -> Any:
        """`data` validated with the model documented for `status` and dumped as JSON values.

        Raises:
            ApiError: 500 `response_model_mismatch` when the route documents no model for `status` or the
                data does not fit it (a server bug; logged).
        """
        model = self.ok.get(status)
        if model is None:
            log.error("response_model_missing", operation=self.operation_id, status=status)
            raise ApiError(500, "response_model_mismatch", "the server built an undocumented response")
        try:
            # exclude_unset: an optional field the data leaves out stays out (the model adds no defaults).
            return model.model_validate(data).model_dump(mode="json", exclude_unset=True)
        except ValidationError as exc:
            log.error("response_model_mismatch", operation=self.operation_id, status=status, errors=str(exc))
            raise ApiError(500, "response_model_mismatch", "the server built an invalid response") from None


def operation_id(handler: Handler) -> str:
    """The OpenAPI operationId of a handler: its name without `handle_`, in camelCase
    (`handle_list_charge_points` -> `listChargePoints`), so a route and its handler never disagree."""
    first, *rest = handler.__name__.removeprefix("handle_").split("_")
    return first + "".join(word.title() for word in rest)


class RouteOptions(TypedDict, total=False):
    """What a `route` may say besides its method, path, handler, summary and answers (see `Route`)."""

    errors: tuple[int, ...]
    role: Role
    query: Iterable[JsonSchema]
    body: type[BaseModel] | None
    body_required: bool
    description: str
    name: str  # the aiohttp route name, for url_for
    media_type: str  # the success answers' media type when not JSON (see `Route.media_type`)
    raw_body: str  # the media type of a raw (non-JSON) request body (see `Route.raw_body`)
    path_parameters: Mapping[str, JsonSchema]  # how to document the path's parameters (default: the API's)


def route(
    method: str,
    path: str,
    handler: Handler,
    summary: str,
    ok: dict[int, type[BaseModel] | None],
    **options: Unpack[RouteOptions],
) -> Route:
    """A `Route` that follows the API's conventions, so a table entry says only what is particular to it.

    - `operation_id` comes from the handler's name (`operation_id`);
    - `role` defaults to `default_role(method)`: viewer to read, member to change;
    - the path parameters are those the path names, documented as in `path_parameters`, then `query`;
    - a `201` answer carries a `Location` header, a page of a list (`ok` model named `...Page`) a `Link`.
    """
    path_parameters = options.get("path_parameters", PATH_PARAMETERS)
    headers: dict[int, dict[str, JsonSchema]] = {}
    for status, model in ok.items():
        if status == 201:
            headers[status] = LOCATION_HEADER
        elif model is not None and model.__name__.endswith("Page"):
            headers[status] = LINK_HEADER
    return Route(
        method,
        path,
        handler,
        operation_id(handler),
        summary,
        options.get("role", default_role(method)),
        ok=ok,
        errors=options.get("errors", ()),
        parameters=[
            *(path_parameters[name] for name in re.findall(r"\{([^}]+)\}", path)),
            *options.get("query", ()),
        ],
        body=options.get("body"),
        body_required=options.get("body_required", True),
        description=options.get("description", ""),
        headers=headers,
        name=options.get("name"),
        media_type=options.get("media_type"),
        raw_body=options.get("raw_body"),
    )


def summary_of(handler: Handler) -> str:
    """An operation's OpenAPI summary: the first line of its handler's docstring, without the full stop."""
    doc = inspect.getdoc(handler)
    if not doc:
        raise TypeError(f"{handler.__name__} needs a docstring: its first line is the operation's summary")
    return doc.splitlines()[0].rstrip(".")


class Operations:
    """A module's table of operations, filled by decorating its handlers (as aiohttp's `RouteTableDef`):

        api = Operations()

        @api("GET", "/things/{thing_id}", {200: models.Thing}, errors=(404,))
        async def handle_get_thing(request: web.Request) -> web.Response:
            \"\"\"One thing.\"\"\"

    Each decorator adds `route(method, path, handler, summary_of(handler), ok, **options)` to `routes`, in
    the order of the handlers, and hands the handler back unchanged.
    """

    def __init__(self, **defaults: Unpack[RouteOptions]) -> None:
        """An empty table; `defaults` apply to each of its operations unless the decorator says otherwise
        (e.g. `path_parameters` for a group of paths documented their own way)."""
        self.routes: list[Route] = []
        self._defaults = defaults

    def __call__(
        self, method: str, path: str, ok: dict[int, type[BaseModel] | None], **options: Unpack[RouteOptions]
    ) -> Callable[[H], H]:
        """A decorator that adds the handler it decorates as the operation `method path`."""

        def decorate(handler: H) -> H:
            given: RouteOptions = {**self._defaults, **options}
            self.routes.append(route(method, path, handler, summary_of(handler), ok, **given))
            return handler

        return decorate


def register(app: web.Application, routes: Iterable[Route]) -> None:
    """Add `routes` to the API sub-application (with their roles) and to its table `app[ROUTES]`, from
    which the OpenAPI document is built."""
    table = app.setdefault(ROUTES, [])
    for route in routes:
        add_route(app, route.method, route.path, route.serve(), role=route.role, name=route.name)
        table.append(route)
