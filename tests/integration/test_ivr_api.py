"""The IVR flow editor's API, in-process, on a copy of the example flows."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.app import FLOWS, create_app
from tests.integration.test_api import auth, make_settings

EXAMPLES = Path(__file__).parents[2] / "ivr_flows"


def example_flows(tmp_path: Path) -> dict[str, Any]:
    """The ``ivr`` settings of a server on a copy of the example flows (``tmp_path/flows``),
    rendering no prompts."""
    flows = tmp_path / "flows"
    shutil.copytree(EXAMPLES, flows)
    return {
        "flows_dir": str(flows),
        "prompts_dir": str(tmp_path / "prompts"),
        "render_prompts": False,
        "check_audio": False,
    }


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    settings = make_settings(tmp_path, ivr=example_flows(tmp_path))
    async with TestClient(TestServer(create_app(settings))) as c:
        yield c


async def test_list_and_read_with_graph(client: TestClient[Any, Any]) -> None:
    listing = await (await client.get("/api/ivr/flows", headers=auth("supervisor"))).json()
    names = {f["name"]: f for f in listing["flows"]}
    assert set(names) == {"main", "billing", "after_hours", "reminder", "chat_support"}
    assert listing["entry"] == "main"
    assert all(f["running"] and f["tests"] for f in names.values()) and listing["problems"] == []
    flow = await (await client.get("/api/ivr/flows/billing", headers=auth("admin"))).json()
    assert flow["yaml"].startswith("# Billing") and flow["running"]
    assert {"from": "account", "to": "lookup", "label": "next"} in flow["graph"]["edges"]
    assert flow["graph"]["svg"].startswith("<svg") and 'data-node="lookup"' in flow["graph"]["svg"]
    assert flow["graph"]["start"] == "account"
    assert (await client.get("/api/ivr/flows/nope", headers=auth("admin"))).status == 404


async def test_invalid_draft_is_refused_with_positions_and_nothing_changes(
    client: TestClient[Any, Any],
) -> None:
    path = Path(client.app[FLOWS]._directory) / "billing.yaml"  # type: ignore[index]
    before = path.read_text()
    broken = before.replace("type: branch", "type: brunch").replace("next: is_vip", "next: nowhere")
    resp = await client.post("/api/ivr/flows/billing/validate", headers=auth("admin"), json={"yaml": broken})
    body = await resp.json()
    assert resp.status == 200 and body["valid"] is False
    assert any("brunch" in p["message"] and p["line"] > 1 and p["column"] >= 1 for p in body["problems"])
    saved = await client.put("/api/ivr/flows/billing", headers=auth("admin"), json={"yaml": broken})
    assert saved.status == 422 and (await saved.json())["saved"] is False
    assert path.read_text() == before
    broken_yaml = await client.put("/api/ivr/flows/billing", headers=auth("admin"), json={"yaml": "a: [1,\n"})
    problems = (await broken_yaml.json())["problems"]
    assert broken_yaml.status == 422 and problems[0]["line"] >= 1
    renamed = await client.put(
        "/api/ivr/flows/billing",
        headers=auth("admin"),
        json={"yaml": before.replace("flow: billing", "flow: invoices")},
    )
    assert renamed.status == 422 and path.read_text() == before


async def test_valid_edit_is_saved_and_running_at_once(client: TestClient[Any, Any]) -> None:
    store = client.app[FLOWS]  # type: ignore[index]
    path = Path(store._directory) / "billing.yaml"
    edited = path.read_text().replace("priority: 10", "priority: 20")
    resp = await client.put("/api/ivr/flows/billing", headers=auth("admin"), json={"yaml": edited})
    body = await resp.json()
    assert resp.status == 200 and body == {"saved": True, "running": True, "problems": []}
    assert path.read_text() == edited
    assert store.flows.flows["billing"].nodes["vip_billing"].priority == 20


async def test_flow_tests_run_on_saved_flows_and_on_drafts(client: TestClient[Any, Any]) -> None:
    resp = await client.post("/api/ivr/flows/billing/test", headers=auth("supervisor"), json={})
    body = await resp.json()
    assert resp.status == 200 and body["passed"] is True and len(body["cases"]) >= 1
    path = Path(client.app[FLOWS]._directory) / "billing.yaml"  # type: ignore[index]
    draft = path.read_text().replace("priority: 10", "priority: 3")
    resp = await client.post("/api/ivr/flows/billing/test", headers=auth("admin"), json={"yaml": draft})
    body = await resp.json()
    assert resp.status == 200, body
    failing = [c for c in body["cases"] if not c["passed"]]
    assert body["passed"] is False and failing and "priority" in " ".join(failing[0]["failures"])


async def test_roles_and_hostile_names(client: TestClient[Any, Any]) -> None:
    text = (EXAMPLES / "billing.yaml").read_text()
    for role in ("agent", "qa", "supervisor"):
        resp = await client.put("/api/ivr/flows/billing", headers=auth(role), json={"yaml": text})
        assert resp.status == 403
    for name in ("..%2F..%2Fetc%2Fpasswd", "a%00b", ".hidden"):
        resp = await client.put(f"/api/ivr/flows/{name}", headers=auth("admin"), json={"yaml": text})
        assert resp.status in (400, 404), name
    assert (await client.put("/api/ivr/flows/billing", headers=auth("admin"), json={"yaml": 3})).status == 400
    big = {"yaml": "#" * 300_000}
    assert (await client.put("/api/ivr/flows/billing", headers=auth("admin"), json=big)).status == 413
