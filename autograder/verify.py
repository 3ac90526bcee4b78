"""Proof that the graders are sound: ``python -m release verify <a>``.

Submits, as a student would, through the real intake, sandbox and graders:
- the reference, which must earn full marks, and the stubs, which must earn none;
- every entry of ``solutions/<a>/MISTAKES.md``: a mistake must lose points in its part, an
  equivalent form must earn full marks; an entry that no longer applies to the reference
  is named with the reason, for a person to rebase;
- systematic mutants: one operator or number changed inside a solution region, which must
  lose points somewhere (mutation testing); a mutant equal to a known equivalent form is
  left out. A survivor is named, for a person to judge.
"""

from __future__ import annotations

import io
import random
import tempfile
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import batch, samples
from .course import Assignment
from .mistakes import NotApplicable
from .reference_oracle import known_mistakes, module_files
from .regions import regions
from .results import Result

SWAPS = {
    "+": "-",
    "-": "+",
    "*": "/",
    "/": "*",
    "//": "/",
    "<": "<=",
    "<=": "<",
    ">": ">=",
    ">=": ">",
    "==": "!=",
    "!=": "==",
}


@dataclass(frozen=True)
class Variant:
    """A submission made from the reference: ``files`` are its graded modules."""

    name: str
    kind: str  # reference, stubs, mistake, equivalent, mutant
    part: str | None
    files: dict[str, str]
    why: str = ""

    def passed(self, result: Result) -> bool:
        """Whether the graders judged this variant as they must."""
        if self.kind in ("reference", "equivalent"):
            return result.score == result.max_score and result.status == "ok"
        if self.kind == "stubs":
            return result.score == 0
        if self.kind == "mistake":
            assert self.part is not None  # a known mistake names its part
            return result.part_scores()[self.part] < result.points[self.part]
        return result.score < result.max_score  # a mutant must lose points somewhere


def token_mutants(source: str) -> Iterator[tuple[str, str]]:
    """(description, mutated source) for each operator swap or number change inside the
    solution regions; each mutant still parses."""
    spans = regions(source)
    lines = source.splitlines(keepends=True)
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        row, col = token.start
        if not any(region.holds(row) for region in spans):
            continue
        if token.type == tokenize.OP and token.string in SWAPS:
            new = SWAPS[token.string]
        elif token.type == tokenize.NUMBER:
            value = token.string
            new = (
                "1"
                if value in ("0", "0.0")
                else ("0" if value in ("1", "1.0") else f"({value} * 2)")
            )
        else:
            continue
        line = lines[row - 1]
        mutated = line[:col] + new + line[token.end[1] :]
        text = "".join([*lines[: row - 1], mutated, *lines[row:]])
        try:
            compile(text, "<mutant>", "exec")
        except SyntaxError:
            continue
        yield f"line {row}: {line.strip()[:60]!r}: {token.string} -> {new}", text


def known_variants(
    assignment: Assignment, reference: dict[str, str]
) -> tuple[list[Variant], list[str]]:
    """A variant of ``reference`` (file name -> text) for each entry of MISTAKES.md, and
    one line (``name: why``) for each entry that no longer applies to it."""
    variants, stale = [], []
    for mistake in known_mistakes(assignment):
        try:
            files = samples.with_mistake(assignment, mistake, reference)
        except NotApplicable as problem:
            stale.append(str(problem))
            continue
        kind = "mistake" if mistake.is_mistake else "equivalent"
        variants.append(Variant(mistake.name, kind, mistake.part, files, mistake.why))
    return variants, stale


def variants(
    assignment: Assignment, mutants: int, seed: int = 0
) -> tuple[list[Variant], list[str]]:
    """The reference, the stubs, every known mistake and ``mutants`` sampled mutants; and
    the entries of MISTAKES.md that no longer apply (see :func:`known_variants`)."""
    submitted = samples.graded(assignment, "reference")
    known, stale = known_variants(assignment, module_files(assignment))
    found = [
        Variant("reference", "reference", None, submitted),
        Variant("stubs", "stubs", None, samples.graded(assignment, "stubs")),
        *known,
    ]
    equivalents = [v.files for v in known if v.kind == "equivalent"]
    pool = [
        (f"{name} {description}", files)
        for name, source in submitted.items()
        for description, text in token_mutants(source)
        if (files := {**submitted, name: text}) not in equivalents
    ]
    for description, files in random.Random(seed).sample(pool, min(mutants, len(pool))):
        found.append(Variant(description, "mutant", None, files))
    return found, stale


@dataclass
class Report:
    """What verify found: each variant with its result and whether it was judged right,
    and the entries of MISTAKES.md that no longer apply (``name: why``)."""

    checked: list[tuple[Variant, Result, bool]]
    stale: list[str]

    def failures(self, kind: str | None = None) -> list[tuple[Variant, Result]]:
        return [(v, r) for v, r, ok in self.checked if not ok and kind in (None, v.kind)]

    def count(self, kind: str) -> tuple[int, int]:
        """(judged right, total) for one kind of variant."""
        rows = [ok for v, _, ok in self.checked if v.kind == kind]
        return sum(rows), len(rows)


def verify(
    assignment: Assignment, *, mutants: int = 40, jobs: int = 1, allow_unconfined: bool = False
) -> Report:
    """Grade every variant (see the module docstring) and judge the graders."""
    chosen, stale = variants(assignment, mutants)
    with tempfile.TemporaryDirectory(prefix="verify-") as tmp:
        folder = Path(tmp) / "submissions"
        for number, variant in enumerate(chosen):
            package = folder / f"{number:04d}" / assignment.package
            package.mkdir(parents=True)
            for name, text in variant.files.items():
                (package / name).write_text(text, encoding="utf-8")
        results = batch.grade_folder(
            assignment, folder, Path(tmp) / "out", jobs=jobs, allow_unconfined=allow_unconfined
        )
    return Report([(v, r, v.passed(r)) for v, r in zip(chosen, results, strict=True)], stale)
