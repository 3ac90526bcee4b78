"""Runs these public tests like the hidden grader: your package in a sandbox, compared with
answers recorded from the reference solution (in ``expected/``). Works however pytest is
started: ``python -m pytest`` or ``pytest`` in the assignment folder or its parent,
``pytest tests -m <part>``, an IDE's test panel."""

import sys
from pathlib import Path

FOLDER = Path(__file__).resolve().parents[1]  # the assignment folder
sys.path.insert(0, str(FOLDER))  # its autograder/ (bare `pytest` does not put it on the path)

from autograder import selfcheck  # noqa: E402


def pytest_configure(config):
    selfcheck.install(config, FOLDER)
