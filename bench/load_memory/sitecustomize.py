"""Memory probes for the server process of bench/load.py (``--memory``): not part of the server.

bench/load.py puts this directory on the server's PYTHONPATH with ``CC_BENCH_MEMORY`` naming a
file. The first SIGUSR1 starts ``tracemalloc`` (one frame per allocation); every later one takes a
full collection and appends a JSON line to that file: the process's RSS, the Python objects traced
(``tracemalloc``) and glibc malloc's own figures (``mallinfo2``: arena bytes in use and free, mmapped
blocks). SIGUSR2 does the same and also takes a snapshot of the traced objects (slower: a
second or more of the event loop): the first is the baseline, later ones list the allocation
sites that grew most since it, then does what the server's hourly sweep does (unfreeze, collect,
freeze: ``callcenter/gc_policy.py``) and measures again: the garbage the collector policy had frozen.
The handler runs on the main thread between bytecodes (Python's signal handling), like any
callback of the server's event loop.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import re
import signal
import sys
import time
import tracemalloc
from pathlib import Path
from types import FrameType


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _mallinfo() -> dict[str, int]:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _Mallinfo2
        info = libc.mallinfo2()
    except (OSError, AttributeError):
        return {}
    return {
        "arena": info.arena,  # bytes of the main heap and arenas (brk / mmapped arenas)
        "in_use": info.uordblks,  # ... allocated in them
        "free": info.fordblks,  # ... free in them (kept by the allocator, may still be resident)
        "mmapped": info.hblkhd,  # large blocks mapped on their own
    }


def _status_kib(field: str, status: str) -> int:
    found = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) if found else 0


_out = os.environ.get("CC_BENCH_MEMORY")
_first: tracemalloc.Snapshot | None = None


def _sample(signum: int, frame: FrameType | None) -> None:
    global _first
    assert _out is not None
    if not tracemalloc.is_tracing():
        tracemalloc.start(1)
        return
    started = time.perf_counter()
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    status = Path("/proc/self/status").read_text()
    line: dict[str, object] = {
        "time": time.time(),
        "rss_kib": _status_kib("VmRSS", status),
        "rss_anon_kib": _status_kib("RssAnon", status),  # the heap(s), pymalloc's arenas, stacks
        "rss_file_kib": _status_kib("RssFile", status),  # mapped files: the interpreter, libraries
        "traced": current,
        "traced_peak": peak,
        "tracemalloc_overhead": tracemalloc.get_tracemalloc_memory(),
        "blocks": sys.getallocatedblocks(),
        "malloc": _mallinfo(),
    }
    if signum != signal.SIGUSR2:
        pass
    elif _first is None:
        _first = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    else:
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)]
        )
        line["grew"] = [
            {"where": str(s.traceback), "size_diff": s.size_diff, "count_diff": s.count_diff}
            for s in snapshot.compare_to(_first, "lineno")[:15]
        ]
        del snapshot
        # What the server's hourly sweep (gc_policy.GcPolicy.sweep) would free now: the garbage in
        # reference cycles that the policy froze while it was still alive.
        gc.unfreeze()
        line["swept_objects"] = gc.collect()
        gc.freeze()
        after = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
        line["traced_after_sweep"] = tracemalloc.get_traced_memory()[0]
        line["rss_after_sweep_kib"] = _status_kib("VmRSS", Path("/proc/self/status").read_text())
        line["malloc_after_sweep"] = _mallinfo()
        line["grew_after_sweep"] = [
            {"where": str(s.traceback), "size_diff": s.size_diff, "count_diff": s.count_diff}
            for s in after.compare_to(_first, "lineno")[:15]
        ]
    line["seconds"] = time.perf_counter() - started
    with open(_out, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")


if _out:
    signal.signal(signal.SIGUSR1, _sample)
    signal.signal(signal.SIGUSR2, _sample)
