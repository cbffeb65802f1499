"""The scenario library: the YAML files in `fixtures/`, usable by name.

In a wheel they live at `sparring/_fixtures`; in a source checkout, at the repository root.
"""

from __future__ import annotations

from pathlib import Path

from sparring.errors import Problem, ScenarioError
from sparring.scenario._validate import closest
from sparring.scenario.loader import load_file
from sparring.scenario.model import Scenario

_SUFFIXES = (".yaml", ".yml", ".json")


def fixtures_dir() -> Path:
    here = Path(__file__).resolve()
    packaged = here.parents[1] / "_fixtures"
    return packaged if packaged.is_dir() else here.parents[3] / "fixtures"


def builtin_names() -> list[str]:
    folder = fixtures_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.iterdir() if p.suffix in _SUFFIXES)


def builtin_path(name: str) -> Path | None:
    for suffix in _SUFFIXES:
        path = fixtures_dir() / f"{name}{suffix}"
        if path.is_file():
            return path
    return None


def load_scenario(spec: str | Path) -> Scenario:
    """A scenario from a file path, or from the library by name (`"rate-limited-then-ok"`)."""
    path = Path(spec)
    if path.is_file():
        return load_file(path)
    found = builtin_path(str(spec)) if isinstance(spec, str) and "/" not in spec else None
    if found is not None:
        return load_file(found)
    names = builtin_names()
    raise ScenarioError(
        [
            Problem(
                f"no such file, and no built-in scenario of that name; built-in: {', '.join(names)}",
                source=str(spec),
                suggestion=closest(str(spec), names),
            )
        ]
    )
