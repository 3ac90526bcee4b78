"""Feedback names no path of the grading machine, whatever the student's code prints.

A submission prints, and raises with, everything of the machine it can see from inside the
sandbox: its command line (``sys.orig_argv``), its working folder, the kit's and NumPy's
files, the environment. The feedback keeps the student's text but puts neutral names for
the machine's own folders.
"""

from __future__ import annotations

import os
import sys
import tempfile

import pytest

from autograder import batch, course

OPTIM = course.load("optim_reg")
SNOOP = """
import os, sys, tempfile
import numpy

def _seen():
    kit = sys.modules.get("autograder")
    return " | ".join(map(str, [sys.orig_argv, sys.argv, os.getcwd(), numpy.__file__,
                                getattr(kit, "__file__", None), tempfile.gettempdir(),
                                dict(os.environ), __file__]))


class SGD:
    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        print(_seen())
        raise RuntimeError(_seen())
"""


@pytest.mark.slow
def test_feedback_names_no_folder_of_the_grading_machine(tmp_path):
    package = tmp_path / "submissions" / "snoop" / "optim_reg"
    package.mkdir(parents=True)
    (package / "optimizers.py").write_text(SNOOP, "utf-8")
    [result] = batch.grade_folder(OPTIM, tmp_path / "submissions", tmp_path / "out")
    page = (tmp_path / "out" / "feedback" / "snoop.md").read_text("utf-8")
    sgd = next(t.output for t in result.tests if t.part == "sgd")
    assert "<submission>" in sgd and "your code raised" in sgd  # the text is kept
    for path in {
        str(course.ROOT),
        os.path.realpath(course.ROOT),
        sys.prefix,
        sys.base_prefix,
        tempfile.gettempdir(),
        str(tmp_path),
        "autograder-sandbox-",
    }:
        assert path not in page, path
