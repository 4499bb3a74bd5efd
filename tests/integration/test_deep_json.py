"""Deeply nested JSON is a 400, not a 500 or a traceback (issue 13, "Authorization" 8).

8,000 nested arrays gave a RecursionError: a 500 on signed webhooks, on every JSON body, on the
admin queue and IVR validate routes, and a traceback on the unauthenticated ``/customer`` socket.
Now everything from outside goes through ``bounded_json`` (64 levels at most).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import socketio
from aiohttp import ClientSession

from callcenter import bounded_json
from callcenter.messaging.channels import whatsapp
from tests.integration.test_api import TOKENS, make_settings
from tests.integration.test_messaging import WA_SECRET
from tests.integration.test_realtime import start_node

DEEP = b"[" * 8000 + b"]" * 8000
DEEP_OBJECT = b'{"a":' * 200 + b"1" + b"}" * 200


def test_bounded_loads() -> None:
    assert bounded_json.loads(b'{"a": [1, {"b": 2}]}') == {"a": [1, {"b": 2}]}
    assert bounded_json.loads(b"[" * 64 + b"]" * 64) is not None
    for raw in (DEEP, DEEP_OBJECT, b"[" * 65 + b"]" * 65):
        with pytest.raises(ValueError, match="nested deeper"):
            bounded_json.loads(raw)


async def test_deep_json_is_refused_everywhere(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    queues = tmp_path / "queues.yaml"
    queues.write_text("queues:\n  support: {}\n")
    flows = tmp_path / "flows"
    flows.mkdir()
    settings = make_settings(
        tmp_path,
        acd={"queues_file": str(queues)},
        ivr={"flows_dir": str(flows)},
        messaging={
            "whatsapp": {
                "verify_token": "v",
                "app_secret": WA_SECRET,
                "access_token": "WA-ACCESS",
                "phone_number_id": "106540352242922",
            },
        },
    )
    node = await start_node(settings)
    try:
        admin = {"Authorization": f"Bearer {TOKENS['admin']}", "Content-Type": "application/json"}
        async with ClientSession() as http:
            for method, path in (
                ("POST", "/api/agents/1001/pause"),
                ("PUT", "/api/admin/queues"),
                ("POST", "/api/ivr/flows/main/validate"),
                ("POST", "/api/supervisor/reassign"),
            ):
                async with http.request(method, node.url + path, data=DEEP, headers=admin) as resp:
                    assert resp.status == 400, (path, resp.status, await resp.text())
            signed = {"X-Hub-Signature-256": whatsapp.signature(DEEP, WA_SECRET)}
            async with http.post(node.url + "/webhooks/whatsapp", data=DEEP, headers=signed) as resp:
                assert resp.status == 400, await resp.text()

        # The unauthenticated widget socket: a deep payload closes that socket, nothing else.
        bad = socketio.AsyncClient(reconnection=False)
        await bad.connect(node.url, namespaces=["/customer"], transports=["websocket"], wait_timeout=5)
        deep = "[" * 8000 + "]" * 8000
        await bad.eio.send(f'42/customer,["start",{deep}]')
        async with asyncio.timeout(5):
            while bad.connected:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        good = socketio.AsyncClient(reconnection=False)
        await good.connect(node.url, namespaces=["/customer"], transports=["websocket"], wait_timeout=5)
        assert "online" in await good.call("status", namespace="/customer", timeout=5)
        await good.disconnect()
    finally:
        await node.server.close()
    foreign = ("aiohttp", "socketio", "engineio")  # their handlers log a 500 or a bad packet's traceback
    tracebacks = [r.getMessage() for r in caplog.records if r.exc_info or r.name.startswith(foreign)]
    assert not tracebacks, tracebacks
    assert any(r.getMessage() == "realtime.bad_packet" for r in caplog.records)
