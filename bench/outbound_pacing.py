"""Progressive vs predictive pacing over a simulated calling day, on the same customers.

    .venv/bin/python bench/outbound_pacing.py [--agents 50] [--hours 10] [--contact-rate 0.3]
        [--talk 150] [--wrap 15] [--window 3600] [--seed 1]

The pure dialler (core/outbound) runs against simulated customers and agents, one second at a
time on a simulated clock (callcenter/outbound/simulation.py): customers answer with the contact
rate after 3-15 s of ringing (else busy or no answer), talk times are log-normal around ``--talk``
seconds, then ``--wrap`` seconds of wrap-up. An answered call with no agent free is abandoned.
Prints, per hour, the agents' talk time (minutes per agent) and the abandonment rate of each
window (``--window`` seconds; 3600 makes every hour a window of its own, stricter than the 24 h
of Ofcom or the 30 days of the TSR). Exit status 1 when predictive does not raise the talk time,
or when any window's abandonment rate is over 3 %. Figures go to docs/performance.md
("Outbound pacing").
"""

from __future__ import annotations

import argparse
import sys
import time as clock
from datetime import time

from callcenter.core.outbound.campaign import CallingWindow, Campaign, Mode
from callcenter.outbound.simulation import Result, simulate

CAP = 0.03


def _run(mode: Mode, args: argparse.Namespace) -> tuple[Result, float]:
    campaign = Campaign(
        "bench",
        mode,
        "sales",
        (CallingWindow(time(0), time(23, 59, 59)),),
        abandon_cap=CAP,
        abandon_window=float(args.window),
        handle_seconds=args.talk,
    )
    started = clock.perf_counter()
    result = simulate(
        campaign,
        agents=args.agents,
        seconds=int(args.hours * 3600),
        contact_rate=args.contact_rate,
        talk_seconds=args.talk,
        wrap_seconds=args.wrap,
        records=200_000,
        seed=args.seed,
    )
    return result, clock.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--hours", type=float, default=10.0)
    parser.add_argument("--contact-rate", type=float, default=0.3)
    parser.add_argument("--talk", type=float, default=150.0, help="mean talk seconds")
    parser.add_argument("--wrap", type=float, default=15.0)
    parser.add_argument("--window", type=float, default=3600.0, help="abandonment window, seconds")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    runs = {mode: _run(mode, args) for mode in (Mode.PROGRESSIVE, Mode.PREDICTIVE)}
    prog, pred = runs[Mode.PROGRESSIVE][0], runs[Mode.PREDICTIVE][0]
    print(
        f"{args.agents} agents, {args.hours:g} h, contact rate {args.contact_rate:.0%}, talk {args.talk:g} s "
        f"(log-normal), wrap-up {args.wrap:g} s, window {args.window:g} s, cap {CAP:.0%}"
    )
    print("hour | talk min/agent: progressive  predictive | abandoned (window): progressive  predictive")
    for hour in range(prog.hours):
        a, b = prog.talk_per_hour[hour] / 60 / args.agents, pred.talk_per_hour[hour] / 60 / args.agents
        windows = [
            w for w in range(int(hour * 3600 // args.window), int((hour + 1) * 3600 // args.window) or 1)
        ]
        rate_a = max((prog.rate(w) for w in windows), default=0.0)
        rate_b = max((pred.rate(w) for w in windows), default=0.0)
        print(f"{hour:4} | {a:26.1f}  {b:10.1f} | {100 * rate_a:30.2f}%  {100 * rate_b:9.2f}%")
    total = {m: sum(r.talk_per_hour) / 3600 / args.agents for m, (r, _) in runs.items()}
    print(
        f"talk hours per agent: progressive {total[Mode.PROGRESSIVE]:.2f}, "
        f"predictive {total[Mode.PREDICTIVE]:.2f} "
        f"({100 * (total[Mode.PREDICTIVE] / total[Mode.PROGRESSIVE] - 1):+.1f} %)"
    )
    for mode, (r, seconds) in runs.items():
        periods = sorted(r.answered_per_period)
        worst = max((r.rate(p) for p in periods), default=0.0)
        print(
            f"{mode.value:11}: dialled {r.dialled}, connected {r.connected}, "
            f"abandoned {r.abandoned_per_period.total()} of {r.answered_per_period.total()} answered "
            f"({100 * r.abandoned_per_period.total() / max(1, r.answered_per_period.total()):.2f} %), "
            f"worst window {100 * worst:.2f} %, worst running rate {100 * r.worst_rate:.2f} %, "
            f"pacing reasons {dict(r.reasons)}, simulated in {seconds:.1f} s"
        )
    ok = total[Mode.PREDICTIVE] > total[Mode.PROGRESSIVE] and all(
        r.rate(p) <= CAP for r, _ in runs.values() for p in r.answered_per_period
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
