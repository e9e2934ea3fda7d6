"""Shared fixtures: run the CLI in-process (click's isolation) or as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, settings

from gradcli.cli import main

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).parent.parent

# Hypothesis profiles. "ci", the default, keeps the suite to a few minutes on two cores;
# `pytest --hypothesis-profile thorough` runs twenty times as many examples for a long hunt.
# No deadline: timings on shared CI machines vary, and the tests that care measure time themselves.
_SLOW_IS_FINE = [HealthCheck.too_slow]
settings.register_profile("ci", max_examples=100, deadline=None, suppress_health_check=_SLOW_IS_FINE, print_blob=True)
settings.register_profile("thorough", parent=settings.get_profile("ci"), max_examples=2000)
settings.load_profile("ci")


def seed_examples() -> list[dict]:
    """The worked examples of the course notes, with independently computed reference values."""
    with open(DATA / "seed-examples.jsonl", encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


def at_option(at: dict) -> str:
    return ",".join(f"{name}={value!r}" for name, value in at.items())


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


def run_cli(*args: str, input: str | bytes | None = None, env: dict | None = None) -> Run:
    """gradcli's main() in this process, with stdin/stdout/stderr captured."""
    runner = CliRunner()
    with runner.isolation(input=input, env=env) as (out, err, _):
        code = main(list(args))
        sys.stdout.flush()
        sys.stderr.flush()
    return Run(int(code), out.getvalue().decode("utf-8", "replace"), err.getvalue().decode("utf-8", "replace"))


def run_process(*args: str, input: bytes | str | None = None, env: dict | None = None, timeout: float = 60) -> Run:
    """`python -m gradcli ...` as a separate process (for start-up, pipes and signals)."""
    environment = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    if isinstance(input, str):
        input = input.encode()
    done = subprocess.run(
        [sys.executable, "-m", "gradcli", *args], input=input, capture_output=True, env=environment, timeout=timeout
    )
    return Run(done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace"))


@pytest.fixture
def cli():
    return run_cli
