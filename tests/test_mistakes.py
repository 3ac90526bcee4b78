"""Known mistakes survive a behaviour-preserving rewrite of the reference, or say why not."""

import ast
import re
import textwrap

import numpy as np
import pytest

from autograder import course
from autograder.mistakes import NotApplicable, parse
from autograder.reference_oracle import ReferenceOracle, module_files
from autograder.verify import known_variants

CNN = course.load("cnn")

VECTORISED = """\
    windows = np.lib.stride_tricks.sliding_window_view(X, (ph, pw))
    return windows.max(axis=(2, 3)) if mode == "max" else windows.mean(axis=(2, 3))
"""


def vectorised_pool2d(source: str) -> str:
    """pooling.py with pool2d's loops, from ``Y = np.zeros(...)`` to ``return Y``, written
    as one vectorised expression."""
    [pool2d] = [n for n in ast.parse(source).body if getattr(n, "name", "") == "pool2d"]
    [start] = [n for n in pool2d.body if ast.unparse(n).startswith("Y = np.zeros")]
    lines = source.split("\n")
    assert "for i in range" in "\n".join(lines[start.lineno : pool2d.body[-1].end_lineno])
    return "\n".join(
        [*lines[: start.lineno - 1], *VECTORISED.splitlines(), *lines[pool2d.end_lineno :]]
    )


def function(source: str, name: str):
    namespace: dict = {}
    exec(compile(source, "pooling.py", "exec"), namespace)
    return namespace[name]


def test_a_rewritten_function_names_exactly_the_entries_to_rebase():
    """pool2d's loops become one vectorised expression, its other lines are reformatted:
    the entries on those other lines still apply, unedited; verify names the others."""
    reference = module_files(CNN)
    rewritten = vectorised_pool2d(reference["pooling.py"]).replace(
        '    if mode not in ("max", "avg"):\n',
        "    if mode not in ('max',\n                    'avg',):  # the two modes\n",
    )
    x = np.random.default_rng(0).standard_normal((5, 7))
    for mode, size in (("max", (2, 3)), ("avg", 2)):  # an equivalent form
        want = function(reference["pooling.py"], "pool2d")(x, size, mode)
        np.testing.assert_allclose(function(rewritten, "pool2d")(x, size, mode), want)
    variants, stale = known_variants(CNN, {**reference, "pooling.py": rewritten})
    gone = "the old text is not in the solution regions of pool2d (pooling.py)"
    assert stale == [
        f"{name}: {gone}"
        for name in (
            "pool2d-output-too-small",
            "pool2d-stride-window",
            "pool2d-avg-sum",
            "pool2d-avg-by-four",
            "pool2d-modes-swapped",
            "pool2d-square-window",
            "pool2d-offsets-swapped",
            "pool2d-last-row-missing",
            "pool2d-abs-max",
            "pool2d-float32",
            "pool2d-same-size",
            "pool2d-sliding-window",
        )
    ]
    applied = {v.name: v.files["pooling.py"] for v in variants}
    assert len(applied) == 188 - len(stale)
    assert applied["pool2d-assert-mode"] == rewritten.replace(
        "    if mode not in ('max',\n                    'avg',):  # the two modes\n"
        '        raise ValueError(f\'mode must be "max" or "avg", got {mode!r}\')\n',
        '    assert mode in ("max", "avg")\n',
    )
    assert applied["pool2d-size-swapped"] != rewritten


def entry(scope: str, old: str, new: str) -> str:
    return (
        f"## e\npart: p\nexpect: fail\nwhy: w\n\n```old m.py {scope}\n{old}```\n```new\n{new}```\n"
    )


SOURCE = '''\
class Layer:
    def forward(self, x):
        """Doubled."""
        # BEGIN SOLUTION
        for row in x:
            out = f(row, "a",
                    scale=2.0)  # a comment
        return out
        # END SOLUTION

    def backward(self, d):
        out = f(d, "a", scale=2.0)
        # BEGIN SOLUTION
        return out
        # END SOLUTION
'''


def apply(scope: str, old: str, new: str, source: str = SOURCE) -> str:
    [mistake] = parse(entry(scope, textwrap.dedent(old), textwrap.dedent(new)))
    return mistake.apply({"m.py": source})["m.py"]


def test_layout_comments_commas_and_quotes_do_not_count():
    new = apply(
        "Layer.forward",
        "out = f(row, 'a', scale=2e0,)\n",
        "out = f(row, 'a', scale=3.0)\n",
    )
    assert new == SOURCE.replace(
        'out = f(row, "a",\n                    scale=2.0)  # a comment\n',
        "out = f(row, 'a', scale=3.0)\n",
    )


def test_the_new_text_moves_with_the_match():
    """Written for code at the function's top level, the edit lands inside the loop."""
    new = apply(
        "Layer.forward",
        "out = f(row, 'a', scale=2.0)\n",
        "if row is not None:\n    out = row\n",
    )
    assert (
        "        for row in x:\n            if row is not None:\n                out = row\n" in new
    )
    compile(new, "m.py", "exec")


@pytest.mark.parametrize(
    "scope, old, new, why",
    [
        ("Layer.fwd", "return out\n", "return 0\n", "m.py has no function, method or class"),
        ("Layer.forward", "return x\n", "return 0\n", "not in the solution regions of"),
        ("Layer", "return out\n", "return 0\n", "occurs 2 times in Layer (m.py), not once"),
        ("Layer.backward", "out = f(d, 'a', scale=2.0)\n", "out = 0\n", "not in the solution"),
        ("Layer.backward", "return out\n", "return (\n", "with the edit does not compile"),
    ],
)
def test_an_entry_that_no_longer_applies_says_why(scope, old, new, why):
    with pytest.raises(NotApplicable, match=rf"^e: .*{re.escape(why)}"):
        apply(scope, old, new)


def test_an_edit_names_its_file_and_scope():
    with pytest.raises(ValueError, match=re.escape("```old <file> <scope>")):
        parse(entry("", "return out\n", "return 0\n").replace("m.py \n", "m.py\n"))


def test_a_stale_entry_explains_nothing_in_grading_and_says_so(caplog):
    """An entry that no longer applies (the reference changed and verify was not run) is
    dropped by the grading oracle with a warning: no diagnosis, never an error of the case."""
    optim = course.load("optim_reg")
    oracle = ReferenceOracle(optim)
    [stale] = parse(
        "## sgd-stale\npart: sgd\nexpect: fail\nwhy: w\n\n"
        "```old optimizers.py SGD.update\nparams[key] += self.lr\n```\n```new\npass\n```\n"
    )
    oracle.known.append(stale)
    inputs = {"name": "SGD", "hyper": {}, "params": {"w": np.ones(2)}, "grads": [{"w": np.ones(2)}]}
    with pytest.raises(NotApplicable):
        oracle.expect("optimizer", inputs, "sgd", stale)
    assert stale not in oracle.mistakes("sgd") and oracle.mistakes("sgd")
    assert "sgd-stale" in caplog.text and "release verify" in caplog.text
    assert oracle.raised("optimizer", inputs, "sgd", stale) is None
