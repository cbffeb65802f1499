"""What the fake server should do: the model, its builders, and the file loader."""

from sparring.scenario.builders import error, message, reply, respond, rule, tool_call
from sparring.scenario.delivery import ERROR_PRESETS, Fault, RateLimits, Timing, Wire
from sparring.scenario.dump import dump_scenario
from sparring.scenario.library import builtin_names, load_scenario
from sparring.scenario.loader import load_file, parse_scenario
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
from sparring.scenario.request import Request, RequestMessage, RequestToolCall

__all__ = [
    "ERROR_PRESETS",
    "Answer",
    "Callback",
    "Content",
    "ErrorReply",
    "FakerText",
    "Fault",
    "Match",
    "Message",
    "RateLimits",
    "Reply",
    "Request",
    "RequestMessage",
    "RequestToolCall",
    "Rule",
    "Scenario",
    "Split",
    "Timing",
    "ToolCall",
    "Usage",
    "Wire",
    "builtin_names",
    "dump_scenario",
    "error",
    "load_file",
    "load_scenario",
    "message",
    "parse_scenario",
    "reply",
    "respond",
    "rule",
    "tool_call",
]
