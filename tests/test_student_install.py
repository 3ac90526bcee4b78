"""A student's first install, as the student README says it (``tests/student_environment.py``:
a fresh environment of the system's interpreter, the newest pip, CPU PyTorch first, then only
the archive's own ``requirements.txt``); then the self-check of the unpacked archive."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest
from roads import system_environment
from student_environment import torch_version, unpack

from autograder import course, samples

OPTIM = course.load("optim_reg")
CNN = course.load("cnn")


@pytest.mark.slow
@pytest.mark.parametrize("name", course.names())
def test_requirements_resolve_over_an_installed_cpu_torch(name, student_environment):
    text = student_environment.requirements[name]
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines and all(
        ">=" in line and "<" not in line and "+" not in line and "==" not in line for line in lines
    ), text
    report = student_environment.dry_run[name]
    installs = {item["metadata"]["name"].lower() for item in report["install"]}
    assert "numpy" in installs and "pytest" in installs, (student_environment.pip_version, installs)
    assert "torch" not in installs  # the CPU torch already there is kept
    assert not [n for n in installs if n.startswith(("nvidia", "triton"))], installs


@pytest.mark.slow
def test_unpacked_archives_self_check_after_the_student_install(student_environment, tmp_path):
    """The stubs fail every part with clear messages, the reference copied in passes every
    part (optim_reg), and the torch the student installed first is still the one there."""
    python, before = student_environment.python, student_environment.torch_before
    assert torch_version(python) == before and before.endswith("+cpu")
    folder = unpack(OPTIM, tmp_path)
    env = system_environment(COLUMNS="200")
    where = subprocess.run(
        [str(python), "-c", "import autograder; print(autograder.__file__)"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(folder))

    def selfcheck(at: Path, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(python), "selfcheck.py", *args],
            cwd=at,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    stubs = selfcheck(folder)
    assert stubs.returncode == 1
    for part in OPTIM.parts:
        assert f"0.0 / {OPTIM.points[part]}" in stubs.stdout
    assert "not implemented yet" in stubs.stdout
    samples.write_folder(folder, samples.graded(OPTIM), OPTIM.package)
    reference = selfcheck(folder)
    assert reference.returncode == 0, reference.stdout
    for part in OPTIM.parts:
        assert f"{OPTIM.points[part]:.1f} / {OPTIM.points[part]}" in reference.stdout
    packed = selfcheck(folder, "--pack", "20251234")
    assert packed.returncode == 0 and "warning" not in packed.stdout
    with zipfile.ZipFile(folder / "20251234.zip") as archive:
        assert sorted(archive.namelist()) == sorted(f"optim_reg/{n}" for n in OPTIM.graded)


@pytest.mark.slow
def test_the_public_tests_pass_with_bare_pytest(student_environment, tmp_path):
    """The reference in the unpacked cnn archive passes every public case with bare
    ``pytest`` in the folder (``training`` and torch's ``residual`` included, in the same
    install), and the seeded cases from the folder's parent: the kit is not installed in
    this environment (only the folder's own copy can be imported), and each case's recorded
    answer is found whatever pytest's root (``python -m pytest`` from the folder:
    ``test_portable_runner.py``)."""
    python = student_environment.python
    folder = unpack(CNN, tmp_path)
    samples.write_folder(folder, samples.graded(CNN), CNN.package)
    runs = [
        (
            folder,
            [],
            [
                "tests/test_network.py::test_training_on_digits",
                "tests/test_network.py::test_residual_block_shapes_and_values",
            ],
        ),
        (folder.parent, ["-m", "conv2d"], ["cnn/tests/test_conv.py::test_conv2d[2-1]"]),
    ]
    for at, args, cases in runs:
        run = subprocess.run(
            [str(python.parent / "pytest"), "-q", "-rA", *args],
            cwd=at,
            capture_output=True,
            text=True,
            timeout=600,
            env=system_environment(COLUMNS="200"),
        )
        assert run.returncode == 0, (at, run.stdout[-3000:], run.stderr[-2000:])
        for case in cases:
            assert f"\nPASSED {case}\n" in run.stdout, run.stdout[-3000:]
