"""Fixtures shared by several test modules."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from gradescope_image import GradescopeImage
from roads import TORCH, fresh_venv, pip, system_environment
from student_environment import StudentEnvironment

from autograder import batch, course

# Environments that take minutes to build (mostly pip installing torch) are prepared in the
# background, side by side: each preparation is keyed by the session fixture that waits for
# it, and starts only when a collected test uses that fixture. They start at the end of
# collection; in a pytest-xdist worker (which collects every test and runs its share) when
# the first of them is waited for, so that only the worker that runs those tests makes them.
_preparations: dict[str, Callable[[], Any]] = {
    "gradescope": lambda: {name: GradescopeImage(course.load(name)) for name in course.names()},
    "student_environment": StudentEnvironment,
}
_pool = ThreadPoolExecutor(max_workers=len(_preparations), thread_name_prefix="prepare")
_prepared: dict[str, Future] = {}
_used: set[str] = set()  # the preparations that collected tests wait for

# Tests on the system's interpreter: the sandbox's uid layer is on there, and the children of
# one slot share a uid and its process limit, so these tests never run side by side.
SYSTEM_INTERPRETER = {"gradescope", "student_environment", "system_kit"}
SYSTEM_UNIT = "system-interpreter"


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """pytest-xdist's work units (``--dist loadgroup``): a test module is one, so that its
    module fixtures are made once; every test on the system's interpreter is one more. In a
    worker the units go heaviest first (the same order in every worker): the system's (it
    waits for the preparations), then the modules with slow tests, then the rest."""
    units = {item: _unit(item) for item in items}
    for item, unit in units.items():
        own = item.get_closest_marker("xdist_group")
        if own and unit != own.args[0]:
            raise pytest.UsageError(f"{item.nodeid}: the system's interpreter is its unit")
        if not own:
            item.add_marker(pytest.mark.xdist_group(unit))
    if hasattr(config, "workerinput"):
        slow = {units[item] for item in items if item.get_closest_marker("slow")}
        items.sort(key=lambda item: (units[item] != SYSTEM_UNIT, units[item] not in slow))


def _unit(item: pytest.Item) -> str:
    """The test's work unit: the system's interpreter, its module's own ``xdist_group``
    (modules that share something made once per process, e.g. the graded demo), or its
    module."""
    if SYSTEM_INTERPRETER & set(getattr(item, "fixturenames", ())):
        return SYSTEM_UNIT
    own = item.get_closest_marker("xdist_group")
    return str(own.args[0]) if own else item.nodeid.partition("::")[0]


def pytest_collection_finish(session: pytest.Session) -> None:
    for item in session.items:
        _used.update(_preparations.keys() & set(getattr(item, "fixturenames", ())))
    if not (hasattr(session.config, "workerinput") or session.config.option.collectonly):
        _start(_used)


def _start(names: set[str]) -> None:
    for name in sorted(names - _prepared.keys()):
        _prepared[name] = _pool.submit(_preparations[name])


def pytest_sessionfinish(session: pytest.Session) -> None:
    _pool.shutdown(wait=True, cancel_futures=True)  # a preparation under way is finished
    for future in _prepared.values():
        if not future.cancelled() and future.exception() is None:
            prepared = future.result()
            for each in prepared.values() if isinstance(prepared, dict) else [prepared]:
                each.close()


def _waited(name: str) -> Any:
    """What the preparation of ``name`` made (with the others collection found used)."""
    _start(_used | {name})
    return _prepared[name].result()


@pytest.fixture(scope="session")
def gradescope() -> Callable[[str], GradescopeImage]:
    """``gradescope(name)``: the assignment's Gradescope image, set up once per session; a
    call returns when that image's ``setup.sh`` has finished (and raises if it failed)."""
    images = _waited("gradescope")

    def image(name: str) -> GradescopeImage:
        images[name].setup  # noqa: B018 (waits for setup.sh)
        return images[name]

    return image


@pytest.fixture(scope="session")
def student_environment() -> StudentEnvironment:
    """A student's first install (tests/roads.py), made once per session."""
    return _waited("student_environment")


@pytest.fixture(scope="session")
def cnn_grader() -> Iterator[batch.SubmissionGrader]:
    """A grader of the cnn assignment in this process (its sandbox and reference oracle),
    shared by the modules that grade cnn submissions part by part."""
    with batch.grading(course.load("cnn")) as grader:
        yield grader


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
