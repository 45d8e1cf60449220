"""`GET /metrics` (no auth, like `/health`): the process's Prometheus metrics in the text format.

Served at the root, outside the operator API and its OpenAPI document: Prometheus scrapes it without a key.
The metrics are `Services.metrics` when that is a `csms.metrics.Metrics` (the running CSMS); a `Services`
built without metrics (some tests and tools) answers 404.
"""

from __future__ import annotations

from aiohttp import web

from csms.api.params import get_services
from csms.metrics import CONTENT_TYPE, Metrics


async def handle_metrics(request: web.Request) -> web.Response:
    """Every metric of this CSMS (csms/metrics.py), rendered at scrape time."""
    metrics = get_services(request).metrics
    if not isinstance(metrics, Metrics):
        raise web.HTTPNotFound(text="metrics are not collected by this process\n")
    return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE})
