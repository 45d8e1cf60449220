"""Checking requests and responses against the OpenAPI document (`csms.api.openapi`).

`OpenApiChecker.check` takes one exchange (method, path, query, request body, status, response body) and
returns what does not match the document: an undocumented route or status, a body that fails the
documented schema (JSON Schema 2020-12 with the document as the `$ref` registry, formats checked), a
documented-empty response with a body, or (for successful requests) an undocumented query parameter or a
request body the documented schema refuses. The API tests run it on every response through a middleware;
the end-to-end tests use `CheckedApi`, an HTTP client that runs it on every exchange.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from csms.api.app import API_PREFIX, ROUTES
from csms.api.openapi import build_document
from ocpi import admin_api

# Every route the running server serves: the API's own and the OCPI bridge's.
ALL_ROUTES = (*ROUTES, *admin_api.ROUTES)

DOCUMENT_URI = "urn:csms:openapi"
JSON = "application/json"
# Statuses any operation may answer through `default` (aiohttp's own errors and the catch-all 500).
GENERIC_ERRORS = frozenset({405, 413, 500})


def _pointer(*parts: str) -> str:
    escaped = (part.replace("~", "~0").replace("/", "~1") for part in parts)
    return quote("/" + "/".join(escaped), safe="/~")


def _path_pattern(template: str) -> re.Pattern[str]:
    """`/sessions/{session_id}/stop` → a regex matching `/sessions/12/stop`."""
    literals = re.split(r"\{[^/}]+\}", template)
    return re.compile("^" + "[^/]+".join(re.escape(part) for part in literals) + "$")


class OpenApiChecker:
    """Validates exchanges against one OpenAPI document; `seen` collects (method, template, status)."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource(DOCUMENT_URI, resource)
        self._validators: dict[str, Draft202012Validator] = {}
        # Static paths first, so `/sessions/{session_id}` never shadows a longer literal path.
        templates: list[str] = sorted(document["paths"], key=lambda p: (p.count("{"), -len(p)))
        self._templates: list[tuple[str, re.Pattern[str]]] = [(t, _path_pattern(t)) for t in templates]
        self.seen: set[tuple[str, str, int]] = set()

    @classmethod
    @functools.cache
    def shared(cls) -> OpenApiChecker:
        """One checker of the document the app serves, for the whole test run."""
        return cls(build_document(ALL_ROUTES))

    def template_for(self, path: str) -> str | None:
        """The documented path template matching a concrete path relative to `/api/v1`, if any."""
        for template, pattern in self._templates:
            if pattern.match(path):
                return template
        return None

    def _validator(self, *parts: str) -> Draft202012Validator:
        pointer = _pointer(*parts)
        validator = self._validators.get(pointer)
        if validator is None:
            validator = Draft202012Validator(
                {"$ref": f"{DOCUMENT_URI}#{pointer}"},
                registry=self._registry,
                format_checker=Draft202012Validator.FORMAT_CHECKER,
            )
            self._validators[pointer] = validator
        return validator

    def _errors(self, value: Any, *parts: str) -> list[str]:
        return [
            f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
            for e in self._validator(*parts).iter_errors(value)
        ]

    def check(
        self,
        method: str,
        path: str,
        *,
        status: int,
        body: bytes | None,
        content_type: str | None = None,
        query: Iterable[str] = (),
        request_body: bytes | None = None,
    ) -> list[str]:
        """Problems of one exchange; `path` is relative to `/api/v1`. An empty list means it matches."""
        where = f"{method} {path} -> {status}"
        if method.upper() == "HEAD":
            method = "GET"  # aiohttp answers HEAD for every GET route; the document lists the GET
        template = self.template_for(path)
        operation = None
        if template is not None:
            operation = self.document["paths"][template].get(method.lower())
        if operation is None:
            # An unknown route or method: only an error in the error shape is acceptable.
            if status < 400:
                return [f"{where}: undocumented operation answered {status}"]
            return self._check_error_body(where, body, content_type)
        self.seen.add((method.upper(), template or path, status))
        responses = operation["responses"]
        key = str(status)
        if key not in responses:
            if status not in GENERIC_ERRORS:
                return [f"{where}: status {status} is not documented for {method} {template}"]
            key = "default"
        assert template is not None
        problems: list[str] = []
        content = responses[key].get("content")
        if content is None:
            if body:
                problems.append(f"{where}: documented without content, but the body is {body[:200]!r}")
        elif JSON not in content:  # a document (e.g. application/pdf): its media type is the contract
            if content_type not in content:
                problems.append(f"{where}: content type {content_type}, documented {sorted(content)}")
        else:
            if content_type != "application/json":
                problems.append(f"{where}: content type {content_type}, documented application/json")
            try:
                value = orjson.loads(body or b"")
            except orjson.JSONDecodeError:
                return [*problems, f"{where}: body is not JSON: {(body or b'')[:200]!r}"]
            parts = ("paths", template, method.lower(), "responses", key, "content", JSON, "schema")
            problems += [f"{where}: {e}" for e in self._errors(value, *parts)]
        if 200 <= status < 300:
            problems += self._check_request(where, template, method, operation, query, request_body)
        return problems

    def _check_error_body(self, where: str, body: bytes | None, content_type: str | None) -> list[str]:
        if content_type != "application/json":
            return [f"{where}: error with content type {content_type}"]
        try:
            value = orjson.loads(body or b"")
        except orjson.JSONDecodeError:
            return [f"{where}: error body is not JSON"]
        return [f"{where}: {e}" for e in self._errors(value, "components", "schemas", "Error")]

    def _check_request(
        self,
        where: str,
        template: str,
        method: str,
        operation: dict[str, Any],
        query: Iterable[str],
        request_body: bytes | None,
    ) -> list[str]:
        """A successful request may only have used documented query parameters and a documented body."""
        problems: list[str] = []
        documented = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        for name in query:
            if name not in documented:
                problems.append(f"{where}: query parameter {name!r} is not documented")
        if request_body and request_body.strip():
            if "requestBody" not in operation:
                problems.append(f"{where}: a body was accepted but none is documented")
            elif JSON in operation["requestBody"]["content"]:  # else raw bytes or text, documented
                parts = ("paths", template, method.lower(), "requestBody", "content", JSON, "schema")
                value = orjson.loads(request_body)
                problems += [f"{where}: request body: {e}" for e in self._errors(value, *parts)]
        return problems

    def middleware(self, failures: list[str]) -> Middleware:
        """An aiohttp middleware for the root app: checks every `/api/v1` exchange, appending problems."""

        @web.middleware
        async def check_against_openapi(request: web.Request, handler: Handler) -> web.StreamResponse:
            response = await handler(request)
            if request.path.startswith(API_PREFIX + "/") and isinstance(response, web.Response):
                request_body = await request.read() if request.can_read_body or request.body_exists else None
                body = response.body if isinstance(response.body, bytes) else None
                failures.extend(
                    self.check(
                        request.method,
                        request.path[len(API_PREFIX) :],
                        status=response.status,
                        body=body,
                        content_type=response.content_type if body else None,
                        query=request.query.keys(),
                        request_body=request_body,
                    )
                )
            return response

        return check_against_openapi


class CheckedApi:
    """A REST client for a running CSMS that checks every exchange against the OpenAPI document.

    `request` returns (status, parsed JSON body or None); `failures` lists every mismatch, and the test
    (or fixture) asserts it is empty at the end.
    """

    def __init__(
        self, session: aiohttp.ClientSession, base: str, checker: OpenApiChecker | None = None
    ) -> None:
        self.session = session
        self.base = base.rstrip("/")
        self.checker = checker or OpenApiChecker.shared()
        self.failures: list[str] = []

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        raw: bytes | None = None,
        text: tuple[str, str] | None = None,
    ) -> tuple[int, Any]:
        """Send `method path` (relative to `/api/v1`) with a JSON `body`, `raw` bytes as
        application/octet-stream or `text` ((media type, content), e.g. a CSV upload); return (status, JSON,
        the bytes of another media type, or None)."""
        data = orjson.dumps(body) if body is not None else raw
        media = JSON if raw is None else "application/octet-stream"
        send_headers = {} if data is None else {"Content-Type": media}
        if text is not None:
            data = text[1].encode()
            send_headers = {"Content-Type": text[0]}
        send_headers.update(headers or {})
        url = f"{self.base}{API_PREFIX}{path}"
        async with self.session.request(method, url, data=data, params=params, headers=send_headers) as resp:
            raw = await resp.read()
            content_type = resp.content_type if raw else None
            self.failures += self.checker.check(
                method,
                path,
                status=resp.status,
                body=raw,
                content_type=content_type,
                query=(params or {}).keys(),
                request_body=data,
            )
            if not raw:
                return resp.status, None
            # A document (e.g. a PDF receipt) is handed back as its bytes.
            return resp.status, orjson.loads(raw) if content_type == JSON else raw

    async def get(self, path: str, **params: str) -> tuple[int, Any]:
        """GET with query parameters."""
        return await self.request("GET", path, params=params or None)

    async def post(self, path: str, body: Any = None) -> tuple[int, Any]:
        """POST a JSON body (or none)."""
        return await self.request("POST", path, body)

    async def delete(self, path: str, **params: str) -> tuple[int, Any]:
        """DELETE with query parameters."""
        return await self.request("DELETE", path, params=params or None)
