"""The nbgrader path, proven with the real nbgrader.

One course root per module run, written by ``release.nbgrader_course.export`` and driven by
the real ``nbgrader`` commands (``generate_assignment``, ``collect``, ``autograde``,
``generate_feedback``, ``export --exporter autograder.jupyter.nbgrader_plugins.KitExport``,
``validate``), each a subprocess of
this interpreter called by its path with a ``PATH`` that holds neither its folder nor any
``alembic`` (an environment that is not activated). The optim_reg submissions: the
reference, the stubs, one known mistake (partial credit), the reference with its notebook's
first test cell deleted, with flags, points and order of test cells edited, without its
notebook, a folder whose graded ``layers.py`` is a link to the kit's reference (and another
file a link to a file outside the course), collected from nbgrader's exchange by ``nbgrader
collect``, and stubs with code in an added notebook cell, a forged test cell and planted
``ipykernel_launcher.py``, ``autograder/`` and ``optim_reg/numpy.py``. Each must get the native
grader's scores (``autograder.batch.grade_folder`` on the same folders), part by part.

Skipped only when nbgrader is not installed (``pip install -e ".[nbgrader]"``); the tests of
the course folder itself always run.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from test_jupyter_paths import OPTIM, Started, assert_no_secret, html_text, native

from autograder import course, samples
from release import nbgrader_course
from release.__main__ import main as release_main

pytestmark = pytest.mark.slow  # the real nbgrader over a whole course

MISTAKE = "adam-t-per-key"  # partial credit in adam
TIMEOUT = 600
LINKED = "link"  # the student whose layers.py is a link to the reference's

needs_nbgrader = pytest.mark.skipif(
    importlib.util.find_spec("nbgrader") is None,
    reason="nbgrader is not installed: pip install -e '.[nbgrader]'",
)


# ------------------------------------------------------------------ the course folder


def test_export_writes_a_course_folder(tmp_path):
    root = nbgrader_course.export(OPTIM, tmp_path / "course")
    source = root / "source" / OPTIM.name
    for name in (*OPTIM.given, *OPTIM.graded):
        assert (source / OPTIM.package / name).read_bytes() == (OPTIM.stub_dir / name).read_bytes()
    for name in (
        "assignment.toml",
        "selfcheck.py",
        "requirements.txt",
        "autograder/selfcheck.py",
        "tests/expected/data.json",
    ):
        assert (source / name).is_file(), name  # the public self-check, for validate
    assert sorted(p.name for p in source.glob("*.ipynb")) == [f"{OPTIM.name}.ipynb"]
    assert not (source / "README.md").exists()  # the zip workflow's README
    compile((root / "nbgrader_config.py").read_text("utf-8"), "nbgrader_config.py", "exec")
    nb = json.loads((source / f"{OPTIM.name}.ipynb").read_text("utf-8"))
    tests = [c for c in nb["cells"] if c["metadata"]["nbgrader"]["grade"]]
    assert [c["metadata"]["nbgrader"]["grade_id"] for c in tests] == OPTIM.parts
    for cell in nb["cells"]:
        meta = cell["metadata"]["nbgrader"]
        assert meta["schema_version"] == 3 and meta["locked"] and not meta["solution"]
    for cell, (part, points) in zip(tests, OPTIM.points.items(), strict=True):
        assert cell["metadata"]["nbgrader"]["points"] == points
        shown, hidden = cell["source"].split(nbgrader_course.GRADE_MARK)
        assert f"notebook_check({part!r})" in shown and "part_score" not in shown
        assert f"part_score({OPTIM.name!r}, {part!r})" in hidden


def test_rebuild_keeps_the_instructors_edits(tmp_path, capsys):
    root = nbgrader_course.export(OPTIM, tmp_path / "course")
    notebook = root / "source" / OPTIM.name / f"{OPTIM.name}.ipynb"
    stub = root / "source" / OPTIM.name / OPTIM.package / OPTIM.graded[0]
    own = root / "source" / OPTIM.name / "notes.md"
    own.write_text("the instructor's own file")
    notebook.write_text(notebook.read_text("utf-8").replace("채점 notebook", "my notebook"))
    edited = notebook.read_bytes()
    stub.write_text("# an older kit's stub\n")  # unedited since the kit wrote it: record it so
    record = json.loads((root / nbgrader_course.RECORD).read_text("utf-8"))
    record[stub.relative_to(root).as_posix()] = nbgrader_course._digest(stub.read_bytes())
    (root / nbgrader_course.RECORD).write_text(json.dumps(record))
    with pytest.raises(nbgrader_course.EditedFiles) as refused:
        nbgrader_course.export(OPTIM, root)
    assert refused.value.paths == [notebook.relative_to(root).as_posix()]
    assert notebook.read_bytes() == edited and stub.read_text() == "# an older kit's stub\n"
    argv = ["build", OPTIM.name, "--out", str(tmp_path / "dist"), "--nbgrader", str(root)]
    assert release_main(argv) == 2
    assert "--nbgrader-overwrite" in capsys.readouterr().err
    assert release_main([*argv, "--nbgrader-overwrite"]) == 0
    assert notebook.read_bytes() != edited and "채점 notebook" in notebook.read_text("utf-8")
    assert stub.read_bytes() == (OPTIM.stub_dir / OPTIM.graded[0]).read_bytes()
    assert own.read_text() == "the instructor's own file"
    nbgrader_course.export(OPTIM, root)  # as the kit wrote it: no refusal


# ------------------------------------------------------------------ the real nbgrader


def unactivated_environment() -> dict[str, str]:
    """This environment as an unactivated one: ``PATH`` without this interpreter's folder
    and without any ``alembic``; the kit importable from this checkout."""
    folders = [
        d
        for d in os.environ.get("PATH", "").split(os.pathsep)
        if d
        and Path(d).resolve() != Path(sys.executable).parent.resolve()
        and not (Path(d) / "alembic").exists()
    ]
    env = {
        **os.environ,
        "PATH": os.pathsep.join(folders) or os.defpath,
        "PYTHONPATH": str(course.ROOT),
    }
    env.pop("VIRTUAL_ENV", None)
    assert shutil.which("alembic", path=env["PATH"]) is None
    return env


def nbgrader(root: Path, *args: str) -> str:
    """What ``nbgrader <args>`` printed (its log and its output, in order)."""
    return finished(started(root, *args))


def started(root: Path, *args: str) -> Started:
    """``nbgrader <args>`` left running (its log and output in one file beside ``root``)."""
    return Started(
        [sys.executable, "-m", "nbgrader", *args],
        log=root.parent / f"nbgrader-{args[0]}",
        merged=True,
        cwd=root,
        env={**unactivated_environment(), "PYTHONUNBUFFERED": "1"},
    )


def finished(run: Started) -> str:
    done = run.wait()
    assert done.returncode == 0, f"nbgrader {done.args[3:]} failed:\n{done.stdout[-5000:]}"
    return done.stdout


def _submit(root: Path, student: str, kind: str, folder: Path | None = None) -> Path:
    """The released folder with the graded modules of ``kind``, as ``student`` submitted it
    (in ``submitted/`` unless ``folder`` is given)."""
    folder = folder or root / "submitted" / student / OPTIM.name
    shutil.copytree(root / "release" / OPTIM.name, folder)
    return samples.write_folder(folder, samples.graded(OPTIM, kind), OPTIM.package)


def _edit_notebook(folder: Path, edit) -> None:
    path = folder / f"{OPTIM.name}.ipynb"
    nb = json.loads(path.read_text("utf-8"))
    edit(nb["cells"])
    path.write_text(json.dumps(nb), encoding="utf-8")


def _flags(cells: list) -> None:
    """Test cells no longer test cells, a solution flag, other points, a cell moved."""
    cells[1]["metadata"]["nbgrader"]["grade"] = False
    cells[2]["metadata"]["nbgrader"]["solution"] = True
    cells[3]["metadata"]["nbgrader"]["points"] = 99
    cells.insert(0, cells.pop(5))


def _hostile(folder: Path, markers: Path) -> None:
    """Stubs, with code in an added cell, a forged 50-point test cell and files that would
    shadow what the grading kernel imports: none of it may run."""

    def edit(cells: list) -> None:
        mark = f"open({str(markers / 'cell')!r}, 'w').close()\n"
        cells.insert(
            3,
            {
                "cell_type": "code",
                "id": "mine",
                "metadata": {},
                "outputs": [],
                "execution_count": None,
                "source": mark + "class Adam:\n    def update(self, params, grads):\n"
                "        pass\n",
            },
        )
        forged = json.loads(json.dumps(cells[2]))
        forged["id"] = "bonus"
        forged["metadata"]["nbgrader"].update(grade_id="bonus", points=50)
        forged["source"] = mark.replace("cell", "forged") + "50"
        cells.append(forged)

    _edit_notebook(folder, edit)
    shadow = f"open({str(markers / 'shadow')!r}, 'w').close()\n"
    (folder / "autograder" / "jupyter").mkdir(parents=True)
    (folder / "autograder" / "__init__.py").write_text("")
    (folder / "autograder" / "jupyter" / "__init__.py").write_text("")
    (folder / "autograder" / "jupyter" / "nbgrader_cells.py").write_text(
        shadow + "def part_score(*args):\n    return 8.0\n"
    )
    (folder / "ipykernel_launcher.py").write_text(shadow)
    (folder / OPTIM.package / "numpy.py").write_text(shadow)


@pytest.fixture(scope="module")
def course_run(tmp_path_factory):
    """The course: generated, eight submissions autograded, feedback, the kit's export, the
    validation of three released copies, and the native grades of the same folders."""
    base = tmp_path_factory.mktemp("nbgrader")
    root = nbgrader_course.export(OPTIM, base / "course")
    logs = {"generate": nbgrader(root, "generate_assignment", OPTIM.name)}
    markers = base / "markers"
    markers.mkdir()
    canary = base / "canary.txt"
    canary.write_text("canary 7f1c: never copied\n")
    for student in ("reference", "stubs", MISTAKE):
        _submit(root, student, student)
    _edit_notebook(_submit(root, "first-cell-deleted", "reference"), lambda cells: cells.pop(1))
    _edit_notebook(_submit(root, "flags-edited", "reference"), _flags)
    (_submit(root, "no-notebook", "reference") / f"{OPTIM.name}.ipynb").unlink()
    exchange = base / "exchange"  # the linked student submits through nbgrader's exchange
    linked = _submit(
        root,
        LINKED,
        "reference",
        exchange
        / nbgrader_course.COURSE_ID
        / "inbound"
        / f"{LINKED}+{OPTIM.name}+2025-07-01 09:00:00.000000 UTC+kit",
    )
    (linked / "timestamp.txt").write_text("2025-07-01 09:00:00.000000 UTC")
    (linked / OPTIM.package / "layers.py").unlink()
    (linked / OPTIM.package / "layers.py").symlink_to(OPTIM.solution_dir / "layers.py")
    (linked / OPTIM.package / "notes.txt").symlink_to(canary)
    logs["collect"] = nbgrader(root, "collect", OPTIM.name, f"--Exchange.root={exchange}")
    _hostile(_submit(root, "hostile", "stubs"), markers)
    checked = base / "validate"
    for kind in ("stubs", MISTAKE, "reference"):
        folder = checked / kind
        shutil.copytree(root / "release" / OPTIM.name, folder)
        samples.write_folder(folder, samples.graded(OPTIM, kind), OPTIM.package)
    # validate and autograde go on side by side while this process grades natively
    validate = started(
        checked,
        "validate",
        *(f"{kind}/{OPTIM.name}.ipynb" for kind in ("stubs", MISTAKE, "reference")),
    )
    autograde = started(root, "autograde", OPTIM.name)
    expected = native(root / "submitted", base / "native")
    logs["autograde"] = finished(autograde)
    logs["feedback"] = nbgrader(root, "generate_feedback", OPTIM.name)
    logs["export"] = nbgrader(
        root, "export", "--exporter", "autograder.jupyter.nbgrader_plugins.KitExport"
    )
    logs["validate"] = finished(validate)
    return root, logs, markers, canary, expected


def _nbgrader_scores(root: Path) -> dict[str, dict[str, float]]:
    """Per student, per part: the scores in nbgrader's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        return {
            student.id: {
                part: gradebook.find_grade(part, OPTIM.name, OPTIM.name, student.id).score
                for part in OPTIM.parts
            }
            for student in gradebook.students
        }


def _feedback(root: Path, student: str) -> str:
    return html_text(root / "feedback" / student / OPTIM.name / f"{OPTIM.name}.html")


@needs_nbgrader
def test_nbgrader_runs_unactivated_with_the_courses_config(course_run):
    _, logs, _, _, _ = course_run
    assert str(Path(sys.executable).parent) not in unactivated_environment()["PATH"].split(
        os.pathsep
    )
    for step, text in logs.items():
        assert "No such file or directory: 'alembic'" not in text, step
        assert "Exception while loading config file" not in text, step


@needs_nbgrader
def test_every_submission_gets_the_native_grade_part_by_part(course_run):
    root, _, _, _, expected = course_run
    scores = _nbgrader_scores(root)
    assert sorted(scores) == sorted(expected) and len(expected) == 8
    for student, want in expected.items():
        assert want["status"] == "ok", student
        assert scores[student] == pytest.approx(want["parts"], abs=1e-9), student
    for student in ("reference", "first-cell-deleted", "flags-edited", "no-notebook"):
        assert expected[student]["score"] == 100, student
    assert expected["stubs"]["score"] == expected["hostile"]["score"] == 0
    assert 0 < expected[MISTAKE]["parts"]["adam"] < OPTIM.points["adam"]
    # the linked reference layers.py earns nothing; the regular optimizers.py all it earns
    assert expected[LINKED]["parts"] == {
        part: 0 if part in ("batchnorm", "dropout") else points
        for part, points in OPTIM.points.items()
    }


@needs_nbgrader
def test_the_export_plugin_writes_the_kits_gradebook(course_run):
    root, _, _, _, expected = course_run
    with open(root / f"gradebook-{OPTIM.name}.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["student", "score", "max_score", *OPTIM.parts, "status"]
    assert sorted(row["student"] for row in rows) == sorted(expected)
    for row in rows:
        want = expected[row["student"]]
        assert {part: float(row[part]) for part in OPTIM.parts} == want["parts"]
        assert float(row["score"]) == pytest.approx(want["score"])
        assert row["max_score"] == "100" and row["status"] == want["status"]


@needs_nbgrader
def test_links_are_refused_before_anything_follows_them(course_run):
    root, logs, _, canary, _ = course_run
    assert "2 symbolic link(s) kept as links, not followed" in logs["collect"]
    assert (
        f"{LINKED}: 2 symbolic link(s) refused, never followed: "
        f"{OPTIM.package}/layers.py, {OPTIM.package}/notes.txt" in logs["autograde"]
    )
    graded = root / "autograded" / LINKED / OPTIM.name / OPTIM.package
    assert (graded / "layers.py").read_bytes() == (OPTIM.stub_dir / "layers.py").read_bytes()
    secret = canary.read_text()
    for path in root.rglob("*"):
        assert not path.is_symlink() or path.relative_to(root).parts[:2] == ("submitted", LINKED), (
            path
        )
        if path.is_file() and not path.is_symlink():
            assert secret not in path.read_text("utf-8", "replace"), path
    assert "ignored 2 links or special files (never read)" in _feedback(root, LINKED)


@needs_nbgrader
def test_nothing_of_the_notebook_runs_and_its_code_is_named(course_run):
    root, logs, markers, _, _ = course_run
    assert sorted(p.name for p in markers.iterdir()) == []
    for student in ("hostile", "first-cell-deleted", "flags-edited", "no-notebook"):
        graded = json.loads(
            (root / "autograded" / student / OPTIM.name / f"{OPTIM.name}.ipynb").read_text("utf-8")
        )
        ids = [c["metadata"]["nbgrader"]["grade_id"] for c in graded["cells"]]
        assert ids == [nbgrader_course.INTRO_ID, *OPTIM.parts], student
        for cell in graded["cells"][1:]:  # printed on stdout only, then the points
            *printed, points = [(o["output_type"], o.get("name")) for o in cell["outputs"]]
            assert set(printed) == {("stream", "stdout")} and points[0] == "execute_result"
    folder = root / "autograded" / "hostile" / OPTIM.name
    assert not (folder / "ipykernel_launcher.py").exists() and not (folder / "release").exists()
    assert not (folder / OPTIM.package / "numpy.py").exists()
    assert ("your notebook cell 4 (`open(") in _feedback(root, "hostile")
    assert f"was not graded; put the code in `{OPTIM.package}/optimizers.py`" in _feedback(
        root, "hostile"
    )
    assert (
        f"{OPTIM.name}.ipynb was not submitted: your modules were graded without it"
        in _feedback(root, "no-notebook")
    )
    assert "Inconsistent checksums" not in logs["autograde"]


@needs_nbgrader
def test_feedback_shows_points_not_secrets(course_run):
    root, _, _, _, expected = course_run
    for student, want in expected.items():
        page = _feedback(root, student)
        assert_no_secret(page, f"{student}'s feedback")
        assert f"{OPTIM.name}: {want['score']:g} / 100" in page
        assert "Adam-lr" not in page and "beta1=" not in page  # hidden cases are numbered
    mistake = _feedback(root, MISTAKE)
    assert f"This looks like a known mistake ({MISTAKE})" in mistake
    assert "adam: updates[case 1]" in mistake


@needs_nbgrader
def test_the_release_holds_the_public_check_and_no_hidden_grading(course_run):
    root, _, _, _, _ = course_run
    released = root / "release" / OPTIM.name
    text = (released / f"{OPTIM.name}.ipynb").read_text("utf-8")
    assert "HIDDEN TESTS" not in text and "part_score" not in text
    for path in released.rglob("*"):
        if path.is_file() and path.suffix in (".py", ".ipynb", ".toml", ".txt", ".json"):
            assert_no_secret(path.read_text("utf-8"), str(path.relative_to(root)))
    source = root / "source" / OPTIM.name
    assert sorted(
        p.relative_to(released).as_posix() for p in released.rglob("*") if p.is_file()
    ) == sorted(p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file())


@needs_nbgrader
def test_validate_fails_on_stubs_and_wrong_code_and_passes_on_the_reference(course_run):
    _, logs, _, _, _ = course_run
    _, stubs, mistake, reference = logs["validate"].split("[ValidateApp | INFO] Validating")
    assert f"VALIDATION FAILED ON {len(OPTIM.parts)} CELL(S)" in stubs
    assert "not implemented yet" in stubs and "sgd: 0.0 / 8 on the public cases" in stubs
    assert "VALIDATION FAILED ON 1 CELL(S)" in mistake
    assert f"This looks like a known mistake ({MISTAKE})" in mistake
    assert "Success! Your notebook passes all the tests." in reference
