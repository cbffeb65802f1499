"""Values that used to validate and then break or never match every request they met are
refused when the file loads and when the builders run, with the same message; and every
mistake in a file is reported at once, named as the file writes it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sparring import Fault, RateLimits, ScenarioError, Timing, error, reply
from sparring.scenario.loader import load_file, parse_scenario

# name -> (a reply as YAML flow text, the path named, a piece of the message, the same in Python)
CASES: dict[str, tuple[str, str, str, Callable[[], object]]] = {
    "infinite-reset": (
        "{text: hi, rate_limits: {reset_requests: .inf}}",
        "rate_limits.reset_requests",
        "finite number of at most",
        lambda: reply("hi", rate_limits=RateLimits(reset_requests=float("inf"))),
    ),
    "huge-sigma": (
        "{text: hi, timing: {distribution: lognormal, sigma: 1000}}",
        "timing.sigma",
        "at most 10",
        lambda: reply("hi", timing=Timing(distribution="lognormal", sigma=1000)),
    ),
    "body-a-number": (
        "{error: 500, body: 5}",
        "body",
        "must be a mapping (the JSON body) or a string",
        lambda: error(500, body=5),  # type: ignore[arg-type]
    ),
    "fractional-chunk": (
        "{text: hi, fault: {kind: close, after_chunk: 1.5}}",
        "fault.after_chunk",
        "must be an integer >= 0",
        lambda: reply("hi", fault=Fault("close", after_chunk=1.5)),  # type: ignore[arg-type]
    ),
    "nan-keepalive": (
        "{text: hi, timing: {keepalive: .nan}}",
        "timing.keepalive",
        "must be a number >= 0",
        lambda: reply("hi", timing=Timing(keepalive=float("nan"))),
    ),
    "retry-after-list": (
        "{error: rate_limit, retry_after: [1, 2]}",
        "retry_after",
        "must be a number >= 0",
        lambda: error("rate_limit", retry_after=[1, 2]),  # type: ignore[arg-type]
    ),
    "retry-after-date-far": (
        "{error: rate_limit, retry_after: 1.0e+300, retry_after_format: date}",
        "retry_after",
        "finite number of at most",
        lambda: error("rate_limit", retry_after=1e300, retry_after_format="date"),
    ),
    "huge-garbage": (
        "{text: hi, fault: {kind: garbage, after_chunk: 1, size: 300000000}}",
        "fault.size",
        "must be at most 1,048,576",
        lambda: reply("hi", fault=Fault("garbage", after_chunk=1, size=300_000_000)),
    ),
    "header-line-break": (
        '{text: hi, headers: {x-a: "a\\r\\nx-b: b"}}',
        "headers.x-a",
        "cannot hold a line break",
        lambda: reply("hi", headers={"x-a": "a\r\nx-b: b"}),
    ),
    "error-header-line-break": (
        '{error: 500, headers: {x-a: "a\\nb"}}',
        "headers.x-a",
        "cannot hold a line break",
        lambda: error(500, headers={"x-a": "a\nb"}),
    ),
    "header-control-character": (  # aiohttp refuses to send one (hypothesis found a backspace)
        '{error: rate_limit, retry_after: "\\b"}',
        "retry_after",
        "cannot hold a control character ('\\x08')",
        lambda: error("rate_limit", retry_after="\b"),
    ),
    "header-escape": (
        '{text: hi, headers: {x-a: "a\\x1bb"}}',
        "headers.x-a",
        "cannot hold a control character ('\\x1b')",
        lambda: reply("hi", headers={"x-a": "a\x1bb"}),
    ),
    "chunks-a-string": (
        "{chunks: abc}",
        "chunks",
        "must be a list of strings",
        lambda: reply(chunks="abc"),
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_file_refuses_the_value_with_its_location(tmp_path: Path, name: str) -> None:
    flow, path, piece, _ = CASES[name]
    file = tmp_path / "s.yaml"
    file.write_text(f"replies:\n  - {{text: fine}}\n  - {flow}\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_file(file)
    [problem] = caught.value.problems
    assert problem.path == f"replies[1].{path}", problem
    assert problem.line == 3, problem
    assert piece in problem.message, problem


@pytest.mark.parametrize("name", CASES)
def test_builders_refuse_the_same_value(name: str) -> None:
    _, path, piece, build = CASES[name]
    with pytest.raises(ScenarioError) as caught:
        build()
    [problem] = caught.value.problems
    assert problem.path == path, problem
    assert piece in problem.message, problem


@pytest.mark.parametrize(
    ("match", "piece"),
    [("{stream: 'yes'}", "match.stream: must be true or false"), ("{tools: 1}", "match.tools: must be true or false")],
)
def test_match_values_that_never_match_are_refused(match: str, piece: str) -> None:
    with pytest.raises(ScenarioError, match=piece):
        parse_scenario(f"rules:\n  - match: {match}\n    replies: [{{text: hi}}]\n")


def test_every_mistake_of_a_reply_is_reported_at_once() -> None:
    text = (
        "replies:\n"
        "  - text: hi\n"
        "    timng: {gap: 1}\n"
        "    wire: {write_size: 0}\n"
        "    fault: {kind: close, after_chunk: 1.5}\n"
        '    headers: {x-a: "a\\nb"}\n'
        "  - error: 700\n"
    )
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text)
    found = [(p.line, p.path) for p in caught.value.problems]
    assert found == [
        (3, "replies[0].timng"),
        (4, "replies[0].wire.write_size"),
        (5, "replies[0].fault.after_chunk"),
        (6, "replies[0].headers.x-a"),
        (7, "replies[1].error"),
    ]


def test_a_bare_status_mistake_names_the_error_key() -> None:
    """`error: 700` is a status written under `error:`; the path says what the file says."""
    with pytest.raises(ScenarioError) as caught:
        parse_scenario("replies:\n  - {text: hi}\n  - error: 700\n")
    [problem] = caught.value.problems
    assert problem.path == "replies[1].error"
    assert "400 to 599" in problem.message


def test_values_inside_the_ranges_still_load() -> None:
    scenario = parse_scenario(
        "replies:\n"
        "  - text: hi\n"
        "    chunks: null\n"
        "    timing: {distribution: lognormal, sigma: 2, keepalive: 15, gap: 0.01}\n"
        "    fault: {kind: garbage, after_chunk: 2, size: 4096}\n"
        "    rate_limits: {limit_requests: 10000, reset_requests: 3600}\n"
        "    headers: {x-a: 5, x-b: text}\n"
        "  - {error: rate_limit, retry_after: 86400, retry_after_format: date}\n"
    )
    assert len(scenario.rules[0].replies) == 2


def test_builders_check_headers_before_copying_them() -> None:
    with pytest.raises(ScenarioError, match="headers: must be a mapping of header names to values"):
        reply("hi", headers="x-a")  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="headers: must be a mapping of header names to values"):
        error(500, headers=["x-a"])  # type: ignore[arg-type]


def test_model_must_be_text() -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario("replies:\n  - {text: hi, model: 4}\n")
    [problem] = caught.value.problems
    assert (problem.path, problem.line) == ("replies[0].model", 2)
