"""What the fake server should do: the model, its builders, and the file loader."""

from sparring.scenario.builders import error, message, reply, rule, tool_call
from sparring.scenario.delivery import ERROR_PRESETS, Fault, RateLimits, Timing, Wire
from sparring.scenario.dump import dump_scenario
from sparring.scenario.library import builtin_names, load_scenario
from sparring.scenario.loader import load_file, parse_scenario
from sparring.scenario.model import (
    Answer,
    Content,
    ErrorReply,
    FakerText,
    Match,
    Message,
    Reply,
    Rule,
    Scenario,
    Split,
    ToolCall,
    Usage,
)

__all__ = [
    "ERROR_PRESETS",
    "Answer",
    "Content",
    "ErrorReply",
    "FakerText",
    "Fault",
    "Match",
    "Message",
    "RateLimits",
    "Reply",
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
    "rule",
    "tool_call",
]
