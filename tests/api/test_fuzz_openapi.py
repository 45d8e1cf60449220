"""The operator API fuzzed from its own generated OpenAPI document with schemathesis: no input makes the
server fail (5xx) and every answer is what the document says (status, content type, body schema, response
headers); a request that breaks the document is refused with a 4xx (negative_data_rejection), and an
operation that needs a key refuses a request without one (ignored_auth).

Bounded and reproducible: a fixed number of derandomized examples per operation (tests/conftest.py profiles,
ADR 0017), no deadline (the machine
may be busy), the server on 127.0.0.1 in a thread of its own with the in-memory store fake.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from csms.api import create_app
from csms.api.openapi import build_document
from csms.api.webhooks import WEBHOOK_STORE
from csms.config import CertificatesConfig, Config, FilesConfig, RateLimitConfig, SecurityConfig
from csms.domain.core import Domain
from csms.domain.models import ChargePoint, IdToken
from csms.domain.secrets import hash_secret, new_api_key
from csms.domain.services import Services
from csms.domain.tenancy import DEFAULT_ORG_ID
from csms.store.writer import BatchedWriter
from ocpi import admin_api
from ocpi.admin_api import emsp_scope
from tests.api.conftest import emsp_role, memory_agent_store
from tests.api.openapi_check import ALL_ROUTES
from tests.fakes.memory_store import MemoryStore
from tests.fakes.memory_webhooks import MemoryWebhookStore
from tests.fakes.ocpi_memory_store import MemoryOcpiStore
from tests.utils import FUZZ_SCALE

EXAMPLES_PER_OPERATION = 25 * FUZZ_SCALE
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    ignored_auth,
    negative_data_rejection,
]


@dataclass
class Server:
    """The API served from a thread: its base URL, and a way to get a new admin key's headers (a generated
    request may revoke or rotate the key an earlier test used)."""

    base_url: str
    new_admin: Callable[[], dict[str, str]]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """The app (OCPI routes and store included) on a free loopback port, seeded with a charge point and a
    token so that some generated requests reach real records; stopped after the module."""
    started = threading.Event()
    state: dict[str, object] = {}
    stop = threading.Event()

    async def serve() -> None:
        store = MemoryStore()
        writer = BatchedWriter(store, interval=0.01)
        await writer.start()
        await store.add_charge_point(ChargePoint("CP-1"))
        await store.add_id_token(IdToken("TAG-1"))
        loop = asyncio.get_running_loop()

        async def admin_key() -> dict[str, str]:
            key, prefix = new_api_key()
            await store.add_api_key("fuzz", prefix, hash_secret(key, rounds=4), "admin")
            return {"Authorization": f"Bearer {key}"}

        def new_admin() -> dict[str, str]:
            return asyncio.run_coroutine_threadsafe(admin_key(), loop).result(30)

        # Limits counted (their headers are checked) but never reached: every example reaches its handler.
        # Nor is the brute-force delay: wrong keys are sent on purpose, many times.
        # The CA in memory and files in a temporary folder: nothing is written into the checkout.
        config = Config(
            rate_limit=RateLimitConfig(requests_per_minute=10**9),
            security=SecurityConfig(auth_failure_max_delay=0.0),
            certificates=CertificatesConfig(ca_cert_file="", ca_key_file=""),
            files=FilesConfig(dir=tempfile.mkdtemp(prefix="csms-fuzz-files-")),
        )
        domain = Domain(Services(config=config, store=store, writer=writer))
        app = create_app(domain, admin_api.ROUTES)
        admin_api.install(app, MemoryOcpiStore())
        app[WEBHOOK_STORE] = MemoryWebhookStore()
        agent_store = await memory_agent_store()  # the eMSP role's routes answer, not 503
        emsp_scope.install(app, emsp_scope.EmspAdmin(emsp_role(domain), agent_store, DEFAULT_ORG_ID))
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        state["server"] = Server(f"http://127.0.0.1:{port}/api/v1", new_admin)
        started.set()
        await asyncio.to_thread(stop.wait)  # until the module's tests are done
        await runner.cleanup()
        await agent_store.close()
        await writer.stop()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), name="fuzz-api", daemon=True)
    thread.start()
    assert started.wait(60), "the API did not start"
    try:
        yield state["server"]  # type: ignore[misc]
    finally:
        stop.set()
        thread.join(60)


SCHEMA = schemathesis.openapi.from_dict(build_document(ALL_ROUTES))
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_operation_answers_as_documented(server: Server, operation: object) -> None:
    """Generated requests (valid and not) to one operation never get a 5xx and always get a documented
    status, content type and body."""
    session = requests.Session()
    headers = server.new_admin()  # its own: an earlier operation's examples may have revoked another

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        case = data.draw(operation.as_strategy())  # type: ignore[attr-defined]
        case.call_and_validate(
            base_url=server.base_url, session=session, headers=headers, checks=CHECKS
        )

    run()
