"""Optional dependencies: each belongs to an extra, and a missing one says which to install.

sparring's base install (aiohttp, Faker, PyYAML, pytest) runs the fake server, the scenario
model, the checks and the `fake_llm` fixture. The parts that drive a particular client or
library import it through `require`, so a missing one fails with the `pip install` line that
fixes it instead of a bare `No module named ...` (or pytest's `fixture 'snapshot' not found`).
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: module -> the extra that installs it
EXTRAS: dict[str, str] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "ollama": "ollama",
    "boto3": "bedrock",
    "google.genai": "gemini",
    "syrupy": "snapshot",
    "looptime": "virtual",
    "hypothesis": "chaos",
}


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra that brings it.
    An `ImportError`, so code that already catches that keeps working."""


def missing_message(module: str, feature: str) -> str:
    extra = EXTRAS[module]
    return f"{feature} needs {module}, which is not installed: pip install 'sparring[{extra}]'"


def require(module: str, *, feature: str) -> ModuleType:
    """Import `module` (a key of `EXTRAS`), or raise `MissingExtraError` naming its extra.
    `feature` is what needs it, as the message's subject: "the sparring_snapshot fixture"."""
    if module not in EXTRAS:
        raise ValueError(f"{module!r} is not an optional dependency of sparring; known: {sorted(EXTRAS)}")
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(missing_message(module, feature), name=module) from exc
