"""Fixtures shared by several test modules."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gradescope_image import GradescopeImage
from roads import TORCH, fresh_venv, pip

from autograder import course


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
def system_kit() -> Iterator[Path]:
    """The python of a fresh environment of the system's interpreter (world-readable, as on
    Gradescope: the sandbox's uid layer turns on) with the kit installed as the README says:
    CPU torch first, then the project's core install."""
    root = Path(tempfile.mkdtemp(prefix="kit-system-"))
    try:
        os.chmod(root, 0o755)
        python = fresh_venv(root / "venv", TORCH)
        pip(python, "install", "-q", "-e", str(course.ROOT))
        yield python
    finally:
        shutil.rmtree(root, ignore_errors=True)
