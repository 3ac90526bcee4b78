"""Comparison: exact structure, shape and dtype before values; no broadcasting tricks."""

import numpy as np
import pytest

from autograder.compare import EXACT, Tolerance, mismatch


def test_equal_values_pass():
    want = {"out": np.arange(6.0).reshape(2, 3), "loss": 0.5, "n": 3, "mode": "max"}
    got = {"out": want["out"] + 1e-12, "loss": 0.5 + 1e-12, "n": 3, "mode": "max"}
    assert mismatch(got, want) is None


@pytest.mark.parametrize(
    "got, reason",
    [
        (np.array([2.0]), "expected shape (3, 3), got (1,)"),  # broadcasts under np.allclose
        (np.array([]), "expected shape (3, 3), got (0,)"),
        (np.full((3, 3), 2, dtype=bool), "expected float64 values, got dtype bool"),
        (np.full((3, 3), 2, dtype=np.float32), "expected float64 values, got dtype float32"),
        (2.0, "expected an array of shape (3, 3), got float"),
        ([[2.0] * 3] * 3, "got list"),
    ],
)
def test_shape_and_type_are_exact(got, reason):
    assert reason in mismatch(got, np.full((3, 3), 2.0))


def test_reports_the_largest_error_and_where():
    want = np.zeros((2, 3))
    got = want.copy()
    got[1, 2], got[0, 0] = 0.5, 1e-3
    message = mismatch(got, want, Tolerance(atol=1e-6))
    assert "2 of 6 values outside tolerance" in message
    assert "largest error 0.5" in message and "(1, 2)" in message and "got 0.5" in message
    hidden = mismatch(got, want, Tolerance(atol=1e-6), show_values=False)
    assert "(1, 2)" in hidden and "got 0.5" not in hidden


def test_nan_and_inf_never_pass():
    want = np.ones(3)
    assert "NaN at (1,)" in mismatch(np.array([1, np.nan, 1]), want)
    assert "outside tolerance" in mismatch(np.array([1, np.inf, 1]), want)
    assert mismatch(np.array([np.nan, 1.0]), np.array([np.nan, 1.0])) is None
    assert mismatch(np.array([0.0, 1.0]), np.array([np.nan, 1.0])) is not None


def test_integers_and_floats_are_told_apart():
    assert "expected an int, got float (6.0)" in mismatch(6.0, 6)
    assert "expected an int, got bool" in mismatch(True, 1)
    assert mismatch(7, 6, EXACT) == "result: expected 6, got 7"
    assert mismatch(6, 6.0) is None  # an int is an exact number


def test_dicts_name_the_wrong_entry():
    want = {"dx": np.zeros(2), "dW": np.zeros(2)}
    assert mismatch({"dx": np.zeros(2)}, want) == "result: expected keys ['dW', 'dx'], got ['dx']"
    assert mismatch({"dx": np.zeros(2), "dW": np.ones(2)}, want).startswith("dW:")
    assert mismatch([want, want], [want]) == "result: expected a sequence of 1 items, got list"


def test_strings_and_none():
    assert mismatch("ValueError", "ValueError") is None
    assert "expected 'ValueError', got 'no exception'" in mismatch("no exception", "ValueError")
    assert mismatch(None, None) is None


def test_an_expected_infinity_matches_only_the_same_infinity():
    want = np.array([1.0, np.inf, -np.inf])
    assert mismatch(want.copy(), want) is None
    for got in (
        [1.0, 0.0, -np.inf],
        [1.0, 1e308, -np.inf],
        [1.0, -np.inf, -np.inf],
        [1.0, np.inf, np.inf],
        [1.0, np.nan, -np.inf],
    ):
        reason = mismatch(np.array(got), want)
        assert reason and "nan" not in reason.split("(expected")[0], (got, reason)
    assert mismatch(1e308, float("inf")) is not None
