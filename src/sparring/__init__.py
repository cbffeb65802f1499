"""sparring: a sparring partner for streaming LLM clients.

A fake OpenAI- and Anthropic-compatible server (Chat Completions, Responses, legacy
Completions, Embeddings, Anthropic Messages) that replays scripted streams and injects
faults, plus the pytest fixtures and checks that prove a client handles them. Every public
name is exported here, loaded on first use so that `import sparring` (and the pytest plugin)
stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sparring._version import __version__

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "Answer": "sparring.scenario.model",
    "Attempt": "sparring.checks.grouping",
    "Callback": "sparring.scenario.model",
    "CleanupError": "sparring.checks.cleanup",
    "CleanupReport": "sparring.checks.cleanup",
    "Collected": "sparring.checks.collect",
    "EventSnapshot": "sparring.checks.snapshot",
    "RetryCheckError": "sparring.checks.retries",
    "RetryReport": "sparring.checks.retries",
    "WAYS_OUT": "sparring.checks.cleanup",
    "WayResult": "sparring.checks.cleanup",
    "check_cleanup": "sparring.checks.cleanup",
    "check_retries": "sparring.checks.retries",
    "collect": "sparring.checks.collect",
    "collect_sync": "sparring.checks.collect",
    "mask": "sparring.checks.snapshot",
    "Chunk": "sparring.fake_server.journal",
    "Content": "sparring.scenario.model",
    "ERROR_PRESETS": "sparring.scenario.delivery",
    "Entry": "sparring.fake_server.journal",
    "ErrorReply": "sparring.scenario.model",
    "FakeLLM": "sparring.plugin.fake_llm",
    "FakeServer": "sparring.fake_server.runner",
    "FakerText": "sparring.scenario.model",
    "Match": "sparring.scenario.match",
    "Message": "sparring.scenario.model",
    "Problem": "sparring.errors",
    "Recorder": "sparring.recorder.proxy",
    "Reply": "sparring.scenario.model",
    "Request": "sparring.scenario.request",
    "RequestMessage": "sparring.scenario.request",
    "RequestToolCall": "sparring.scenario.request",
    "Rule": "sparring.scenario.model",
    "Scenario": "sparring.scenario.model",
    "ScenarioError": "sparring.errors",
    "ServerError": "sparring.errors",
    "Split": "sparring.scenario.model",
    "SparringError": "sparring.errors",
    "Timing": "sparring.scenario.delivery",
    "Wire": "sparring.scenario.delivery",
    "Fault": "sparring.scenario.delivery",
    "RateLimits": "sparring.scenario.delivery",
    "Recorded": "sparring.scenario.recording",
    "RecordedEvent": "sparring.scenario.recording",
    "ToolCall": "sparring.scenario.model",
    "Usage": "sparring.scenario.model",
    "builtin_names": "sparring.scenario.library",
    "error": "sparring.scenario.builders",
    "load_scenario": "sparring.scenario.library",
    "message": "sparring.scenario.builders",
    "parse_scenario": "sparring.scenario.loader",
    "recorded": "sparring.scenario.builders",
    "dump_scenario": "sparring.scenario.dump",
    "reply": "sparring.scenario.builders",
    "respond": "sparring.scenario.builders",
    "rule": "sparring.scenario.builders",
    "tool_call": "sparring.scenario.builders",
    "fault_sweep": "sparring.recorder.derive",
    "import_transcript": "sparring.recorder.transcript",
    "TranscriptError": "sparring.recorder.transcript",
}

__all__ = sorted([*_EXPORTS, "__version__"])

if TYPE_CHECKING:
    from sparring.checks.cleanup import WAYS_OUT, CleanupError, CleanupReport, WayResult, check_cleanup
    from sparring.checks.collect import Collected, collect, collect_sync
    from sparring.checks.grouping import Attempt
    from sparring.checks.retries import RetryCheckError, RetryReport, check_retries
    from sparring.checks.snapshot import EventSnapshot, mask
    from sparring.errors import Problem, ScenarioError, ServerError, SparringError
    from sparring.fake_server.journal import Chunk, Entry
    from sparring.fake_server.runner import FakeServer
    from sparring.plugin.fake_llm import FakeLLM
    from sparring.recorder.derive import fault_sweep
    from sparring.recorder.proxy import Recorder
    from sparring.recorder.transcript import TranscriptError, import_transcript
    from sparring.scenario.builders import error, message, recorded, reply, respond, rule, tool_call
    from sparring.scenario.delivery import ERROR_PRESETS, Fault, RateLimits, Timing, Wire
    from sparring.scenario.dump import dump_scenario
    from sparring.scenario.library import builtin_names, load_scenario
    from sparring.scenario.loader import parse_scenario
    from sparring.scenario.match import Match
    from sparring.scenario.model import (
        Answer,
        Callback,
        Content,
        ErrorReply,
        FakerText,
        Message,
        Reply,
        Rule,
        Scenario,
        Split,
        ToolCall,
        Usage,
    )
    from sparring.scenario.recording import Recorded, RecordedEvent
    from sparring.scenario.request import Request, RequestMessage, RequestToolCall


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sparring' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return __all__
