"""What the reference client yields: immutable, typed events."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class EventType(str, Enum):
    TEXT_DELTA = "text_delta"
    TOOL_CALL_DELTA = "tool_call_delta"
    TOOL_CALL_COMPLETE = "tool_call_complete"
    MESSAGE_COMPLETE = "message_complete"
    ERROR = "error"


@dataclass(frozen=True)
class TextDelta:
    content: str


@dataclass(frozen=True)
class ToolCallDelta:
    """One fragment of a tool call's JSON arguments, as it arrived."""

    index: int
    id: str | None
    name: str | None
    arguments: str


@dataclass(frozen=True)
class ToolCall:
    """A finished tool call; `arguments` parsed from the concatenated fragments."""

    index: int
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


@dataclass(frozen=True)
class StreamEvent:
    """One thing that happened in a chat completion. `type` says which fields are set:

    - `TEXT_DELTA`: `text_delta`
    - `TOOL_CALL_DELTA`: `tool_call_delta`; `TOOL_CALL_COMPLETE`: `tool_call`
    - `MESSAGE_COMPLETE`: `finish_reason`, `usage`, and the whole answer: `text`,
      `tool_calls`, and `refusal` when the model declined
    - `ERROR`: `error` (what went wrong) and `retryable` (whether trying again could help)
    """

    type: EventType
    text_delta: TextDelta | None = None
    tool_call_delta: ToolCallDelta | None = None
    tool_call: ToolCall | None = None
    finish_reason: str | None = None
    usage: Usage | None = None
    text: str | None = None
    refusal: str | None = None
    error: str | None = None
    retryable: bool | None = None
    tool_calls: tuple[ToolCall, ...] = field(default=())


def text_delta(content: str) -> StreamEvent:
    return StreamEvent(EventType.TEXT_DELTA, text_delta=TextDelta(content))


def failure(message: str, *, retryable: bool) -> StreamEvent:
    return StreamEvent(EventType.ERROR, error=message, retryable=retryable)
