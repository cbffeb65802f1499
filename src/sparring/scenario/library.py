"""The scenario library: the YAML files in `fixtures/`, usable by name.

In a wheel they live at `sparring/_fixtures`; in a source checkout, at the repository root.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    return sorted(p.stem for p in _files(fixtures_dir()))


def _named(folder: Path, name: str) -> Path | None:
    for suffix in _SUFFIXES:
        path = folder / f"{name}{suffix}"
        if path.is_file():
            return path
    return None


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.suffix in _SUFFIXES] if folder.is_dir() else []


def load_scenario(spec: str | Path, *, search: Sequence[Path] = ()) -> Scenario:
    """A scenario from a file path, or by name (`"rate-limited-then-ok"`) from the folders in
    `search` first, then the built-in library."""
    path = Path(spec)
    if path.is_file():
        return load_file(path)
    if isinstance(spec, str) and "/" not in spec:
        for folder in (*search, fixtures_dir()):
            found = _named(folder, spec)
            if found is not None:
                return load_file(found)
    names = sorted({*builtin_names(), *(p.stem for folder in search for p in _files(folder))})
    raise ScenarioError(
        [
            Problem(
                f"no such file, and no built-in scenario of that name; built-in: {', '.join(names)}",
                source=str(spec),
                suggestion=closest(str(spec), names),
            )
        ]
    )
