"""What a request said, as rules and callbacks see it, whatever API it came through.

Each dialect parses its body into a conversation in Chat Completions shape (`ParsedRequest.messages`);
`Request.of` turns that into this small, read-only, documented object. Matching reads it, and a
callback (`respond(...)`) receives it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

SYSTEM_ROLES = ("system", "developer")
ROLES = ("system", "developer", "user", "assistant", "tool")


@dataclass(frozen=True)
class RequestToolCall:
    """A function call the assistant made earlier in the conversation, as the client sends it back."""

    id: str | None
    name: str
    arguments: str  # the JSON text, as sent


@dataclass(frozen=True)
class RequestMessage:
    """One message of the conversation, the same for every API.

    `role` is `system`, `developer`, `user`, `assistant` or `tool` (a tool result: Chat's
    `role: tool` message, an Anthropic `tool_result` block, a Responses `function_call_output`
    item). `text` is its text, parts joined. A tool result has `tool_call_id` (the call it
    answers) and `tool_name` (that call's function, when the conversation has the call); an
    assistant message has the `tool_calls` it made.
    """

    role: str
    text: str = ""
    tool_call_id: str | None = None
    tool_name: str | None = None
    tool_calls: tuple[RequestToolCall, ...] = ()


@dataclass(frozen=True)
class Request:
    """A request to the fake server, as a rule's match and a `respond(...)` callback see it.

    Read-only: a callback gets its own copy of `body`, so changing it changes nothing.
    """

    endpoint: str  # `chat`, `responses`, `messages`, `completions` or `embeddings`
    path: str
    model: str | None
    messages: tuple[RequestMessage, ...]
    body: Mapping[str, Any]
    headers: Mapping[str, str]  # lower-case names
    stream: bool
    has_tools: bool = False  # a non-empty `tools` list
    tools: tuple[str, ...] = ()  # the names of the function tools offered
    retry_count: int | None = None  # the `x-stainless-retry-count` header
    index: int = 0  # its place in the journal: `fake_llm.journal[request.index]`
    last_user_text: str = field(default="")

    @classmethod
    def of(
        cls,
        *,
        endpoint: str,
        path: str,
        model: str | None,
        messages: Sequence[object],
        body: Mapping[str, Any],
        headers: Mapping[str, str],
        stream: bool,
        has_tools: bool = False,
        retry_count: int | None = None,
        index: int = 0,
    ) -> Request:
        """From a dialect's parse: `messages` in Chat Completions shape."""
        return cls(
            endpoint=endpoint,
            path=path,
            model=model,
            messages=conversation(messages),
            body=MappingProxyType(dict(body)),
            headers=MappingProxyType({k.lower(): v for k, v in headers.items()}),
            stream=stream,
            has_tools=has_tools,
            tools=tool_names(body.get("tools")),
            retry_count=retry_count,
            index=index,
            last_user_text=last_user_text(list(messages)),
        )

    @cached_property
    def system(self) -> str:
        """The system prompt: the text of every system and developer message, joined by blank
        lines (Anthropic's `system` and Responses' `instructions` included)."""
        return "\n\n".join(m.text for m in self.messages if m.role in SYSTEM_ROLES)

    @cached_property
    def message_count(self) -> int:
        """Messages in the conversation, system and developer ones not counted."""
        return sum(1 for m in self.messages if m.role not in SYSTEM_ROLES)

    @cached_property
    def last_role(self) -> str | None:
        """The role of the last message (`tool` when the request ends with tool results)."""
        return self.messages[-1].role if self.messages else None

    @cached_property
    def tool_results(self) -> tuple[RequestMessage, ...]:
        """The tool results sent since the assistant last spoke: what the agent reports now."""
        found: list[RequestMessage] = []
        for message in reversed(self.messages):
            if message.role == "assistant":
                break
            if message.role == "tool":
                found.append(message)
        return tuple(reversed(found))

    def facts(self) -> list[str]:
        """What the rules can match on, briefly: `model='gpt-4o'`, `stream=False`, the last user
        message, the retry count, and what the conversation holds: how many messages, who spoke
        last, the system prompt, the tool results sent back, the tools offered."""
        said = short(self.last_user_text, 60)
        facts = [f"model={self.model!r}", f"stream={self.stream}", f"last user message={said}"]
        if self.retry_count is not None:
            facts.append(f"retry count {self.retry_count}")
        if self.messages:
            count = self.message_count
            facts.append(f"{count} message{'' if count == 1 else 's'}, the last from {self.last_role}")
        if self.system:
            facts.append(f"system prompt {short(self.system)}")
        for result in self.tool_results:
            name = f" ({result.tool_name})" if result.tool_name else ""
            facts.append(f"tool result {result.tool_call_id}{name} {short(result.text)}")
        if self.tools:
            facts.append(f"tools {short(', '.join(self.tools), 60, quote=False)}")
        elif self.has_tools:
            facts.append("tools")
        return facts

    def describe(self, method: str = "POST") -> str:
        """One line: `POST /v1/chat/completions (model='gpt-4o', stream=False, ...)`. What the
        journal keeps as `Entry.asked`, and what the miss message and the teardown show."""
        return f"{method} {self.path} ({', '.join(self.facts())})"


def short(value: object, limit: int = 40, *, quote: bool = True) -> str:
    """A text cut to `limit` characters (`…` saying so), quoted unless `quote=False`; any
    other value's repr, cut the same way."""
    if isinstance(value, str):
        text = value if len(value) <= limit else value[: limit - 1] + "…"
        return repr(text) if quote else text
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def conversation(messages: Sequence[object]) -> tuple[RequestMessage, ...]:
    """Chat-shaped message dicts as `RequestMessage`s; a tool result gets the name of its call."""
    names: dict[str, str] = {}
    found: list[RequestMessage] = []
    for raw in messages:
        if not isinstance(raw, Mapping):
            continue
        role = str(raw.get("role") or "")
        calls = _tool_calls(raw.get("tool_calls"))
        names.update({c.id: c.name for c in calls if c.id})
        call_id = raw.get("tool_call_id")
        call_id = call_id if isinstance(call_id, str) else None
        found.append(
            RequestMessage(
                role=role,
                text=message_text(raw.get("content")),
                tool_call_id=call_id,
                tool_name=names.get(call_id) if call_id else None,
                tool_calls=calls,
            )
        )
    return tuple(found)


def _tool_calls(raw: object) -> tuple[RequestToolCall, ...]:
    if not isinstance(raw, list):
        return ()
    calls = []
    for call in raw:
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping):
            continue
        arguments = function.get("arguments")
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)
        call_id = call.get("id")
        calls.append(
            RequestToolCall(
                id=call_id if isinstance(call_id, str) else None,
                name=str(function.get("name") or ""),
                arguments=arguments,
            )
        )
    return tuple(calls)


def tool_names(tools: object) -> tuple[str, ...]:
    """The names of the tools offered: Chat's `function.name`, or `name` (Responses, Anthropic)."""
    if not isinstance(tools, list):
        return ()
    names = []
    for tool in tools:
        if not isinstance(tool, Mapping):
            continue
        function = tool.get("function")
        name = function.get("name") if isinstance(function, Mapping) else tool.get("name")
        if isinstance(name, str):
            names.append(name)
    return tuple(names)


def message_text(content: object) -> str:
    """The text in a message's content: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def last_user_text(messages: object) -> str:
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text(message.get("content"))
    return ""
