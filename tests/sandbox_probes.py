"""Probe functions for tests/test_sandbox.py and benchmarks/sandbox_cost.py.

Trusted driver code: the zygote imports this module (the tests pass this folder as a
``probe_dirs`` entry); it runs in the sandboxed child as ``probe(**inputs)`` and imports
the student's package inside the call, exactly like ``autograder.probes.<assignment>``.
Everything it needs is imported at module level: the child cannot read the repo.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np


def call(
    module: str, function: str, args: list[Any] | None = None, kwargs: dict[str, Any] | None = None
) -> Any:
    """Import ``module`` from the student's package and return ``function(*args, **kwargs)``."""
    fn = getattr(importlib.import_module(module), function)
    return fn(*(args or []), **(kwargs or {}))


def echo(**inputs: Any) -> Any:
    """Return the inputs unchanged (no student code): a transport round trip."""
    return inputs


def trivial() -> int:
    return 1


def global_state() -> dict[str, Any]:
    """NumPy global state as a fresh child sees it."""
    err = np.geterr()
    return {
        "divide": err["divide"],
        "over": err["over"],
        "random": float(np.random.random()),
        "printoptions": np.get_printoptions()["precision"],
    }
