"""The nodes of the cluster, for admins: ``GET /api/cluster`` and the page ``/admin/cluster``
(docs/cluster.md, "Watching the nodes"; ``cluster_nodes.py`` gathers what they show)."""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web

from callcenter.web.auth import allow
from callcenter.web.http import json_response
from callcenter.web.openapi import doc
from callcenter.web.pages import add_nav, render


class ClusterView(Protocol):
    async def report(self) -> dict[str, Any]:
        """``{this_node, owner, shared, nodes: [...], streams: [...], problems: [...]}``."""
        ...


CLUSTER = web.AppKey("cluster_view", ClusterView)


@doc(
    "The server nodes (their part, state, last beacon, sockets), the routing owner the database"
    " names, and the backlog of the streams the owner reads"
)
@allow("admin")
async def cluster(request: web.Request) -> web.Response:
    return json_response(await request.app[CLUSTER].report())


@doc("The nodes page", content="text/html")
@allow("admin")
async def cluster_page(request: web.Request) -> web.Response:
    return render(request, "admin_cluster.html")


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/admin/cluster", cluster_page)
    add_nav(app, "Nodes", "/admin/cluster", "admin")
    app.router.add_get("/api/cluster", cluster)
