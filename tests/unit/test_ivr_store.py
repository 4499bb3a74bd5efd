"""The server's flows: a bad edit keeps the running flows and says why; a good one replaces them."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from pathlib import Path

import pytest

from callcenter.ivr.store import FlowStore
from callcenter.settings import IvrSettings
from tests.tools import require

FLOWS = Path(__file__).parents[2] / "ivr_flows"


def store(tmp_path: Path, **kw: object) -> tuple[FlowStore, Path]:
    flows = tmp_path / "flows"
    shutil.copytree(FLOWS, flows)
    settings = IvrSettings.model_validate(
        {"prompts_dir": str(tmp_path / "prompts"), "render_prompts": False, "check_audio": False, **kw}
    )
    return FlowStore(settings, flows), flows


def touch(path: Path, text: str) -> None:
    path.write_text(text)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a visible change


def test_loads_then_ignores_unchanged_files(tmp_path: Path) -> None:
    s, _ = store(tmp_path)
    assert s.reload() is True and s.flows is not None and "main" in s.flows.flows
    assert s.reload() is False


def test_bad_edit_keeps_the_previous_flows_and_reports_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    s, flows = store(tmp_path)
    s.reload()
    good = s.flows
    main = flows / "main.yaml"
    touch(main, main.read_text().replace("no_input: operator", "no_input: operatr"))
    with caplog.at_level(logging.ERROR):
        assert s.reload() is False
    assert s.flows is good
    assert [str(p).split("/")[-1] for p in s.problems] == [
        "main.yaml:66:15: missing target: node 'main_menu' goes to 'operatr', which is not a node of flow "
        "'main'"
    ]
    record = next(r for r in caplog.records if r.msg == "ivr.flows_invalid")
    assert record.kept == "previous flows"  # type: ignore[attr-defined]

    touch(main, main.read_text().replace("no_input: operatr", "no_input: operator"))
    assert s.reload() is True and s.flows is not good and s.problems == []


def test_entry_flow_must_exist(tmp_path: Path) -> None:
    s, _ = store(tmp_path, entry_flow="nope")
    assert s.reload() is False and s.flows is None
    assert "no flow named 'nope'" in str(s.problems[0])


def test_missing_audio_refuses_the_flows(tmp_path: Path) -> None:
    s, _ = store(tmp_path, check_audio=True)
    assert s.reload() is False
    assert all("missing audio" in str(p) for p in s.problems) and s.problems


async def test_watch_picks_up_an_edit(tmp_path: Path) -> None:
    s, flows = store(tmp_path, reload_interval=0.05)
    s.reload()
    first = s.flows
    task = asyncio.create_task(s.watch())
    try:
        touch(
            flows / "after_hours.yaml",
            (flows / "after_hours.yaml").read_text().replace("100@default", "200@x"),
        )
        for _ in range(100):
            await asyncio.sleep(0.05)
            if s.flows is not first:
                break
        assert s.flows is not first
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_calls_get_the_flows_valid_at_arrival_else_the_fixed_menu(tmp_path: Path) -> None:
    from callcenter.app import flow_factory
    from callcenter.core import events as ev
    from callcenter.core.ivr import flow as ivr
    from callcenter.core.ivr.runner import FlowRunner
    from callcenter.settings import Settings

    arrived = ev.CallArrived("i", "+34600", "Ana", "5000", "PJSIP/x", 1_795_000_000.0)
    assert isinstance(flow_factory(Settings(), None)(arrived), ivr.MenuFlow)
    s, _ = store(tmp_path)
    make = flow_factory(Settings(), s)
    assert isinstance(make(arrived), ivr.MenuFlow)  # nothing valid loaded yet
    s.reload()
    runner = make(arrived)
    assert isinstance(runner, FlowRunner) and runner.variables["caller"] == "+34600"
    assert runner.position == ("main", "choose_language")


async def test_reload_off_the_loop_renders_speech_then_loads(tmp_path: Path) -> None:
    require("espeak-ng", "espeak-ng")
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "main.yaml").write_text(
        "start: bye\nnodes:\n  bye: {type: hangup, prompt: {say: 'Thank you for calling.'}}\n"
    )
    settings = IvrSettings.model_validate({"prompts_dir": str(tmp_path / "prompts")})
    s = FlowStore(settings, flows)
    assert await asyncio.to_thread(s.reload) is True and s.problems == []
    assert len(list((tmp_path / "prompts" / "cc-tts").glob("*.wav"))) == 1
