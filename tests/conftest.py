"""Fixtures shared by several test modules."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from gradescope_image import GradescopeImage

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
