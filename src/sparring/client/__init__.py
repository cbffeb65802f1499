"""The reference streaming client: `LLMClient.chat_completion` is an async generator of
`StreamEvent`s, with retries and cleanup done right. Needs the `openai` SDK
(`pip install 'sparring[client]'`). It never imports the rest of sparring, and the rest never
imports it."""

from sparring.client.events import EventType, StreamEvent, TextDelta, ToolCall, ToolCallDelta, Usage
from sparring.client.llm_client import LLMClient
from sparring.client.retry import RetryPolicy

__all__ = ["EventType", "LLMClient", "RetryPolicy", "StreamEvent", "TextDelta", "ToolCall", "ToolCallDelta", "Usage"]
