"""Every docs example runs with what its page tells the reader to install.

A reader installs `sparring` plus the extras a page names (`pip install 'sparring[openai]'`)
and whatever else it says to `pip install`; nothing else is there. So each Python example a
page includes (`--8<-- "docs/examples/....py"`) and each Python block it shows may import
only the standard library, sparring, its base dependencies, the direct dependencies of the
extras the page names, and the packages the page names in a `pip install` line. A transitive
dependency does not count: openai 2.x installs httpx, but openai 3.x does not.

An import the reader gets some other way says so on its line: `import httpx  # installed with
openai 2.x` counts as provided by the `openai` distribution.

Why a static check, not a fresh environment per extra: building a venv with `sparring[openai]`
from PyPI takes a network and about a minute per leg, too slow and too flaky for the suite; the
imports are what broke (12 of 34 examples needed httpx), and they are read exactly here.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]
INCLUDE = re.compile(r'--8<-- "(?P<path>docs/examples/[^":]+\.py)(?::\w+)?"')
BLOCK = re.compile(r"^```python\n(?P<code>.*?)^```", re.MULTILINE | re.DOTALL)
EXTRAS_NAMED = re.compile(r"sparring\[(?P<extras>[\w,\- ]+)\]")
PIP_INSTALL = re.compile(r"pip install (?P<args>[^\n`]+)")
INSTALLED_WITH = re.compile(r"#\s*installed with (?P<dist>[\w\-.]+)")
# Modules that ship with an example (the tutorial's client beside its test).
LOCAL = {"chat_client"}
# Uses that need a module without importing it: a marker's plugin, the SDK behind a helper.
USES = {
    "pytest.mark.asyncio": "pytest_asyncio",
    "fake_llm.openai(": "openai",
    "fake_llm.async_openai(": "openai",
    "fake_llm.ollama(": "ollama",
    "fake_llm.async_ollama(": "ollama",
    "fake_llm.genai(": "google",
    "sparring_snapshot": "syrupy",
    "EventSnapshot": "syrupy",
    "sparring.client": "openai",
}


def normal(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


@cache
def modules_of() -> dict[str, set[str]]:
    """Installed distribution (normalized) -> the top-level modules it provides."""
    provides: dict[str, set[str]] = {}
    for module, dists in importlib.metadata.packages_distributions().items():
        for dist in dists:
            provides.setdefault(normal(dist), set()).add(module)
    return provides


def requirement_dists(requirements: list[str]) -> set[str]:
    return {normal(m[0]) for spec in requirements if (m := re.match(r"[A-Za-z0-9][\w\-.]*", spec))}


@cache
def pyproject() -> tuple[set[str], dict[str, list[str]]]:
    """sparring's base requirements and its extras, from the installed metadata's source."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return requirement_dists(project["dependencies"]), project["optional-dependencies"]


def extra_dists(extra: str) -> set[str]:
    """The distributions an extra installs directly (`sparring[openai]` inside one expands)."""
    _, extras = pyproject()
    dists: set[str] = set()
    for spec in extras[extra]:
        inner = re.fullmatch(r"sparring\[(?P<extras>[\w,\- ]+)\]", spec)
        if inner:
            for name in inner["extras"].split(","):
                dists |= extra_dists(name.strip())
        else:
            dists |= requirement_dists([spec])
    return dists


# Distributions whose module is not their name, for when they are not installed here (the
# libraries' examples run in the libs leg's environment).
MODULE_OF = {"pydantic-ai-slim": {"pydantic_ai"}, "pydantic-ai": {"pydantic_ai"}, "openai-agents": {"agents"}}


def provided(dists: set[str]) -> set[str]:
    return {
        module for dist in dists for module in modules_of().get(dist, MODULE_OF.get(dist, {dist.replace("-", "_")}))
    }


def allowed_on(page: str) -> set[str]:
    """The modules a reader of `page` has: base, the extras it names, what it says to pip install."""
    base, extras = pyproject()
    dists = set(base)
    for found in EXTRAS_NAMED.finditer(page):
        for extra in found["extras"].split(","):
            assert extra.strip() in extras, f"the page names sparring[{extra.strip()}], which is no extra"
            dists |= extra_dists(extra.strip())
    for found in PIP_INSTALL.finditer(page):
        for arg in found["args"].split():
            arg = arg.strip("'\"")
            if arg and not arg.startswith("-") and "sparring" not in arg and "/" not in arg:
                dists |= requirement_dists([arg])
    return provided(dists) | {"sparring"}


def imports(code: str) -> dict[str, str]:
    """Third-party top-level module -> the line that imports or uses it (see `USES`).
    Imports marked `# installed with DIST` are left out when DIST is in the reader's hands:
    they come back as `@DIST`, for the caller to judge."""
    tree = compile(code, "<example>", "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    lines = code.splitlines()
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        line = lines[node.lineno - 1]
        for name in names:
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top in LOCAL:
                continue
            via = INSTALLED_WITH.search(line)
            found[f"@{normal(via['dist'])}" if via else top] = line.strip()
    for use, module in USES.items():
        if use in code:
            found.setdefault(module, use)
    return found


def shown_code() -> list[tuple[str, str, str]]:
    """(page, what, code) for every example a page includes and every Python block it shows."""
    shown: list[tuple[str, str, str]] = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        name = page.relative_to(ROOT).as_posix()
        for path in sorted({m["path"] for m in INCLUDE.finditer(text)}):
            shown.append((name, path, (ROOT / path).read_text(encoding="utf-8")))
        for number, block in enumerate(BLOCK.finditer(text), start=1):
            if "--8<--" not in block["code"]:
                shown.append((name, f"python block {number}", block["code"]))
    return shown


SHOWN = shown_code()


def test_pages_show_examples() -> None:
    assert len({what for _, what, _ in SHOWN if what.endswith(".py")}) >= 30


def test_every_example_is_on_a_page() -> None:
    """An example no page shows would escape the check below."""
    shown = {what for _, what, _ in SHOWN}
    examples = {p.relative_to(ROOT).as_posix() for p in (ROOT / "docs" / "examples").rglob("*.py")}
    assert examples - shown == set()


@pytest.mark.parametrize(("page", "what", "code"), SHOWN, ids=[f"{p}:{w}" for p, w, _ in SHOWN])
def test_example_needs_only_what_its_page_names(page: str, what: str, code: str) -> None:
    allowed = allowed_on((ROOT / page).read_text(encoding="utf-8"))
    try:
        needed = imports(code)
    except SyntaxError:
        pytest.skip("a fragment, not a whole program")
    missing = {}
    for module, line in needed.items():
        if module.startswith("@"):
            if not (provided({module[1:]}) & allowed):
                missing[module] = line
        elif module not in allowed:
            missing[module] = line
    assert not missing, (
        f"{what}, shown on {page}, imports what the page does not tell the reader to install: {missing}. "
        "Use aiohttp or the SDK, or name the extra on the page (pip install 'sparring[...]')."
    )


def test_the_check_catches_httpx_on_a_page_that_names_only_openai() -> None:
    allowed = allowed_on("pip install 'sparring[openai]'")
    assert "openai" in allowed
    assert "aiohttp" in allowed
    assert "httpx" not in allowed
    assert "syrupy" not in allowed
    assert set(imports("import httpx\nimport openai\n")) == {"httpx", "openai"}
    assert set(imports("import httpx  # installed with openai 2.x\n")) == {"@openai"}
