"""Property-based chaos under virtual time: `@given` on an async test marked
`@pytest.mark.sparring_virtual_time`, each example scripted with `async with fake_llm.example`,
waits of many seconds (retry-after, first tokens, stalls) through the async SDKs at no wall
cost; the cleanup invariant; scenarios meant for one API (`api=`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import anthropic
import openai
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import NoSuchExample

from sparring import strategies
from sparring.plugin.examples import ExampleError
from sparring.plugin.fake_llm import FakeLLM
from sparring.scenario.builders import reply
from sparring.scenario.delivery import Fault, Timing
from sparring.scenario.loader import parse_scenario
from sparring.scenario.model import Answer, ErrorReply, Scenario
from tests.test_plugin import run, write
from tests.test_strategies import is_yaml_line

pytest_plugins = ["pytester"]

TEXT = "Paris is the capital of France."
MESSAGES = [{"role": "user", "content": "capital of France?"}]
QUIET = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
WAIT = 30.0  # seconds: retry-after, first-token delays, gaps, stalls as long as production's


@pytest_asyncio.fixture
async def client(fake_llm: FakeLLM) -> AsyncIterator[openai.AsyncOpenAI]:
    """One client for all the examples of a test (its pool on the test's loop)."""
    async with fake_llm.async_openai(max_retries=2) as sdk:
        yield sdk


async def chat_text(sdk: openai.AsyncOpenAI) -> tuple[str, BaseException | None]:
    """What the consumer saw: the streamed text, and the error it ended in, if any."""
    received = ""
    try:
        stream = await sdk.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
        async with stream:
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    received += chunk.choices[0].delta.content
    except Exception as exc:  # an SDK error, a chunk that is not JSON
        return received, exc
    return received, None


# -- seconds of waits in every example, no wall time ------------------------------------------


@pytest.mark.asyncio
@pytest.mark.sparring_virtual_time
@settings(max_examples=40, deadline=None, database=None, suppress_health_check=QUIET)
@given(script=strategies.misbehaving_streams(text=TEXT, max_wait=WAIT))
async def test_the_async_openai_sdk_keeps_the_invariants_through_seconds_of_waits(
    fake_llm: FakeLLM, client: openai.AsyncOpenAI, script: Scenario
) -> None:
    loop = asyncio.get_running_loop()
    started, virtual_start = time.perf_counter(), loop.time()
    async with fake_llm.example(script):
        received, error = await chat_text(client)
        await strategies.check_cleanup_ran(fake_llm)
    strategies.check_stream_invariants(fake_llm, TEXT, received, error)
    strategies.check_no_retry_after_output(fake_llm)
    # Every example on the virtual clock, its server on the loop: the scripted seconds passed
    # on the loop's clock, not on the wall's (a generous bound: a few ms against seconds).
    virtual, wall = loop.time() - virtual_start, time.perf_counter() - started
    if virtual > 5.0:
        assert wall < virtual / 2


@pytest.mark.asyncio
@pytest.mark.sparring_virtual_time
@settings(max_examples=25, deadline=None, database=None, suppress_health_check=QUIET)
@given(
    script=strategies.misbehaving_streams(
        text=TEXT, max_wait=WAIT, errors=strategies.error_replies(retryable=True, max_retry_after=WAIT), fault=False
    )
)
async def test_retry_after_of_seconds_is_waited_on_the_virtual_clock(
    fake_llm: FakeLLM, client: openai.AsyncOpenAI, script: Scenario
) -> None:
    async with fake_llm.example(script):
        received, error = await chat_text(client)
    assert (received, error) == (TEXT, None)  # two retries at most, and the errors are retryable
    strategies.check_honours_retry_after(fake_llm)


# -- a broken client fails, and the shrunk scenario is printed ---------------------------------

BROKEN = '''
import asyncio

import httpx
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import NoSuchExample

from sparring import strategies

TEXT = "Paris is the capital of France."


@pytest_asyncio.fixture
async def client(fake_llm):
    async with fake_llm.async_openai(max_retries=2) as sdk:
        yield sdk


async def read(stream):
    """The answer's text, up to the chunk that says it is finished."""
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content
        if chunk.choices and chunk.choices[0].finish_reason:
            return  # all there is to read: no need to wait for the end of the stream


async def answer(client):
    """The whole answer; a dropped stream is asked again (RETRY)."""
    received = ""
    for attempt in range(3):
        try:
            stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
            async with stream:  # closes the response, however the block is left
                async for piece in read(stream):
                    received += piece
                    if PREVIEW and len(received) >= 10:
                        break  # a preview is enough
            return received, None
        except (openai.APIConnectionError, httpx.TransportError) as exc:  # openai 2.x lets httpx's out
            if not RETRY or attempt == 2:
                return received, exc
        except Exception as exc:
            return received, exc


@pytest.mark.asyncio
@pytest.mark.sparring_virtual_time
@settings(max_examples=100, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(script=strategies.misbehaving_streams(text=TEXT, max_wait=30))
async def test_my_client(fake_llm, client, script):
    async with fake_llm.example(script):
        received, error = await answer(client)
        CLEANUP
    INVARIANTS
'''


def broken(*, retry: bool = False, cleanup: bool = False) -> str:
    return (
        BROKEN.replace("RETRY)", "retried)" if retry else "not retried)")
        .replace("RETRY", str(retry))
        .replace("max_examples=100", "max_examples=100" if retry else "max_examples=40")
        .replace("CLEANUP", "await strategies.check_cleanup_ran(fake_llm)" if cleanup else "pass")
        .replace("PREVIEW", str(cleanup))  # the consumer leaves early: what the cleanup checks test
        .replace(
            "INVARIANTS", "pass" if cleanup else "strategies.check_stream_invariants(fake_llm, TEXT, received, error)"
        )
    )


def shrunk(output: str) -> Scenario:
    """The scenario the falsifying example noted, parsed back from the report's YAML."""
    head = "sparring scenario of this example (save it as a regression .yaml):"
    assert head in output, output
    lines = []
    for line in output.split(head, 1)[1].splitlines()[1:]:
        text = line.removeprefix("E" + " " * 7)  # pytest's prefix of an exception's lines
        if not line.startswith("E") or not text.strip() or not is_yaml_line(text):
            break  # the YAML ends where hypothesis's next note begins (its explanation, or the blob in CI)
        lines.append(text)
    return parse_scenario("\n".join(lines))


def test_a_client_that_retries_mid_stream_fails_with_the_shrunk_scenario(pytester: pytest.Pytester) -> None:
    write(pytester, broken(retry=True))
    result = run(pytester)
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "InvariantError: duplicated output" in output
    cut, answer = shrunk(output).rules[0].replies  # the answer cut after text went out, then the answer
    assert isinstance(cut, Answer)
    assert cut.fault is not None
    assert cut.fault.kind == "reset"
    assert (cut.fault.after_chunk or 0) >= 1
    assert isinstance(answer, Answer)


@pytest.mark.asyncio
async def test_a_client_that_leaves_its_response_open_fails_the_cleanup_invariant(
    fake_llm: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    """A preview: the consumer takes the first words and leaves, the client keeping the
    stream (for its usage figures, say) without closing it. The server, still streaming
    (a word every 0.2 s), sees the connection stay open."""
    async with fake_llm.example(reply(TEXT, timing=Timing(gap=0.2)), strict=False):
        stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
        kept = aiter(stream)
        await anext(kept)  # the role chunk
        await anext(kept)  # "Paris": enough
        with pytest.raises(strategies.InvariantError) as caught:
            await strategies.check_cleanup_ran(fake_llm, kept, bound=0.3)
        await stream.close()
    message = str(caught.value)
    assert message.startswith("the client did not clean up on its way out of the example:\n")
    assert (
        "- the server still had the connection open 0.3 s after the consumer left (request #1 still streaming"
        in message
    )
    assert "- the generator AsyncStream.__aiter__ was still suspended after its consumer left" in message
    assert "what the server saw:\n  #1 POST /v1/chat/completions -> 200" in message


@pytest.mark.asyncio
async def test_the_same_preview_closing_its_stream_keeps_the_cleanup_invariant(
    fake_llm: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    async with fake_llm.example(reply(TEXT, timing=Timing(gap=0.2)), strict=False):
        stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
        async with stream:
            async for _ in stream:
                break
        await strategies.check_cleanup_ran(fake_llm, bound=0.3)
    assert fake_llm.journal[0].outcome == "client_disconnected"


def test_a_client_closing_its_stream_early_keeps_the_cleanup_invariant(pytester: pytest.Pytester) -> None:
    write(pytester, broken(cleanup=True))
    result = run(pytester)
    result.assert_outcomes(passed=1)


# -- whole scenarios for one API ---------------------------------------------------------------


@pytest_asyncio.fixture
async def anthropic_client(fake_llm: FakeLLM) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with fake_llm.async_anthropic(max_retries=2) as sdk:
        yield sdk


async def messages_text(sdk: anthropic.AsyncAnthropic) -> tuple[str, BaseException | None]:
    received = ""
    try:
        events = await sdk.messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=MESSAGES, stream=True)  # type: ignore[arg-type]
        async with events:
            async for event in events:
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    received += event.delta.text
    except Exception as exc:  # an SDK error, or httpx's own from a cut stream
        return received, exc
    return received, None


@pytest.mark.asyncio
@pytest.mark.sparring_virtual_time
@settings(max_examples=40, deadline=None, database=None, suppress_health_check=QUIET)
@given(script=strategies.misbehaving_streams(text=TEXT, max_wait=WAIT, api="messages"))
async def test_the_async_anthropic_sdk_keeps_the_invariants_on_messages_scenarios(
    fake_llm: FakeLLM, anthropic_client: anthropic.AsyncAnthropic, script: Scenario
) -> None:
    assert script.rules[0].match.endpoint == "messages"
    async with fake_llm.example(script):  # strict: a request to another endpoint would fail it
        received, error = await messages_text(anthropic_client)
        await strategies.check_cleanup_ran(fake_llm)
    strategies.check_stream_invariants(fake_llm, TEXT, received, error)
    assert all(entry.path.endswith("/v1/messages") for entry in fake_llm.journal)


async def responses_text(sdk: openai.AsyncOpenAI) -> tuple[str, BaseException | None]:
    received = ""
    try:
        events = await sdk.responses.create(model="gpt-4o", input="capital of France?", stream=True)
        async with events:
            async for event in events:
                if event.type == "response.output_text.delta":
                    received += event.delta
                elif event.type in ("error", "response.failed"):  # the in-band error: the stream ends in it
                    return received, RuntimeError(event.type)
    except Exception as exc:
        return received, exc
    return received, None


@pytest.mark.asyncio
@pytest.mark.sparring_virtual_time
@settings(max_examples=30, deadline=None, database=None, suppress_health_check=QUIET)
@given(script=strategies.misbehaving_streams(text=TEXT, max_wait=WAIT, api="responses"))
async def test_the_responses_api_keeps_the_invariants_on_responses_scenarios(
    fake_llm: FakeLLM, client: openai.AsyncOpenAI, script: Scenario
) -> None:
    async with fake_llm.example(script):
        received, error = await responses_text(client)
    strategies.check_stream_invariants(fake_llm, TEXT, received, error)


def test_a_scenario_for_one_api_answers_no_other(fake_llm: FakeLLM) -> None:
    from hypothesis import find

    script = find(strategies.misbehaving_streams(text=TEXT, api="messages"), lambda s: True)
    assert script == Scenario.of(rule_for("messages", reply(TEXT)))
    client = fake_llm.openai(max_retries=0)
    with (
        pytest.raises(ExampleError, match="1 request had no scripted reply"),
        fake_llm.example(script),
        pytest.raises(openai.NotFoundError),
    ):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # type: ignore[arg-type]
    fake_llm.reset()


def rule_for(api: str, *replies: Answer | ErrorReply) -> object:
    from sparring.scenario.match import Match
    from sparring.scenario.model import Rule

    return Rule(replies=replies, match=Match(endpoint=api))


def test_faults_reach_the_end_of_each_apis_stream() -> None:
    """Positions reach the end of the API's stream (its closing events too), and no further
    (the smallest past the end would be found): the words of the text, and the events
    around them (chat 3, Anthropic Messages 6, Responses 8)."""
    from hypothesis import find

    words = len(TEXT.split())
    for api, around in (("chat", 3), ("messages", 6), ("responses", 8)):
        scripts = strategies.misbehaving_streams(text=TEXT, api=api, max_errors=0)
        end = words + around
        assert _fault_at(find(scripts, lambda s, end=end: _fault_at(s) >= end)) == end  # type: ignore[misc]


def _fault_at(script: Scenario) -> int:
    first = script.rules[0].replies[0]
    if isinstance(first, Answer) and first.fault is not None:
        return first.fault.after_chunk or 0
    return -1


def test_messages_errors_include_anthropics_own_529() -> None:
    from hypothesis import find

    assert find(strategies.error_replies(api="messages"), lambda e: e.status == 529).status == 529
    with pytest.raises(NoSuchExample):
        find(strategies.error_replies(), lambda e: e.status == 529)
    with pytest.raises(NoSuchExample):
        find(strategies.error_replies(api="messages", retryable=False), lambda e: e.status == 529)


def test_an_unknown_api_is_named_with_a_suggestion() -> None:
    with pytest.raises(
        ValueError,
        match=r"unknown api 'message'; the streaming APIs: chat, responses, messages \(did you mean 'messages'\?\)",
    ):
        strategies.misbehaving_streams(text=TEXT, api="message")


# -- the async example, and what it refuses ---------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.sparring_virtual_time
async def test_under_virtual_time_a_sync_example_is_refused_with_the_way(fake_llm: FakeLLM) -> None:
    with pytest.raises(ExampleError, match=r"use `async with fake_llm.example\(...\)`"), fake_llm.example(reply(TEXT)):
        pass


@pytest.mark.asyncio
async def test_invariants_that_read_the_journal_wait_for_the_end_of_an_async_example(
    fake_llm: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    async with fake_llm.example(reply(TEXT, fault=Fault("reset")), reply(TEXT)):
        received, error = await chat_text(client)
        with pytest.raises(ExampleError, match="call it after the block"):
            strategies.check_no_retry_on_fatal(fake_llm)
    assert (received, error) == (TEXT, None)  # the SDK retried the reset before the headers
    assert [e.outcome for e in fake_llm.journal] == ["fault", "completed"]
    strategies.check_stream_invariants(fake_llm, TEXT, received, error)  # after the block: the journal is final
