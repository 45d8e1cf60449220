"""The OpenAPI 3.1 document of the operator API, generated from the route table and served at
`GET /api/v1/openapi.json` without a key.

Nothing here is written by hand twice: the paths and operations come from the `Route`s the sub-application
serves (`csms.api.routes`), request body schemas from the pydantic models that validate the bodies, and
response schemas from the models that write the responses (`csms.api.models`, `ocpi.admin_api.models`).
Each operation carries `x-required-role` (`public`, `viewer`, `member`, `admin`), the role `csms.api.auth`
enforces for it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import orjson
from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from csms.api import models
from csms.api.auth import Role
from csms.api.routes import ERRORS, ROUTES, JsonSchema, Route
from csms.api.routes import route as declare
from csms.api.versioning import SUPPORTED_VERSIONS

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"
OPENAPI_JSON = web.AppKey("openapi_json", bytes)
REF = "#/components/schemas/{model}"
JSON = "application/json"

DESCRIPTION = (
    "Charge points, sessions, reservations, id tokens and remote commands over OCPP 1.6J and 2.0.1, in one "
    'vocabulary. Errors are `{"error": {"code", "message", "details"}}`. Lists are paginated with `limit` '
    "and `cursor` (`next_cursor` in the body, `Link` header). Callers are API keys or users signed in with "
    "`POST /auth/login`, each acting in one organization with one role. Roles: viewer reads; member also "
    "sends commands and manages sessions, reservations and id tokens; admin also manages charge points, the "
    "organization, its members, invitations and API keys, and the OCPI bridge's locations, connector specs "
    "and tariffs, and retries failed OCPI pushes; `signed_in` operations accept any signed-in caller, even "
    "a user of no organization yet."
)


def _schemas(routes: list[Route]) -> tuple[dict[tuple[type[BaseModel], str], JsonSchema], JsonSchema]:
    """Every request and response model of `routes` (and the error body) as JSON Schema, with shared
    definitions named once (pydantic disambiguates a model whose input and output schemas differ)."""
    wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(models.Error, "serialization"): None}
    for route in routes:
        if route.body is not None:
            wanted[(route.body, "validation")] = None
        for model in route.ok.values():
            if model is not None:
                wanted[(model, "serialization")] = None
    refs, top = models_json_schema(list(wanted), ref_template=REF)
    out: dict[tuple[type[BaseModel], str], JsonSchema] = {}
    for (schema_of, mode), schema in refs.items():
        out[(schema_of, mode)] = schema  # type: ignore[index]  # only BaseModels were asked for
    return out, top.get("$defs", {})


def _response(
    description: str, schema: JsonSchema | None, headers: dict[str, JsonSchema], media_type: str = JSON
) -> JsonSchema:
    response: JsonSchema = {"description": description}
    if schema is not None:
        response["content"] = {media_type: {"schema": schema}}
    if headers:
        response["headers"] = headers
    return response


_INTEGER: JsonSchema = {"type": "integer"}
# Sent with every answer of the API (`csms.api.versioning`).
VERSION_HEADERS: dict[str, JsonSchema] = {
    "Api-Version": {"description": "the API version that served the request", "schema": {"type": "string"}}
}
# Sent with every answer to an authenticated request (`csms.api.limits`), errors included.
RATE_LIMIT_HEADERS: dict[str, JsonSchema] = {
    "X-RateLimit-Limit": {"description": "requests allowed per minute", "schema": _INTEGER},
    "X-RateLimit-Remaining": {
        "description": "requests left in this minute, after this one",
        "schema": _INTEGER,
    },
    "X-RateLimit-Reset": {"description": "seconds until the minute's count starts again", "schema": _INTEGER},
}
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before trying again", "schema": _INTEGER}}
API_VERSION_PARAMETER: JsonSchema = {
    "name": "Api-Version",
    "in": "header",
    "required": False,
    "description": f"pin the API version (supported: {', '.join(SUPPORTED_VERSIONS)}; default the "
    "current one); another is 400 `unsupported_api_version`",
    "schema": {"type": "string", "enum": list(SUPPORTED_VERSIONS)},
}


def _operation(route: Route, refs: dict[tuple[type[BaseModel], str], JsonSchema]) -> JsonSchema:
    out: JsonSchema = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "x-required-role": route.role.value,
        "tags": [route.path.strip("/").split("/")[0]],
    }
    if route.description:
        out["description"] = route.description
    out["parameters"] = [*route.parameters, API_VERSION_PARAMETER]
    common = VERSION_HEADERS if route.role is Role.PUBLIC else {**VERSION_HEADERS, **RATE_LIMIT_HEADERS}
    if route.body is not None:
        out["requestBody"] = {
            "required": route.body_required,
            "content": {"application/json": {"schema": refs[(route.body, "validation")]}},
        }
    if route.raw_body is not None:  # not JSON: bytes (a firmware image) or text (a CSV upload)
        raw: JsonSchema = {"type": "string"}
        if not route.raw_body.startswith("text/"):
            raw["format"] = "binary"
        out["requestBody"] = {"required": True, "content": {route.raw_body: {"schema": raw}}}
    responses: JsonSchema = {}
    for status, model in route.ok.items():
        headers = {**route.headers.get(status, {}), **common}
        if route.media_type is not None:  # a document, not JSON (e.g. a PDF receipt)
            binary: JsonSchema = {"type": "string", "format": "binary"}
            responses[str(status)] = _response("OK", binary, headers, route.media_type)
            continue
        schema = None if model is None else refs[(model, "serialization")]
        description = "OK" if model is not None else "Done; no content"
        responses[str(status)] = _response(description, schema, headers)
    error = refs[(models.Error, "serialization")]
    errors = route.errors if route.role is Role.PUBLIC else (*route.errors, 401, 403, 429)
    for status in sorted(set(errors)):
        # A 401 comes before the key is known: it carries no rate-limit headers.
        headers = VERSION_HEADERS if status == 401 else common
        headers = {**headers, **RETRY_AFTER} if status == 429 else headers
        responses[str(status)] = _response(ERRORS[status], error, headers)
    other = "any other error (400 `unsupported_api_version`, 405, 413, 500)"
    responses["default"] = _response(other, error, common)
    out["responses"] = responses
    if route.role is Role.PUBLIC:
        out["security"] = []
    return out


def build_document(routes: Iterable[Route]) -> JsonSchema:
    """The whole OpenAPI 3.1 document of `routes`; a fresh copy each call, so callers may change it."""
    table = list(routes)
    refs, components = _schemas(table)
    paths: dict[str, JsonSchema] = {}
    for route in table:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, refs)
    document: JsonSchema = {
        "openapi": OPENAPI_VERSION,
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {"title": "CSMS operator API", "version": API_VERSION, "description": DESCRIPTION},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": (
                        "An API key (`csms apikey create`, `POST /api-keys`): `csms_<prefix>_<secret>`; or a "
                        "user's access token from `POST /auth/login`: `csmsat_<random>`, acting in the "
                        "`{org_id}` of the path, else the `X-Organization-Id` header, else the user's oldest "
                        "membership."
                    ),
                }
            },
        },
    }
    return copy.deepcopy(document)


async def handle_get_open_api(request: web.Request) -> web.Response:
    """`GET /openapi.json` (no key needed): the document built when the app was frozen."""
    return web.Response(body=request.app[OPENAPI_JSON], content_type="application/json")


ROUTE = declare(
    "GET",
    "/openapi.json",
    handle_get_open_api,
    "This document (no key needed)",
    {200: models.OpenApiDocument},
    role=Role.PUBLIC,
)


def install(app: web.Application) -> None:
    """Build the document of every route registered on the sub-application so far (call it last) and
    serve it."""
    routes: list[Route] = app[ROUTES]
    app[OPENAPI_JSON] = orjson.dumps(build_document(routes))
