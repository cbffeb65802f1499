"""sparring.strategies: hypothesis strategies over the fake server, `fake_llm.example` for a
fresh state per example, and the stream invariants, against real clients over real sockets."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import re
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import NoSuchExample

from sparring import strategies
from sparring.client import EventType, LLMClient, RetryPolicy
from sparring.plugin.examples import ExampleError
from sparring.plugin.fake_llm import FakeLLM
from sparring.scenario.builders import error, reply
from sparring.scenario.delivery import Fault, Timing, Wire
from sparring.scenario.loader import parse_scenario
from sparring.scenario.model import Answer, ErrorReply, Scenario

TEXT = "Paris is the capital of France."
# `fake_llm.example` gives each example a fresh state: what this health check warns about.
QUIET = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
MESSAGES = [{"role": "user", "content": "capital of France?"}]


@pytest.fixture(autouse=True)
def _collect_what_the_clients_left() -> Iterator[None]:
    """Hundreds of cut streams per test leave, now and then, an unclosed event loop and its
    self-pipe (AF_UNIX sockets) to the garbage collector, from somewhere in the SDKs' HTTP
    stacks (not pinned down yet). Collected at the end of the test that made them, so their
    ResourceWarning does not fail whichever test the collector happens to run in."""
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def sdk_stream(client: openai.OpenAI) -> Iterator[str]:
    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content


def retries_mid_stream(client: openai.OpenAI) -> Iterator[str]:
    """Broken: starts the call again when the stream drops, after yielding part of it."""
    for attempt in range(3):
        try:
            yield from sdk_stream(client)
            return
        except (openai.APIConnectionError, httpx.TransportError):  # openai 2.x lets httpx's errors out
            if attempt == 2:
                raise


def retries_everything(client: openai.OpenAI) -> Iterator[str]:
    """Broken: retries any HTTP error, a 400 included (the SDK itself is set not to retry)."""
    for attempt in range(3):
        try:
            yield from sdk_stream(client)
            return
        except openai.APIStatusError:
            if attempt == 2:
                raise
            time.sleep(0.06)


def run(stream: Iterator[str]) -> tuple[str, BaseException | None]:
    received = ""
    try:
        for piece in stream:
            received += piece
    except Exception as exc:  # an SDK error, a chunk that is not JSON, or (openai 2.x) httpx's own
        return received, exc
    return received, None


def minimal_yaml(exc: BaseException) -> Scenario:
    """The scenario hypothesis's falsifying example noted, parsed back from its YAML."""
    notes = "\n".join(getattr(exc, "__notes__", []))
    head = "sparring scenario of this example (save it as a regression .yaml):\n"
    assert head in notes, notes
    lines = []
    for line in notes.split(head, 1)[1].splitlines():
        if not is_yaml_line(line):
            break  # hypothesis's next note: the exchange, or the reproduce_failure blob in CI
        lines.append(line)
    return parse_scenario("\n".join(lines))


def is_yaml_line(line: str) -> bool:
    """Whether a line of a failure report still belongs to the dumped scenario (block style, no blank lines)."""
    return line.startswith((" ", "- ")) or re.match(r"[a-z_]+:( |$)", line) is not None


# -- the strategies make valid scenarios, shrinking to the plain stream --------------------


@settings(max_examples=100, deadline=None)
@given(
    script=strategies.misbehaving_streams(text=TEXT),
    fault=strategies.faults(events=8, before_headers=True),
    err=strategies.error_replies(),
    wire=strategies.wires(),
    timing=strategies.timings(),
)
def test_every_generated_value_is_a_valid_model(
    script: Scenario, fault: Fault, err: ErrorReply, wire: Wire, timing: Timing
) -> None:
    last = script.rules[-1].replies[-1]
    assert isinstance(last, Answer)
    assert last.content.messages[0].text == TEXT
    assert last.fault is None
    assert all(r.optional for r in script.rules[0].replies[1:])
    # writes as a scenario file and loads back equal
    assert dataclasses.replace(parse_scenario(strategies_yaml(script)), source=None) == script
    assert err.retry_after or err.retry_after_ms
    assert timing.gap <= 0.001
    assert wire.events_per_write >= 1
    if fault.kind == "stall":
        assert fault.duration is not None


def strategies_yaml(script: Scenario) -> str:
    from sparring.scenario.dump import dump_scenario

    return dump_scenario(script, fmt="yaml")


def test_the_simplest_example_is_the_plain_stream() -> None:
    from hypothesis import find

    assert find(strategies.misbehaving_streams(text=TEXT), lambda s: True) == Scenario.of(reply(TEXT))
    assert find(strategies.wires(), lambda w: True) == Wire()
    assert find(strategies.timings(), lambda t: True) == Timing()


def test_garbage_only_when_asked_for() -> None:
    from hypothesis import find

    with pytest.raises(NoSuchExample):
        find(strategies.faults(), lambda f: f.kind == "garbage")
    assert find(strategies.faults(kinds=["garbage"]), lambda f: True).kind == "garbage"
    with pytest.raises(ValueError, match=r"mid-stream kinds from .*, got \['hang'\]"):
        strategies.faults(kinds=["hang"])


def test_retryable_errors_keep_to_retryable_statuses() -> None:
    from hypothesis import find

    fatal = find(strategies.error_replies(retryable=False), lambda e: True)
    assert fatal.preset == "bad_request"
    with pytest.raises(NoSuchExample):
        find(strategies.error_replies(retryable=True), lambda e: e.status in strategies.FATAL_STATUSES)


# -- correct clients keep the invariants -----------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=QUIET)
@given(script=strategies.misbehaving_streams(text=TEXT))
def test_the_openai_sdk_keeps_the_invariants(fake_llm: FakeLLM, script: Scenario) -> None:
    client = fake_llm.openai(max_retries=2) if not CLIENTS else CLIENTS[0]
    CLIENTS[:] = [client]
    with fake_llm.example(script):
        received, failure = run(sdk_stream(client))
        strategies.check_stream_invariants(fake_llm, TEXT, received, failure)
        strategies.check_no_retry_after_output(fake_llm)


CLIENTS: list[openai.OpenAI] = []


def test_the_reference_client_keeps_the_invariants(fake_llm: FakeLLM) -> None:
    async def stream() -> tuple[str, BaseException | None]:
        received = ""
        policy = RetryPolicy(max_attempts=3, initial=0.06, max_backoff=0.1)
        async with LLMClient(base_url=fake_llm.base_url, api_key=fake_llm.api_key, retry_policy=policy) as client:
            try:
                async for event in client.chat_completion(messages=MESSAGES):
                    if event.type == EventType.TEXT_DELTA and event.text_delta is not None:
                        received += event.text_delta.content
                    elif event.type == EventType.ERROR:
                        return received, RuntimeError(event.error)
            except Exception as exc:  # not kept: its traceback would hold the loop's frames
                return received, RuntimeError(f"{type(exc).__name__}: {exc}")
        return received, None

    # One event loop for all the examples, closed at the end of the test.
    with asyncio.Runner() as runner:

        @settings(max_examples=50, deadline=None, suppress_health_check=QUIET)
        @given(script=strategies.misbehaving_streams(text=TEXT))
        def prop(script: Scenario) -> None:
            with fake_llm.example(script):
                received, failure = runner.run(stream())
                strategies.check_stream_invariants(fake_llm, TEXT, received, failure)

        prop()


def anthropic_text(client: anthropic.Anthropic) -> tuple[str, BaseException | None]:
    received = ""
    try:
        events = client.messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=MESSAGES, stream=True)  # type: ignore[arg-type]
        for event in events:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                received += event.delta.text
    except Exception as exc:  # the SDK lets httpx's own errors out of a cut stream
        return received, exc
    return received, None


@settings(max_examples=40, deadline=None, suppress_health_check=QUIET)
@given(script=strategies.misbehaving_streams(text=TEXT))
def test_the_anthropic_sdk_keeps_the_invariants(fake_llm: FakeLLM, script: Scenario) -> None:
    """The scenarios are dialect-neutral: the same ones, played as Anthropic Messages."""
    client = fake_llm.anthropic(max_retries=2) if not ANTHROPIC else ANTHROPIC[0]
    ANTHROPIC[:] = [client]
    with fake_llm.example(script):
        received, failure = anthropic_text(client)
        strategies.check_stream_invariants(fake_llm, TEXT, received, failure)


ANTHROPIC: list[anthropic.Anthropic] = []


# -- broken clients are caught, and the printed scenario is the minimal one -----------------


def test_a_client_that_retries_mid_stream_is_caught_with_the_minimal_scenario(fake_llm: FakeLLM) -> None:
    client = fake_llm.openai(max_retries=2)

    @settings(max_examples=100, deadline=None, database=None, derandomize=True, suppress_health_check=QUIET)
    @given(script=strategies.misbehaving_streams(text=TEXT))
    def prop(script: Scenario) -> None:
        with fake_llm.example(script):
            received, failure = run(retries_mid_stream(client))
            strategies.check_stream(fake_llm, TEXT, received, failure)

    with pytest.raises(strategies.InvariantError, match="duplicated output") as caught:
        prop()
    minimal = minimal_yaml(caught.value)
    cut, answer = minimal.rules[0].replies  # one rule: the cut answer, then the answer
    assert isinstance(cut, Answer)
    assert cut.fault is not None
    assert cut.fault.kind == "reset"  # the simplest fault that ends the stream
    assert cut.fault.after_chunk is not None
    assert cut.fault.after_chunk >= 1  # text had gone out before the cut
    assert answer == dataclasses.replace(reply(TEXT), optional=True)
    assert "sparring exchange of this example:" in "\n".join(caught.value.__notes__)
    fake_llm.reset()


def test_a_client_that_retries_a_400_is_caught(fake_llm: FakeLLM) -> None:
    client = fake_llm.openai(max_retries=0)

    @settings(max_examples=50, deadline=None, database=None, derandomize=True, suppress_health_check=QUIET)
    @given(script=strategies.misbehaving_streams(text=TEXT, errors=strategies.error_replies(), fault=False))
    def prop(script: Scenario) -> None:
        with fake_llm.example(script):
            received, failure = run(retries_everything(client))
            strategies.check_stream_invariants(fake_llm, TEXT, received, failure)

    with pytest.raises(strategies.InvariantError, match="not retryable") as caught:
        prop()
    fatal, answer = minimal_yaml(caught.value).rules[0].replies
    assert isinstance(fatal, ErrorReply)
    assert fatal.preset == "bad_request"
    assert isinstance(answer, Answer)
    fake_llm.reset()


def test_invariant_messages_show_the_exchange(fake_llm: FakeLLM) -> None:
    client = fake_llm.openai(max_retries=0)
    with fake_llm.example(error(400), reply(TEXT)):
        received, failure = run(retries_everything(client))
        with pytest.raises(strategies.InvariantError) as caught:
            strategies.check_no_retry_on_fatal(fake_llm)
    assert (received, failure) == (TEXT, None)
    message = str(caught.value)
    assert message.startswith("#2 retried #1 (400), but 400 is not retryable\nwhat the server saw:\n")
    assert "#1 POST /v1/chat/completions -> 400" in message


def test_check_stream_tells_duplication_from_loss() -> None:
    strategies.check_stream(None, TEXT, TEXT)
    strategies.check_stream(None, TEXT, "Paris is", RuntimeError("cut"))
    with pytest.raises(strategies.InvariantError, match="duplicated output"):
        strategies.check_stream(None, TEXT, "Paris is" + TEXT)
    with pytest.raises(strategies.InvariantError, match="without an error but did not deliver the whole text"):
        strategies.check_stream(None, TEXT, "Paris is")
    with pytest.raises(strategies.InvariantError, match="not the start of the answer"):
        strategies.check_stream(None, TEXT, "London", RuntimeError("cut"))


# -- fake_llm.example: a fresh state per example, strict per example -------------------------


def test_each_example_starts_afresh_and_is_strict_alone(fake_llm: FakeLLM) -> None:
    client = fake_llm.openai(max_retries=0)
    with fake_llm.example(reply("one")):
        assert run(sdk_stream(client)) == ("one", None)
    with fake_llm.example(Scenario.of(reply("two"))):
        assert run(sdk_stream(client)) == ("two", None)
        assert len(fake_llm.journal) == 1  # the journal of this example only
    with pytest.raises(ExampleError, match="1 scripted reply was never used"), fake_llm.example(reply("a"), reply("b")):
        run(sdk_stream(client))
    with fake_llm.example(reply("a"), reply("b"), strict=False):
        run(sdk_stream(client))
    fake_llm.reset(Scenario.of(reply("last")))
    assert run(sdk_stream(client)) == ("last", None)


def test_importing_without_hypothesis_names_the_extra() -> None:
    code = "import sys; sys.modules['hypothesis'] = None; import sparring.strategies"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert (
        "sparring.strategies needs hypothesis, which is not installed: pip install 'sparring[chaos]'" in result.stderr
    )
