"""Comparing a student's plain-data result with the expected one.

Both sides are plain data (numbers, strings, None, lists, dicts, numeric arrays) already
decoded in the parent. Type, keys, shape and dtype kind are checked exactly before values,
so no broadcasting, no lying ``__eq__`` and no float16 rounding can pass for a right answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    """``|got - want| <= atol + rtol * |want|`` elementwise, as ``np.isclose``."""

    rtol: float = 1e-6
    atol: float = 1e-8


DEFAULT = Tolerance()
EXACT = Tolerance(0.0, 0.0)


def mismatch(
    got, want, tol: Tolerance = DEFAULT, *, show_values: bool = True, where: str = ""
) -> str | None:
    """Why ``got`` differs from ``want`` (one short sentence), or None when they agree.

    The sentence starts with where in the result the difference is (``dx``, ``[2].W1``:
    item 2 of a list, its entry ``W1``). ``show_values`` False hides expected and returned
    values (hidden cases); positions, shapes and error sizes are always shown.
    """
    if not where:
        reason = mismatch(got, want, tol, show_values=show_values, where="result")
        return reason.removeprefix("result.") if reason else None
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return f"{where}: expected a dict with keys {sorted(want)}, got {_kind(got)}"
        if set(got) != set(want):
            return f"{where}: expected keys {sorted(want)}, got {_keys(got)}"
        for key in want:
            reason = mismatch(
                got[key], want[key], tol, show_values=show_values, where=f"{where}.{key}"
            )
            if reason:
                return reason
        return None
    if isinstance(want, list | tuple):
        if not isinstance(got, list | tuple) or len(got) != len(want):
            return f"{where}: expected a sequence of {len(want)} items, got {_kind(got)}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            reason = mismatch(g, w, tol, show_values=show_values, where=f"{where}[{i}]")
            if reason:
                return reason
        return None
    if isinstance(want, np.ndarray):
        return _array_mismatch(got, want, tol, show_values, where)
    if isinstance(want, bool) or want is None or isinstance(want, str):
        if type(got) is not type(want) or got != want:
            shown = f"{want!r}, got {got!r}" if show_values else f"{_kind(want)}"
            return f"{where}: expected {shown}"
        return None
    if isinstance(want, int):
        if isinstance(got, bool) or not isinstance(got, int):
            return f"{where}: expected an int, got {_kind(got)}" + (
                f" ({got!r})" if show_values and isinstance(got, float) else ""
            )
        if got != want:
            return f"{where}: expected {want}, got {got}" if show_values else f"{where}: wrong"
        return None
    if isinstance(want, float):
        if isinstance(got, bool) or not isinstance(got, int | float):
            return f"{where}: expected a number, got {_kind(got)}"
        return _array_mismatch(np.asarray(float(got)), np.asarray(want), tol, show_values, where)
    raise TypeError(f"cannot compare with an expected value of type {type(want).__name__}")


def _array_mismatch(
    got, want: np.ndarray, tol: Tolerance, show_values: bool, where: str
) -> str | None:
    if not isinstance(got, np.ndarray):
        return f"{where}: expected an array of shape {want.shape}, got {_kind(got)}"
    if got.shape != want.shape:
        return f"{where}: expected shape {want.shape}, got {got.shape}"
    if got.dtype == want.dtype and got.tobytes() == want.tobytes():
        return None  # the same bits: equal under any tolerance (NaNs at the same places)
    if want.dtype.kind in "biu":
        if got.dtype.kind not in "biu":
            return f"{where}: expected integer values, got dtype {got.dtype}"
        wrong = got != want
        if wrong.any():
            index = _index(np.argwhere(wrong)[0])
            values = f" (expected {want[index]}, got {got[index]})" if show_values else ""
            count = f"{int(wrong.sum())} of {want.size} values differ"
            return f"{where}: {count}, first at {index}{values}"
        return None
    if got.dtype != want.dtype:
        return (
            f"{where}: expected {want.dtype} values, got dtype {got.dtype} (the course "
            f"computes in {want.dtype})"
        )
    nan_want, nan_got = np.isnan(want), np.isnan(got)
    if (nan_got & ~nan_want).any():
        index = _index(np.argwhere(nan_got & ~nan_want)[0])
        return f"{where}: NaN at {index} where a number was expected"
    with np.errstate(invalid="ignore", over="ignore"):
        error = np.where(nan_want, 0.0, np.abs(got - want))
        bad = (error > tol.atol + tol.rtol * np.abs(want)) | (nan_want & ~nan_got)
        bad |= (np.isinf(got) | np.isinf(want)) & (got != want)  # inf only for inf, signed
    if not bad.any():
        return None
    error = np.where(np.isfinite(error), error, np.inf)
    index = _index(np.unravel_index(np.argmax(np.where(bad, error, -1.0)), want.shape))
    expected = abs(float(want[index]))
    relative = error[index] / max(expected, 1e-300) if np.isfinite(expected) else np.inf
    values = f" (expected {want[index]:.6g}, got {got[index]:.6g})" if show_values else ""
    return (
        f"{where}: {int(bad.sum())} of {want.size} values outside tolerance; largest error "
        f"{error[index]:.3g} (relative {relative:.2g}) at {index}{values}"
    )


def _keys(value: dict, shown: int = 8) -> str:
    keys = sorted(map(str, value))
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    return f"{keys[:shown]}{more}"


def _index(index) -> tuple[int, ...]:
    return tuple(int(i) for i in index)


def _kind(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return f"{type(value).__name__}"
