"""The nodes' beacons (``cluster_nodes.py``): what a beacon says, and how old it may be before a
node counts as silent."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from callcenter.cluster_nodes import SILENT_AFTER, Beacon, ThisNode, parse, view


def beacon(seen_at: float, state: str = "running", node: str = "a") -> Beacon:
    return Beacon(node, "follower", state, "host-1", 42, "1.0", 100.0, seen_at, {"agent": 2})


def test_a_running_node_turns_silent_once_its_beacon_is_too_old() -> None:
    assert view(beacon(1000.0), 1000.0 + SILENT_AFTER, None)["state"] == "running"
    late = view(beacon(1000.0), 1000.0 + SILENT_AFTER + 0.1, None)
    assert late["state"] == "silent" and late["seen_seconds_ago"] == SILENT_AFTER + 0.1
    # A node that said it stopped stays stopped, however old its word.
    assert view(beacon(1000.0, "stopped"), 5000.0, None)["state"] == "stopped"


def test_the_owner_is_the_node_the_database_names() -> None:
    assert view(beacon(10.0, node="a"), 10.0, "a")["owner_in_database"] is True
    assert view(beacon(10.0, node="b"), 10.0, "a")["owner_in_database"] is False
    assert view(beacon(10.0, node="a"), 10.0, None)["owner_in_database"] is False


def test_a_beacon_reads_back_as_written_and_garbage_is_refused() -> None:
    this = ThisNode("node-a", lambda: "owner", lambda: {"agent": 3, "customer": 7}, clock=lambda: 50.0)
    written = this.now()
    assert parse(json.dumps(asdict(written))) == written
    assert (written.node, written.role, written.state, written.sockets) == (
        "node-a",
        "owner",
        "running",
        {"agent": 3, "customer": 7},
    )
    bad_sockets = json.dumps({**asdict(written), "sockets": {"agent": "x"}})
    for garbage in ("[]", "not json", '{"node": "a"}', bad_sockets):
        with pytest.raises(ValueError):
            parse(garbage)
