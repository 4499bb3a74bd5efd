"""``/api/kb/...`` in-process against SQLite (web/kb_api.py): writing with versions and publishing,
who reads what (roles, visibility, business lines), search and suggestions, bad input, the OpenAPI
document; and ``callcenter kb import`` (front matter, ``file:line`` problems, unchanged files)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.app import DATABASE, create_app
from callcenter.cli import main as cli
from callcenter.core.interaction import Channel, Interaction
from tests.integration.test_api import TOKENS, auth, make_settings

SCOPED = {"bank-admin": "bank-admin-token-0123456789", "bank-agent": "bank-agent-token-0123456789"}


def scoped(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {SCOPED[name]}"}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    security = {
        "api_tokens": [
            *(
                {"name": r, "role": r, "token": t, **({"agent_id": "1001"} if r == "agent" else {})}
                for r, t in TOKENS.items()
            ),
            {"name": "bank-admin", "role": "admin", "token": SCOPED["bank-admin"], "lines": ["bank"]},
            {
                "name": "bank-agent",
                "role": "agent",
                "token": SCOPED["bank-agent"],
                "lines": ["bank"],
                "agent_id": "1002",
            },
        ]
    }
    async with TestClient(TestServer(create_app(make_settings(tmp_path, security=security)))) as c:
        yield c


def article(key: str, title: str, body: str, **extra: Any) -> dict[str, Any]:
    return {"key": key, "language": "en", "title": title, "body": body, **extra}


async def create(
    client: TestClient[Any, Any], body: dict[str, Any], who: dict[str, str] | None = None
) -> int:
    resp = await client.post("/api/kb/articles", json=body, headers=who or auth("admin"))
    assert resp.status == 201, await resp.text()
    return int((await resp.json())["id"])


async def test_write_version_publish_read(client: TestClient[Any, Any]) -> None:
    ident = await create(
        client, article("pin", "Reset a PIN", "Visit a **branch**.\n\n<script>alert(1)</script>")
    )
    agent = auth("agent")
    assert (await client.get(f"/api/kb/articles/{ident}", headers=agent)).status == 404  # a draft
    resp = await client.post(f"/api/kb/articles/{ident}/publish", headers=auth("admin"))
    assert resp.status == 200 and (await resp.json())["published_version"] == 1
    body = await (await client.get(f"/api/kb/articles/{ident}", headers=agent)).json()
    assert body["published"]["html"].startswith("<p>Visit a <strong>branch</strong>.</p>")
    assert "<script>" not in body["published"]["html"] and "latest" not in body
    assert body["published"]["answer"] == "Visit a branch."

    resp = await client.put(
        f"/api/kb/articles/{ident}",
        json=article("pin", "Reset a PIN", "Use the app.", answer="Open the app, Cards, Reset PIN."),
        headers=auth("admin"),
    )
    assert resp.status == 200 and (await resp.json())["version"] == 2
    body = await (await client.get(f"/api/kb/articles/{ident}", headers=agent)).json()
    assert body["published"]["version"] == 1  # readers keep the published version
    admin = await (await client.get(f"/api/kb/articles/{ident}", headers=auth("admin"))).json()
    assert admin["latest"]["answer"] == "Open the app, Cards, Reset PIN."
    versions = await (await client.get(f"/api/kb/articles/{ident}/versions", headers=auth("admin"))).json()
    assert [v["version"] for v in versions["versions"]] == [2, 1]
    resp = await client.post(f"/api/kb/articles/{ident}/publish", json={"version": 7}, headers=auth("admin"))
    assert resp.status == 409
    assert (
        await client.post("/api/kb/articles", json=article("pin", "Again", "x"), headers=auth("admin"))
    ).status == 409


async def test_bad_input_is_refused_with_the_field(client: TestClient[Any, Any]) -> None:
    bad = [
        article("Bad Key", "t", "b"),
        article("k", "", "b"),
        article("k", "t", "b", visibility="everyone"),
        article("k", "t", "b", queues=["no spaces allowed"]),
        {**article("k", "t", "b"), "extra": 1},
    ]
    for body in bad:
        resp = await client.post("/api/kb/articles", json=body, headers=auth("admin"))
        assert resp.status == 400, body
        assert "invalid body" in (await resp.json())["error"]
    assert (await client.get("/api/kb/articles/abc", headers=auth("agent"))).status == 404
    assert (await client.get("/api/kb/search?q=", headers=auth("agent"))).status == 400
    resp = await client.post("/api/kb/suggest", json={"messages": []}, headers=auth("agent"))
    assert resp.status == 400


async def test_lines_and_visibility(client: TestClient[Any, Any]) -> None:
    general = await create(client, article("hours", "Opening hours", "Nine to five.", publish=True))
    bank = await create(
        client, article("bank-hours", "Branch opening hours", "Ten to four.", line="bank", publish=True)
    )
    secret = await create(
        client,
        article("esc", "Escalation hours", "Call the duty manager.", visibility="restricted", publish=True),
    )
    resp = await client.post(
        "/api/kb/articles",
        json=article("retail", "Retail hours", "x", line="retail"),
        headers=scoped("bank-admin"),
    )
    assert resp.status == 403  # a line-scoped admin writes only its lines
    resp = await client.put(
        f"/api/kb/articles/{general}",
        json=article("hours", "Opening hours", "y"),
        headers=scoped("bank-admin"),
    )
    assert resp.status == 403  # general articles: unscoped admins only
    assert await create(client, article("bank-2", "Bank thing", "x", line="bank"), scoped("bank-admin"))

    async def keys(headers: dict[str, str]) -> set[str]:
        found = await (await client.get("/api/kb/search", params={"q": "hours"}, headers=headers)).json()
        return {r["key"] for r in found["results"]}

    assert await keys(auth("supervisor")) == {"hours", "bank-hours", "esc"}
    assert await keys(auth("agent")) == {"hours", "bank-hours"}
    assert await keys(auth("qa")) == {"hours", "bank-hours"}
    assert await keys(scoped("bank-agent")) == {"hours", "bank-hours"}
    assert (await client.get(f"/api/kb/articles/{secret}", headers=auth("agent"))).status == 404
    assert (await client.get(f"/api/kb/articles/{bank}", headers=scoped("bank-agent"))).status == 200
    listed = await (
        await client.get("/api/kb/articles", params={"status": "draft"}, headers=auth("agent"))
    ).json()
    assert all(a["status"] == "published" for a in listed["articles"])  # readers: published only


async def test_suggestions_boost_the_contacts_queue(client: TestClient[Any, Any]) -> None:
    await create(client, article("card-lost", "Lost card", "Block a lost card in the app.", publish=True))
    linked = await create(
        client,
        article(
            "card-stolen", "Stolen card", "Block a stolen card and call us.", queues=["cards"], publish=True
        ),
    )
    await create(client, article("refund", "Refunds", "Refunds take 5 days.", publish=True))
    contact = Interaction(
        id="chat-1", channel=Channel.WEBCHAT, caller_number="", started_at=1.0, queue="cards", agent_id="1001"
    )
    await client.app[DATABASE].save_interaction(contact)
    messages = {"messages": ["hello", "I need to block my card"]}
    plain = await (await client.post("/api/kb/suggest", json=messages, headers=auth("agent"))).json()
    assert len(plain["suggestions"]) == 2 and plain["queue"] is None
    boosted = await (
        await client.post(
            "/api/kb/suggest", json={**messages, "interaction_id": "chat-1"}, headers=auth("agent")
        )
    ).json()
    assert boosted["queue"] == "cards" and boosted["suggestions"][0]["id"] == linked
    assert boosted["suggestions"][0]["answer"] == "Block a stolen card and call us."
    other = await (
        await client.post(
            "/api/kb/suggest", json={**messages, "interaction_id": "chat-1"}, headers=scoped("bank-agent")
        )
    ).json()
    assert other["queue"] is None  # not this agent's contact: its queue is not told
    chinese = await create(
        client,
        {**article("card-lost", "挂失银行卡", "在应用里冻结银行卡。", publish=True), "language": "zh-CN"},
    )
    zh = await (
        await client.post(
            "/api/kb/suggest", json={"messages": ["我的银行卡丢了，怎么挂失？"]}, headers=auth("agent")
        )
    ).json()
    assert zh["suggestions"][0]["id"] == chinese


async def test_openapi_documents_the_routes(client: TestClient[Any, Any]) -> None:
    spec = await (await client.get("/api/openapi.json")).json()
    assert "/api/kb/suggest" in spec["paths"] and "/api/kb/articles/{article_id}/publish" in spec["paths"]
    assert spec["paths"]["/api/kb/articles"]["post"]["x-roles"] == ["admin"]


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_import_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = tmp_path / "kb"
    docs.mkdir()
    write(
        docs,
        "refund.md",
        "---\nqueues: [billing]\nanswer: Refunds take 5 days.\n---\n# Refunds\n\nWe refund in 5 days.\n",
    )
    write(docs, "refund.zh-CN.md", "---\nkey: refund\n---\n# 退款\n\n五天内退款。\n")
    bad = write(docs, "bad.md", "---\nkey: ok\nvisibility: everyone\n---\n# Bad\n")
    write(docs, "broken.md", "---\ntitle: [unclosed\n---\nbody\n")
    config = tmp_path / "cc.yaml"
    config.write_text(f"database:\n  url: sqlite+aiosqlite:///{tmp_path}/kb.db\n")
    assert cli(["--config", str(config), "kb", "import", str(docs)]) == 1
    out = capsys.readouterr()
    assert f"{bad}:3: visibility: one of public, internal, restricted" in out.err
    assert f"{docs / 'broken.md'}:2: invalid front matter" in out.err
    assert "2 saved, 0 unchanged, 2 refused" in out.out
    bad.unlink()
    (docs / "broken.md").unlink()
    assert cli(["--config", str(config), "kb", "import", str(docs)]) == 0
    assert "0 saved, 2 unchanged, 0 refused" in capsys.readouterr().out
    write(docs, "refund.md", "---\nqueues: [billing]\n---\n# Refunds\n\nWe refund in 3 days.\n")
    assert cli(["--config", str(config), "kb", "import", str(docs)]) == 0
    assert "1 saved, 1 unchanged" in capsys.readouterr().out
    assert cli(["--config", str(config), "kb", "import", str(tmp_path / "missing")]) == 2
