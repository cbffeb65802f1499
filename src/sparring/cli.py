"""The `sparring` command: `serve`, `validate`, `record`, `demo`."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TextIO

from sparring._version import __version__
from sparring.fake_server.defaults import HEADER_TIMEOUT, IDLE_TIMEOUT, JOURNAL_LIMIT
from sparring.recorder.cli_record import add_command as add_record_command

if TYPE_CHECKING:  # the CLI imports the server and the scenario model only when a command needs them
    from sparring.fake_server.journal import Entry
    from sparring.scenario.model import Scenario

# The demo's parts, named here so `sparring --help` stays cheap (sparring.demo loads aiohttp).
PART_NAMES = ("clean", "rate-limit", "cut", "early-exit")
# The APIs the server speaks, as `--help` and the docs name them.
API_LIST = (
    "Chat Completions, Responses, legacy Completions, Embeddings, Anthropic Messages, Azure OpenAI, Ollama's"
    " native API, the Gemini API and Amazon Bedrock Runtime"
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    result: int = args.run(args)
    return result


class _Parser(argparse.ArgumentParser):
    """`serve --help` lists the built-in scenarios, read from the library only when the help is
    printed: reading them at start-up would load the scenario model for `--version` too."""

    def format_help(self) -> str:
        if self.prog.endswith(" serve") and not self.epilog:
            from sparring.scenario.library import builtin_names

            self.epilog = "built-in scenarios: " + ", ".join(builtin_names())
        return super().format_help()


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sparring",
        description="A fake OpenAI- and Anthropic-compatible server that replays scripted streams and injects "
        f"faults. It serves {API_LIST}, each in its own wire format.",
    )
    parser.add_argument("--version", action="version", version=f"sparring {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run the fake server in the foreground",
        description="Serve scripted scenarios (files or built-in names) on a local port. "
        "With no scenario, every chat request gets a generated, deterministic streamed answer.",
    )
    serve.add_argument("scenarios", nargs="*", metavar="SCENARIO", help="a scenario file or a built-in name")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow --host to be an address other than loopback: the network can then reach the control API "
        "(scripting, reset, every request body); use with --token",
    )
    serve.add_argument(
        "--token",
        default=os.environ.get("SPARRING_TOKEN") or None,
        help="require this token in an x-sparring-token header on every control request (default: $SPARRING_TOKEN)",
    )
    serve.add_argument(
        "--redact",
        action="append",
        default=[],
        metavar="HEADER",
        help="journal this request header redacted too (repeatable); credential headers such as "
        "authorization, x-api-key, api-key, x-goog-api-key and cookie always are",
    )
    serve.add_argument("--port", type=int, default=8000, help="port to bind; 0 picks a free one (default: %(default)s)")
    serve.add_argument(
        "--header-timeout",
        type=float,
        default=HEADER_TIMEOUT,
        metavar="SECONDS",
        help="close a connection that sends no complete request head within this time, or whose request "
        "body stops coming for this long: slow or silent clients (default: %(default)g)",
    )
    serve.add_argument(
        "--idle-timeout",
        type=float,
        default=IDLE_TIMEOUT,
        metavar="SECONDS",
        help="close a kept-alive connection idle this long between requests; a response being played, "
        "stalls included, is never cut (default: %(default)g)",
    )
    serve.add_argument(
        "--max-connections",
        type=int,
        default=None,
        metavar="N",
        help="answer new connections 503 beyond N open ones (default: 1024, or fewer to stay under the "
        "open-file limit, ulimit -n)",
    )
    serve.add_argument("--loop", action="store_true", help="start the scenario over when all its replies are used")
    serve.add_argument(
        "--seed", type=int, default=None, help="seed for generated ids and padding, so runs differ only in timestamps"
    )
    serve.add_argument(
        "--speed",
        type=float,
        default=1.0,
        metavar="N",
        help="divide every scripted wait (timing, stalls, hangs, recorded times) and the waits replies advise "
        "(retry-after, retry-after-ms, rate-limit resets) by N, times each scenario's own speed "
        "(default: %(default)g)",
    )
    serve.add_argument(
        "--journal-limit",
        type=int,
        default=JOURNAL_LIMIT,
        metavar="N",
        help="entries each namespace's journal keeps; past it the oldest ended ones are dropped and counted "
        "(default: %(default)s)",
    )
    serve.add_argument(
        "--namespace-idle",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="drop a namespace idle this long, unless it is the default one or has requests under way; "
        "0 keeps them all (default: %(default)s)",
    )
    serve.set_defaults(run=_serve)

    validate = commands.add_parser(
        "validate",
        help="check scenario files",
        description="Check scenario files; print each mistake with file, line and path. Exit 1 if any is invalid.",
    )
    validate.add_argument("files", nargs="+", metavar="FILE", help="a scenario file or a built-in name")
    validate.set_defaults(run=_validate)
    add_record_command(commands)  # `record`, in its own module

    demo = commands.add_parser(
        "demo",
        help="watch the reference client spar with the fake server",
        description="Start the fake server in-process and run the reference streaming client through a short "
        "story: a clean stream, a rate limit retried after retry-after, a stream cut mid-way, a consumer that "
        "stops early. Every event is printed as it arrives.",
    )
    demo.add_argument("parts", nargs="*", metavar="PART", help=f"parts to play (default: all): {', '.join(PART_NAMES)}")
    demo.add_argument("--no-colour", "--no-color", dest="colour", action="store_false", help="plain text output")
    demo.set_defaults(run=_demo)

    from sparring.recorder import cli_derive, cli_import  # argparse only: cheap to import

    cli_derive.register(commands)
    cli_import.register(commands)
    return parser


def _load_all(specs: Sequence[str]) -> Scenario:
    from sparring.scenario.library import load_scenario
    from sparring.scenario.model import Scenario

    combined = Scenario()
    for spec in specs:
        combined = combined + load_scenario(spec)
    return combined


def _serve(args: argparse.Namespace) -> int:
    from sparring._startup import ca_certs_deferred

    with ca_certs_deferred() as ca_certs:  # aiohttp reads the CA bundle on import; serve needs it later
        import sparring.fake_server.runner  # noqa: F401
    try:
        return _serve_loaded(args, ca_certs.start)
    finally:
        ca_certs.finish()  # also when serving never began (a bad scenario, a port in use)


def _serve_loaded(args: argparse.Namespace, load_ca_certs: Callable[[], None]) -> int:
    from sparring.errors import ScenarioError
    from sparring.fake_server.connections import ConnectionLimits
    from sparring.fake_server.runner import serve
    from sparring.fake_server.security import remote_binding
    from sparring.fake_server.store import Store
    from sparring.scenario._validate import check_speed
    from sparring.scenario.model import Scenario

    try:
        check_speed("--speed", args.speed)
    except ScenarioError as exc:
        print(f"sparring: --speed {exc.problems[0].message}", file=sys.stderr)
        return 2
    try:
        scenario = _load_all(args.scenarios) if args.scenarios else Scenario(fallback="default")
    except ScenarioError as exc:
        print(f"sparring: {exc}", file=sys.stderr)
        return 2
    try:
        warning = remote_binding(
            args.host,
            allowed=args.allow_remote,
            token=args.token,
            shown=f"--host {args.host}",
            allow="--allow-remote",
            with_token="--token",
        )
        limits = ConnectionLimits(args.header_timeout, args.idle_timeout, args.max_connections)
    except ValueError as exc:
        message = str(exc)
        for name in ("header_timeout", "idle_timeout", "max_connections"):  # in the command's terms
            message = message.replace(name, "--" + name.replace("_", "-"))
        print(f"sparring: {message}", file=sys.stderr)
        return 2
    if warning:
        print(f"sparring: warning: {warning}", file=sys.stderr, flush=True)
    try:
        store = Store(
            on_end=_log_soon,
            fallback=scenario.fallback,
            loop=args.loop,
            redact=args.redact,
            journal_limit=args.journal_limit,
            namespace_idle=args.namespace_idle,
        )
    except ValueError as exc:
        print(f"sparring: {exc}", file=sys.stderr)
        return 2
    store.set_scenario(scenario, loop=args.loop)

    def ready(base_url: str) -> None:
        load_ca_certs()
        what = ", ".join(args.scenarios) if args.scenarios else "generated answers"
        pace = f" at speed {args.speed:g}" if args.speed != 1 else ""
        print(f"sparring {__version__} serving {what}{pace}", flush=True)
        print(f"base URL: {base_url}   (Ctrl-C to stop)", flush=True)

    try:
        serve(
            store,
            host=args.host,
            port=args.port,
            seed=args.seed,
            on_ready=ready,
            token=args.token or None,
            limits=limits,
            speed=args.speed,
        )
    except OSError as exc:
        print(f"sparring: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print("sparring: stopped", flush=True)
    return 0


def _log_soon(entry: Entry) -> None:
    """Log a request's line once the server's loop is free: a stream is journaled as ended just
    before its last write, and the line (a write to stdout) must not hold that write back."""
    import asyncio

    try:
        asyncio.get_running_loop().call_soon(_log, entry)
    except RuntimeError:  # ended outside the loop
        _log(entry)


def _log(entry: Entry) -> None:
    print(request_line(entry), flush=True)


def request_line(entry: Entry) -> str:
    """One log line per request: when, what, who answered, how it ended, how long it took."""
    clock = time.strftime("%H:%M:%S", time.localtime(entry.wall_time))
    status = entry.status if entry.status is not None else "-"
    parts = [f"{clock} {entry.method} {entry.path} {status}", entry.answered_by or "-", entry.outcome or "-"]
    if entry.writes:
        parts.append(f"{entry.writes} chunks")
    detail = entry.detail or ""
    if entry.fault and not detail.startswith(entry.fault):  # which fault, and where it struck
        parts.append(entry.fault)
    if entry.outcome in ("rejected", "client_disconnected", "fault", "stalled") and detail:
        parts.append(detail.split(". ")[0])
    parts.append(f"{entry.ended or 0.0:.3f}s")
    return " · ".join(parts)


def _validate(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from sparring.errors import ScenarioError
    from sparring.scenario.library import load_scenario

    out = out or sys.stdout
    failed = 0
    for spec in args.files:
        try:
            scenario = load_scenario(spec)
        except ScenarioError as exc:
            failed += 1
            for problem in exc.problems:
                print(f"error: {problem}", file=out)
            continue
        replies = sum(len(rule.replies) for rule in scenario.rules)
        print(f"ok: {spec} ({_count(len(scenario.rules), 'rule')}, {_count(replies, 'reply')})", file=out)
    return 1 if failed else 0


def _count(n: int, noun: str) -> str:
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{n} {noun if n == 1 else plural}"


def _demo(args: argparse.Namespace) -> int:
    unknown = [p for p in args.parts if p not in PART_NAMES]
    if unknown:
        from sparring.errors import closest

        hint = closest(unknown[0], PART_NAMES)
        suggestion = f" (did you mean {hint!r}?)" if hint else ""
        print(f"sparring demo: no part {unknown[0]!r}{suggestion}; parts: {', '.join(PART_NAMES)}", file=sys.stderr)
        return 2
    from sparring.demo import run

    return run(args.parts, colour=args.colour)
