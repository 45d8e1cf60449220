"""What the `/ui` app and its requests carry (typed keys, no module globals) and how a page is rendered."""

from __future__ import annotations

from typing import Any

import jinja2
from aiohttp import web

from csms.domain.core import Domain
from csms.ui.live import LiveHub
from csms.ui.roaming import Roaming
from csms.ui.signin import UiPrincipal, UiSessions

UI_DOMAIN = web.AppKey("ui_domain", Domain)
UI_SESSIONS = web.AppKey("ui_sessions", UiSessions)
UI_HUB = web.AppKey("ui_hub", LiveHub)
UI_TEMPLATES = web.AppKey("ui_templates", jinja2.Environment)
UI_ROAMING = web.AppKey("ui_roaming", Roaming)  # optional: installed by the composition root
PRINCIPAL = web.RequestKey("ui_principal", UiPrincipal)


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    """Fill `template` with `context`, the principal and the page's path; answer it as HTML."""
    env = request.app[UI_TEMPLATES]
    principal = request.get(PRINCIPAL)
    html = env.get_template(template).render(principal=principal, path=request.path, **context)
    return web.Response(text=html, content_type="text/html", status=status)
