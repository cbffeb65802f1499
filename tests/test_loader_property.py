"""Property: any document, however odd, either loads or fails with a located
`ScenarioError`, never another exception; and a scenario that loads is served, streamed and
not, on every API it addresses, without an internal error or a traceback in the log."""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sparring import FakeServer, ScenarioError
from sparring.scenario.loader import parse_scenario

KEYS = [
    "replies", "rules", "match", "text", "chunks", "error", "status", "timing", "gap", "sigma", "keepalive",
    "distribution", "fault", "kind", "after_chunk", "size", "wire", "write_size", "headers", "retry_after",
    "retry_after_format", "rate_limits", "reset_requests", "body", "stream", "tools", "model", "times", "faker",
    "usage", "choices", "tool_calls", "name", "arguments", "fallback", "lognormal", "close", "garbage",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([*KEYS, "rate_limit", "uniform", "date", "a\r\nb", ""]),
    st.text(max_size=8),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), SCALARS), inner, max_size=5),
    ),
    max_leaves=30,
)
FRAGMENTS = ["? ", "!!", "<<: ", "&a ", "*a ", "- ", "[", "]", "{", "}", ": ", "\n", "  ", "replies", "text"]
FRAGMENTS += ["!!float", "!!int", "!!python/name:os.system", "1e9", ".inf", "null", ",", "\x1f", "\ufeff"]
DOCUMENTS = st.dictionaries(st.sampled_from(["replies", "rules", "fallback", "name"]), VALUES, max_size=3)


def _loads_or_located_error(text: str) -> None:
    try:
        parse_scenario(text, source="doc.yaml")
    except ScenarioError as exc:
        problems = exc.problems
    else:
        return
    assert problems
    for problem in problems:
        assert problem.source == "doc.yaml"
        assert problem.message


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS, st.booleans())
def test_generated_documents_load_or_fail_located(document: dict[object, object], as_json: bool) -> None:
    if as_json:
        try:
            text = json.dumps(document)
        except (TypeError, ValueError):
            return
    else:
        text = yaml.safe_dump(document, allow_unicode=True)
    _loads_or_located_error(text)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=60), st.binary(max_size=60).map(lambda b: b.decode("latin-1"))))
def test_random_text_loads_or_fails_located(text: str) -> None:
    _loads_or_located_error(text)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=20))
def test_yaml_fragments_load_or_fail_located(pieces: list[str]) -> None:
    _loads_or_located_error("".join(pieces))


# -- serving: whatever validates is served without an internal error ---------------------------

PRESETS = ["rate_limit", "server_error", "overloaded", "timeout", "bad_request", "insufficient_quota"]
ODD_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 10**6), st.floats(), st.text(max_size=4))
TEXT = st.text(max_size=12)


def _scenarios(odd: bool) -> st.SearchStrategy[dict[str, object]]:
    """Scenario documents with every key a reply, match, fault or delivery can have. With
    `odd`, any value may also be of the wrong type or out of range (most such documents then
    fail validation); without, values are of the right kind, edges included."""

    def v(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return strategy | ODD_VALUES if odd else strategy

    wait = v(st.floats(0, 0.005))  # every scripted wait short: the examples stay fast
    matches = st.fixed_dictionaries(
        {},
        optional={
            "endpoint": st.sampled_from(["chat", "responses", "messages", "completions", "embeddings"]),
            "model": v(st.sampled_from(["gpt-4o", "claude-sparring-1"])),
            "message": v(st.sampled_from(["hi", "x"])),
            "message_regex": st.sampled_from(["^h", "(a|aa)+$", "x{2,3}", "(?i)HI"]),
            "stream": v(st.booleans()),
            "tools": v(st.booleans()),
            "retry_count": v(st.integers(0, 2)),
            "headers": st.dictionaries(st.sampled_from(["x-a", "x-b"]), v(TEXT), max_size=2),
            "body": st.dictionaries(st.sampled_from(["temperature", "n", "a.b"]), v(st.integers(0, 2)), max_size=2),
        },
    )
    faults = st.one_of(
        st.sampled_from(["reset", "empty_response", "garbage", "close", "malformed_chunk", "error_event"]),
        st.sampled_from(["truncate", "no_done"]),
        st.fixed_dictionaries(  # stall and hang always with a short duration: else they wait for the client
            {"kind": st.sampled_from(["stall", "hang"]), "duration": wait},
            optional={"after_chunk": v(st.integers(0, 4))},
        ),
        st.fixed_dictionaries(
            {"kind": st.sampled_from(["reset", "close", "garbage", "error_event", "truncate", "malformed_chunk"])},
            optional={
                "after_chunk": v(st.integers(0, 4)),
                "size": v(st.integers(1, 100)),
                "error": st.sampled_from(PRESETS),
                "message": v(TEXT),
            },
        ),
        st.fixed_dictionaries({"kind": st.just("garbage"), "after_byte": v(st.integers(0, 300))}),
    )
    common = {
        "timing": st.fixed_dictionaries(
            {},
            optional={
                "headers_delay": wait,
                "first_chunk": wait,
                "gap": wait,
                "jitter": wait,
                "distribution": st.sampled_from(["uniform", "lognormal"]),
                "sigma": v(st.floats(0, 10)),
                "keepalive": v(st.floats(0.001, 0.01)),
                "seed": v(st.integers(0, 9)),
            },
        ),
        "headers": st.dictionaries(st.sampled_from(["x-a", "x-b"]), v(TEXT.filter(str.isprintable)), max_size=2),
        "rate_limits": st.fixed_dictionaries(
            {}, optional={"limit_requests": v(st.integers(0, 100)), "reset_tokens": v(st.floats(0, 1e6))}
        ),
        "times": v(st.integers(1, 3)),
        "repeat": v(st.booleans()),
        "optional": st.booleans(),
    }
    answers = (
        st.fixed_dictionaries(
            {},
            optional={
                "text": v(TEXT),
                "split": v(st.sampled_from(["word", "char", "token"]) | st.integers(1, 9)),
                "faker": st.integers(0, 5)
                | st.fixed_dictionaries({"seed": st.integers(0, 5), "sentences": v(st.integers(1, 3))}),
                "finish_reason": v(st.sampled_from(["stop", "length", "tool_calls", "content_filter"])),
                "model": v(st.sampled_from(["gpt-x"])),
                "usage": st.fixed_dictionaries(
                    {}, optional={"prompt_tokens": v(st.integers(0, 9)), "completion_tokens": v(st.integers(0, 9))}
                ),
                "tool_calls": st.lists(
                    st.fixed_dictionaries(
                        {"name": st.sampled_from(["f", "get_weather"])},
                        optional={"arguments": v(st.sampled_from(["{}", '{"a": 1}']) | st.dictionaries(TEXT, TEXT))},
                    ),
                    max_size=2,
                ),
                "wire": st.fixed_dictionaries(
                    {},
                    optional={
                        "write_size": v(st.integers(1, 40) | st.lists(st.integers(1, 9), min_size=1, max_size=3)),
                        "events_per_write": v(st.integers(1, 4)),
                        "line_ending": st.sampled_from(["lf", "crlf", "cr"]),
                    },
                ),
                "fault": faults,
                **common,
            },
        )
        | st.fixed_dictionaries({"chunks": v(st.lists(TEXT, max_size=4))})
        | st.fixed_dictionaries({"refusal": v(TEXT)})
    )
    errors = st.fixed_dictionaries(
        {"error": v(st.sampled_from(PRESETS) | st.integers(400, 599))},
        optional={
            "message": v(TEXT),
            "type": v(TEXT),
            "body": v(TEXT | st.dictionaries(TEXT, TEXT, max_size=2)),
            "retry_after": v(st.floats(0, 1e6) | st.integers(0, 100)),
            "retry_after_ms": v(st.floats(0, 1e6)),
            "should_retry": v(st.booleans()),
            **common,
        },
    )
    replies = st.lists(answers | errors, min_size=1, max_size=3)
    return st.fixed_dictionaries(
        {},
        optional={
            "replies": replies,
            "rules": st.lists(st.fixed_dictionaries({"replies": replies}, optional={"match": matches}), max_size=3),
            "fallback": st.sampled_from(["miss", "default"]),
        },
    )


SCENARIOS = _scenarios(odd=False) | _scenarios(odd=True)
REQUESTS: dict[str, tuple[str, dict[str, object]]] = {
    "chat": ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
    "responses": ("/v1/responses", {"input": "hi"}),
    "messages": ("/v1/messages", {"max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}),
    "completions": ("/v1/completions", {"prompt": "hi"}),
    "embeddings": ("/v1/embeddings", {"input": "hi"}),
}


class _Tracebacks(logging.Handler):
    """Every log record of the server's that carries an exception."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info is not None:
            self.records.append(record)


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[FakeServer, httpx.Client, _Tracebacks]]:
    """One server and one client for every example; each example gets its own namespace."""
    seen = _Tracebacks()
    loggers = [logging.getLogger(name) for name in ("sparring", "aiohttp")]
    for logger in loggers:
        logger.addHandler(seen)
    try:
        with FakeServer(seed=7) as server, httpx.Client(base_url=server.url, timeout=10) as client:
            yield server, client, seen
    finally:
        for logger in loggers:
            logger.removeHandler(seen)


_examples = itertools.count()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=SCENARIOS)
def test_what_validates_is_served_without_an_internal_error(
    shared: tuple[FakeServer, httpx.Client, _Tracebacks], document: dict[str, object]
) -> None:
    try:
        scenario = parse_scenario(yaml.safe_dump(document, allow_unicode=True), source="doc.yaml")
    except ScenarioError as exc:
        problems = exc.problems
        assert all(p.source == "doc.yaml" and p.message for p in problems)
        return
    event("served")
    server, client, seen = shared
    seen.records.clear()  # what an earlier (already failed) example left
    namespace = f"example-{next(_examples)}"
    server.set_scenario(scenario, namespace)
    endpoints = {"chat", *(r.match.endpoint for r in scenario.rules if r.match.endpoint is not None)}
    try:
        sent = 0
        for endpoint in sorted(endpoints):
            path, body = REQUESTS[endpoint]
            model = "claude-sparring-1" if endpoint == "messages" else "gpt-4o"
            for stream in (False,) if endpoint == "embeddings" else (False, True):
                with contextlib.suppress(httpx.HTTPError):  # faults break responses on purpose
                    client.post(
                        path,
                        json={**body, "model": model, "stream": stream},
                        headers={"x-sparring-namespace": namespace},
                    ).read()
                sent += 1
        journal = server.wait_until(lambda j: len(j) == sent and all(e.outcome for e in j), namespace=namespace)
    finally:
        server.drop_namespace(namespace)
    assert len(journal) == sent
    for entry in journal:
        assert entry.outcome, entry.describe()
        assert entry.outcome != "callback_error", entry.describe()
        assert not (entry.detail or "").startswith("internal error"), entry.describe()
    assert not seen.records, [r.getMessage() for r in seen.records]
