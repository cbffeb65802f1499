"""Keeping secrets out of the journal, and other web pages out of the control API.

Redaction: a credential header's value is replaced whole, but for its scheme word (`Bearer`),
the first few characters of the secret and a short digest, so a human can tell two keys apart
and `check_retries` can still group a client's retries by key. The journal, every report built
from it and the control API's journal JSON only ever see the redacted value; routing by API key
reads the live request, never the journal.

The control API can rewrite the scenario and read every request body, so it refuses what a
browser page could send it: requests from another origin, requests whose `Host` is not one of the
server's own names (DNS rebinding), and bodies a browser posts cross-site without a preflight
(`text/plain`, forms). With a token set, every control request must carry it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

# Headers whose value is a credential, as OpenAI, Anthropic, Azure, Gemini, Bedrock and common
# gateways send them. Users add more with `FakeServer(redact=[...])` / `sparring serve --redact`.
CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",  # Azure OpenAI
        "x-goog-api-key",  # Gemini
        "x-auth-token",
        "x-access-token",
        "x-amz-security-token",  # Bedrock with temporary credentials
        "ocp-apim-subscription-key",  # Azure API Management
        "x-functions-key",
        "private-token",
        "cookie",
        "set-cookie",
    }
)
TOKEN_HEADER = "x-sparring-token"
_SHOWN = 6  # at most this many characters of a secret stay visible
_SCHEMES = frozenset({"bearer", "basic", "token", "digest", "negotiate", "aws4-hmac-sha256"})


def redact_value(value: str) -> str:
    """`Bearer sk-live-SECRET more` -> `Bearer sk-liv…[redacted 3fa9c2]`: the scheme word, at most
    six characters and a third of the secret, and a 24-bit digest of the whole value (enough to
    tell keys apart, too short to confirm a guessed real key); of a SigV4 header, of its
    credential only."""
    scheme, _, secret = value.partition(" ")
    if scheme.lower() not in _SCHEMES or not secret:
        scheme, secret = "", value
    secret = secret.strip()
    shown = secret[: min(_SHOWN, len(secret) // 3)]
    # A SigV4 signature changes with every request (it signs the time): the digest is of the
    # credential (`Credential=AKID/date/region/service/aws4_request`), the same for a key's retries.
    digested = secret.partition(",")[0] if scheme.lower() == "aws4-hmac-sha256" else value
    digest = hashlib.sha256(digested.encode("utf-8", "surrogateescape")).hexdigest()[:6]
    return f"{scheme + ' ' if scheme else ''}{shown}…[redacted {digest}]"


def redact_headers(headers: Mapping[str, str], extra: Iterable[str] = ()) -> dict[str, str]:
    """Headers with lower-cased names, every credential header's value redacted."""
    secret = CREDENTIAL_HEADERS | {name.lower() for name in extra}
    return {name.lower(): redact_value(v) if name.lower() in secret else v for name, v in headers.items()}


def header_names(names: Iterable[str]) -> frozenset[str]:
    """User-given header names, checked: a clear error for anything that is not a header name."""
    checked = set()
    for name in names:
        if not isinstance(name, str) or not name.strip() or any(c in name for c in " :\r\n\t"):
            raise ValueError(f"redact: {name!r} is not a header name (give names like 'x-my-key')")
        checked.add(name.strip().lower())
    return frozenset(checked)


# -- the control API's guard ----------------------------------------------------------------

# What a browser sends cross-site without asking first (a "simple" request): refused.
_SIMPLE_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})
CONTROL_TYPES = ("application/json", "application/yaml", "application/x-yaml", "text/yaml")


def is_loopback(host: str) -> bool:
    """`localhost`, `*.localhost`, 127.0.0.0/8 and ::1."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def remote_binding(
    host: str, *, allowed: bool, token: str | None, shown: str, allow: str, with_token: str
) -> str | None:
    """The one rule for binding outside loopback, for `serve` and `FakeServer` alike: None for a
    loopback host; a ValueError unless `allowed`; else the warning to show. `shown`, `allow` and
    `with_token` name the host and the switches in the caller's terms (`--host 0.0.0.0`,
    `--allow-remote`, `token=...`)."""
    if is_loopback(host):
        return None
    if not allowed:
        raise ValueError(
            f"{shown} is not a loopback address: anyone who can reach it could script the "
            f"server and read every request body. Add {allow} (and {with_token}) to bind it anyway."
        )
    guard = "control requests need the token"
    if not token:
        guard = f"no {with_token}: anyone on the network can script it and read its journal"
    return f"serving on {host}, outside loopback ({guard})"


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def own_names(bind_host: str) -> frozenset[str]:
    """The names a server bound outside loopback answers to besides addresses: the bind host
    and this machine's host name."""
    return frozenset(n.lower() for n in (bind_host, socket.gethostname()) if n)


def _host_name(host: str) -> str:
    """`[::1]:8000` -> `::1`, `Example.COM.:80` -> `example.com`."""
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".").lower()


def control_refusal(
    headers: Mapping[str, str],
    *,
    token: str | None,
    names: frozenset[str] = frozenset(),
) -> tuple[int, str] | None:
    """Why a control request is refused (status, message), or None to let it through.

    Without a token, the `Host` header must name an address literal, a loopback name, or one of
    `names` (a DNS-rebinding page's Host is its own domain).
    With a token, the token is the check and any Host goes."""
    origin = headers.get("Origin")
    if origin is not None:
        origin_host = urlsplit(origin).hostname or ""
        if not is_loopback(origin_host):
            return 403, (
                f"the control API refuses requests from web pages (Origin: {origin}); "
                "call it from a test, a script or curl, which send no Origin header"
            )
    if token:  # an empty token is no token: it must not switch the Host check off
        given = headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            what = "a wrong" if given else "no"
            return 403, (
                f"this server requires a token on control routes and the request carried {what} "
                f"{TOKEN_HEADER} header; send the token the server was started with (--token / SPARRING_TOKEN)"
            )
    else:
        host = headers.get("Host", "")
        name = _host_name(host)
        if not (is_loopback(name) or _is_address(name) or name in names):
            return 403, (
                f"the control API answers only requests addressed to this machine (Host: {host!r}), "
                "to refuse DNS-rebinding pages; use 127.0.0.1 or localhost in the URL, "
                "or start the server with --token and send it"
            )
    content_type = headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type in _SIMPLE_TYPES:
        return 415, (
            f"the control API refuses Content-Type {content_type} (a browser sends it cross-site without asking); "
            f"send the scenario as {' or '.join(CONTROL_TYPES)}, e.g. curl -H 'content-type: application/yaml'"
        )
    return None
