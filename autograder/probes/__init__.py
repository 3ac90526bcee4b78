"""Probes: the driver code that exercises an assignment's package and returns plain data.

A probe is written once and runs in two places: in the sandboxed child against the
student's package (``package="cnn"``), and in the grading parent against the reference or a
deliberately wrong variant of it (``package="_reference_cnn"``). Probes hold no secrets and
no expected values: the hidden inputs come from the grader, the comparison happens in the
parent.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from types import ModuleType


class Package:
    """Attribute access to the modules of a package: ``pkg.conv`` imports ``<name>.conv``."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, module: str) -> ModuleType:
        if module.startswith("_"):
            raise AttributeError(module)
        return importlib.import_module(f"{self._name}.{module}")


def probe(fn: Callable) -> Callable:
    """Turn ``fn(pkg, **inputs)`` into ``probe(package: str, **inputs)``."""

    @functools.wraps(fn)
    def run(package: str, **inputs):
        return fn(Package(package), **inputs)

    return run


def raised(call: Callable[[], object]) -> str:
    """The name of the exception ``call()`` raised (``"ValueError"`` for any subclass of
    it), or ``"no exception"``: for graders that expect an error."""
    try:
        call()
    except ValueError:
        return "ValueError"
    except Exception as error:  # reported by name: the grader expected a ValueError
        return type(error).__name__
    return "no exception"
