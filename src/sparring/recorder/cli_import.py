"""`sparring import TRANSCRIPT`: a raw SSE transcript (`curl -N`, `curl -N -i`) into a scenario."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(commands: Any) -> None:
    """Add the `import` command to the CLI's subcommands."""
    command = commands.add_parser(
        "import",
        help="turn a curl transcript into a scenario",
        description="Turn what `curl -N` prints (the body) or `curl -N -i` (status line and headers, then the "
        "body) into a scenario replaying it byte for byte: an SSE or NDJSON (Ollama) stream, a JSON answer, or an "
        "HTTP error. "
        "A transcript has no timing: every event comes in one read, unless --gap spaces them.",
    )
    command.add_argument("transcript", metavar="TRANSCRIPT", help="the transcript file, or - for standard input")
    command.add_argument(
        "--api",
        default=None,
        help="the API it came from, when the events do not say: chat, responses, messages, completions, "
        "embeddings, azure_chat, ollama_chat... (the names match: {endpoint: ...} takes)",
    )
    command.add_argument("--model", default=None, help="answer only requests for this model")
    command.add_argument("--message", default=None, help="answer only requests whose last user message is this")
    command.add_argument(
        "--gap", type=float, default=0.0, metavar="SECONDS", help="seconds between events (default: 0, one read)"
    )
    command.add_argument("--out", default=None, metavar="FILE", help="write the scenario here (default: print it)")
    command.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from sparring.recorder.transcript import TranscriptError, import_transcript
    from sparring.scenario.dump import dump_scenario

    source = "<stdin>" if args.transcript == "-" else args.transcript
    try:
        data = sys.stdin.buffer.read() if args.transcript == "-" else Path(args.transcript).read_bytes()
    except OSError as exc:
        print(f"sparring import: cannot read {source}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        scenario = import_transcript(
            data, api=args.api, model=args.model, message=args.message, gap=args.gap, source=source
        )
    except (TranscriptError, ValueError) as exc:
        print(f"sparring import: {exc}", file=sys.stderr)
        return 2
    text = dump_scenario(scenario, fmt="yaml")
    if args.out is None:
        sys.stdout.write(text)
        return 0
    Path(args.out).write_text(text, encoding="utf-8")
    reply = scenario.rules[0].replies[0]
    events = getattr(reply, "events", ())
    what = f"{len(events)} events" if events else type(reply).__name__
    print(f"wrote {args.out}: {what}, from {source}")
    return 0
