"""Keeping credentials out of what the recorder writes.

Two nets, both always on:
- by name: the credential headers sparring knows (`Authorization`, `api-key`, `x-api-key`,
  `x-goog-api-key`, cookies...) and the names the user gives are never copied into a
  recording; a name the user gives is also a JSON body path (`metadata.user_id`), whose
  value is replaced in the journaled body and left out of a rule's `match.body`;
- by value: every secret a request carried (those headers' values, the body fields named,
  the key the recorder sends in their place) is replaced wherever it shows up in what is
  written, e.g. an error message that quotes the key, or a Responses stream that echoes the
  request's `metadata`. Values shorter than `MIN_SECRET` characters are not hunted for: they
  would match ordinary text.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from sparring.fake_server.security import CREDENTIAL_HEADERS, redact_value
from sparring.scenario.match import lookup
from sparring.scenario.recording import RecordedEvent

MIN_SECRET = 4


class Redactor:
    """The names to redact (headers, and body paths), and the secret values seen so far."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        given = []
        for name in names:
            if not isinstance(name, str) or not name.strip() or any(c in name for c in " :\r\n\t"):
                raise ValueError(f"redact: {name!r} is neither a header name nor a body path (e.g. 'x-my-key')")
            given.append(name.strip())
        self.paths = tuple(given)
        self.headers = CREDENTIAL_HEADERS | {name.lower() for name in given}

    def secrets_of(self, headers: Mapping[str, str], body: object, *extra: str | None) -> list[str]:
        """The secret values one request carries: its credential headers' values (and the
        secret after a scheme word), its named body fields', and `extra` ones."""
        found: set[str] = {value for value in extra if value}
        for name, value in headers.items():
            if name.lower() in self.headers and value:
                found.add(value)
                scheme, _, secret = str(value).partition(" ")
                if secret.strip() and scheme:
                    found.add(secret.strip())
                if name.lower() == "cookie":  # each cookie's value on its own too
                    found.update(part.partition("=")[2].strip() for part in str(value).split(";"))
        for path in self.paths:
            held, field = lookup(body, path)
            if held and isinstance(field, str):
                found.add(field)
        # Longest first: a secret inside a longer one must not cut that one in two.
        return sorted((s for s in found if len(s) >= MIN_SECRET), key=len, reverse=True)

    def body(self, body: Any) -> Any:
        """A copy of a JSON body with the named fields' values redacted (for the journal)."""
        if not self.paths or not isinstance(body, (dict, list)):
            return body
        body = copy.deepcopy(body)
        for path in self.paths:
            parent, key = _parent(body, path)
            if parent is not None:
                value = parent[key]
                parent[key] = redact_value(value if isinstance(value, str) else repr(value))
        return body

    def without(self, body: Any) -> Any:
        """A copy of a JSON body without the named fields (a rule's `match.body`)."""
        if not self.paths or not isinstance(body, (dict, list)):
            return body
        body = copy.deepcopy(body)
        for path in self.paths:
            parent, key = _parent(body, path)
            if isinstance(parent, dict):
                del parent[key]
        return body


def scrub_text(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, redact_value(secret))
    return text


def scrub_event(event: RecordedEvent, secrets: Iterable[str]) -> RecordedEvent:
    """The event with every secret in its bytes replaced, its torn offsets moved to match
    (an offset inside a secret moves to the end of its replacement)."""
    frame = event.frame
    marks = [(secret.encode(), redact_value(secret).encode()) for secret in secrets]
    if not any(secret in frame for secret, _ in marks):
        return event
    out = bytearray()
    torn = list(event.torn)
    shifted: list[tuple[int, float]] = []
    i = 0
    while i < len(frame):
        hit = next(((s, r) for s, r in marks if frame.startswith(s, i)), None)
        if hit is None:
            while torn and torn[0][0] <= i:
                shifted.append((len(out) + torn[0][0] - i, torn.pop(0)[1]))
            out.append(frame[i])
            i += 1
            continue
        secret, replacement = hit
        out += replacement
        i += len(secret)
        while torn and torn[0][0] < i:  # a read that began inside the secret: at its end
            offset = len(out)
            shifted.append((offset, torn.pop(0)[1]))
    kept = tuple({offset: at for offset, at in shifted if 0 < offset < len(out)}.items())
    return RecordedEvent.of(bytes(out), event.at, kept)


def _parent(body: Any, path: str) -> tuple[Any, Any]:
    """The container holding `path`'s value and its key, or (None, None)."""
    *head, last = path.split(".")
    held, parent = lookup(body, ".".join(head)) if head else (True, body)
    if not held:
        return None, None
    if isinstance(parent, dict) and last in parent:
        return parent, last
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent, int(last)
    return None, None
