"""A test's cassette in use: loaded as its scenario before the test, recorded into after it.

Replaying loads the file as the test's scenario, as `fake_llm.load` would: a cassette is an
ordinary scenario file, so strict teardown, the journal and every check see a replay as they
see any script. Recording installs
the recorder's passthrough on the test's namespace of the plugin's own server (requests
nothing answers go upstream, or all of them in `all` mode), and the teardown writes what it
recorded into the file.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sparring.errors import ScenarioError
from sparring.plugin.backend import Backend, InProcess
from sparring.plugin.cassette import Plan
from sparring.scenario.dump import dump_scenario
from sparring.scenario.loader import load_file
from sparring.scenario.model import Scenario

if TYPE_CHECKING:
    from sparring.fake_server.journal import Entry
    from sparring.plugin.fake_llm import FakeLLM
    from sparring.recorder.proxy import Recorder

#: The key record modes send upstream in place of the test's fake key, when set.
KEY_VARIABLE = "SPARRING_UPSTREAM_API_KEY"
FORWARDED = "forwarded to the upstream"  # how the recorder's journal entries say who answered


def why_not(plan: Plan, backend: Backend) -> str | None:
    """Why this test cannot run its cassette as planned (a setup error), or None."""
    if not plan.records:
        return None
    reason = f"the file {plan.path} does not exist yet" if plan.mode == "once" else "it sends requests upstream"
    if plan.upstream is None:
        return (
            f"sparring: record mode {plan.mode!r} (from {plan.mode_from}) records, as {reason}, but no upstream is "
            "configured: give --sparring-upstream URL, the sparring_upstream ini key, or "
            "@pytest.mark.sparring_cassette(upstream=URL); or replay only with --sparring-record-mode=none"
        )
    if not isinstance(backend, InProcess):
        return (
            f"sparring: record mode {plan.mode!r} (from {plan.mode_from}) records, as {reason}, and recording "
            "needs the plugin's own server, but this run drives an external server (--sparring-url). Replaying "
            "works there (mode none, or once with the file recorded); record with --sparring-url= (the plugin's "
            "own server)"
        )
    return None


class Cassette:
    """One test's cassette: `start` before the test body, `finish` after the namespace is dropped."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.recorded_before: Scenario | None = None  # the file's rules, loaded for replay
        self.recorder: Recorder | None = None
        self.saved: str | None = None  # what `finish` wrote, for the report

    def start(self, fake: FakeLLM, backend: Backend) -> None:
        plan = self.plan
        if plan.replays:
            try:
                self.recorded_before = load_file(plan.path)
            except ScenarioError as exc:
                fake.close()
                pytest.fail(f"sparring: the cassette cannot be replayed: {exc}", pytrace=False)
            backend.extend(fake.namespace, self.recorded_before)
        if not plan.records:
            return
        from sparring.recorder.proxy import Recorder

        assert plan.upstream is not None  # why_not said so
        assert isinstance(backend, InProcess)
        key = os.environ.get(KEY_VARIABLE) or None
        try:
            if plan.match_on is None:  # the recorder's own default
                self.recorder = Recorder(plan.upstream, redact=plan.redact, api_key=key)
            else:
                self.recorder = Recorder(plan.upstream, redact=plan.redact, api_key=key, match_on=plan.match_on)
        except ValueError as exc:  # a redact name or match key the recorder refuses
            fake.close()
            pytest.fail(f"sparring: @pytest.mark.sparring_cassette cannot record: {exc}", pytrace=False)
        backend.passthrough(fake.namespace, self.recorder.passthrough(forward_all=plan.mode == "all"))

    def finish(self) -> str | None:
        """Write what was recorded: `all` rewrites the file (even with nothing recorded),
        `new_episodes` appends to the rules already in it, `once` writes the file it found
        missing. Returns a line saying what it wrote, or None."""
        if self.recorder is None:
            return None
        # Answers whose client left early are read to their end and recorded before the
        # recorder's upstream connections close: only then are its rules complete.
        self.recorder.close()
        plan, rules = self.plan, list(self.recorder.rules)
        if not rules and plan.mode != "all":
            return None
        recorded = self.recorder.scenario()
        if plan.mode == "new_episodes" and self.recorded_before is not None:
            before = self.recorded_before
            # The loader names a file without a name after its stem: it is not written back.
            kept = dataclasses.replace(before, name=None if before.name == plan.path.stem else before.name)
            write(plan.path, kept + recorded)
            self.saved = f"appended {_exchanges(len(rules))} to {plan.path}"
        else:
            write(plan.path, recorded)
            self.saved = f"recorded {_exchanges(len(rules))} into {plan.path}"
        return self.saved

    def unrecorded(self, journal: list[Entry]) -> str | None:
        """The requests a recording run could not send upstream (its client got a 502), which
        fail the test even when it is not strict: nothing was recorded for them."""
        if self.recorder is None:
            return None
        lost = [e for e in journal if e.outcome == "rejected" and (e.answered_by or "").startswith(FORWARDED)]
        if not lost:
            return None
        lines = [f"sparring: {len(lost)} request{'s' if len(lost) > 1 else ''} could not be recorded:"]
        lines.extend(f"  #{e.index + 1} {e.asked or f'{e.method} {e.path}'}: {e.detail}" for e in lost)
        return "\n".join(lines)

    def note(self) -> str | None:
        """What to add to strict teardown's message, for a replay only: where the file is (or
        is not), and how to record it again."""
        plan = self.plan
        if plan.records:
            return None
        if self.recorded_before is None:
            return (
                f"The cassette {plan.path} does not exist (record mode {plan.mode} from {plan.mode_from}: replay "
                "only). Record it with --sparring-record-mode=once and --sparring-upstream URL."
            )
        return (
            f"The cassette {plan.path} was replayed as it is (record mode {plan.mode} from {plan.mode_from}). If the "
            "test's requests changed, record it again with --sparring-record-mode=all (new_episodes adds requests)."
        )


def write(path: Path, scenario: Scenario) -> None:
    """`scenario` as YAML at `path`, replaced whole (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(dump_scenario(scenario, fmt="yaml"), encoding="utf-8")
    os.replace(temporary, path)


def _exchanges(n: int) -> str:
    return f"{n} exchange{'' if n == 1 else 's'}"
