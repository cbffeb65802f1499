"""The package's shape, as docs/explanation/inside.md draws it: each layer imports only the
layers below it, no module imports the root package, and no two modules import each other,
directly or round a loop. Imports inside functions count: a lazy import is still a
dependency, only a cheaper one. Imports under TYPE_CHECKING count for the layers (a type from
above is a dependency on above) but not for cycles: they never run."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# Lower numbers sit lower. The reference client stands apart: it and the layers know nothing
# of each other (it may use the base).
LAYERS = {
    "_version": 0,
    "_optional": 0,
    "_startup": 0,  # what `sparring serve` defers past its first answer
    "errors": 0,
    "apis": 0,  # the registry of APIs: the model and the server both read it
    "scenario": 1,
    "fake_server": 2,
    "checks": 3,
    "recorder": 3,  # proxies to an upstream and writes what it sent as scenarios
    "plugin": 4,
    "pytest_plugin": 4,
    "cli": 5,
    "demo": 5,
    "strategies": 5,  # hypothesis strategies and invariants, over the plugin's fake_llm
    "__main__": 6,
}
APART = "client"


def _modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _typing_only(tree: ast.Module) -> set[ast.AST]:
    """The import statements under `if TYPE_CHECKING:`."""
    found: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            found |= {n for child in node.body for n in ast.walk(child)}
    return found


def _imports(name: str, path: Path, *, runtime: bool = False) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _typing_only(tree) if runtime else set()
    for node in ast.walk(tree):
        if node in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "sparring"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            if base.split(".")[0] != "sparring":
                continue
            for alias in node.names:  # `from pkg import module` names the module
                full = f"{base}.{alias.name}"
                found.add(full if full in MODULES else base)
    found.discard(name)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}
RUNTIME = {name: _imports(name, path, runtime=True) for name, path in MODULES.items()}


def _area(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_module_has_a_layer() -> None:
    unplaced = sorted(n for n in MODULES if n != "sparring" and _area(n) not in {*LAYERS, APART})
    assert not unplaced, f"place these in LAYERS (and in docs/explanation/inside.md): {unplaced}"


def test_no_module_imports_the_root_package() -> None:
    """The root re-exports everything; a module inside it that imports it depends on all."""
    offenders = sorted(n for n, deps in GRAPH.items() if "sparring" in deps)
    assert not offenders


def test_layers_import_only_downwards() -> None:
    upward = []
    for name, deps in GRAPH.items():
        if name == "sparring":
            continue
        for dep in deps:
            mine, theirs = _area(name), _area(dep)
            if APART in (mine, theirs) and mine != theirs:
                if theirs == APART and mine in ("demo", "__main__"):
                    continue  # the demo plays the reference client: a face may use it
                if mine == APART and LAYERS.get(theirs) == 0:
                    continue
                upward.append(f"{name} -> {dep}")
            elif APART not in (mine, theirs) and LAYERS[theirs] > LAYERS[mine]:
                upward.append(f"{name} -> {dep}")
    assert not upward, "imports that reach up a layer:\n" + "\n".join(sorted(upward))


def test_no_import_cycles() -> None:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for dep in sorted(RUNTIME.get(name, ())):
            if dep not in RUNTIME:
                continue
            if state.get(dep) == 1:
                cycles.append([*path[path.index(dep) :], dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[name] = 2

    for name in sorted(RUNTIME):
        if name != "sparring" and name not in state:
            visit(name, [name])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_cli_names_the_demo_parts_the_demo_plays() -> None:
    from sparring.cli import PART_NAMES
    from sparring.demo import PARTS

    assert tuple(p.name for p in PARTS) == PART_NAMES
