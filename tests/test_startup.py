"""`sparring serve` reads the CA bundle after it listens (sparring._startup), and still reads it."""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from sparring._startup import ca_certs_deferred
from tests.serve_process import when_ready

# Once the server stops: what aiohttp's verifying context holds against an ordinary context.
COMPARED = (
    "from aiohttp import connector\n"
    "got = connector._SSL_CONTEXT_VERIFIED.cert_store_stats()['x509_ca']\n"
    "want = ssl.create_default_context().cert_store_stats()['x509_ca']\n"
)


def _ca_count(context: ssl.SSLContext) -> int:
    return context.cert_store_stats()["x509_ca"]


def test_contexts_made_inside_get_their_ca_certs_once_loaded() -> None:
    original = ssl.SSLContext.load_default_certs
    with ca_certs_deferred() as deferred:
        context = ssl.create_default_context()
        assert _ca_count(context) == 0
    assert ssl.SSLContext.load_default_certs is original  # put back on the way out
    deferred.start()
    assert deferred.thread is not None
    deferred.finish()
    assert _ca_count(context) == _ca_count(ssl.create_default_context())
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


def test_finish_without_start_loads_them_at_once() -> None:
    with ca_certs_deferred() as deferred:
        context = ssl.create_default_context()
    deferred.finish()
    assert deferred.thread is None
    assert _ca_count(context) == _ca_count(ssl.create_default_context())


def test_nothing_made_inside_starts_no_thread() -> None:
    with ca_certs_deferred() as deferred:
        pass
    deferred.start()
    assert deferred.thread is None


def test_serve_gives_aiohttp_its_ca_certs_once_it_listens() -> None:
    """aiohttp's verifying client context, built while `serve` imports it, ends up with the same
    CA certificates as one built the ordinary way."""
    report = (
        "import ssl, threading\n"
        "for thread in threading.enumerate():\n"
        "    if thread.name == 'sparring-ca-certs':\n"
        "        thread.join(30)\n"
        f"{COMPARED}"
        "out.write(f'{got} {want}')"
    )
    got, want = when_ready(report, ["serve", "--port", "0"]).split()
    assert got == want


@pytest.mark.parametrize("argv", [["--namespace-idle", "-1"], ["bad.yaml"]], ids=["bad-flag", "bad-scenario"])
def test_serve_that_cannot_start_exits_cleanly_and_still_loads_them(tmp_path: Path, argv: list[str]) -> None:
    """`serve` ended before it listens returns 2 and the process exits cleanly (`check=True`:
    not a crash in a thread still inside OpenSSL, as it once was), with aiohttp's contexts
    holding their CA certificates for whatever runs next."""
    (tmp_path / "bad.yaml").write_text("rules: 3\n", encoding="utf-8")
    code = (
        "import ssl, sys\n"
        "from sparring.cli import main\n"
        f"assert main(['serve', '--port', '0', *{argv!r}]) == 2\n"
        f"{COMPARED}"
        "print(got, want)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True, cwd=tmp_path
    )
    got, want = done.stdout.split()
    assert got == want, done.stderr
