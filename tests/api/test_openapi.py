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
from csms.api.openapi import BODY_MODELS, OPERATIONS, build_document
from tests.api.conftest import ApiClient
from tests.api.openapi_check import OpenApiChecker

ROLES = ("viewer", "member", "admin")


def api_routes() -> set[tuple[str, str]]:
    """(method, path template) of every route of the API sub-application, HEAD twins left out."""
    app = create_api_app()
    routes = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        assert route.resource is not None
        routes.add((route.method, route.resource.canonical))
    return routes


def documented() -> set[tuple[str, str]]:
    """(method, path template) of every operation in the document."""
    document = build_document()
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item}


def test_document_is_valid_openapi_3_1() -> None:
    """The document passes the OpenAPI 3.1 schema and its JSON Schema dialect is 2020-12."""
    document = build_document()
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert document["jsonSchemaDialect"] == "https://json-schema.org/draft/2020-12/schema"


def test_validator_catches_a_broken_document() -> None:
    """A response without description, or a parameter without `in`, fails validation: the check has teeth."""
    document = build_document()
    del document["paths"]["/sessions"]["get"]["responses"]["200"]["description"]
    with pytest.raises(OpenAPIValidationError):
        validate(document)
    document = build_document()
    del document["paths"]["/sessions"]["get"]["parameters"][0]["in"]
    with pytest.raises(OpenAPIValidationError):
        validate(document)


def test_every_route_is_documented_and_nothing_else() -> None:
    """The aiohttp routes of `/api/v1` and the document's operations are the same set."""
    assert api_routes() == documented()


def test_operation_table_has_unique_ids_and_matching_parameters() -> None:
    """Operation ids are unique and each path parameter is declared exactly by the operations on that path."""
    ids = [op.operation_id for op in OPERATIONS]
    assert len(ids) == len(set(ids))
    for op in OPERATIONS:
        in_path = set(re.findall(r"\{([^}]+)\}", op.path))
        declared = {p["name"] for p in op.parameters if p["in"] == "path"}
        assert in_path == declared, op.operation_id


def test_body_schemas_come_from_the_models() -> None:
    """Each request body model's JSON Schema is in components, `$defs` hoisted and refs resolvable."""
    components = build_document()["components"]["schemas"]
    for model in BODY_MODELS:
        schema = components[model.__name__]
        assert "$defs" not in schema
        assert schema["additionalProperties"] is False
        for name in re.findall(r'"#/components/schemas/([^"]+)"', repr(schema).replace("'", '"')):
            assert name in components, (model.__name__, name)
    assert components["ReservationCreate"]["required"] == ["charge_point_id", "expiry_date", "id_tag"]
    generated = schemas.ChargingProfileSet.model_json_schema(ref_template="#/components/schemas/{model}")
    hoisted = generated.pop("$defs")
    assert components["ChargingProfileSet"] == generated
    assert all(components[name] == definition for name, definition in hoisted.items())


def test_error_and_security_are_documented() -> None:
    """Every operation but the document itself needs the bearer key and documents 401, 403 and errors."""
    document = build_document()
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
    assert await response.json() == build_document()


def _sample_path(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "999999", template)


def _sample_body(model: type[Any] | None) -> dict[str, Any] | None:
    return None if model is None else {}


@pytest.mark.parametrize("role", ROLES)
async def test_documented_roles_are_the_enforced_roles(
    client: ApiClient, role_headers: dict[str, dict[str, str]], role: str
) -> None:
    """For every operation, a key is refused with 403 exactly when its role is below `x-required-role`."""
    rank = {"public": 0, "viewer": 1, "member": 2, "admin": 3}
    for op in OPERATIONS:
        response = await client.request(
            op.method,
            "/api/v1" + _sample_path(op.path),
            json=_sample_body(op.body),
            headers=role_headers[role],
        )
        forbidden = rank[role] < rank[op.role.value]
        assert (response.status == 403) == forbidden, (role, op.method, op.path, response.status)


async def test_operations_refuse_requests_without_a_key(client: ApiClient) -> None:
    """Every operation but the document itself answers 401 without a key."""
    for op in OPERATIONS:
        response = await client.request(
            op.method, "/api/v1" + _sample_path(op.path), json=_sample_body(op.body)
        )
        expected = 200 if op.role is Role.PUBLIC else 401
        assert response.status == expected, (op.method, op.path)


def test_checker_finds_schema_mismatches() -> None:
    """The checker reports an extra field, a wrong type, an undocumented status and a body on a 204."""
    checker = OpenApiChecker(build_document())
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
    checker = OpenApiChecker(build_document())
    assert checker.template_for("/sessions/12/stop") == "/sessions/{session_id}/stop"
    assert checker.template_for("/sessions/12") == "/sessions/{session_id}"
    assert (
        checker.template_for("/charge-points/CP-1/configuration")
        == "/charge-points/{charge_point_id}/configuration"
    )
    assert checker.template_for("/charge-points/CP-1") == "/charge-points/{charge_point_id}"
    assert checker.template_for("/charge-points/CP-1/x/y") is None


def test_every_api_module_route_has_a_role() -> None:
    """Routes registered with an explicit role are exactly the public and admin-only operations."""
    app: web.Application = create_api_app()
    explicit = {
        (route.method, route.resource.canonical if route.resource is not None else "")
        for route in app[ROUTE_ROLES]
        if route.method != "HEAD"
    }
    expected = {(op.method, op.path) for op in OPERATIONS if op.role in (Role.PUBLIC, Role.ADMIN)}
    assert explicit == expected
