"""The course's assignments: parts, points and where their files live.

Each assignment has one manifest, ``assignments/<name>/assignment.toml``; everything that
needs the parts, their points or the list of graded modules reads it through here.
"""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = ROOT / "assignments"
SOLUTIONS = ROOT / "solutions"


VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")


@dataclass(frozen=True)
class Gradescope:
    """How the assignment appears on Gradescope (the manifest's ``[gradescope]`` table).

    ``visibility``: when students see each test (Gradescope's values); ``tests``: one
    Gradescope test per ``part`` (its cases listed in its output) or per ``case``;
    ``leaderboard``: metrics the graders record (``grade.record``) and their order
    (``"desc"``: higher is better); ``allow_unconfined``: grade even where the image offers
    no confinement layer (never by default).
    """

    visibility: str = "visible"
    tests: str = "part"
    leaderboard: dict[str, str] = field(default_factory=dict)
    allow_unconfined: bool = False

    def __post_init__(self) -> None:
        if self.visibility not in VISIBILITIES:
            raise ValueError(
                f"gradescope.visibility must be one of {VISIBILITIES}, not {self.visibility!r}"
            )
        if self.tests not in ("part", "case"):
            raise ValueError(f"gradescope.tests must be 'part' or 'case', not {self.tests!r}")
        for metric, order in self.leaderboard.items():
            if order not in ("asc", "desc"):
                raise ValueError(f"gradescope.leaderboard.{metric} must be 'asc' or 'desc'")


@dataclass(frozen=True)
class Assignment:
    """One assignment of the course, as its manifest states it."""

    name: str
    package: str
    title: str
    graded: tuple[str, ...]
    given: tuple[str, ...]
    points: dict[str, int]
    needs_torch: bool
    folder: Path  # the student-facing folder, which holds the manifest
    gradescope: Gradescope = Gradescope()

    @property
    def parts(self) -> list[str]:
        """Part names in gradebook order."""
        return list(self.points)

    @property
    def max_score(self) -> int:
        return sum(self.points.values())

    @property
    def stub_dir(self) -> Path:
        """The generated student package ``assignments/<name>/<package>/``."""
        return self.folder / self.package

    @property
    def solution_dir(self) -> Path:
        """The reference package ``solutions/<name>/``."""
        return SOLUTIONS / self.name


def names() -> list[str]:
    """Every assignment that has a manifest, sorted."""
    return sorted(p.parent.name for p in ASSIGNMENTS.glob("*/assignment.toml"))


@cache
def load(name: str) -> Assignment:
    """Read ``assignments/<name>/assignment.toml``; ``KeyError`` for an unknown assignment."""
    manifest = ASSIGNMENTS / name / "assignment.toml"
    if not manifest.is_file():
        raise KeyError(f"unknown assignment {name!r} (known: {', '.join(names())})")
    return from_manifest(manifest)


def from_manifest(manifest: Path) -> Assignment:
    """Read one ``assignment.toml`` (in the repository or in a student's unpacked archive)."""
    data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    return Assignment(
        name=data["name"],
        package=data["package"],
        title=data["title"],
        graded=tuple(data["graded"]),
        given=tuple(data["given"]),
        points=dict(data["points"]),
        needs_torch=bool(data.get("needs_torch", False)),
        folder=manifest.parent,
        gradescope=Gradescope(**data.get("gradescope", {})),
    )


def import_package(folder: Path, alias: str) -> ModuleType:
    """Import the package in ``folder`` under the module name ``alias``.

    Modules inside use relative imports (``from .conv import im2col``), so the same source
    works as the student's ``cnn`` package, as the reference and as a mutant of it.
    """
    if alias in sys.modules:
        return sys.modules[alias]
    spec = importlib.util.spec_from_file_location(
        alias, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"no package in {folder}")
    package = importlib.util.module_from_spec(spec)
    sys.modules[alias] = package
    spec.loader.exec_module(package)
    return package
