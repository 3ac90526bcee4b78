"""The portable runner (autograder.sandbox.portable_parent): the self-check without fork or Linux.

The same self-check through the confined Sandbox and through the portable runner
(``KIT_SELFCHECK_RUNNER``) must give the same cases, scores and messages, on the reference,
the stubs and faulty code; the student's archive must self-check in an interpreter without
``os.fork``, ``resource`` and the other POSIX-only calls Windows lacks. Real processes only.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from autograder import course, intake, samples, selfcheck
from autograder.sandbox import Call, Limits, Sandbox
from autograder.sandbox.portable_child import WATCHDOG_GRACE
from autograder.sandbox.portable_parent import PortableSandbox
from release.build import student_archive

pytestmark = pytest.mark.slow  # whole self-checks through both runners

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
PROBES = "sandbox_probes"  # tests/sandbox_probes.py, as in test_sandbox.py
OPTIM = course.load("optim_reg")
# SGD.update's body in the reference, replaced by each fault below.
SGD_BODY = "        for key in params:\n            params[key] -= self.lr * grads[key]\n"
FAULTS = {
    "loop": "while True:\n    pass\n",
    "exit": "import os\nos._exit(3)\n",
    "raise": "raise ValueError(f'bad step size {self.lr}')\n",
    "print": "for _ in range(2000):\n    print('x' * 10_000)\nraise RuntimeError('printed')\n",
}
# What Windows lacks, removed before anything of the kit is imported (parent and child).
NOT_ON_WINDOWS = textwrap.dedent("""\
    import os, sys
    for name in ("fork", "killpg", "setsid", "sysconf", "WIFSIGNALED", "O_NOFOLLOW",
                 "O_CLOEXEC", "O_NOCTTY", "O_NONBLOCK", "O_DIRECTORY"):
        delattr(os, name)
    os.supports_dir_fd = set()
    sys.modules["resource"] = sys.modules["fcntl"] = None  # import fails
""")


def _cases(results: list) -> list[tuple]:
    return [(r.name, r.part, r.score, r.max_score, r.output) for r in results]


def _both(monkeypatch, assignment, folder: Path, parts: list[str] | None = None):
    """The self-check's cases through the confined runner, then through the portable one."""
    found = []
    for runner in ("confined", "portable"):
        monkeypatch.setenv(selfcheck.RUNNER, runner)
        found.append(_cases(selfcheck.check(assignment, folder, parts)))
    return found


def _reference(assignment, dest: Path) -> Path:
    """A folder holding the reference package, materialised as the grader does."""
    return intake.materialize(
        intake.read_folder(assignment.solution_dir, assignment), assignment, dest
    )


# --------------------------------------------------------------------------- the choice


def test_the_runner_is_chosen_by_the_environment(monkeypatch):
    for runner, kind in (("portable", PortableSandbox), ("confined", Sandbox)):
        monkeypatch.setenv(selfcheck.RUNNER, runner)
        sandbox = selfcheck.open_sandbox(OPTIM)
        try:
            assert type(sandbox) is kind
            note = selfcheck.unconfined_note(sandbox)
            assert (note is not None) == (runner == "portable")
        finally:
            sandbox.close()
    monkeypatch.setenv(selfcheck.RUNNER, "portable")
    with selfcheck.open_sandbox(OPTIM) as sandbox:
        assert sandbox.report()["confinement"].active is False
        assert selfcheck.unconfined_note(sandbox) == (
            "your code ran in a separate process without the grader's confinement (this "
            "platform has none): KIT_SELFCHECK_RUNNER=portable is set"
        )
    monkeypatch.setenv(selfcheck.RUNNER, "sideways")
    with pytest.raises(ValueError, match="KIT_SELFCHECK_RUNNER"):
        selfcheck.open_sandbox(OPTIM)


# --------------------------------------------------------------------------- same results


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=[pytest.mark.slow] * course.load(name).needs_torch)  # ~10 s
        for name in course.names()
    ],
)
@pytest.mark.parametrize("code", ["reference", "stubs"])
def test_the_self_check_says_the_same_through_both_runners(monkeypatch, tmp_path, name, code):
    assignment = course.load(name)
    folder = _reference(assignment, tmp_path / "s") if code == "reference" else assignment.folder
    confined, portable = _both(monkeypatch, assignment, folder)
    assert portable == confined
    assert portable
    for _, _, score, full, output in portable:
        assert (score, output == "passed") == ((full, True) if code == "reference" else (0, False))


@pytest.mark.parametrize("fault", FAULTS)
def test_faults_read_the_same_through_both_runners(monkeypatch, tmp_path, fault):
    """SGD faulty, Momentum right: the fault costs SGD only, in the same words, and the
    call after it (a fresh child after a timeout or an exit) passes."""
    folder = _reference(OPTIM, tmp_path / "s")
    module = folder / OPTIM.package / "optimizers.py"
    source = module.read_text(encoding="utf-8")
    assert SGD_BODY in source
    module.write_text(
        source.replace(SGD_BODY, textwrap.indent(FAULTS[fault], " " * 8)), encoding="utf-8"
    )
    confined, portable = _both(monkeypatch, OPTIM, folder, ["sgd", "momentum"])
    assert portable == confined
    (_, _, sgd_score, _, sgd), (_, _, momentum, full, _) = portable
    assert sgd_score == 0 and momentum == full
    if fault == "loop":
        assert sgd == "time limit exceeded (3 s)"
    elif fault == "exit":
        assert sgd == "your code exited the process (exit code 3) before returning"
    elif fault == "raise":
        head, frame, line = sgd.splitlines()
        assert head == "your code raised ValueError: bad step size 0.1"
        assert frame.startswith('  File "optim_reg/optimizers.py", line ')
        assert frame.endswith(", in update") and "raise ValueError" in line
    else:
        printed = sgd.partition("your code printed (first lines):\n")[2].splitlines()
        assert printed[0] == "  | " + "x" * 2048
        assert printed[1].startswith("  | [... ") and printed[1].endswith(" more bytes not shown]")
        # the child kept 64 KiB of the 20 MB printed, as the confined child does
        assert int(printed[1].split()[2]) < 64 << 10


# --------------------------------------------------------------------------- outcomes


@pytest.fixture
def area() -> Iterator[Path]:
    """A world-readable folder for submissions: where the confined runner drops to its own
    uid (a world-readable interpreter), the children must reach them (pytest's own
    folders are root's only)."""
    path = Path(tempfile.mkdtemp(prefix="portable-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _submission(area: Path, source: str) -> Path:
    folder = area / "sub"
    (folder / "stu").mkdir(parents=True)
    (folder / "stu" / "__init__.py").write_text("")
    (folder / "stu" / "m.py").write_text(textwrap.dedent(source))
    return folder


# Student modules whose call ends in each way a call can end (besides a timeout).
ENDINGS = {
    "memory": "def f():\n    raise MemoryError\n",
    "sys.exit": "import sys\ndef f():\n    sys.exit(4)\n",
    "segfault": "import ctypes\ndef f():\n    return ctypes.string_at(0)\n",
    "not-plain": "def f():\n    return object()\n",
    "syntax": "def f(:\n    pass\n",
    "stdin": "def f():\n    return input()\n",
    "ok": """
        import numpy as np
        def f():
            print("hi")
            return {"a": np.arange(3), "b": (1.5, None)}
    """,
}


@pytest.mark.parametrize("source", ENDINGS.values(), ids=ENDINGS.keys())
def test_outcomes_are_the_confined_runners(area, source):
    """Every field the feedback reads is the confined runner's (timings aside)."""
    call = Call(
        f"{PROBES}:call",
        _submission(area, source),
        "stu",
        {"module": "stu.m", "function": "f"},
        timeout=2.0,
    )
    outcomes = []
    for kind in (Sandbox, PortableSandbox):
        with (
            kind(probes=[PROBES], probe_dirs=[TESTS]) as box,
            box.session(call.submission, call.package, modules=[PROBES], budget=10) as session,
        ):
            outcomes.append(session.run(call.probe, call.inputs, call.timeout))
    confined, portable = outcomes
    for field in (
        "status",
        "message",
        "error_type",
        "traceback",
        "exit_code",
        "signal",
        "stdout",
        "stderr",
    ):
        assert getattr(portable, field) == getattr(confined, field), field
    if portable.ok:
        assert portable.value["a"].tolist() == [0, 1, 2] and portable.value["b"] == (1.5, None)


def test_the_session_budget_ends_a_child_and_the_next_call_starts_afresh(area):
    folder = _submission(
        area,
        """
        import time
        def f(seconds):
            time.sleep(seconds)
            return seconds
    """,
    )
    with PortableSandbox(probes=[PROBES], probe_dirs=[TESTS]) as box:
        session = box.session(folder, "stu", modules=[PROBES], limits=Limits(cpu=1))

        def sleep(seconds: float):
            inputs = {"module": "stu.m", "function": "f", "args": [seconds]}
            return session.run(f"{PROBES}:call", inputs, timeout=5)

        assert sleep(0.6).value == 0.6
        started = time.monotonic()
        out = sleep(30)  # 0.4 s of the budget left
        assert out.status == "timeout", out
        assert out.message == "time limit exceeded (1 s for all the calls of this session)"
        assert time.monotonic() - started < 2
        assert sleep(0.1).value == 0.1 and session.children == 2
        session.close()
        assert not session.open


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads process states in /proc")
def test_a_call_does_not_outlive_its_dead_parent(tmp_path):
    """The parent kills a call at its timeout; killed itself first, it cannot, and the
    child's watchdog ends the call soon after the timeout instead."""
    started = tmp_path / "pid"
    folder = _submission(
        tmp_path,
        """
        import os, pathlib
        def f(path):
            pathlib.Path(path).write_text(str(os.getpid()))
            while True:
                pass
    """,
    )
    inputs = {"module": "stu.m", "function": "f", "args": [str(started)]}
    parent = textwrap.dedent(f"""
        from autograder.sandbox.portable_parent import PortableSandbox
        box = PortableSandbox(probes=[{PROBES!r}], probe_dirs=[{str(TESTS)!r}])
        session = box.session({str(folder)!r}, "stu", modules=[{PROBES!r}])
        session.run("{PROBES}:call", {inputs!r}, timeout=1.0)
    """)
    proc = subprocess.Popen([sys.executable, "-c", parent], cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while not (started.exists() and started.read_text()) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        proc.kill()
        proc.wait()
    killed = time.monotonic()
    pid = int(started.read_text())
    while _alive(pid) and time.monotonic() < killed + 10:
        time.sleep(0.05)
    assert not _alive(pid)
    assert time.monotonic() - killed < 1.0 + WATCHDOG_GRACE + 1.0


# --------------------------------------------------------------------------- the archive


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory) -> Path:
    """The student archive of optim_reg, unpacked, with the reference copied in."""
    out = tmp_path_factory.mktemp("archive")
    with zipfile.ZipFile(student_archive(OPTIM, out)) as archive:
        names = archive.namelist()
        archive.extractall(out / "unpacked")
    # the student's runtime ships the portable runner (release.build.STUDENT_RUNTIME)
    for module in ("portable_parent.py", "portable_child.py"):
        assert f"optim_reg/autograder/sandbox/{module}" in names
    folder = out / "unpacked" / "optim_reg"
    return samples.write_folder(folder, samples.graded(OPTIM), OPTIM.package)


def _without_posix(folder: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """``python selfcheck.py ARGS`` in ``folder`` with NOT_ON_WINDOWS applied first, in this
    process and in the runner's children (started through an interpreter wrapper that
    applies it too, and counts them in ``children.log``)."""
    prelude = folder.parent / "prelude.py"
    prelude.write_text(NOT_ON_WINDOWS)
    python = folder.parent / "python-without-posix"
    # the child is started as PYTHON -I -B -c BOOT ROOT: apply the prelude, then run BOOT
    python.write_text(
        textwrap.dedent(f"""\
        #!/bin/sh
        echo child >> "{folder.parent / "children.log"}"
        exec "{sys.executable}" -I -B -c "exec(open('{prelude}').read()); import sys; \\
        args = sys.argv[1:]; sys.argv = ['-c', *args[4:]]; exec(args[3])" "$@"
    """)
    )
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    wrapper = (
        f"exec(open({str(prelude)!r}).read())\n"
        "import runpy, sys\n"
        f"sys.executable = {str(python)!r}\n"
        f"sys.argv = ['selfcheck.py', *{list(args)!r}]\n"
        "runpy.run_path('selfcheck.py', run_name='__main__')\n"
    )
    return subprocess.run(
        [sys.executable, "-c", wrapper],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", selfcheck.RUNNER)}
    return {**env, "COLUMNS": "200", **extra}


@pytest.mark.skipif(not os.path.exists("/bin/sh"), reason="the interpreter wrapper is a sh script")
def test_the_archive_self_checks_without_fork_resource_or_posix_calls(unpacked):
    forced = _without_posix(unpacked, _environment(KIT_SELFCHECK_RUNNER="portable"))
    assert forced.returncode == 0, forced.stdout + forced.stderr
    for part in OPTIM.parts:
        assert f"{OPTIM.points[part]:.1f} / {OPTIM.points[part]}" in forced.stdout
    assert (
        "note: your code ran in a separate process without the grader's confinement (this "
        "platform has none): KIT_SELFCHECK_RUNNER=portable is set"
    ) in forced.stdout
    assert forced.stdout.index("note: ") < forced.stdout.index("optim_reg: public self-check")
    assert (unpacked.parent / "children.log").read_text() == "child\n"  # one session, one child
    # unforced, the missing fork() alone sends the self-check to the portable runner
    chosen = _without_posix(unpacked, _environment(), "sgd")
    assert chosen.returncode == 0, chosen.stdout + chosen.stderr
    assert "8.0 / 8" in chosen.stdout and "momentum" not in chosen.stdout
    assert "(this platform has none): this Python has no os.fork()" in chosen.stdout


def test_plain_pytest_in_the_archive_says_it_ran_unconfined(unpacked):
    """``python -m pytest`` from the folder's root, as students start it (pytest's root is the
    folder, not ``tests``: the recorded answers are found all the same)."""
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            "sgd or momentum",
            "-p",
            "no:cacheprovider",
        ],
        cwd=unpacked,
        env=_environment(KIT_SELFCHECK_RUNNER="portable"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "note: your code ran in a separate process without the grader's confinement" in (
        run.stdout
    )
    assert "2 passed" in run.stdout
