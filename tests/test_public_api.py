"""The public namespace: `sparring.__all__` is exactly the public names, each resolves, and
importing sparring (or its pytest plugin) stays cheap."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys

import pytest

import sparring

# Written by hand, in sorted order: a public name is added here on purpose, never by accident.
PUBLIC = [
    "Answer",
    "Attempt",
    "Callback",
    "Chunk",
    "CleanupError",
    "CleanupReport",
    "Collected",
    "Content",
    "ERROR_PRESETS",
    "Entry",
    "ErrorReply",
    "EventSnapshot",
    "FakeLLM",
    "FakeServer",
    "FakerText",
    "Fault",
    "Match",
    "Message",
    "Problem",
    "RateLimits",
    "Recorded",
    "RecordedEvent",
    "Recorder",
    "Reply",
    "Request",
    "RequestMessage",
    "RequestToolCall",
    "RetryCheckError",
    "RetryReport",
    "Rule",
    "Scenario",
    "ScenarioError",
    "ServerError",
    "SparringError",
    "Split",
    "Timing",
    "ToolCall",
    "TranscriptError",
    "Usage",
    "WAYS_OUT",
    "WayResult",
    "Wire",
    "__version__",
    "builtin_names",
    "check_cleanup",
    "check_retries",
    "collect",
    "collect_sync",
    "dump_scenario",
    "error",
    "fault_sweep",
    "import_transcript",
    "load_scenario",
    "mask",
    "message",
    "parse_scenario",
    "recorded",
    "reply",
    "respond",
    "rule",
    "tool_call",
]


def test_public_list_is_sorted() -> None:
    """The expected list itself is sorted, so the next test pins the order too."""
    assert sorted(PUBLIC) == PUBLIC


def test_all_has_exactly_the_public_names() -> None:
    """`__all__` holds the public names, each once."""
    assert sorted(sparring.__all__) == PUBLIC
    assert len(set(sparring.__all__)) == len(sparring.__all__)


def test_all_is_sorted() -> None:
    """`__all__` is in sorted order (what `from sparring import *` and readers see)."""
    assert sparring.__all__ == PUBLIC


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_resolves(name: str) -> None:
    """Each public name loads; classes and functions carry their own name."""
    value = getattr(sparring, name)
    assert value is not None
    if callable(value):
        assert value.__name__ == name
        assert value.__module__.startswith("sparring.")


def test_names_are_the_defining_objects() -> None:
    """The lazy exports are the very objects of their home modules, not copies."""
    from sparring.errors import ScenarioError
    from sparring.fake_server.runner import FakeServer
    from sparring.scenario.builders import reply
    from sparring.scenario.delivery import ERROR_PRESETS

    assert sparring.ScenarioError is ScenarioError
    assert sparring.FakeServer is FakeServer
    assert sparring.reply is reply
    assert sparring.ERROR_PRESETS is ERROR_PRESETS
    assert issubclass(sparring.ScenarioError, sparring.SparringError)
    assert issubclass(sparring.ServerError, sparring.SparringError)


def test_dir_lists_the_public_names() -> None:
    """`dir(sparring)` shows the public names (tab completion in a REPL)."""
    assert dir(sparring) == PUBLIC


@pytest.mark.parametrize("name", ["nope", "Server", "fake_server_typo"])
def test_unknown_attribute_raises_attribute_error(name: str) -> None:
    """An unknown name is an AttributeError naming it, and `from sparring import x` an ImportError."""
    with pytest.raises(AttributeError, match=repr(name)):
        getattr(sparring, name)
    assert not hasattr(sparring, name)
    with pytest.raises(ImportError):
        exec(f"from sparring import {name}", {})


def test_import_is_cheap() -> None:
    """Importing sparring and its pytest plugin in a fresh interpreter loads no aiohttp, faker or yaml."""
    code = (
        "import json, sys\n"
        "import sparring, sparring.pytest_plugin\n"
        "heavy = ('aiohttp', 'faker', 'yaml')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )  # timeout: a cold interpreter, generously bounded
    assert json.loads(result.stdout) == []


def test_import_check_can_see_heavy_modules() -> None:
    """Control for the check above: asking for a public name that needs them does load them."""
    code = "import json, sys\nimport sparring\nsparring.FakeServer\nprint(json.dumps('aiohttp' in sys.modules))\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(result.stdout) is True


def test_version_matches_distribution_metadata() -> None:
    """`sparring.__version__` is the installed distribution's version."""
    assert sparring.__version__ == importlib.metadata.version("sparring")
