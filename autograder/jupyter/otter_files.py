"""The course's otter files, as text: the checks notebook, otter's question files, the
public test files and ``otter_config.json``.

:mod:`release.otter_course` writes them into the two zips at build time; the kit's otter
plugin (:mod:`autograder.jupyter.otter_plugin`) writes the notebook and the question files
again into the folder ``otter run`` grades in. Nothing here imports otter.
"""

from __future__ import annotations

import json

from autograder.course import Assignment

TESTS = "otter_tests"  # the public test files, in the student's folder
PLUGIN = "autograder.jupyter.otter_plugin.KitGrades"


def notebook_name(assignment: Assignment) -> str:
    return f"{assignment.name}_checks.ipynb"


def _markdown(source: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def _code(source: str) -> dict:
    return {
        "cell_type": "code",
        "metadata": {},
        "execution_count": None,
        "outputs": [],
        "source": source,
    }


def notebook_metadata(assignment: Assignment) -> dict:
    return {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "otter": {"assignment_name": assignment.name},
    }


def student_notebook(assignment: Assignment) -> dict:
    """The checks notebook (nbformat v4 JSON): one ``grader.check`` per part, then export."""
    name = notebook_name(assignment)
    modules = [f"{assignment.package}/{module}" for module in assignment.graded]
    shown = ", ".join(f"`{module}`" for module in modules)
    cells = [
        _markdown(
            f"# {assignment.title}: otter checks\n\n"
            f"코드는 {shown}에 작성하고, 아래 cell로 part마다\n"
            "**공개 case**를 확인하세요. `python selfcheck.py <part>`와 같은 확인입니다:\n"
            "여러분의 package를 sandbox에서 실행해 기록된 정답과 비교합니다.\n"
            "점수는 제출 후 **숨은 case**로 매겨집니다. 마지막 cell이 제출할 zip을 만듭니다.\n\n"
            f"(Write your code in {shown}. Each cell below runs the public cases of one part, as\n"
            "`python selfcheck.py <part>` does; the grade comes from hidden cases "
            "after you submit.\n"
            "The last cell writes the zip file to upload.)"
        ),
        _code(f'import otter\n\ngrader = otter.Notebook("{name}", tests_dir="{TESTS}")'),
    ]
    for part, points in assignment.points.items():
        cells += [_markdown(f"### `{part}` ({points}점)"), _code(f'grader.check("{part}")')]
    cells += [
        _markdown(
            "## 제출 (submit)\n\n이 cell이 만든 zip 파일을 제출하세요. "
            "(Upload the zip file this cell writes.)"
        ),
        _code(f'grader.export("{name}", pdf=False, ignore_log=True, files={modules!r})'),
    ]
    for number, cell in enumerate(cells):
        cell["id"] = f"cell-{number}"
    return {
        "cells": cells,
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": notebook_metadata(assignment),
    }


def notebook_text(assignment: Assignment) -> str:
    return json.dumps(student_notebook(assignment), indent=1, ensure_ascii=False) + "\n"


PUBLIC_TEST = '''"""Part `{part}` ({points} points): the public cases of the course's self-check, as
`python selfcheck.py {part}` runs them (your package in the sandbox, recorded answers)."""

from otter.test_files import test_case

OK_FORMAT = False
name = "{part}"
points = {points}


def public_feedback(part):
    """The self-check's feedback on the public cases of `part` that failed ("" if none
    failed): the kit's messages, which name frames of your own files only. The kit's own log
    records (the traceback of an internal error) stay out of the notebook."""
    import logging
    from pathlib import Path

    from autograder.course import from_manifest
    from autograder.selfcheck import check

    kit, quiet = logging.getLogger("autograder"), logging.NullHandler()
    kit.addHandler(quiet)
    propagate, kit.propagate = kit.propagate, False
    try:
        folder = Path.cwd()
        results = check(from_manifest(folder / "assignment.toml"), folder, [part])
    except Exception as error:  # the check itself failed, not your code
        return (f"the self-check could not run ({{type(error).__name__}}): run this notebook "
                f"from the assignment folder, or `python selfcheck.py {{part}}` in a terminal")
    finally:
        kit.removeHandler(quiet)
        kit.propagate = propagate
    if not results:
        return "no public case ran: run this notebook from the assignment folder"
    return "\\n".join(f"{{r.name}} ({{r.score:.2f}} / {{r.max_score:.2f}}):\\n{{r.output}}"
                     for r in results if not r.passed)


@test_case(name="{part}: public cases", points={points})
def public_cases():
    feedback = public_feedback("{part}")
    assert not feedback, feedback
'''

PLACEHOLDER_TEST = '''"""Part `{part}` ({points} points) of {assignment}: graded by the course kit.

This file only declares the question and its points. The kit's otter plugin ({plugin})
grades the submitted modules with the hidden graders, in the kit's sandbox, and writes this
question's score and feedback; without the plugin the question earns nothing.
"""

from otter.test_files import test_case

OK_FORMAT = False
name = "{part}"
points = {points}


@test_case(name="{part}: the course's hidden tests", points={points})
def hidden_tests():
    raise AssertionError("graded by the course kit's otter plugin, which did not run")
'''


def question_files(assignment: Assignment) -> dict[str, str]:
    """``tests/<part>.py`` -> source: otter's questions, one per part with its points."""
    return {
        f"tests/{part}.py": PLACEHOLDER_TEST.format(
            part=part, points=points, assignment=assignment.name, plugin=PLUGIN
        )
        for part, points in assignment.points.items()
    }


def otter_config(assignment: Assignment) -> dict:
    return {
        "lang": "python",
        "assignment_name": assignment.name,
        "pdf": False,
        "plugins": [{PLUGIN: {"assignment": assignment.name}}],
    }
