"""Soak the fake server with mixed requests, faults and client aborts; check that nothing leaks.

    python bench/soak.py --target inprocess --requests 50000
    python bench/soak.py --target serve --requests 10000 --fuzz 300

Every namespace gets one scenario whose rules answer by model: clean streams, 429s with
retry-after, 500s, and every fault (cuts, resets, stalls with keep-alives, in-band errors,
torn and 1-byte writes, garbage, hangs). Requests go to every API (chat, Responses,
Anthropic messages, completions, embeddings), from raw aiohttp readers, the openai SDK, and
clients that give up: before the headers, after the first chunk, in the middle of an event,
or by cancelling their task. Some namespaces are dropped while they stream. Then it checks:

- the journal holds one entry per request sent, every entry ended;
- no 500 says "internal error", in the journal or to a client;
- no traceback in the server's log;
- the server's open fds, connections (and tasks, in-process) are back to where they started;
- the server's RSS grew by less than --max-rss-growth MiB (and, for serve, is under --max-rss).

Exit status 1 if any of these fails. `--fuzz N` adds N rounds of malformed HTTP, bad control
payloads and random JSON bodies (bench/fuzz.py), with the same checks after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fuzz
from soak_load import CLIENTS, SCENARIO, Soak, schedule
from soak_targets import SRC, Alone, InProcess, Serve, Target, fds, rss_mib

__all__ = ["CLIENTS", "DROP_ANSWER_OPEN", "main", "parser", "report", "soak"]

DROP_ANSWER_OPEN = "entries in DELETE /_sparring/namespace's answer not ended, though the drop ended them"


def read_journals(target: Target, namespaces: list[str]) -> dict[str, tuple[list[dict[str, Any]], int]]:
    """Every namespace's journal: its entries (outcome, status, detail) and how many entries it
    dropped past its cap. The one place that reads the journal: in-process from the store, on
    serve from `GET /_sparring/journal`, following pages (`more`, `next_index`) when the
    server pages it and counting `dropped` when the server caps it."""
    if isinstance(target, InProcess):
        return {ns: target.journal(ns) for ns in namespaces}
    import urllib.request

    out = {}
    for ns in namespaces:
        entries: list[dict[str, Any]] = []
        url = f"{target.url}/ns/{ns}/_sparring/journal"
        while True:
            with urllib.request.urlopen(url, timeout=600) as response:
                page = json.load(response)
            entries += [{k: e.get(k) for k in ("outcome", "status", "detail")} for e in page["entries"]]
            if not page.get("more"):
                break
            url = f"{target.url}/ns/{ns}/_sparring/journal?since_index={page['next_index']}"
        out[ns] = (entries, int(page.get("dropped") or 0))
    return out


def trims(target: Target) -> str:
    """The server's trims of the C heap (sparring.fake_server.memory), when it can be asked."""
    if not isinstance(target, InProcess):
        return "not known (another process)"
    from sparring.fake_server import memory

    freed = getattr(memory, "FREED", None)
    if freed is None:
        return "none (sources without a trimmer)"
    return f"{freed.trims} in {freed.trim_seconds * 1000:.0f} ms"


def settle(target: Target, baseline: dict[str, int], base_fds: int, limit: float = 15.0) -> tuple[dict[str, int], int]:
    """Wait until the server holds no more than at the start (its last streams end, the
    kernel delivers the last FINs), or `limit` seconds pass; what it holds then."""
    deadline = time.monotonic() + limit
    while True:
        now, now_fds = target.activity(), fds(target.pid)
        done = all(now[k] <= baseline[k] for k in baseline) and now_fds <= base_fds
        if done or time.monotonic() > deadline:
            return now, now_fds
        time.sleep(0.05)


def soak(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    """Run the soak (and the fuzz) on `target`; return the figures and the failed checks."""
    rng = random.Random(args.seed)
    keep = [f"soak-{i}" for i in range(args.namespaces)]
    dropped = [f"soak-drop-{i}" for i in range(args.drops)]
    setup = {"Content-Type": "application/json"}
    import urllib.request

    for ns in [*keep, *dropped]:
        request = urllib.request.Request(
            f"{target.url}/ns/{ns}/_sparring/scenario", json.dumps(SCENARIO).encode(), setup, method="PUT"
        )
        urllib.request.urlopen(request, timeout=30).close()
    import openai  # noqa: F401  (imported before the baseline: the SDK's memory is not the server's)

    # Warm up (imports, first connections, the loop's caches), then take the baseline.
    warm = Soak(target, args)
    asyncio.run(warm.run(schedule(random.Random(-1), 50, keep), {}))
    base_activity, base_fds = settle(target, dict.fromkeys(target.activity(), 0), 10**9, limit=5)
    base_rss = rss_mib(target.pid)
    log_before = len(target.tracebacks())

    plans = schedule(rng, args.requests, keep + dropped)
    drop_at = {int(len(plans) * (i + 1) / (len(dropped) + 1)): ns for i, ns in enumerate(dropped)}
    run = Soak(target, args)
    started = time.perf_counter()
    asyncio.run(run.run(plans, drop_at))
    wall = time.perf_counter() - started
    after_activity, after_fds = settle(target, base_activity, base_fds)
    time.sleep(args.quiet)  # the server gives freed memory back once it is quiet: see memory.py
    soak_rss = rss_mib(target.pid)
    fuzz_report: dict[str, Any] = {}
    if args.fuzz:
        fuzz_report = asyncio.run(fuzz.fuzz(target.url, random.Random(args.seed), args.fuzz, large=not args.fuzz_small))
        after_activity, after_fds = settle(target, base_activity, base_fds)
        time.sleep(args.quiet)
    fuzz_rss = rss_mib(target.pid)
    read_started = time.perf_counter()
    journals = read_journals(target, ["default", *keep, *dropped])
    read_seconds = time.perf_counter() - read_started
    time.sleep(args.quiet)
    after_rss = rss_mib(target.pid)
    warm_count = sum(warm.tally.sent.values())
    entries = [e for ns in keep for e in journals[ns][0]]
    capped = sum(journals[ns][1] for ns in keep)  # entries a capped journal let go: still journaled
    late = journals["default"][0]  # requests to a namespace after its drop: journaled in default
    capped_late = journals["default"][1]
    again = [e for ns in dropped for e in journals[ns][0]]  # after each drop, scripted again
    capped_again = sum(journals[ns][1] for ns in dropped)
    every = [*entries, *late, *again, *run.tally.dropped_journal]
    outcomes = Counter(f"{e['outcome']} {e['status']}" for e in every)
    internal = [e for e in every if e["status"] == 500 and "internal error" in (e["detail"] or "")]
    tracebacks = target.tracebacks()[log_before:]

    sent_keep = sum(run.tally.sent[ns] for ns in keep) + warm_count
    sent_dropped = sum(run.tally.sent[ns] for ns in dropped)
    failures = []
    if len(entries) + capped != sent_keep:
        per_ns = {ns: (run.tally.sent[ns] + warm.tally.sent[ns], len(journals[ns][0]), journals[ns][1]) for ns in keep}
        failures.append(
            f"journal: {len(entries)} entries (+{capped} dropped by the cap) for {sent_keep} requests sent;"
            f" (sent, kept, dropped) per namespace {per_ns}"
        )
    dropped_count = run.tally.dropped_entries + len(late) + capped_late + len(again) + capped_again
    if dropped_count != sent_dropped:
        failures.append(
            f"dropped namespaces: {sent_dropped} requests sent, {run.tally.dropped_entries} in the drops'"
            f" answers + {len(late) + capped_late} late ones in default + {len(again) + capped_again} after"
            " they were scripted again; sent per namespace"
            f" {[run.tally.sent[ns] for ns in dropped]}, answered {run.tally.dropped_by_namespace}"
        )
    if any(e["outcome"] is None for e in [*entries, *late, *again]):
        failures.append(f"{sum(e['outcome'] is None for e in [*entries, *late, *again])} journal entries never ended")
    if open_in_drops := sum(e["outcome"] is None for e in run.tally.dropped_journal):
        # The drop's answer is copied before the drop ends the requests under way.
        failures.append(f"{DROP_ANSWER_OPEN}: {open_in_drops} of {run.tally.dropped_entries}")
    if internal or run.tally.internal_500s:
        failures.append(
            f"{len(internal)} internal-error 500s journaled, {len(run.tally.internal_500s)} seen by clients"
        )
    if run.tally.misshaped:
        failures.append(f"{len(run.tally.misshaped)} errors not in the API's shape, e.g. {run.tally.misshaped[:3]}")
    if tracebacks:
        failures.append(f"{len(tracebacks)} tracebacks in the server's log")
    if after_fds > base_fds or any(after_activity[k] > base_activity[k] for k in base_activity):
        failures.append(f"held after: fds {base_fds} -> {after_fds}, {base_activity} -> {after_activity}")
    growth = after_rss - base_rss
    if growth > args.max_rss_growth:
        failures.append(f"RSS grew {growth:.1f} MiB, over --max-rss-growth {args.max_rss_growth}")
    if isinstance(target, Serve) and after_rss > args.max_rss:
        failures.append(f"RSS {after_rss:.1f} MiB, over --max-rss {args.max_rss}")
    failures += fuzz_report.get("failures", [])
    return {
        "target": target.name,
        "requests": args.requests,
        "concurrency": args.concurrency,
        "seed": args.seed,
        "wall_s": round(wall, 2),
        "req_per_s": round(args.requests / wall, 1),
        "sent": sent_keep + sent_dropped,
        "journaled": len(entries) + capped + dropped_count,
        "drops": run.tally.drops,
        "outcomes": dict(outcomes.most_common()),
        "client_outcomes": dict(sorted(run.tally.client_outcomes.items())),
        "internal_500s": len(internal) + len(run.tally.internal_500s),
        "internal_500_examples": [str(e) for e in internal[:3]] + run.tally.internal_500s[:3],
        "tracebacks": len(tracebacks),
        "traceback_examples": tracebacks[:5],
        "fds": [base_fds, after_fds],
        "activity": [base_activity, after_activity],
        "rss_mib": [round(base_rss, 1), round(after_rss, 1)],
        "rss_stages_mib": {
            "baseline": round(base_rss, 1),
            "after the soak": round(soak_rss, 1),
            "after the fuzz": round(fuzz_rss, 1),
            "after reading the journal": round(after_rss, 1),
        },
        "rss_over_run_mib": run.tally.rss_over_run,
        "journal_read_s": round(read_seconds, 2),
        "trims": trims(target),
        "fuzz": {k: v for k, v in fuzz_report.items() if k != "failures"},
        "failures": failures,
    }


def report(figures: dict[str, Any]) -> str:
    f = figures
    lines = [
        f"soak on {f['target']}: {f['requests']:,} requests, concurrency {f['concurrency']}, seed {f['seed']}",
        f"  wall {f['wall_s']} s, {f['req_per_s']} req/s; journal read in {f['journal_read_s']} s;"
        f" C heap trims: {f['trims']}",
        f"  sent {f['sent']:,}, journaled {f['journaled']:,}"
        f" ({f['drops']} namespaces dropped while streaming, then scripted again)",
        f"  internal-error 500s {f['internal_500s']}, tracebacks in the log {f['tracebacks']}",
        f"  fds {f['fds'][0]} -> {f['fds'][1]}, held {f['activity'][0]} -> {f['activity'][1]}",
        "  RSS MiB: " + ", ".join(f"{k} {v}" for k, v in f["rss_stages_mib"].items()),
        "  RSS MiB at each tenth of the soak: " + ", ".join(str(v) for v in f.get("rss_over_run_mib", [])),
        "  journal outcomes: " + ", ".join(f"{k} x{v}" for k, v in f["outcomes"].items()),
    ]
    if f["fuzz"]:
        lines.append("  fuzz: " + ", ".join(f"{k} {v}" for k, v in f["fuzz"].items()))
    for example in f["traceback_examples"] + f["internal_500_examples"]:
        lines.append("  ---\n" + example)
    lines.append("FAILED:\n  " + "\n  ".join(f["failures"]) if f["failures"] else "all checks passed")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", choices=["inprocess", "inprocess-alone", "serve"], default="inprocess")
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--namespaces", type=int, default=4, help="namespaces kept to the end (default 4)")
    p.add_argument("--drops", type=int, default=3, help="namespaces dropped during the run (default 3)")
    p.add_argument("--fuzz", type=int, default=0, help="rounds of fuzzing after the soak (default 0: none)")
    # The bound a bounded journal meets: entries capped per namespace and kept packed, a few
    # MiB of journal whatever the run's length, plus allocator slack.
    p.add_argument("--max-rss-growth", type=float, default=40.0, help="MiB the server may grow (default 40)")
    p.add_argument("--max-rss", type=float, default=100.0, help="MiB the serve process may reach (default 100)")
    p.add_argument(
        "--quiet",
        type=float,
        default=5.0,
        help="seconds the server is left quiet before RSS is read: it trims every 2 s once quiet (default 5)",
    )
    p.add_argument("--fuzz-small", action="store_true", help="leave out the large control bodies (seconds to parse)")
    p.add_argument(
        "--serve-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="pass ARG to `sparring serve` (repeatable), e.g. --serve-arg=--journal-limit=2000",
    )
    p.add_argument(
        "--src", type=Path, default=SRC, help="the sparring sources the server runs (default: this checkout's)"
    )
    p.add_argument("--json", action="store_true", help="also print every figure as one JSON object")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    target: Target
    if args.target == "inprocess":
        sys.path.insert(0, str(args.src))  # this checkout's sources, not an installed sparring's
        target = InProcess()
    elif args.target == "inprocess-alone":
        target = Alone(src=args.src)
    else:
        target = Serve(*args.serve_arg, src=args.src)
    try:
        figures = soak(target, args)
    finally:
        target.close()
    print(report(figures))
    if args.json:
        print(json.dumps(figures, indent=2))
    return 1 if figures["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
