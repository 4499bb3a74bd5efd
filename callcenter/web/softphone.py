"""The browser softphone's credentials: ``GET /api/softphone``.

The agent panel and the supervisor console carry a softphone (``static/softphone.js``, JsSIP over a
WebSocket to Asterisk, WebRTC media; docs/agent-panel.md). It registers as the browser endpoint of
the account's own extension (``<ext>-web``, settings/phones.py), with that endpoint's password. The
password is given here only: to the signed-in account (or token) whose agent id owns the extension,
never in a page, a log or another account's answer; ``Cache-Control: no-store``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from callcenter.settings import phones
from callcenter.web import pages
from callcenter.web.api import SERVICE
from callcenter.web.auth import PRINCIPAL, allow
from callcenter.web.http import error, json_response
from callcenter.web.openapi import doc

ROLES = ("agent", "supervisor", "admin")


def own_extension(request: web.Request) -> str | None:
    """The extension of the principal's agent id (its phone), or None when the account has none."""
    agent_id = request[PRINCIPAL].agent_id
    agent = request.app[SERVICE].engine.agents.get(agent_id or "")
    return agent.extension if agent is not None else None


def page_config(request: web.Request) -> dict[str, Any] | None:
    """What a page tells its softphone (no secret: the script asks /api/softphone for those)."""
    extension = own_extension(request)
    if extension is None:
        return None
    return {"extension": extension, "credentials": "/api/softphone"}


def connect_sources(request: web.Request) -> tuple[str, ...]:
    """The softphone's WebSocket origin, for the page's Content-Security-Policy (connect-src)."""
    url = urlsplit(request.app[pages.PAGE_SETTINGS].asterisk.softphone_url)
    return (f"{url.scheme}://{url.netloc}",)


@doc(
    "The browser softphone's SIP account: the WebSocket URL, the SIP URI of the account's browser"
    " endpoint (<extension>-web) and its password",
    errors=(404,),
    who="only the account's own extension (its agent id's)",
)
@allow(*ROLES)
async def softphone_credentials(request: web.Request) -> web.Response:
    extension = own_extension(request)
    if extension is None:
        message = pages.tr(
            request, "Your account has no phone: an admin links it to an agent id, whose extension is yours."
        )
        return error(404, message)
    asterisk = request.app[pages.PAGE_SETTINGS].asterisk
    user = phones.web_endpoint(extension)
    domain = asterisk.external_address or asterisk.host
    response = json_response(
        {
            "websocket": asterisk.softphone_url,
            "uri": f"sip:{user}@{domain}",
            "username": user,
            "password": phones.web_password(asterisk.agent_password.get_secret_value(), extension),
            "extension": extension,
            "display_name": request[PRINCIPAL].name,
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/softphone", softphone_credentials)
