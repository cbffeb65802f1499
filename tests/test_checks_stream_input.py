"""Every slip in handing a check its stream gets the same clear message, whichever check it is:
a coroutine, a sync iterator or iterable, an async context manager, or a stream where a
function that makes one is needed. None of them reaches the server or warns on the way."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from sparring import FakeLLM, SparringError
from sparring.checks import check_cleanup, collect, collect_sync

HI: Any = [{"role": "user", "content": "Hi"}]


async def chat() -> str:
    return "an answer, returned instead of yielded"


def words() -> Iterator[str]:
    yield "sync"


async def letters() -> AsyncIterator[str]:
    yield "a"


@asynccontextmanager
async def events() -> AsyncIterator[AsyncIterator[str]]:
    yield letters()


# What was handed over, and what every check says it is.
SLIPS: list[tuple[Callable[[], object], str, str]] = [
    (chat, r"a coroutine \(chat\)", "await it inside an async generator:"),
    (words, r"a generator \(words\)", "for a sync stream (the openai SDK's Stream, a generator) use collect_sync()"),
    (lambda: iter([1, 2]), r"a sync iterator \(list_iterator\)", "use collect_sync()"),
    (lambda: [1, 2], r"a sync iterable \(list\)", "use collect_sync()"),
    (events, r"an async context manager \(_AsyncGeneratorContextManager\)", "enter it inside an async generator:"),
    (lambda: 42, r"an int", "give an async generator, or an object with __aiter__"),
    (lambda: None, r"None", "give an async generator, or an object with __aiter__"),
]
IDS = ["coroutine", "generator", "sync-iterator", "sync-iterable", "context-manager", "int", "none"]


@pytest.mark.asyncio
@pytest.mark.parametrize(("make", "what", "advice"), SLIPS, ids=IDS)
async def test_collect_names_the_slip(make: Callable[[], object], what: str, advice: str) -> None:
    with pytest.raises(TypeError, match=rf"^collect\(\) was given {what}, not an async iterator; ") as refused:
        await collect(make())  # type: ignore[arg-type]
    assert advice in str(refused.value)
    assert isinstance(refused.value, SparringError)


@pytest.mark.asyncio
@pytest.mark.parametrize(("make", "what", "advice"), SLIPS, ids=IDS)
async def test_check_cleanup_names_the_same_slip(
    fake_llm: FakeLLM, make: Callable[[], object], what: str, advice: str
) -> None:
    with pytest.raises(TypeError, match=rf"^stream\(\) returned {what}, not an async iterator; ") as refused:
        await check_cleanup(make, fake_llm, ways=["break"])  # type: ignore[arg-type]
    assert advice in str(refused.value)
    assert fake_llm.journal == []


@pytest.mark.asyncio
async def test_the_sdks_unawaited_create_is_the_coroutine_slip(fake_llm: FakeLLM) -> None:
    async with fake_llm.async_openai() as client:
        create = client.chat.completions.create(model="gpt-4o", messages=HI, stream=True)
        with pytest.raises(TypeError) as refused:
            await collect(create)  # type: ignore[arg-type]
    assert str(refused.value) == (
        "collect() was given a coroutine (AsyncCompletions.create), not an async iterator; "
        "await it inside an async generator:\n"
        "    async def stream():\n"
        "        async with await client.chat.completions.create(..., stream=True) as chunks:\n"
        "            async for chunk in chunks:\n"
        "                yield chunk"
    )
    assert fake_llm.journal == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("stream", "what"),
    [
        (letters, r"an async generator \(letters\)"),
        (chat, r"a coroutine \(chat\)"),
        ([1, 2], r"a sync iterable \(list\)"),
        ("letters", r"a sync iterable \(str\)"),
    ],
    ids=["async-generator", "coroutine", "list", "str"],
)
async def test_check_cleanup_wants_a_function_that_makes_a_stream(
    fake_llm: FakeLLM, stream: Callable[[], Any], what: str
) -> None:
    made = stream() if callable(stream) else stream  # the stream itself, not a way to make one
    with pytest.raises(TypeError) as refused:
        await check_cleanup(made, fake_llm)
    assert re.match(
        rf"check_cleanup's stream must be a function that makes a fresh stream each time "
        rf"\(e\.g\. lambda: client\.chat\(\.\.\.\)\), got {what}; each way out takes a new stream$",
        str(refused.value),
    )


@pytest.mark.parametrize(
    ("stream", "what", "advice"),
    [
        (letters, r"an async generator \(letters\)", "for an async stream use `await collect(...)`"),
        (chat, r"a coroutine \(chat\)", "for an async stream use `await collect(...)`"),
        (lambda: 4.5, r"a float", "give a generator, or an object with __iter__"),
    ],
    ids=["async-generator", "coroutine", "float"],
)
def test_collect_sync_names_the_slip_in_the_same_words(stream: Callable[[], object], what: str, advice: str) -> None:
    with pytest.raises(TypeError, match=rf"^collect_sync\(\) was given {what}, not a sync iterator; ") as refused:
        collect_sync(stream())  # type: ignore[arg-type]
    assert advice in str(refused.value)
