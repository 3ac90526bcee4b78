"""Fair and named eps and Pooling defaults (issue 14, item 1), through the real graders.

Each submission is the reference with a small edit, the way a student writes the mistake
(the textbook's fixed eps, an argument ignored, a default changed), graded by
`autograder.batch.grade_folder`: a mistake loses points in its part only, and the feedback
of each case it loses names it; the textbook's fixed eps loses at most the cases that pass
a non-default eps; eps values other libraries use earn full marks at the default eps.
"""

from pathlib import Path

import pytest

from autograder import batch, course, samples
from autograder.graders_plugin import known_mistake
from autograder.results import Result

OPTIM = course.load("optim_reg")
CNN = course.load("cnn")
# hidden cases are numbered within their test (2d, 4d-per-channel; the eps=0.1 updates)
BN_EPS_CASES = {"batchnorm: eps_argument[case 1]", "batchnorm: eps_argument[case 2]"}

BN_STD = "        self.std = np.sqrt(var + self.eps)\n"
ADAGRAD_STEP = "params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + self.eps)"
RMSPROP_STEP = "params[key] -= self.lr * g / (np.sqrt(self.h[key]) + self.eps)"
ADAM_STEP = """\
            m_hat = self.m[key] / (1 - self.beta1**self.t)
            v_hat = self.v[key] / (1 - self.beta2**self.t)
            params[key] -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
"""
ADAM_TEXTBOOK = """\
            lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.t) / (1.0 - self.beta1**self.t)
            params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + 1e-7)
"""
POOL2D_CHECKS = """\
    if mode not in ("max", "avg"):
        raise ValueError(f'mode must be "max" or "avg", got {mode!r}')
    ph, pw = (pool_size, pool_size) if isinstance(pool_size, int | np.integer) else pool_size
"""
POOL2D_TUPLES_ONLY = """\
    ph, pw = pool_size  # an int size raises TypeError here, before the mode is checked
    if mode not in ("max", "avg"):
        raise ValueError(f'mode must be "max" or "avg", got {mode!r}')
"""


def edited(assignment: course.Assignment, *edits: tuple[str, str, str]) -> dict[str, str]:
    """The graded modules of the reference with each ``(file, old, new)`` made (``old``
    occurs once)."""
    files = samples.graded(assignment, "reference")
    for name, old, new in edits:
        assert files[name].count(old) == 1, (name, old)
        files[name] = files[name].replace(old, new)
    return files


def eps_default(eps: str) -> dict[str, str]:
    """BatchNormalization whose own default eps is ``eps`` (the graders' default cases
    pass none)."""
    return edited(OPTIM, ("layers.py", "eps: float = 1e-5,", f"eps: float = {eps},"))


OPTIM_SUBMISSIONS = {
    "optim_reg_reference": edited(OPTIM),
    "bn_textbook": edited(
        OPTIM, ("layers.py", BN_STD, "        self.std = np.sqrt(var + 10e-7)\n")
    ),
    "bn_eps_ignored": edited(
        OPTIM,
        (
            "layers.py",
            "        self.eps = eps\n",
            "        self.eps = 1e-5  # PyTorch's, whatever is passed\n",
        ),
    ),
    "bn_eps_outside_sqrt": edited(
        OPTIM, ("layers.py", BN_STD, "        self.std = np.sqrt(var) + self.eps\n")
    ),
    "bn_default_eps_1e-8": eps_default("1e-8"),
    "bn_default_eps_1e-7": eps_default("1e-7"),
    "bn_default_eps_10e-7": eps_default("10e-7"),
    "adagrad_textbook": edited(
        OPTIM, ("optimizers.py", ADAGRAD_STEP, ADAGRAD_STEP.replace("self.eps", "1e-7"))
    ),
    "rmsprop_textbook": edited(
        OPTIM, ("optimizers.py", RMSPROP_STEP, RMSPROP_STEP.replace("self.eps", "1e-7"))
    ),
    "rmsprop_eps_inside_sqrt": edited(
        OPTIM,
        (
            "optimizers.py",
            RMSPROP_STEP,
            "params[key] -= self.lr * g / np.sqrt(self.h[key] + self.eps)",
        ),
    ),
    "adam_eps_ignored": edited(
        OPTIM, ("optimizers.py", ADAM_STEP, ADAM_STEP.replace("self.eps", "1e-8"))
    ),
    "adam_textbook": edited(OPTIM, ("optimizers.py", ADAM_STEP, ADAM_TEXTBOOK)),
}
CNN_SUBMISSIONS = {
    "cnn_reference": edited(CNN),
    "pooling_textbook_stride": edited(
        CNN, ("pooling.py", "stride: int = 1, pad: int = 0", "stride: int = 2, pad: int = 0")
    ),
    "pool2d_tuples_only": edited(CNN, ("pooling.py", POOL2D_CHECKS, POOL2D_TUPLES_ONLY)),
}

# student -> (its part, the known mistake its feedback names, the cases it may lose; None:
# any of its part's)
MISTAKEN = {
    "bn_textbook": ("batchnorm", "bn-eps-ignored", BN_EPS_CASES),
    "bn_eps_ignored": ("batchnorm", "bn-eps-ignored", BN_EPS_CASES),
    "bn_eps_outside_sqrt": ("batchnorm", "bn-eps-outside-sqrt", BN_EPS_CASES),
    "adagrad_textbook": ("adagrad", "adagrad-eps-ignored", {"adagrad: updates[case 3]"}),
    "rmsprop_textbook": ("rmsprop", "rmsprop-eps-ignored", {"rmsprop: updates[case 3]"}),
    "rmsprop_eps_inside_sqrt": ("rmsprop", "rmsprop-eps-inside-sqrt", {"rmsprop: updates[case 3]"}),
    "adam_eps_ignored": ("adam", "adam-eps-ignored", {"adam: updates[case 3]"}),
    "adam_textbook": ("adam", "adam-eps-ignored", {"adam: updates[case 3]"}),
    "pooling_textbook_stride": (
        "pooling",
        "pooling-default-stride-2",
        {"pooling: pooling_layer_defaults"},
    ),
}


def _grade(
    assignment: course.Assignment, submissions: dict[str, dict[str, str]], folder: Path
) -> dict[str, Result]:
    for student, files in submissions.items():
        package = folder / "submissions" / student / assignment.package
        package.mkdir(parents=True)
        for name, text in files.items():
            (package / name).write_text(text, encoding="utf-8")
    results = batch.grade_folder(assignment, folder / "submissions", folder / "out", jobs=2)
    return {result.student: result for result in results}


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, Result]:
    """Every submission's result, by student (the two assignments' students differ)."""
    folder = tmp_path_factory.mktemp("fair")
    return {
        **_grade(OPTIM, OPTIM_SUBMISSIONS, folder / "optim_reg"),
        **_grade(CNN, CNN_SUBMISSIONS, folder / "cnn"),
    }


def _lost(result: Result) -> dict[str, str]:
    """Name -> feedback of every case that lost points."""
    return {test.name: test.output for test in result.tests if not test.passed}


@pytest.mark.slow
@pytest.mark.parametrize(
    "student",
    [
        "optim_reg_reference",
        "cnn_reference",
        "bn_default_eps_1e-8",
        "bn_default_eps_1e-7",
        "bn_default_eps_10e-7",
    ],
)
def test_full_marks(graded, student):
    """The reference, and BatchNorm with the textbook's, CS231n's or a smaller default eps."""
    result = graded[student]
    assert (result.status, result.score, _lost(result)) == ("ok", result.max_score, {})


@pytest.mark.slow
@pytest.mark.parametrize("student", MISTAKEN)
def test_mistake_loses_only_its_cases_and_is_named(graded, student):
    part, name, cases = MISTAKEN[student]
    result = graded[student]
    lost = _lost(result)
    assert lost and set(lost) <= cases, lost
    assert {test.part for test in result.tests if not test.passed} == {part}
    mistake = samples.mistake(course.load(result.assignment), name)
    for output in lost.values():
        assert known_mistake(mistake.name, mistake.why) in output


@pytest.mark.slow
def test_pool2d_bad_mode_case_needs_no_int_size(graded):
    """A pool2d without int sizes loses their cases, not the one for an unknown mode."""
    result = graded["pool2d_tuples_only"]
    lost = _lost(result)
    assert {test.part for test in result.tests if not test.passed} == {"pool2d"}
    assert set(lost) == {"pool2d: pool2d[case 3]", "pool2d: pool2d[case 4]"}, lost  # int sizes
