"""A missing optional dependency says which extra installs it.

The inner pytest run hides syrupy and openai as an environment without them would: syrupy's
plugin is not loaded (`-p no:syrupy`, as when syrupy is not installed) and a conftest sets
`sys.modules[name] = None`, which makes every import of them fail. It runs in a subprocess,
so this process keeps its own modules.
"""

from __future__ import annotations

import sys

import pytest

from sparring._optional import EXTRAS, MissingExtraError, require

pytest_plugins = ["pytester"]

HIDE = """
import sys

sys.modules["syrupy"] = None
sys.modules["openai"] = None
"""

TESTS = """
import pytest


def test_snapshot_fixture(sparring_snapshot):
    pass


def test_fake_llm_openai(fake_llm):
    with pytest.raises(ImportError) as caught:
        fake_llm.openai()
    assert str(caught.value) == "fake_llm.openai() needs openai, which is not installed: pip install 'sparring[openai]'"


def test_fake_llm_async_openai(fake_llm):
    with pytest.raises(ImportError, match=r"pip install 'sparring\\[openai\\]'"):
        fake_llm.async_openai()


def test_reference_client():
    with pytest.raises(ImportError) as caught:
        import sparring.client
    assert str(caught.value) == (
        "the reference client, sparring.client, needs openai, which is not installed: pip install 'sparring[openai]'"
    )


def test_event_snapshot():
    import sparring

    with pytest.raises(ImportError, match=r"needs syrupy, which is not installed: pip install 'sparring.snapshot.'"):
        sparring.EventSnapshot


def test_demo(capsys):
    from sparring import demo

    assert demo.run() == 1
    assert capsys.readouterr().err == (
        "sparring demo: the reference client, sparring.client, needs openai, which is not installed:"
        " pip install 'sparring[openai]'\\n"
    )
"""


def test_missing_extras_name_the_pip_install(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    pytester.makeconftest(HIDE)
    pytester.makepyfile(test_missing=TESTS)
    result = pytester.runpytest_subprocess(
        "-p",
        "no:syrupy",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:hypothesispytest",
        "-p",
        "no:asyncio",
        "-p",
        "no:looptime_plugin",
        "-rA",  # looptime's plugin needs pytest-asyncio's (sparring[virtual])
    )
    result.assert_outcomes(passed=5, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_snapshot_fixture*",
            "the sparring_snapshot fixture needs syrupy, which is not installed: pip install 'sparring?snapshot?'",
        ]
    )
    result.stdout.no_fnmatch_line("*fixture 'snapshot' not found*")


def test_require_returns_the_module_when_installed() -> None:
    assert require("openai", feature="this test") is sys.modules["openai"]


def test_require_raises_an_import_error_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "syrupy", None)
    with pytest.raises(MissingExtraError) as caught:
        require("syrupy", feature="the feature")
    assert isinstance(caught.value, ImportError)
    assert caught.value.name == "syrupy"
    assert str(caught.value) == "the feature needs syrupy, which is not installed: pip install 'sparring[snapshot]'"


def test_require_refuses_a_module_that_is_no_extra() -> None:
    with pytest.raises(
        ValueError,
        match=r"'yaml' is not an optional dependency of sparring; known: "
        r"\['anthropic', 'boto3', 'google.genai', 'hypothesis'",
    ):
        require("yaml", feature="the feature")


def test_every_extra_named_is_in_pyproject() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    from tests.test_docs_examples import ROOT

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    for module, extra in EXTRAS.items():
        dist = module.replace(".", "-")  # google.genai is the google-genai distribution
        assert any(spec.startswith(dist) for spec in extras[extra]), f"sparring[{extra}] does not install {module}"
