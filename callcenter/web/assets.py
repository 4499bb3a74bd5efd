"""Static files (scripts, styles, images) served from memory.

Each file is read once, then served from its bytes with a content ETag; a ``If-None-Match`` that
matches gets a 304. A file changed on disk (a development edit, an upgrade in place) is read again:
its modification time is part of the cache key. No file stays open between requests, so a browser
that aborts a request while navigating away leaves nothing behind (aiohttp's FileResponse opens the
file in a thread and loses it when the request is cancelled during that open).

Pages name their assets with ``static(name)`` (``/static/app.js?v=<version>``, the version from the
content): such a URL is cached a year (``immutable``), and a new version of the file is a new URL,
so a page served after an upgrade never runs yesterday's script.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

_TYPES = {".js": "text/javascript", ".LICENSE": "text/plain", ".svg": "image/svg+xml"}
_TEXT = ("text/", "application/javascript", "image/svg+xml")


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


_CACHE: dict[tuple[Path, object], tuple[int, Asset]] = {}  # by file and transform
IMMUTABLE = 365 * 86400  # a versioned URL's lifetime in browsers' caches


def version(asset: Asset) -> str:
    """The short content version that goes in the asset's URL (``?v=``)."""
    return asset.etag.strip('"')[:12]


def load(path: Path, transform: Callable[[bytes], bytes] | None = None) -> Asset:
    """The file's bytes (through ``transform``, if given), read again only when it changed."""
    changed = path.stat().st_mtime_ns
    key = (path, transform)
    cached = _CACHE.get(key)
    if cached is not None and cached[0] == changed:
        return cached[1]
    body = path.read_bytes()
    if transform is not None:
        body = transform(body)
    kind = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    asset = Asset(body, kind, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
    _CACHE[key] = (changed, asset)
    return asset


def respond(
    request: web.Request, asset: Asset, max_age: int, headers: Mapping[str, str] | None = None
) -> web.Response:
    """The asset, or 304 when the browser already has this version. Asked for by its versioned URL
    (``?v=`` this content's version), it is cached for good."""
    versioned = request.query.get("v") == version(asset)
    cache = f"public, max-age={IMMUTABLE}, immutable" if versioned else f"public, max-age={max_age}"
    sent = {
        "Cache-Control": cache,
        "ETag": asset.etag,
        "X-Content-Type-Options": "nosniff",
        **(headers or {}),
    }
    if request.headers.get("If-None-Match") == asset.etag:
        return web.Response(status=304, headers=sent)
    charset = "utf-8" if asset.content_type.startswith(_TEXT) else None
    return web.Response(body=asset.body, content_type=asset.content_type, charset=charset, headers=sent)
