"""langchain-openai across tests, each on an event loop of its own (issue 9).

langchain-openai caches its async HTTP client per (base_url, timeout). When every test had the
same base URL, the second test reused the first one's pooled connection, bound to a loop
pytest-asyncio had closed: `RuntimeError: Event loop is closed`. Each test's `fake_llm.base_url`
is its own now, so each test gets a client of its own. The inner runs are subprocesses: a
real user's session, with langchain imported once and pytest-asyncio's loops as configured.
"""

from __future__ import annotations

import pytest

pytest.importorskip("langchain_openai")

pytest_plugins = ["pytester"]

TESTS = """
from langchain_openai import ChatOpenAI
from sparring import error, reply

import pytest


def chat(fake_llm, **options):
    return ChatOpenAI(model="gpt-4o", base_url=fake_llm.base_url, api_key=fake_llm.api_key, **options)


{marker}
async def test_1_ainvoke(fake_llm):
    fake_llm.add(reply("first"))
    assert (await chat(fake_llm, max_retries=0).ainvoke("Hi")).content == "first"


{marker}
async def test_2_ainvoke_on_a_new_loop(fake_llm):
    fake_llm.add(reply("second"))
    assert (await chat(fake_llm, max_retries=0).ainvoke("Hi")).content == "second"


{marker}
async def test_3_retry(fake_llm):
    fake_llm.add(error("rate_limit", retry_after_ms=10), reply("after a wait"))
    assert (await chat(fake_llm, max_retries=2).ainvoke("Hi")).content == "after a wait"
    assert [e.status for e in fake_llm.journal] == [429, 200]


{marker}
async def test_4_retry_on_a_new_loop(fake_llm):
    fake_llm.add(error("rate_limit", retry_after_ms=10), reply("again"))
    assert (await chat(fake_llm, max_retries=2).ainvoke("Hi")).content == "again"
    assert [e.status for e in fake_llm.journal] == [429, 200]
"""

INI = """
[pytest]
asyncio_mode = {mode}
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_each_test_gets_a_client_of_its_own(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makeini(INI.format(mode=mode))
    marker = "@pytest.mark.asyncio" if mode == "strict" else ""
    pytester.makepyfile(test_langchain=TESTS.format(marker=marker))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", "-v")
    result.assert_outcomes(passed=4)
