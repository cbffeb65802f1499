"""`sparring serve` reads the CA bundle after it listens (sparring._startup), and still reads it."""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path

from sparring._startup import ca_certs_deferred
from tests.serve_process import when_ready


def _ca_count(context: ssl.SSLContext) -> int:
    return context.cert_store_stats()["x509_ca"]


def test_contexts_made_inside_get_their_ca_certs_once_loaded() -> None:
    original = ssl.SSLContext.load_default_certs
    with ca_certs_deferred() as load:
        deferred = ssl.create_default_context()
        assert _ca_count(deferred) == 0
    assert ssl.SSLContext.load_default_certs is original  # put back on the way out
    thread = load()
    assert thread is not None
    thread.join(timeout=30)
    assert _ca_count(deferred) == _ca_count(ssl.create_default_context())
    assert deferred.verify_mode == ssl.CERT_REQUIRED
    assert deferred.check_hostname


def test_a_second_load_does_nothing() -> None:
    with ca_certs_deferred() as load:
        ssl.create_default_context()
    first = load()
    assert first is not None
    first.join(timeout=30)
    assert load() is None


def test_serve_that_cannot_start_still_loads_them(tmp_path: Path) -> None:
    """A bad scenario ends `serve` before it listens; aiohttp's contexts get their CA
    certificates all the same, for whatever else runs in that process."""
    (tmp_path / "bad.yaml").write_text("rules: 3\n", encoding="utf-8")
    code = (
        "import ssl, threading\n"
        "from sparring.cli import main\n"
        f"assert main(['serve', {str(tmp_path / 'bad.yaml')!r}]) == 2\n"
        "for thread in threading.enumerate():\n"
        "    if thread.name == 'sparring-ca-certs':\n"
        "        thread.join(30)\n"
        "from aiohttp import connector\n"
        "got = connector._SSL_CONTEXT_VERIFIED.cert_store_stats()['x509_ca']\n"
        "print(got, ssl.create_default_context().cert_store_stats()['x509_ca'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    got, want = done.stdout.split()
    assert got == want, done.stderr


def test_nothing_made_inside_starts_no_thread() -> None:
    with ca_certs_deferred() as load:
        pass
    assert load() is None


def test_serve_gives_aiohttp_its_ca_certs_once_it_listens() -> None:
    """aiohttp's verifying client context, built while `serve` imports it, ends up with the same
    CA certificates as one built the ordinary way."""
    report = (
        "import ssl, threading\n"
        "for thread in threading.enumerate():\n"
        "    if thread.name == 'sparring-ca-certs':\n"
        "        thread.join(30)\n"
        "from aiohttp import connector\n"
        "got = connector._SSL_CONTEXT_VERIFIED.cert_store_stats()['x509_ca']\n"
        "want = ssl.create_default_context().cert_store_stats()['x509_ca']\n"
        "out.write(f'{got} {want}')"
    )
    got, want = when_ready(report, ["serve", "--port", "0"]).split()
    assert got == want
