"""Runs these public tests like the hidden grader: your package in a sandbox, compared with
answers recorded from the reference solution (in ``expected/``)."""

from pathlib import Path

from autograder import selfcheck


def pytest_configure(config):
    selfcheck.install(config, Path(__file__).resolve().parents[1])
