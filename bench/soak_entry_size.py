"""What one journal entry costs, by kind of request, and field by field.

    python bench/soak_entry_size.py            # 200 requests of each kind
    python bench/soak_entry_size.py --count 500 --json

For each kind (a clean stream, streams with faults, a whole answer, an error answer, a
rejected body) it sends `--count` requests of that kind alone to an in-process `FakeServer`,
then measures the journal two ways:

- **held**: tracemalloc's traced bytes before and after the journal is cleared (and the
  garbage collected), over the number of entries: what the entries really hold, shared
  objects (interned strings, small ints) not counted;
- **fields**: `sys.getsizeof` of each field's objects, walked deeply, counting an object for
  a field only once per run (so a string every entry shares, like a header name, is counted
  once in all, not once an entry), over the number of entries.
"""

from __future__ import annotations

import argparse
import array
import gc
import json
import sys
import tracemalloc
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from soak_load import SCENARIO, body_for

KINDS: dict[str, tuple[str, str, bool]] = {  # kind: endpoint, model, stream
    "clean stream": ("chat", "clean", True),
    "40-chunk stream": ("chat", "chunks", True),
    "stall + keep-alives": ("chat", "stall", True),
    "torn writes": ("chat", "torn", True),
    "1-byte writes": ("chat", "one-byte", True),
    "close fault": ("messages", "close", True),
    "whole answer": ("chat", "clean", False),
    "error 429": ("chat", "rate-limited", False),
    "rejected (not JSON)": ("chat", "", False),
}


def deep(obj: Any, seen: set[int]) -> int:
    """Bytes of `obj` and what it holds, not counting objects in `seen` (then adding them)."""
    total, stack = 0, [obj]
    while stack:
        item = stack.pop()
        if id(item) in seen or item is None or isinstance(item, (bool, type)):
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        if isinstance(item, dict):
            stack += [*item.keys(), *item.values()]
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack += list(item)
        elif isinstance(item, (str, bytes, bytearray, int, float, array.array)):
            pass
        else:
            slots = [s for cls in type(item).__mro__ for s in getattr(cls, "__slots__", ())]
            stack += [getattr(item, s) for s in slots if hasattr(item, s)]
            if hasattr(item, "__dict__"):
                stack.append(vars(item))
    return total


def send(url: str, endpoint: str, model: str, stream: bool) -> None:
    from soak_load import ENDPOINTS

    data = json.dumps(body_for(endpoint, model, stream)).encode() if model else b"{not json"
    request = urllib.request.Request(
        url + ENDPOINTS[endpoint],
        data,
        {"Content-Type": "application/json", "Authorization": "Bearer sk-test-abcdef", "User-Agent": "soak/1"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
    except Exception:  # faults and errors: the journal is what is measured
        pass


def measure(count: int) -> dict[str, Any]:
    from sparring import FakeServer

    out: dict[str, Any] = {}
    with FakeServer() as server:
        scenario, headers = json.dumps(SCENARIO).encode(), {"Content-Type": "application/json"}
        put = urllib.request.Request(f"{server.url}/_sparring/scenario", scenario, headers, method="PUT")
        urllib.request.urlopen(put, timeout=30).close()
        journal = server.store.space("default").journal
        for kind, (endpoint, model, stream) in KINDS.items():
            journal.clear()
            for _ in range(count):
                send(server.url, endpoint, model, stream)
            journal.wait_until(lambda es: len(es) == count and all(e.outcome for e in es), timeout=30)
            entries = list(journal._entries)
            seen: set[int] = set()
            fields = Counter[str]()
            fields["(entry object)"] = sum(sys.getsizeof(e) for e in entries)
            for e in entries:
                seen.add(id(e))
                for name, value in vars(e).items():
                    fields[name] += deep(value, seen)
                    if name == "__dict__":
                        continue
                fields["(instance dict)"] += sys.getsizeof(vars(e)) if hasattr(e, "__dict__") else 0
            del entries
            gc.collect()
            before = tracemalloc.get_traced_memory()[0]
            journal.clear()
            gc.collect()
            held = before - tracemalloc.get_traced_memory()[0]
            out[kind] = {
                "held": held / count,
                "fields": {k: v / count for k, v in fields.most_common() if v},
                "outcome": journal_outcome(server, endpoint, model, stream),
            }
    return out


def journal_outcome(server: Any, endpoint: str, model: str, stream: bool) -> str:
    journal = server.store.space("default").journal
    send(server.url, endpoint, model, stream)
    entry = journal.wait_until(lambda es: bool(es) and es[-1].outcome is not None, timeout=30)[-1]
    journal.clear()
    return f"{entry.outcome} {entry.status}, {entry.writes} writes, {entry.events_sent} events"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    tracemalloc.start()
    figures = measure(args.count)
    for kind, f in figures.items():
        print(f"{kind:22} {f['held']:8.0f} B held  ({f['outcome']})")
        print("    " + ", ".join(f"{k} {v:.0f}" for k, v in f["fields"].items()))
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
