"""Grading side, instructor only (never shipped, never in a child): the reference's oracle.

Expected values come from the reference solution, run in the grading parent.

:class:`ReferenceOracle` runs a probe on the reference package, or on the reference with one
known :class:`~autograder.mistakes.Mistake` made, to recognise that mistake in a student's
output. :class:`AnswerRecorder` also keeps every answer, so the public self-check can ship
the answers to the public cases without the reference.
"""

from __future__ import annotations

import copy
import importlib
import logging
import multiprocessing.util
import re
import shutil
import tempfile
import warnings
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from . import course, mistakes, plain
from .course import Assignment, import_package
from .mistakes import Mistake, NotApplicable
from .oracles import KnownMistake, digest

log = logging.getLogger(__name__)


def package(name: str) -> ModuleType:
    """The reference solution of assignment ``name`` as a package (parent process only)."""
    return import_package(course.load(name).solution_dir, f"_reference_{name}")


def module(name: str, module: str) -> ModuleType:
    """One module of the reference, e.g. ``module("cnn", "conv")``."""
    package(name)
    return importlib.import_module(f"_reference_{name}.{module}")


def module_files(assignment: Assignment) -> dict[str, str]:
    """File name -> text of every module of the reference package (graded and given)."""
    return {
        name: (assignment.solution_dir / name).read_text(encoding="utf-8")
        for name in (*assignment.given, *assignment.graded)
    }


@cache
def _scratch() -> Path:
    """This process's folder of edited references, removed when it exits (pool workers
    included, which skip ``atexit``)."""
    folder = Path(tempfile.mkdtemp(prefix="kit-mistakes-"))
    multiprocessing.util.Finalize(None, shutil.rmtree, args=(folder, True), exitpriority=0)
    return folder


def known_mistakes(assignment: Assignment) -> list[Mistake]:
    """The entries of ``solutions/<a>/MISTAKES.md``: mistakes and equivalent forms."""
    return mistakes.load(assignment.solution_dir / "MISTAKES.md")


def package_with(assignment: Assignment, mistake: Mistake) -> str:
    """Import the reference with ``mistake`` made; returns the package's module name."""
    return _package_with(assignment.name, mistake)


@cache
def _package_with(name: str, mistake: Mistake) -> str:
    assignment = course.load(name)
    alias = f"_variant_{assignment.name}_{re.sub(r'[^a-zA-Z0-9]+', '_', mistake.name)}"
    files = mistake.apply(module_files(assignment))  # before the folder: it may raise
    folder = _scratch() / alias
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    import_package(folder, alias)
    return alias


class ReferenceOracle:
    """Expected values computed by the reference in this process, each once: the hidden
    cases are the same for every submission of a batch, so the answers are kept by
    :func:`~autograder.oracles.digest` of the probe's inputs."""

    def __init__(self, assignment: Assignment):
        self.assignment = assignment
        self.probes = importlib.import_module(f"autograder.probes.{assignment.name}")
        self.package = package(assignment.name).__name__
        self.known = [m for m in known_mistakes(assignment) if m.is_mistake]
        self._answers: dict[tuple[str, str], Any] = {}
        self._raised: dict[tuple[str, str], str | None] = {}

    def expect(
        self, probe: str, inputs: dict, part: str, mistake: KnownMistake | None = None
    ) -> Any:
        key = (digest(probe, inputs), mistake.name if mistake else "")
        if key not in self._answers:
            self._answers[key] = self._compute(probe, inputs, mistake)
        return self._answers[key]

    def _compute(self, probe: str, inputs: dict, mistake: KnownMistake | None) -> Any:
        inputs = copy.deepcopy(inputs)  # a probe may change its inputs in place
        if mistake is None:
            return plain.to_plain(getattr(self.probes, probe)(self.package, **inputs))
        assert isinstance(mistake, Mistake)  # one of the mistakes this oracle gave out
        try:
            variant = package_with(self.assignment, mistake)
        except NotApplicable as problem:  # stale: it explains nothing from now on
            if mistake in self.known:
                self.known.remove(mistake)
                log.warning("MISTAKES.md: %s (not used; release verify lists it)", problem)
            raise
        with warnings.catch_warnings(), np.errstate(all="ignore"):  # mistakes may divide by 0
            warnings.simplefilter("ignore")
            return plain.to_plain(getattr(self.probes, probe)(variant, **inputs))

    def mistakes(self, part: str) -> list[Mistake]:
        return [m for m in self.known if m.part == part]

    def raised(self, probe: str, inputs: dict, part: str, mistake: KnownMistake) -> str | None:
        key = (digest(probe, inputs), mistake.name)
        if key not in self._raised:
            try:
                self.expect(probe, inputs, part, mistake)
                self._raised[key] = None
            except NotApplicable:  # a stale entry: no answer
                self._raised[key] = None
            except Exception as exc:  # the mistaken reference raised: that is the answer
                self._raised[key] = type(exc).__name__
        return self._raised[key]


class AnswerRecorder(ReferenceOracle):
    """Records the answers at build time (``python -m release stubs``): a reference oracle
    that also keeps each answer, and the answers of the part's known mistakes, by
    :func:`~autograder.oracles.digest`; ``save`` writes what a
    :class:`~autograder.oracles.RecordedOracle` reads."""

    def __init__(self, assignment: Assignment):
        super().__init__(assignment)
        self.records: dict[str, dict] = {}

    def expect(
        self, probe: str, inputs: dict, part: str, mistake: KnownMistake | None = None
    ) -> Any:
        value = super().expect(probe, inputs, part, mistake)
        if mistake is None:
            answers, raised = {}, {}
            for known in self.mistakes(part):
                try:
                    answers[known.name] = super().expect(probe, inputs, part, known)
                except Exception as exc:  # a crashing mistake has no answer, but its error
                    raised[known.name] = type(exc).__name__
            self.records[digest(probe, inputs)] = {
                "want": value,
                "mistakes": answers,
                "raised": raised,
            }
        return value

    def save(self, folder: Path) -> None:
        names = {m.name: {"part": m.part, "why": m.why} for m in self.known}
        plain.dump({"records": self.records, "mistakes": names}, folder)
