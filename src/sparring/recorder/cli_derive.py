"""`sparring derive RECORDING --out DIR`: one scenario file per fault derived from a recording."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(commands: Any) -> None:
    """Add the `derive` command to the CLI's subcommands."""
    derive = commands.add_parser(
        "derive",
        help="derive fault scenarios from a recording",
        description="Write one scenario file per way to break each recorded reply in RECORDING: cut "
        "(close, reset, truncate), stalled or an in-band error after a few events, no terminator, slowed, "
        "a 429 or a 5xx before it, torn writes, CRLF line endings. Prints the names it wrote.",
    )
    derive.add_argument("recording", metavar="RECORDING", help="a scenario file holding recorded replies")
    derive.add_argument("--out", required=True, metavar="DIR", help="folder for the scenario files (created)")
    derive.add_argument(
        "--positions",
        default="some",
        metavar="WHERE",
        help="where positioned faults strike, in events sent: 'some' (after the first content event, halfway, "
        "before the terminator), 'all', or counts such as 1,3,5 (default: %(default)s)",
    )
    derive.add_argument(
        "--stall",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stalls last this long (default: until the client gives up)",
    )
    derive.add_argument(
        "--retry-after",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="retry-after of the 429 (default: %(default)g)",
    )
    derive.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from sparring.errors import ScenarioError
    from sparring.recorder.derive import fault_sweep
    from sparring.scenario.dump import dump_scenario
    from sparring.scenario.library import load_scenario

    positions: Any = args.positions
    if positions not in ("some", "all"):
        try:
            positions = [int(p) for p in positions.split(",")]
        except ValueError:
            print(
                f"sparring derive: --positions takes some, all or counts like 1,3,5; got {args.positions!r}",
                file=sys.stderr,
            )
            return 2
    try:
        sweep = fault_sweep(
            load_scenario(args.recording), positions=positions, stall=args.stall, retry_after=args.retry_after
        )
    except ScenarioError as exc:
        print(f"sparring derive: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"sparring derive: {args.recording}: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    width = max(map(len, sweep))
    print(f"{len(sweep)} scenarios from {args.recording} in {out}:")
    for name, scenario in sweep.items():
        (out / f"{name}.yaml").write_text(dump_scenario(scenario, fmt="yaml"), encoding="utf-8")
        print(f"  {name:<{width}}  {scenario.description}")
    return 0
