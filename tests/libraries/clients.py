"""The client libraries of the contract, each reduced to a stream of text pieces.

Every client is written as its users write it, in the fewest lines its docs show: point it at
the fake (`base_url`, `api_key`), ask for a streamed answer, yield the text as it arrives. Each
one closes every stream it opens (`async with`, `aclosing`), as careful code does: so what the
cleanup check finds unclosed is the library's own.
Each one retries up to twice (three attempts), as the `openai` SDK does by default. A client
is a `Client`: how to script the answer it expects, and a function that makes its stream.
The libraries are imported inside each function, so this module imports anywhere.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import aclosing, asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sparring import Reply, reply, tool_call

TEXT = "one two three four"
CITY = {"city": "Paris"}
ARGUMENTS = json.dumps(CITY, separators=(",", ":"))
KEY = "sk-sparring-libraries"
RETRIES = 2


T = TypeVar("T")
# The HTTP clients the libraries' objects hold, closed when the test's measurement ends: the
# test owns them, not the stream, so closing them cannot hide a stream's own leak.
_OWNED: ContextVar[list[Any]] = ContextVar("owned")


def own(resource: T) -> T:
    """Close `resource` (anything with `aclose()` or `close()`) when `owning()` ends."""
    _OWNED.get().append(resource)
    return resource


@asynccontextmanager
async def owning() -> AsyncIterator[None]:
    owned: list[Any] = []
    token = _OWNED.set(owned)
    try:
        yield
    finally:
        _OWNED.reset(token)
        for resource in reversed(owned):
            close = getattr(resource, "aclose", None) or resource.close
            result = close()
            if result is not None:
                await result
        if owned and _litellm_loaded():
            import litellm

            await litellm.close_litellm_async_clients()  # it caches one per base URL


def _litellm_loaded() -> bool:
    import sys

    return "litellm" in sys.modules


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


@dataclass(frozen=True)
class Client:
    """One row of the contract: a library's API, as a stream of text pieces.

    `stream(base_url)` makes a fresh async stream; `sync(base_url)` a sync iterator instead.
    `before` are the replies a request must take before the one the case scripts (the first
    step of a tool loop); `expected` is what the pieces join to on a clean answer.
    """

    row: str
    stream: Callable[[str], AsyncIterator[str]] | None = None
    sync: Callable[[str], Iterator[str]] | None = None
    root: bool = False  # the client wants the server root, not `/v1` (anthropic)
    expected: str = TEXT
    tool_answer: bool = False  # the answer is a tool call whose arguments are streamed
    one_answer: bool = False  # not a stream: the whole answer comes as one piece
    before: tuple[Callable[[], Reply], ...] = field(default=())

    def answer(self, **delivery: Any) -> Reply:
        """The answer a clean run gets, with a fault or other delivery options."""
        if self.tool_answer:
            return reply(tool_calls=[tool_call("get_weather", CITY, id="call_1")], **delivery)
        return reply(TEXT, **delivery)

    def url(self, base_url: str) -> str:
        return base_url.removesuffix("/v1") if self.root else base_url


# -- the openai SDK ---------------------------------------------------------------------------


# --8<-- [start:openai]
async def openai_chat(base_url: str) -> AsyncIterator[str]:
    import openai

    async with openai.AsyncOpenAI(base_url=base_url, api_key=KEY, max_retries=RETRIES) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        async with stream:
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content


# --8<-- [end:openai]


def openai_chat_sync(base_url: str) -> Iterator[str]:
    import openai

    with openai.OpenAI(base_url=base_url, api_key=KEY, max_retries=RETRIES) as client:
        stream = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        with stream:
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content


async def openai_responses(base_url: str) -> AsyncIterator[str]:
    import openai

    async with openai.AsyncOpenAI(base_url=base_url, api_key=KEY, max_retries=RETRIES) as client:
        stream = await client.responses.create(model="gpt-4o", input="hi", stream=True)
        async with stream:
            async for event in stream:
                if event.type == "response.output_text.delta":
                    yield event.delta


def openai_responses_sync(base_url: str) -> Iterator[str]:
    import openai

    with openai.OpenAI(base_url=base_url, api_key=KEY, max_retries=RETRIES) as client:
        stream = client.responses.create(model="gpt-4o", input="hi", stream=True)
        with stream:
            for event in stream:
                if event.type == "response.output_text.delta":
                    yield event.delta


# -- the anthropic SDK ------------------------------------------------------------------------


# --8<-- [start:anthropic]
async def anthropic_messages(base_url: str) -> AsyncIterator[str]:
    import anthropic

    async with (
        anthropic.AsyncAnthropic(base_url=base_url, api_key=KEY, max_retries=RETRIES) as client,
        client.messages.stream(
            model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        ) as stream,
    ):
        async for text in stream.text_stream:
            yield text


# --8<-- [end:anthropic]


def anthropic_messages_sync(base_url: str) -> Iterator[str]:
    import anthropic

    with (
        anthropic.Anthropic(base_url=base_url, api_key=KEY, max_retries=RETRIES) as client,
        client.messages.stream(
            model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        ) as stream,
    ):
        yield from stream.text_stream


# -- langchain-openai -------------------------------------------------------------------------


# --8<-- [start:langchain]
def _chat_openai(base_url: str) -> Any:
    import httpx
    from langchain_openai import ChatOpenAI

    # A client of its own: langchain caches its default one per base URL, across event loops.
    return ChatOpenAI(
        model="gpt-4o", base_url=base_url, api_key=KEY, max_retries=RETRIES, http_async_client=own(httpx.AsyncClient())
    )


async def langchain_astream(base_url: str) -> AsyncIterator[str]:
    async with aclosing(_chat_openai(base_url).astream("hi")) as stream:
        async for chunk in stream:
            if chunk.content:
                yield chunk.content


async def langchain_ainvoke(base_url: str) -> AsyncIterator[str]:
    message = await _chat_openai(base_url).ainvoke("hi")
    yield message.content


async def langchain_tools(base_url: str) -> AsyncIterator[str]:
    model = _chat_openai(base_url).bind_tools([get_weather])
    async with aclosing(model.astream("weather in Paris?")) as stream:
        async for chunk in stream:
            if chunk.content:  # none in a tool call; the cleanup check's answer is text
                yield chunk.content
            for piece in chunk.tool_call_chunks:
                if piece["args"]:
                    yield piece["args"]


# --8<-- [end:langchain]


# -- litellm ----------------------------------------------------------------------------------


# --8<-- [start:litellm]
async def litellm_stream(base_url: str) -> AsyncIterator[str]:
    import litellm

    litellm.suppress_debug_info = True  # its "Give Feedback" banner on every error
    own(_Nothing())  # so that owning() closes litellm's cached clients
    response = await litellm.acompletion(
        model="openai/gpt-4o",
        api_base=base_url,
        api_key=KEY,
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        num_retries=RETRIES,
    )
    async with response:
        async for chunk in response:
            if chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content


# --8<-- [end:litellm]


class _Nothing:
    def close(self) -> None:
        pass


# -- pydantic-ai ------------------------------------------------------------------------------


# --8<-- [start:pydantic-ai]
def _agent(base_url: str, tools: bool) -> Any:
    from openai import AsyncOpenAI
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    client = own(AsyncOpenAI(base_url=base_url, api_key=KEY, max_retries=RETRIES))
    model = OpenAIChatModel("gpt-4o", provider=OpenAIProvider(openai_client=client))
    return Agent(model, tools=[get_weather] if tools else [])


async def pydantic_ai_stream(base_url: str) -> AsyncIterator[str]:
    async with (
        _agent(base_url, tools=False).run_stream("hi") as result,
        aclosing(result.stream_text(delta=True)) as texts,
    ):
        async for text in texts:
            yield text


async def pydantic_ai_tools(base_url: str) -> AsyncIterator[str]:
    async with (
        _agent(base_url, tools=True).run_stream("weather in Paris?") as result,
        aclosing(result.stream_text(delta=True)) as texts,
    ):
        async for text in texts:
            yield text


# --8<-- [end:pydantic-ai]


# -- openai-agents ----------------------------------------------------------------------------


# --8<-- [start:openai-agents]
async def openai_agents_stream(base_url: str) -> AsyncIterator[str]:
    from agents import Agent, OpenAIChatCompletionsModel, Runner
    from openai import AsyncOpenAI

    client = own(AsyncOpenAI(base_url=base_url, api_key=KEY, max_retries=RETRIES))
    agent = Agent(name="assistant", model=OpenAIChatCompletionsModel(model="gpt-4o", openai_client=client))
    result = Runner.run_streamed(agent, "hi")
    async with aclosing(result.stream_events()) as events:
        async for event in events:
            if event.type == "raw_response_event" and event.data.type == "response.output_text.delta":
                yield event.data.delta


# --8<-- [end:openai-agents]


def _tool_step() -> Reply:
    return reply(tool_calls=[tool_call("get_weather", CITY, id="call_1")])


def sdk_clients(major: str) -> list[Client]:
    """The official SDKs' rows, for the `openai` major installed here."""
    return [
        Client(f"openai {major}.x: chat, async", stream=openai_chat),
        Client(f"openai {major}.x: chat, sync", sync=openai_chat_sync),
        Client(f"openai {major}.x: Responses, async", stream=openai_responses),
        Client(f"openai {major}.x: Responses, sync", sync=openai_responses_sync),
    ]


ANTHROPIC = [
    Client("anthropic 2.x: messages.stream, async", stream=anthropic_messages, root=True),
    Client("anthropic 2.x: messages.stream, sync", sync=anthropic_messages_sync, root=True),
]
LANGCHAIN = [
    Client("langchain-openai: astream", stream=langchain_astream),
    Client("langchain-openai: ainvoke", stream=langchain_ainvoke, one_answer=True),
    Client("langchain-openai: bind_tools + astream", stream=langchain_tools, expected=ARGUMENTS, tool_answer=True),
]
LITELLM = [Client("litellm: acompletion(stream=True)", stream=litellm_stream)]
PYDANTIC_AI = [
    Client("pydantic-ai: Agent.run_stream", stream=pydantic_ai_stream),
    Client("pydantic-ai: run_stream, tool loop", stream=pydantic_ai_tools, before=(_tool_step,)),
]
OPENAI_AGENTS = [Client("openai-agents: Runner.run_streamed", stream=openai_agents_stream)]
