"""`sparring record --upstream URL`: a local proxy that forwards every request to a real API,
streams its answers through, and writes each exchange into a scenario file.

The file is saved after every exchange (an atomic replace), so Ctrl-C loses nothing; one line
per exchange is printed, as `serve` prints them. Imports the server only when it runs: the
parser is built for every `sparring` command, `--version` included.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sparring.fake_server.journal import Entry
    from sparring.scenario.model import Rule

DEFAULT_OUT = "recorded.yaml"


def add_command(commands: argparse._SubParsersAction[Any]) -> None:
    """Add `record` to the `sparring` command's subcommands."""
    record = commands.add_parser(
        "record",
        help="record a real API's answers into a scenario file",
        description="Run a local proxy that forwards every request to UPSTREAM, streams each answer "
        "through to the client live and unchanged, and writes every exchange into a scenario file: the "
        "events as they arrived (read boundaries and times), errors, and streams the upstream cut. "
        "Credentials are never written.",
    )
    record.add_argument(
        "--upstream",
        required=True,
        metavar="URL",
        help="the real API, e.g. https://api.openai.com (or .../v1), https://RESOURCE.openai.azure.com, "
        "http://localhost:11434 (Ollama)",
    )
    record.add_argument(
        "--out", default=DEFAULT_OUT, metavar="FILE", help="the scenario file to write (default: %(default)s)"
    )
    record.add_argument("--append", action="store_true", help="keep the rules FILE holds and add to them")
    record.add_argument(
        "--match",
        default="endpoint,model,message",
        metavar="KEYS",
        help="what a recorded rule matches, comma-separated, of: endpoint, model, message, stream, path, body "
        "(default: %(default)s)",
    )
    record.add_argument(
        "--redact",
        action="append",
        default=[],
        metavar="NAME",
        help="a header name or JSON body path (metadata.user_id) never written (repeatable); credential "
        "headers such as authorization, x-api-key, api-key, x-goog-api-key and cookies never are",
    )
    record.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="send the key in this environment variable upstream, in place of the key the client sends",
    )
    record.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    record.add_argument(
        "--port", type=int, default=8000, help="port to bind; 0 picks a free one (default: %(default)s)"
    )
    record.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from sparring._version import __version__
    from sparring.errors import ScenarioError
    from sparring.fake_server.runner import serve
    from sparring.fake_server.security import is_loopback
    from sparring.fake_server.store import Store
    from sparring.recorder.proxy import Recorder
    from sparring.recorder.saver import Saver
    from sparring.scenario.loader import load_file

    if not is_loopback(args.host):
        return _fail(f"--host {args.host} is not a loopback address: the recorder forwards your credentials")
    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            return _fail(f"--api-key-env: the environment variable {args.api_key_env} is not set")
    out = args.out
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        return _fail(f"--out {out}: the folder {folder} does not exist")
    try:
        recorder = Recorder(args.upstream, match_on=args.match, redact=args.redact, api_key=api_key)
        store = Store(on_end=_print_soon, redact=[n for n in args.redact if "." not in n])
    except ValueError as exc:
        return _fail(str(exc))
    if args.append and os.path.exists(out):
        try:
            recorder.rules.extend(load_file(out).rules)
        except ScenarioError as exc:
            return _fail(f"--append: {exc}")
    saver = recorder.on_record = Saver(recorder, out, on_saved=lambda rule, count: _print_saved(rule, count, out))

    def ready(base_url: str) -> None:
        print(f"sparring {__version__} recording {recorder.upstream} into {out}", flush=True)
        print(f"base URL: {base_url}   (Ctrl-C to stop)", flush=True)

    try:
        serve(store, host=args.host, port=args.port, on_ready=ready, passthrough=recorder.passthrough(forward_all=True))
    except OSError as exc:
        return _fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", status=1)
    finally:
        saver.close()  # the server has stopped: answers still being read are in
    count = len(recorder.rules)
    print(f"sparring: stopped; {count} rule{'' if count == 1 else 's'} in {out}", flush=True)
    return 0


def _fail(message: str, status: int = 2) -> int:
    print(f"sparring record: {message}", file=sys.stderr)
    return status


def _print_soon(entry: Entry) -> None:
    """A line for an exchange that will not be recorded (the upstream unreachable: sparring's
    502), once the loop is free. Recorded exchanges get theirs once saved (`_print_saved`)."""
    if entry.outcome != "rejected":
        return
    import asyncio

    try:
        asyncio.get_running_loop().call_soon(lambda: print(exchange_line(entry), flush=True))
    except RuntimeError:
        print(exchange_line(entry), flush=True)


def exchange_line(entry: Entry) -> str:
    """When, what, how it ended, and why."""
    clock = time.strftime("%H:%M:%S", time.localtime(entry.wall_time))
    ending = f"{entry.outcome or '-'} ({entry.detail.split('. ')[0]})" if entry.detail else entry.outcome or "-"
    return f"{clock} {entry.method} {entry.path} {entry.status or '-'} · not recorded · {ending}"


def _print_saved(rule: Rule, count: int, out: str) -> None:
    """One line per exchange recorded, once it is in the file: what matches it, what it was."""
    from sparring.fake_server.store import describe_reply

    clock = time.strftime("%H:%M:%S")
    reply = rule.replies[-1]
    status = getattr(reply, "status", None) or "-"  # an answer with a fault before its headers has none
    fault = getattr(reply, "fault", None)
    broken = f", {fault.describe()}" if fault is not None else ""
    print(
        f"{clock} recorded [{rule.match.describe()}] {status}: {describe_reply(reply)}{broken} · "
        f"saved to {out} ({count} rule{'' if count == 1 else 's'})",
        flush=True,
    )
