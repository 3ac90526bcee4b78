"""Fixtures shared by several test modules."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gradescope_image import GradescopeImage
from roads import TORCH, fresh_venv, pip, system_environment

from autograder import batch, course


@pytest.fixture(scope="session")
def gradescope() -> Iterator[Callable[[str], GradescopeImage]]:
    """``gradescope(name)``: the assignment's Gradescope image, set up once per session."""
    images: dict[str, GradescopeImage] = {}

    def image(name: str) -> GradescopeImage:
        if name not in images:
            images[name] = GradescopeImage(course.load(name))
        return images[name]

    yield image
    for built in images.values():
        built.close()


@pytest.fixture(scope="session")
def cnn_grader() -> Iterator[batch.Grader]:
    """A grader of the cnn assignment in this process (its sandbox and reference oracle),
    shared by the modules that grade cnn submissions part by part."""
    grader = batch.Grader(course.load("cnn"))
    yield grader
    grader.close()


@pytest.fixture(scope="session")
def system_kit() -> Iterator[Path]:
    """The python of a fresh environment of the system's interpreter (world-readable, as on
    Gradescope: the sandbox's uid layer turns on) with the kit installed as the README says:
    CPU torch first, then the project's core install.

    CI builds that environment itself before the suite (its second stage runs tests in it)
    and names its python in ``KIT_SYSTEM_PYTHON``: it is checked and used, not rebuilt."""
    given = os.environ.get("KIT_SYSTEM_PYTHON")
    if given:
        yield _checked_system_kit(Path(given))
        return
    root = Path(tempfile.mkdtemp(prefix="kit-system-"))
    try:
        os.chmod(root, 0o755)
        python = fresh_venv(root / "venv", TORCH)
        pip(python, "install", "-q", "-e", str(course.ROOT))
        yield python
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _checked_system_kit(python: Path) -> Path:
    """``python`` if it is a virtual environment of the system's interpreter with this
    checkout installed; otherwise the session stops with the reason."""
    probe = subprocess.run(
        [
            str(python),
            "-c",
            "import sys, autograder; print(sys.prefix != sys.base_prefix, "
            "sys.base_prefix, autograder.__file__)",
        ],
        capture_output=True,
        text=True,
        env=system_environment(),
        cwd="/",
    )
    want = f"True /usr {course.ROOT / 'autograder' / '__init__.py'}"
    if probe.returncode != 0 or probe.stdout.strip() != want:
        pytest.exit(
            f"KIT_SYSTEM_PYTHON={python} is not a system-interpreter venv of this kit: "
            f"{probe.stdout.strip()} {probe.stderr[-500:]}",
            returncode=2,
        )
    return python
