"""Running pytest graders in this process, with the grading plugin.

:func:`run_graders` runs a folder of graders once (the self-check's public tests, one
student). :class:`HiddenGraders` collects an assignment's hidden graders once and keeps
the pytest session open, so that each submission pays for its cases only: pytest's start
and collection cost more than a submission's sandboxed calls (about 40 ms a submission for
``optim_reg``, measured by ``benchmarks/overhead_profile.py``). It drives pytest through
its hooks (``pytest_collection``, ``pytest_runtest_protocol``), after setting up the
session as :func:`pytest.main` does (``_prepareconfig``, ``Config._do_configure``: pytest's
own, not public API; ``tests/test_ahead.py`` checks the results against a fresh
:func:`pytest.main` run).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from _pytest.config import _prepareconfig

from .graders_plugin import Context, GradingPlugin

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


class HiddenGraders:
    """The hidden graders of one assignment (``select``: a ``-m`` expression of its parts)
    in a pytest session kept open: collected once, run for one context at a time."""

    def __init__(self, name: str, points: dict[str, int], select: str | None = None):
        tests = GRADERS / name
        # case names depend on ``hidden`` only: fixed at collection
        self.plugin = GradingPlugin(Context(None, None, hidden=True, seed=0), points)  # type: ignore[arg-type]
        self.problems: list[str] = []
        self.broken = False
        args = [*_args(tests, select), "-pno:terminal"]
        with contextlib.redirect_stdout(io.StringIO()), _no_plugin_autoload():
            config = _prepareconfig(args, plugins=[self.plugin, self])
            # no traceback of a failed case is shown: not formatted either (--tb=no)
            config.option.tbstyle = "no"
            config._do_configure()
            self.session = pytest.Session.from_config(config)
            config.hook.pytest_sessionstart(session=self.session)
            config.hook.pytest_collection(session=self.session)
        self.items = list(self.session.items)
        if self.problems or not self.items:
            raise RuntimeError(
                f"the graders in {tests} did not collect ({len(self.items)} cases):\n"
                + "\n".join(self.problems)[-3000:]
            )

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.problems.append(str(report.longrepr))

    def run(self, context: Context) -> None:
        """Every case, for ``context`` (its results, metrics and errors are filled in).
        Should pytest itself fail (not a case: pytest reports those), the session is
        ``broken``: its fixtures may be half set up, it is not to be run again."""
        if self.broken:
            raise RuntimeError("this pytest session of the graders failed earlier")
        self.plugin.context = context
        self.broken = True
        with contextlib.redirect_stdout(io.StringIO()):
            for item, following in zip(self.items, [*self.items[1:], None], strict=True):
                item.ihook.pytest_runtest_protocol(item=item, nextitem=following)
        self.broken = False


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
