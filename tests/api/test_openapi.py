"""The OpenAPI 3.1 document: valid, public, in step with the routes and the roles the API enforces.

That responses match their documented schemas is checked on every response of every API test (the
`client` fixture's middleware, `tests/api/openapi_check.py`); the tests here check the checker too.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp import web
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from csms.api import schemas
from csms.api.app import create_api_app
from csms.api.auth import ROUTE_ROLES, Role
from csms.api.openapi import REF, build_document
from csms.domain.tenancy import DEFAULT_ORG_ID
from ocpi import admin_api
from tests.api.conftest import ApiClient
from tests.api.openapi_check import ALL_ROUTES, OpenApiChecker

ROLES = ("viewer", "member", "admin")


def api_routes() -> set[tuple[str, str]]:
    """(method, path template) of every route of the API sub-application, HEAD twins left out."""
    app = create_api_app(admin_api.ROUTES)
    routes = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        assert route.resource is not None
        routes.add((route.method, route.resource.canonical))
    return routes


def documented() -> set[tuple[str, str]]:
    """(method, path template) of every operation in the document."""
    document = build_document(ALL_ROUTES)
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item}


def test_document_is_valid_openapi_3_1() -> None:
    """The document passes the OpenAPI 3.1 schema and its JSON Schema dialect is 2020-12."""
    document = build_document(ALL_ROUTES)
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert document["jsonSchemaDialect"] == "https://json-schema.org/draft/2020-12/schema"


def test_validator_catches_a_broken_document() -> None:
    """A response without description, or a parameter without `in`, fails validation: the check has teeth."""
    document = build_document(ALL_ROUTES)
    del document["paths"]["/sessions"]["get"]["responses"]["200"]["description"]
    with pytest.raises(OpenAPIValidationError):
        validate(document)
    document = build_document(ALL_ROUTES)
    del document["paths"]["/sessions"]["get"]["parameters"][0]["in"]
    with pytest.raises(OpenAPIValidationError):
        validate(document)


def test_every_route_is_documented_and_nothing_else() -> None:
    """The aiohttp routes of `/api/v1` and the document's operations are the same set."""
    assert api_routes() == documented()


def test_operation_table_has_unique_ids_and_matching_parameters() -> None:
    """Operation ids are unique and each path parameter is declared exactly by the operations on that path."""
    ids = [op.operation_id for op in ALL_ROUTES]
    assert len(ids) == len(set(ids))
    for op in ALL_ROUTES:
        in_path = set(re.findall(r"\{([^}]+)\}", op.path))
        declared = {p["name"] for p in op.parameters if p["in"] == "path"}
        assert in_path == declared, op.operation_id


def test_body_schemas_come_from_the_models() -> None:
    """Each request body model's JSON Schema is in components, `$defs` hoisted and refs resolvable."""
    components = build_document(ALL_ROUTES)["components"]["schemas"]
    for model in {route.body for route in ALL_ROUTES if route.body is not None}:
        schema = components[model.__name__]
        assert "$defs" not in schema
        assert schema["additionalProperties"] is False
        for name in re.findall(r'"#/components/schemas/([^"]+)"', repr(schema).replace("'", '"')):
            assert name in components, (model.__name__, name)
    assert sorted(components["ReservationCreate"]["required"]) == ["charge_point_id", "expiry_date", "id_tag"]
    generated = schemas.ChargingProfileSet.model_json_schema(ref_template="#/components/schemas/{model}")
    hoisted = generated.pop("$defs")
    assert components["ChargingProfileSet"] == generated
    assert all(components[name] == definition for name, definition in hoisted.items())


def test_error_and_security_are_documented() -> None:
    """Every operation but the document itself needs the bearer key and documents 401, 403 and errors."""
    document = build_document(ALL_ROUTES)
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearer"]["description"],
    }
    assert document["security"] == [{"bearer": []}]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert responses["default"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"
            }
            if operation["x-required-role"] == "public":
                assert operation["security"] == []
            else:
                assert {"401", "403"} <= set(responses), (method, path)


async def test_document_is_served_without_a_key(client: ApiClient) -> None:
    """`GET /api/v1/openapi.json` needs no key and serves the document the module builds."""
    response = await client.get("/api/v1/openapi.json")
    assert response.status == 200
    assert response.content_type == "application/json"
    assert await response.json() == build_document(ALL_ROUTES)


def _sample_path(template: str) -> str:
    # The keys' own organization: another one's is 404 before any role check (never visible).
    return re.sub(r"\{[^}]+\}", "999999", template.replace("{org_id}", DEFAULT_ORG_ID))


def _sample_body(model: type[Any] | None) -> dict[str, Any] | None:
    return None if model is None else {}


@pytest.mark.parametrize("role", ROLES)
async def test_documented_roles_are_the_enforced_roles(
    client: ApiClient, role_headers: dict[str, dict[str, str]], role: str
) -> None:
    """For every operation, a key is refused with 403 exactly when its role is below `x-required-role`; the
    site-owner and driver portals' routes are 403 to every operator."""
    outside = 99  # the portals' own roles: no staff role reaches them
    rank = {"public": 0, "signed_in": 1, "viewer": 2, "member": 3, "admin": 4, "site_owner": outside,
            "driver": outside}  # fmt: skip
    for op in ALL_ROUTES:
        response = await client.request(
            op.method,
            "/api/v1" + _sample_path(op.path),
            json=_sample_body(op.body),
            headers=role_headers[role],
        )
        forbidden = rank[role] < rank[op.role.value]
        assert (response.status == 403) == forbidden, (role, op.method, op.path, response.status)


async def test_operations_refuse_requests_without_a_key(client: ApiClient) -> None:
    """Every operation but the public ones (the document, signing in, accepting an invitation) answers 401
    without a key."""
    for op in ALL_ROUTES:
        response = await client.request(
            op.method, "/api/v1" + _sample_path(op.path), json=_sample_body(op.body)
        )
        if op.role is Role.PUBLIC:  # an empty body is refused, but not for want of a key
            assert response.status in (200, 400), (op.method, op.path)
        else:
            assert response.status == 401, (op.method, op.path)


def test_checker_finds_schema_mismatches() -> None:
    """The checker reports an extra field, a wrong type, an undocumented status and a body on a 204."""
    checker = OpenApiChecker(build_document(ALL_ROUTES))
    good = b'{"items": [], "next_cursor": null}'
    assert checker.check("GET", "/sessions", status=200, body=good, content_type="application/json") == []
    extra = b'{"items": [], "next_cursor": null, "total": 3}'
    assert checker.check("GET", "/sessions", status=200, body=extra, content_type="application/json")
    wrong = b'{"items": [{"id": "1"}], "next_cursor": null}'
    assert checker.check("GET", "/sessions", status=200, body=wrong, content_type="application/json")
    assert checker.check("GET", "/sessions", status=201, body=good, content_type="application/json")
    assert checker.check("DELETE", "/id-tokens/T", status=204, body=b"{}", content_type="application/json")
    assert checker.check(
        "GET", "/sessions", status=200, body=good, content_type="application/json", query=["x"]
    )
    error = b'{"error": {"code": "not_found", "message": "m", "details": null}}'
    assert checker.check("GET", "/nowhere", status=404, body=error, content_type="application/json") == []
    assert checker.check("GET", "/nowhere", status=200, body=b"{}", content_type="application/json")
    bad_time = (
        b'{"id_token": "T", "type": "ISO14443", "status": "Accepted", "expiry_date": "soon",'
        b' "group_id_token": null, "created_at": null}'
    )
    assert checker.check("GET", "/id-tokens/T", status=200, body=bad_time, content_type="application/json")


def test_route_templates_resolve_to_the_right_operation() -> None:
    """Concrete paths map to their templates, literal segments before parameters."""
    checker = OpenApiChecker(build_document(ALL_ROUTES))
    assert checker.template_for("/sessions/12/stop") == "/sessions/{session_id}/stop"
    assert checker.template_for("/sessions/12") == "/sessions/{session_id}"
    assert (
        checker.template_for("/charge-points/CP-1/configuration")
        == "/charge-points/{charge_point_id}/configuration"
    )
    assert checker.template_for("/charge-points/CP-1") == "/charge-points/{charge_point_id}"
    assert checker.template_for("/charge-points/CP-1/x/y") is None


def test_every_route_is_registered_with_its_documented_role() -> None:
    """Each served route requires exactly the role its table entry documents (one source for both)."""
    app: web.Application = create_api_app(admin_api.ROUTES)
    enforced = {
        (route.method, route.resource.canonical if route.resource is not None else ""): role
        for route, role in app[ROUTE_ROLES].items()
        if route.method != "HEAD"
    }
    assert enforced == {(op.method, op.path): op.role for op in ALL_ROUTES}


def _resolve(schema: Any, definitions: dict[str, Any]) -> Any:
    """`schema` with every `#/components/schemas/X` reference replaced by its definition (no recursion in
    our models), so two documents that name their definitions differently compare by content."""
    if isinstance(schema, list):
        return [_resolve(item, definitions) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return _resolve(definitions[schema["$ref"].rsplit("/", 1)[1]], definitions)
    return {key: _resolve(value, definitions) for key, value in schema.items()}


def test_each_documented_response_schema_is_the_schema_of_its_model() -> None:
    """For every operation and status, the documented response schema is the JSON Schema of the model the
    route writes that response with (a status without a model documents no body, a non-JSON answer its
    media type)."""
    document = build_document(ALL_ROUTES)
    components = document["components"]["schemas"]
    for route in ALL_ROUTES:
        responses = document["paths"][route.path][route.method.lower()]["responses"]
        for status, model in route.ok.items():
            content = responses[str(status)].get("content")
            if route.media_type is not None:  # a document such as a PDF: its media type, a binary string
                assert content == {route.media_type: {"schema": {"type": "string", "format": "binary"}}}
                continue
            if model is None:
                assert content is None, (route.operation_id, status)
                continue
            documented = _resolve(content["application/json"]["schema"], components)
            generated = model.model_json_schema(mode="serialization", ref_template=REF)
            assert documented == _resolve(generated, generated.pop("$defs", {})), (route.operation_id, status)


async def test_a_response_its_model_does_not_describe_is_a_server_error() -> None:
    """A handler answering with data its route's model refuses (or with an undocumented status) gets a
    500 `response_model_mismatch`, never an undocumented body."""
    from aiohttp.test_utils import TestClient, TestServer

    from csms.api import models
    from csms.api.errors import error_middleware
    from csms.api.responses import json_response
    from csms.api.routes import Route

    async def wrong_shape(request: web.Request) -> web.Response:
        return json_response({"status": "ok", "connected_charge_points": -1})

    async def wrong_status(request: web.Request) -> web.Response:
        return json_response({"status": "ok", "connected_charge_points": 1}, status=201)

    async def right(request: web.Request) -> web.Response:
        return json_response({"status": "ok", "connected_charge_points": 1})

    app = web.Application(middlewares=[error_middleware])
    for path, handler in (("/shape", wrong_shape), ("/status", wrong_status), ("/right", right)):
        route = Route("GET", path, handler, path, "test", Role.PUBLIC, ok={200: models.Health})
        app.router.add_get(path, route.serve())
    async with TestClient(TestServer(app)) as client:
        for path in ("/shape", "/status"):
            response = await client.get(path)
            assert response.status == 500
            assert (await response.json())["error"]["code"] == "response_model_mismatch"
        response = await client.get("/right")
        assert response.status == 200 and await response.json() == {
            "status": "ok",
            "connected_charge_points": 1,
        }
