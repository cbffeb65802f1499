"""The reference streaming client: `LLMClient.chat_completion` is an async generator of
`StreamEvent`s, with retries and cleanup done right. Needs the `openai` SDK
(`pip install 'sparring[openai]'`). It never imports the rest of sparring (only
`sparring._optional`, to name that extra when the SDK is missing), and the rest never imports
it."""

from sparring._optional import require

require("openai", feature="the reference client, sparring.client,")
from sparring.client.events import EventType, StreamEvent, TextDelta, ToolCall, ToolCallDelta, Usage  # noqa: E402
from sparring.client.llm_client import LLMClient  # noqa: E402
from sparring.client.retry import RetryPolicy  # noqa: E402

__all__ = ["EventType", "LLMClient", "RetryPolicy", "StreamEvent", "TextDelta", "ToolCall", "ToolCallDelta", "Usage"]
