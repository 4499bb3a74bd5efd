"""A flow's HTTP lookup carried out (``http`` nodes, on calls and on chat): every failure becomes a
result the flow routes on (its failure path), never an exception; at most 256 KiB, no redirects."""

from __future__ import annotations

import json
import logging

import aiohttp

from callcenter.core.ivr import flow as ivr

log = logging.getLogger(__name__)

MAX_LOOKUP_BYTES = 256 * 1024


async def http_lookup(
    http: aiohttp.ClientSession | None, who: str, lookup: ivr.HttpLookup, *, area: str = "voice"
) -> ivr.HttpResult:
    """``who``: the interaction or conversation, for the log (``<area>.ivr_lookup_failed``)."""
    if http is None:
        return ivr.HttpResult(None, None, "the HTTP client is not running")
    try:
        async with http.request(
            lookup.method,
            lookup.url,
            headers=dict(lookup.headers),
            json=dict(lookup.body) if lookup.body is not None else None,
            timeout=aiohttp.ClientTimeout(total=lookup.timeout),
            allow_redirects=False,
        ) as response:
            raw = await response.content.read(MAX_LOOKUP_BYTES + 1)
            if len(raw) > MAX_LOOKUP_BYTES:
                return ivr.HttpResult(None, None, "answer too large")
            status = response.status
    except TimeoutError:
        error = "timeout"
    except (aiohttp.ClientError, ValueError) as err:
        error = f"{type(err).__name__}: {err}"[:200]
    else:
        try:
            body = json.loads(raw) if raw.strip() else None
        except (ValueError, UnicodeDecodeError):
            if 200 <= status < 300:
                return ivr.HttpResult(None, None, "the answer is not JSON")
            body = None
        return ivr.HttpResult(status, body)
    log.warning(f"{area}.ivr_lookup_failed", extra={"interaction": who, "url": lookup.url, "error": error})
    return ivr.HttpResult(None, None, error)
