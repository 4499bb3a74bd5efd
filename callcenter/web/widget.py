"""The web-chat widget's files, served by us (no CDN): ``/widget.js``, ``/static/<file>`` and the
demo page ``/chat-demo``. All public: a visitor's browser fetches them from any site.

``/widget.js`` keeps one URL for ever (it is in customers' pages), so it is cached briefly and
revalidated by ETag; the vendored Socket.IO client is versioned by its ``?v=`` query and cached a day.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from aiohttp import web

from callcenter.web import assets, i18n
from callcenter.web.api import SETTINGS
from callcenter.web.auth import PUBLIC, allow
from callcenter.web.openapi import doc

STATIC = Path(__file__).parent / "static"
DEFAULT_TITLE = "Chat with us"  # the settings' default (realtime.widget_title), widget.js's own
SOCKETIO_CLIENT_VERSION = "4.8.4"

_CATALOGUES = b"var CATALOGUES = {};"


def _with_catalogues(script: bytes) -> bytes:
    """widget.js with every language's messages in place of its empty CATALOGUES."""
    if script.count(_CATALOGUES) != 1:
        raise RuntimeError("widget.js must declare `var CATALOGUES = {};` exactly once")
    text = json.dumps(i18n.widget_catalogues(), ensure_ascii=True, sort_keys=True)
    return script.replace(_CATALOGUES, f"var CATALOGUES = {text};".encode())


# name in the URL -> file; anything else is a 404 (no path is ever joined from the request).
_SERVED = {
    "widget.js": ("widget.js", 300),
    "widget.css": ("widget.css", 300),
    "socket.io.min.js": ("vendor/socket.io.min.js", 86400),
    "socket.io-client.LICENSE": ("vendor/socket.io-client.LICENSE", 86400),
}


def serves(name: str) -> bool:
    return name in _SERVED


def path_of(name: str) -> Path:
    """The file behind one of the widget's names (``serves(name)``)."""
    return STATIC / _SERVED[name][0]


def _respond(request: web.Request, name: str) -> web.Response:
    relative, max_age = _SERVED[name]
    transform = _with_catalogues if name == "widget.js" else None
    asset = assets.load(STATIC / relative, transform)
    # The widget is loaded by other sites' pages: let them (only GET of these files).
    return assets.respond(request, asset, max_age, {"Access-Control-Allow-Origin": "*"})


@doc(
    "The embeddable web-chat widget (JavaScript)",
    content="text/javascript",
    responses={304: "Not modified (ETag)"},
)
@allow(PUBLIC)
async def widget_js(request: web.Request) -> web.Response:
    return _respond(request, "widget.js")


@doc("Widget files", content="text/plain", errors=(404,))
@allow(PUBLIC)
async def static_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in _SERVED:
        raise web.HTTPNotFound(text='{"error": "no such file"}', content_type="application/json")
    return _respond(request, name)


@doc("A demo page embedding the widget", content="text/html")
@allow(PUBLIC)
async def chat_demo(request: web.Request) -> web.Response:
    """A page embedding the widget exactly as a customer's site would, in the language asked for
    (``?language=zh-CN``, else the browser's), given to the widget as ``data-language``."""
    language = i18n.known(request.query.get("language")) or i18n.negotiate(
        request.headers.get("Accept-Language")
    )

    def _(message: str) -> str:
        return html.escape(i18n.gettext(language, message))

    configured = request.app[SETTINGS].realtime.widget_title
    # The default title is the widget's own, translated by it; a site's own title is shown as set.
    title = "" if configured == DEFAULT_TITLE else html.escape(configured)
    attributes = f'data-language="{language}"' + (f' data-title="{title}"' if title else "")
    heading = _("Web chat demo")
    embeds = _("This page embeds the chat widget with one tag, as any site would:")
    open_it = _("Open the chat with the button at the bottom right.")
    page = f"""<!doctype html>
<html lang="{language}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{heading}</title>
<style>body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto;
padding: 0 1rem; }} code {{ background: #f3f3f3; padding: .1rem .3rem; }}</style>
</head>
<body>
<main>
<h1>{heading}</h1>
<p>{embeds}</p>
<pre><code>&lt;script src="{html.escape(str(request.url.origin()))}/widget.js" async
        {html.escape(attributes)}&gt;&lt;/script&gt;</code></pre>
<p>{open_it}</p>
</main>
<script src="/widget.js" async {attributes}></script>
</body>
</html>
"""
    return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-cache"})


def setup_routes(app: web.Application) -> None:
    """``/static/{name}`` is the pages' route (web/pages.py), which hands the widget's files here."""
    app.router.add_get("/widget.js", widget_js)
    app.router.add_get("/chat-demo", chat_demo)
