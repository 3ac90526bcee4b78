"""Running pytest graders in this process, with the grading plugin.

:func:`run_graders` runs a folder of graders once with :func:`pytest.main` (the
self-check's public tests, one student). :class:`HiddenGraders` collects an assignment's
hidden graders once, with pytest, and then calls each case's function itself, submission
after submission: pytest's start and collection, and its run protocol (hooks, fixture
requests, a report per phase, a formatted traceback per failed case), cost more than a
submission's sandboxed calls (measured by ``benchmarks/overhead_profile.py``). That is
why a hidden case takes the ``grade`` fixture and its parameters, nothing else: no other
fixture, no skip or xfail mark (collection refuses any other). ``tests/test_ahead.py``
checks the results against a fresh :func:`pytest.main` run.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _pytest.config import _prepareconfig

from .graders_plugin import Context, GradingPlugin, case_id

GRADERS = Path(__file__).parent / "graders"
# pytest plugins the graders do not need: each costs time on every submission
QUIET_PLUGINS = (
    "cacheprovider",
    "unraisableexception",
    "threadexception",
    "faulthandler",
    "junitxml",
    "pastebin",
    "nose",
    "doctest",
    "logging",
    "stepwise",
    "warnings",
    "legacypath",
    "tmpdir",
    "monkeypatch",
    "recwarn",
    "capture",
)


def _args(tests: Path, select: str | None) -> list[str]:
    args = [
        str(tests),
        "--rootdir",
        str(tests),
        "-c",
        str(tests / "pytest.ini"),
        "-o",
        "addopts=",
        "--import-mode=importlib",
        "--assert=plain",
        *(f"-pno:{name}" for name in QUIET_PLUGINS),
    ]
    return [*args, "-m", select] if select else args


def run_graders(
    tests: Path, plugin: GradingPlugin, select: str | None = None, extra: list[str] | None = None
) -> None:
    """Run the pytest graders in ``tests`` with ``plugin``, quietly, in this process."""
    args = [*_args(tests, select), "-q", "--tb=no", *(extra or [])]
    with contextlib.redirect_stdout(io.StringIO()) as output, _no_plugin_autoload():
        code = pytest.main(args, plugins=[plugin])
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        raise RuntimeError(
            f"the graders in {tests} did not run ({code!r}):\n{output.getvalue()[-3000:]}"
        )


@dataclass(frozen=True)
class HiddenCase:
    """One collected case: its function, its parameters, its part and names."""

    nodeid: str
    function: Callable[..., object]
    params: dict[str, Any]
    part: str
    case: str  # :func:`~autograder.graders_plugin.case_id`: it seeds the case's inputs


class HiddenGraders:
    """The hidden graders of one assignment (``select``: a ``-m`` expression of its parts),
    collected once and run for one context at a time (see the module docstring)."""

    def __init__(self, name: str, points: dict[str, int], select: str | None = None):
        tests = GRADERS / name
        # case names depend on ``hidden`` only: fixed at collection
        self.plugin = GradingPlugin(Context(None, None, hidden=True, seed=0), points)  # type: ignore[arg-type]
        self.problems: list[str] = []
        args = [*_args(tests, select), "-pno:terminal"]
        with contextlib.redirect_stdout(io.StringIO()), _no_plugin_autoload():
            config = _prepareconfig(args, plugins=[self.plugin, self])
            config._do_configure()
            session = pytest.Session.from_config(config)
            config.hook.pytest_sessionstart(session=session)
            config.hook.pytest_collection(session=session)
            self.cases = [self._case(item) for item in session.items]
            config._ensure_unconfigure()
        if self.problems or not self.cases:
            raise RuntimeError(
                f"the graders in {tests} did not collect ({len(self.cases)} cases):\n"
                + "\n".join(self.problems)[-3000:]
            )

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.problems.append(str(report.longrepr))

    def _case(self, item: pytest.Item) -> HiddenCase:
        assert isinstance(item, pytest.Function)
        params = dict(item.callspec.params) if hasattr(item, "callspec") else {}
        extra = set(item.fixturenames) - {"grade", "request", *params}
        marks = {m.name for m in item.iter_markers()} & {"skip", "skipif", "xfail", "usefixtures"}
        if extra or marks or "grade" not in item.fixturenames:
            self.problems.append(
                f"{item.nodeid}: a hidden case takes the grade fixture and its parameters "
                f"only (it has fixtures {sorted(extra)}, marks {sorted(marks)})"
            )
        return HiddenCase(item.nodeid, item.obj, params, self.plugin.part_of(item), case_id(item))

    def run(self, context: Context) -> None:
        """Every case, for ``context`` (its results, metrics and errors are filled in).
        Nothing of a run outlives it: the cases are the same for the next context."""
        self.plugin.context = context
        with contextlib.redirect_stdout(io.StringIO()):
            for case in self.cases:
                grade = self.plugin.grade_for(case.part, case.case)
                try:
                    case.function(grade=grade, **case.params)
                    error = None
                except (Exception, pytest.fail.Exception, pytest.skip.Exception) as raised:
                    error = raised
                context.results.append(self.plugin.result(case.nodeid, case.part, error))


@contextlib.contextmanager
def _no_plugin_autoload() -> Iterator[None]:
    """Only pytest's own plugins and the grading plugin: none of the installed ones."""
    saved = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        yield
    finally:
        if saved is None:
            del os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"]
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = saved
