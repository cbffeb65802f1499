"""What each SDK raises when a connection is cut during a stream, and from which library: the
facts behind "A stream that breaks" in docs/fault-contract.md, for the calls the page names
(sync and async clients, `create(stream=True)` and the `stream()` helpers).

openai 3.x wraps the cut in `openai.APIConnectionError`, the httpx2 exception as its cause;
openai 2.x lets httpx's exception through; anthropic 2.x lets httpx2's through. Runs under
whichever openai major is installed (`make test` runs both).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import openai
import pytest

from sparring import FakeServer, Fault, Scenario, reply

MAJOR = openai.__version__.split(".")[0]
MESSAGES = [{"role": "user", "content": "Hi"}]
ANTHROPIC_BODY = {"model": "claude-sparring-1", "max_tokens": 64, "messages": MESSAGES}


def qualified(cls: type[BaseException]) -> str:
    return f"{cls.__module__.split('.')[0]}.{cls.__name__}"


def openai_create(url: str, root: str) -> None:
    with openai.OpenAI(base_url=url, api_key="sk-test", max_retries=2) as client:
        for _ in client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True):  # type: ignore[arg-type]
            pass


def openai_chat_stream(url: str, root: str) -> None:
    with (
        openai.OpenAI(base_url=url, api_key="sk-test", max_retries=2) as client,
        client.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as stream,  # type: ignore[arg-type]
    ):
        for _ in stream:
            pass


def openai_responses_stream(url: str, root: str) -> None:
    with (
        openai.OpenAI(base_url=url, api_key="sk-test", max_retries=2) as client,
        client.responses.stream(model="gpt-4o", input="Hi") as stream,
    ):
        for _ in stream:
            pass


def anthropic_create(url: str, root: str) -> None:
    import anthropic

    with anthropic.Anthropic(base_url=root, api_key="sk-test", max_retries=2) as client:
        for _ in client.messages.create(**ANTHROPIC_BODY, stream=True):  # type: ignore[call-overload]
            pass


def anthropic_stream(url: str, root: str) -> None:
    import anthropic

    with (
        anthropic.Anthropic(base_url=root, api_key="sk-test", max_retries=2) as client,
        client.messages.stream(**ANTHROPIC_BODY) as stream,  # type: ignore[arg-type]
    ):
        for _ in stream.text_stream:
            pass


OPENAI_RAISES = {"3": ("openai.APIConnectionError", "httpx2.ReadError"), "2": ("httpx.ReadError", "httpcore.ReadError")}
# call -> (what it raises, its __cause__)
CALLS: dict[str, tuple[Callable[[str, str], Any], tuple[str, str]]] = {
    "openai chat create": (openai_create, OPENAI_RAISES[MAJOR]),
    "openai chat stream()": (openai_chat_stream, OPENAI_RAISES[MAJOR]),
    "openai responses stream()": (openai_responses_stream, OPENAI_RAISES[MAJOR]),
    "anthropic create": (anthropic_create, ("httpx2.ReadError", "httpcore2.ReadError")),
    "anthropic stream()": (anthropic_stream, ("httpx2.ReadError", "httpcore2.ReadError")),
}


@pytest.mark.parametrize("call", list(CALLS))
def test_a_cut_during_the_stream(call: str) -> None:
    if call.startswith("anthropic") and importlib.util.find_spec("anthropic") is None:
        pytest.skip("the anthropic SDK is not installed here")
    run, (raised, cause) = CALLS[call]
    with FakeServer(Scenario.of(reply("one two three four", fault=Fault("reset", after_chunk=3)))) as server:
        with pytest.raises(Exception) as caught:  # noqa: PT011 - which exception is what is checked
            run(server.base_url, server.url)
        assert len(server.journal()) == 1, "no SDK retries once the stream is under way"
    assert qualified(type(caught.value)) == raised
    assert caught.value.__cause__ is not None
    assert qualified(type(caught.value.__cause__)) == cause


def test_httpx2_errors_are_not_httpx_errors() -> None:
    """Why the docs name the package: `except httpx.TransportError` misses httpx2's."""
    httpx = pytest.importorskip("httpx")
    httpx2 = pytest.importorskip("httpx2")
    assert not issubclass(httpx2.ReadError, httpx.TransportError)
    assert issubclass(httpx2.ReadError, httpx2.TransportError)
