"""The agent-loop how-to's library examples, run as they are in the docs.

pydantic-ai and openai-agents are in the libraries' CI leg only (`.venv-libs`): each example
file is skipped where its library is missing. The examples are pytest test files
(`docs/examples/libraries/test_*.py`, shown by docs/how-to/agent-loop.md); their test
functions are collected here, so they run with this suite's settings and fixtures.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "libraries"


def example(name: str) -> ModuleType:
    path = EXAMPLES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"sparring_docs_example_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def missing(library: str) -> object:
    """A stand-in test that says which library the examples need."""

    def test() -> None:
        pytest.skip(f"{library} is not installed (the libraries' CI leg has it)")

    return test


if importlib.util.find_spec("pydantic_ai") is not None:
    _pydantic_ai = example("test_pydantic_ai_agent")
    test_pydantic_ai_calls_both_tools_then_answers = _pydantic_ai.test_the_agent_calls_both_tools_then_answers
    test_pydantic_ai_streamed_answer = _pydantic_ai.test_the_streamed_answer
else:
    test_pydantic_ai_examples = missing("pydantic-ai")

if importlib.util.find_spec("agents") is not None:
    _openai_agents = example("test_openai_agents_agent")
    test_openai_agents_streamed_run = _openai_agents.test_the_streamed_run_calls_both_tools_then_answers
    test_openai_agents_through_the_responses_api = _openai_agents.test_the_same_scenario_through_the_responses_api
else:
    test_openai_agents_examples = missing("openai-agents")
