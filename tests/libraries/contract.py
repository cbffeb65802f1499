"""The client-library contract: what each library does with each case, as the docs show it.

One row per library API, one column per fact. The suite measures every cell against the fake
server over real sockets (`tests/libraries/test_contract_*.py`, through `contract_tests`), and a
test keeps the docs page's table equal to this one. After a change, regenerate it:

    python -m tests.libraries.contract > docs/generated/client-libraries-table.md

The columns:
- `clean stream`: a streamed answer, `one two three four` (for tool calls, the arguments).
- `429, retry-after-ms: 40`: a 429 asking for 40 ms in `retry-after-ms`, then the answer:
  what the caller got, the number of requests the server saw, and how the retry waited, read
  from the journal: `honoured` (at least the 40 ms asked, and less than any backoff of its
  own), `own backoff`, `too soon` or `no retry`.
- `429, retry-after: 0.04`: the same with `retry-after: 0.04` (seconds) instead.
- `check_retries`: `check_retries` on the journal of the `retry-after-ms` case.
- `reset after chunk 2`: the connection reset after the second chunk, on every attempt: the
  exception the caller got, with the module it is imported from, and the number of requests.
- `check_cleanup`: `check_cleanup` on every way out of the stream: `ok`, or the ways that leaked.
"""

from __future__ import annotations

COLUMNS = (
    "clean stream",
    "429, retry-after-ms: 40",
    "429, retry-after: 0.04",
    "check_retries",
    "reset after chunk 2",
    "check_cleanup",
)
NOT_A_STREAM = "n/a: sync"
ONE_ANSWER = "n/a: one answer"

TABLE = """
openai 3.x: chat, async                | whole | whole ×2, honoured | whole ×2, honoured | passes | openai.APIConnectionError ×1                               | ok
openai 3.x: chat, sync                 | whole | whole ×2, honoured | whole ×2, honoured | passes | openai.APIConnectionError ×1                               | n/a: sync
openai 3.x: Responses, async           | whole | whole ×2, honoured | whole ×2, honoured | passes | openai.APIConnectionError ×1                               | ok
openai 3.x: Responses, sync            | whole | whole ×2, honoured | whole ×2, honoured | passes | openai.APIConnectionError ×1                               | n/a: sync
openai 2.x: chat, async                | whole | whole ×2, honoured | whole ×2, honoured | passes | httpx.ReadError ×1                                         | ok
openai 2.x: chat, sync                 | whole | whole ×2, honoured | whole ×2, honoured | passes | httpx.ReadError ×1                                         | n/a: sync
openai 2.x: Responses, async           | whole | whole ×2, honoured | whole ×2, honoured | passes | httpx.ReadError ×1                                         | ok
openai 2.x: Responses, sync            | whole | whole ×2, honoured | whole ×2, honoured | passes | httpx.ReadError ×1                                         | n/a: sync
anthropic 2.x: messages.stream, async  | whole | whole ×2, honoured | whole ×2, honoured | passes | httpx2.ReadError ×1                                        | ok
anthropic 2.x: messages.stream, sync   | whole | whole ×2, honoured | whole ×2, honoured | passes | httpx2.ReadError ×1                                        | n/a: sync
langchain-openai: astream              | whole | whole ×2, honoured | whole ×2, honoured | passes | langchain_openai.chat_models.base.OpenAIConnectionError ×1 | leaks: break, consumer_error, abandon
langchain-openai: ainvoke              | whole | whole ×2, honoured | whole ×2, honoured | passes | langchain_openai.chat_models.base.OpenAIConnectionError ×3 | n/a: one answer
langchain-openai: bind_tools + astream | whole | whole ×2, honoured | whole ×2, honoured | passes | langchain_openai.chat_models.base.OpenAIConnectionError ×1 | leaks: break, consumer_error, abandon
litellm: acompletion(stream=True)      | whole | whole ×2, honoured | whole ×2, honoured | passes | litellm.exceptions.MidStreamFallbackError ×1               | ok
pydantic-ai: Agent.run_stream          | whole | whole ×2, honoured | whole ×2, honoured | passes | pydantic_ai.exceptions.ModelConnectionError ×1             | leaks: consumer_error, abandon
pydantic-ai: run_stream, tool loop     | whole | whole ×3, honoured | whole ×3, honoured | passes | pydantic_ai.exceptions.ModelConnectionError ×2             | leaks: consumer_error, abandon
openai-agents: Runner.run_streamed     | whole | whole ×2, honoured | whole ×2, honoured | passes | openai.APIConnectionError ×1                               | leaks: break, consumer_error, abandon
"""
GENERATED = "docs/generated/client-libraries-table.md"


def expected() -> dict[str, dict[str, str]]:
    rows: dict[str, dict[str, str]] = {}
    for line in TABLE.strip().splitlines():
        row, *cells = (cell.strip() for cell in line.split("|"))
        rows[row] = dict(zip(COLUMNS, cells, strict=True))
    return rows


def markdown() -> str:
    head = "| client | " + " | ".join(COLUMNS) + " |"
    rule = "|" + "---|" * (len(COLUMNS) + 1)
    lines = [f"| {row} | " + " | ".join(cells[c] for c in COLUMNS) + " |" for row, cells in expected().items()]
    return "\n".join([head, rule, *lines]) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
