"""Hostile submissions graded end to end: the proof behind SECURITY.md.

One batch of about seventy real submissions of ``optim_reg`` (built at test time by
`adversaries`: the reference modules with attack code added, hostile zip files, odd ids)
is graded by the instructor's command, ``python -m release grade optim_reg <subs> --out
<out> -j 2``, run as a subprocess with its output on pipes. Two correct submissions are
graded with them, one before the attackers (``aaa-correct``) and one after
(``zzz-correct``). The tests then check, for each threat of notes/security.md section 4
that applies to the kit:

* the attacker's part scores (0 for the attacked part, the others intact) and the
  feedback it got (a clear message, or what the attack itself reported it could do);
* that the batch finished with a row for every entry and wrote nothing but its files;
* that the correct students' results are byte-identical to a batch without attackers;
* that nothing changed outside the sandbox's scratch folders (hashes of the reference,
  the graders and the submissions; a world-writable canary folder in /tmp);
* that no process of the batch survives it, and no connection reached the test's port.

Holes found while writing these tests are ``xfail(strict=True)`` tests at the end.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import re
import shutil
import site
import socket
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import adversaries as adv
import hostile_archives as hostile
import pytest
from rich.console import Console

from autograder import batch, intake, selfcheck
from autograder.reference_oracle import ReferenceOracle
from autograder.sandbox import layers, parent

pytestmark = pytest.mark.slow  # a batch of attackers beside honest students

OPTIM = adv.OPTIM
POINTS = OPTIM.points
LAYERS = layers()  # what this machine offers (python -m release doctor shows the same)
ACTIVE = {name for name, layer in LAYERS.items() if layer.active}
# kill(-1, SIGKILL) from a uid-0 child is only tried where seccomp and a PID namespace
# make it harmless: elsewhere it would take the machine down with it.
SIGNALS = {"seccomp", "pidns"} <= ACTIVE


def safe_name(name: str) -> bool:
    """A results or feedback file name: letters of any script (Hangul included), decimal
    digits and ``._-``, not led by ``.`` or ``-``, then ``.json`` or ``.md``."""
    stem = name.removesuffix(".json").removesuffix(".md")
    return (
        stem != name
        and stem[:1] not in ("", ".", "-")
        and all(
            c in "._-" or unicodedata.category(c)[0] in "LM" or unicodedata.category(c) == "Nd"
            for c in stem
        )
    )


ENV_WHITELIST = {
    "PATH",
    "HOME",
    "TMPDIR",
    "LANG",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "PYTHONDONTWRITEBYTECODE",
}
# Refused: by Landlock, the uid drop or seccomp (PermissionError), or by the read-only
# mounts of the rofs layer (EROFS, which the kernel checks before Landlock).
DENIED = {"PermissionError", "EROFS"}
OPTIMIZER_PARTS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
LAYER_PARTS = ("batchnorm", "dropout")
# Where attackers try to leave files behind (checked absent after the batch).
PLANTED = ("numpy/__pycache__/zz-evil.pyc", "zz-adversary-evil.pth")


# ----------------------------------------------------------------------------- helpers


def tree_digest(root: Path) -> dict[str, str]:
    """Relative path -> content hash, link target or "dir", with the mode (no caches)."""
    out = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in [*dirs, *sorted(files)]:
            path = Path(folder) / name
            info = path.lstat()
            if path.is_symlink():
                what = "link:" + os.readlink(path)
            elif path.is_dir():
                what = "dir"
            else:
                what = hashlib.sha256(path.read_bytes()).hexdigest()
            out[str(path.relative_to(root))] = f"{what} {info.st_mode:o}"
    return out


def marked_processes(marker: str) -> list[str]:
    """Processes (other than this one) whose command line mentions ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            if marker.encode() in cmdline:
                found.append(f"{entry}: {cmdline[:200]!r}")
    return found


def without_time(text: str) -> str:
    """A results file without its timings (``execution_time``, and ``student_seconds``
    where the kit records it): the only fields that vary from run to run."""
    return re.sub(r'\n *"(execution_time|student_seconds)": [0-9.e+-]+,', "", text)


@dataclass
class Graded:
    """The batch, as the tests see it afterwards."""

    target: adv.Target
    attackers: dict[str, adv.Attacker]  # by student id
    results: dict[str, dict]  # student id -> results JSON
    raw: dict[str, str]  # student id -> results file text
    feedback: dict[str, str]  # student id -> feedback page
    files: dict[str, str]  # student id -> results file name
    gradebook: list[list[str]]
    cli: subprocess.CompletedProcess
    wall: float
    before: dict[str, dict]
    after: dict[str, dict]
    survivors: list[str]
    connections: list[bytes]
    canary: dict[str, tuple]
    cwd_left: list[str]
    tmp_left: list[str]

    def parts(self, student: str) -> dict[str, float]:
        return self.results[student]["extra_data"]["parts"]

    def outputs(self, student: str, part: str) -> list[str]:
        return [t["output"] for t in self.results[student]["tests"] if t["tags"] == [part]]

    def first(self, student: str, part: str) -> str:
        return self.outputs(student, part)[0]

    def report(self, student: str, part: str = "sgd") -> dict:
        return adv.report(self.first(student, part))

    def status(self, student: str) -> str:
        return self.results[student]["extra_data"]["status"]

    def notes(self, student: str) -> list[str]:
        return self.results[student]["extra_data"]["notes"]

    def expect(
        self, student: str, zero: tuple[str, ...] = (), partial: tuple[str, ...] = ()
    ) -> None:
        """Parts in ``zero`` earn nothing; every other part but ``partial`` earns in full."""
        parts = self.parts(student)
        for part in POINTS:
            if part in zero:
                assert parts[part] == 0, (student, part, parts)
            elif part not in partial:
                assert parts[part] == POINTS[part], (
                    student,
                    part,
                    parts,
                    self.outputs(student, part)[:1],
                )


def canary_state(folder: Path) -> dict[str, tuple]:
    state = {}
    for path in sorted(folder.iterdir()):
        info = path.lstat()
        xattrs = tuple(os.listxattr(path, follow_symlinks=False))
        state[path.name] = (path.read_bytes(), info.st_mode, info.st_mtime_ns, xattrs)
    return state


def make_canary() -> Path:
    """A world-writable folder in /tmp holding a world-writable file: only the sandbox
    stands between an attacker and these (the child runs as uid 0 where no uid drop
    is possible)."""
    folder = Path(tempfile.mkdtemp(prefix="adversary-canary-", dir="/tmp"))
    folder.chmod(0o777)
    existing = folder / "existing.txt"
    existing.write_text("original\n")
    existing.chmod(0o666)
    return folder


def snapshot(target: adv.Target) -> dict[str, dict]:
    return {
        "solutions": tree_digest(adv.SOLUTIONS),
        "graders": tree_digest(adv.REPO / "autograder" / "graders"),
        "probes": tree_digest(adv.REPO / "autograder" / "probes"),
        "subs": tree_digest(target.subs),
    }


# ----------------------------------------------------------------------------- the batch


@pytest.fixture(scope="module")
def graded() -> Iterator[Graded]:
    # Not under pytest's folder (mode 0700): the sandbox's folder lives in TMPDIR below
    # root, and its uid (where the interpreter allows the drop) must reach it.
    root = Path(tempfile.mkdtemp(prefix="kit-adversarial-"))
    os.chmod(root, 0o755)
    try:
        yield _grade_the_crowd(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _grade_the_crowd(root: Path) -> Graded:
    subs, out, cwd, tmp = root / "submissions", root / "out", root / "cwd", root / "tmp"
    for folder in (subs, cwd, tmp):
        folder.mkdir()
    canary = make_canary()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    target = adv.Target(
        canary=canary,
        repo=adv.REPO,
        subs=subs,
        out=out,
        port=listener.getsockname()[1],
        grader_pid=os.getpid(),
        secret=f"secret-{os.urandom(8).hex()}",
        site=Path(site.getsitepackages()[0]),
    )
    crowd = adv.attackers(target, signals=SIGNALS)
    for attacker in crowd:
        attacker.write(subs)
    before = snapshot(target)
    env = {**os.environ, "TMPDIR": str(tmp), adv.SECRET_ENV: target.secret, "COLUMNS": "200"}
    env.pop("PYTHONPATH", None)
    started = time.monotonic()
    try:
        cli = subprocess.run(
            [
                sys.executable,
                "-m",
                "release",
                "grade",
                OPTIM.name,
                str(subs),
                "--out",
                str(out),
                "-j",
                "2",
            ],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        wall = time.monotonic() - started
        # Every process of the batch had a path under root on its command line (the
        # command and its workers: the submissions folder; zygotes and children: the
        # sandbox's folder under tmp). Give the last zygotes a moment to see their parent
        # gone, then look.
        deadline = time.monotonic() + 3
        while marked_processes(str(root)) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # a surviving daemon would touch its file again by now
        survivors = marked_processes(str(root))
        connections = []
        with contextlib.suppress(BlockingIOError):
            while True:
                conn, _ = listener.accept()
                conn.settimeout(0.5)
                with contextlib.suppress(OSError):
                    connections.append(conn.recv(100))
                conn.close()
        after = snapshot(target)
        state = canary_state(canary)
    finally:
        listener.close()
        shutil.rmtree(canary, ignore_errors=True)
        for planted in PLANTED:  # never leave a poisoned interpreter behind, even failing
            with contextlib.suppress(OSError):
                (target.site / planted).unlink()
    assert cli.returncode == 0, cli.stderr[-3000:]
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as handle:
        gradebook = list(csv.reader(handle))
    results, raw, feedback, files = {}, {}, {}, {}
    for path in sorted((out / "results").iterdir()):
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
        student = data["extra_data"]["student"]
        results[student], raw[student], files[student] = data, text, path.name
        feedback[student] = (out / "feedback" / path.with_suffix(".md").name).read_text(
            encoding="utf-8"
        )
    return Graded(
        target,
        {a.student: a for a in crowd},
        results,
        raw,
        feedback,
        files,
        gradebook,
        cli,
        wall,
        before,
        after,
        survivors,
        connections,
        state,
        sorted(os.listdir(cwd)),
        sorted(os.listdir(tmp)),
    )


@pytest.fixture(scope="module")
def control(tmp_path_factory) -> dict[str, tuple[str, str]]:
    """The two correct submissions graded without any attacker: results and feedback."""
    root = tmp_path_factory.mktemp("control")
    for name in ("aaa-correct", "zzz-correct"):
        adv.correct(name).write(root / "submissions")
    batch.grade_folder(OPTIM, root / "submissions", root / "out")
    return {
        name: (
            (root / "out" / "results" / f"{name}.json").read_text(encoding="utf-8"),
            (root / "out" / "feedback" / f"{name}.md").read_text(encoding="utf-8"),
        )
        for name in ("aaa-correct", "zzz-correct")
    }


# ------------------------------------------------------------------ the batch as a whole


def test_every_entry_has_one_row_and_the_out_folder_holds_only_the_batch(graded):
    students = set(graded.attackers)
    assert {row[0] for row in graded.gradebook[1:]} == students
    assert len(graded.gradebook) - 1 == len(students) == len(graded.results)
    assert set(graded.results) == students
    out = graded.target.out
    assert sorted(os.listdir(out)) == ["feedback", "gradebook.csv", "gradebook.xlsx", "results"]
    results, pages = sorted(os.listdir(out / "results")), sorted(os.listdir(out / "feedback"))
    assert len(results) == len(pages) == len(students)
    assert [p.removesuffix(".md") for p in pages] == [r.removesuffix(".json") for r in results]
    assert all(map(safe_name, results + pages)), results + pages
    assert f"{len(students)} submissions" in graded.cli.stdout + graded.cli.stderr


def test_correct_students_before_and_after_the_attackers_are_untouched(graded, control):
    for name in ("aaa-correct", "zzz-correct"):
        assert graded.results[name]["score"] == 100
        text, page = control[name]
        assert without_time(graded.raw[name]) == without_time(text)
        assert graded.feedback[name] == page


def test_nothing_is_written_outside_the_scratch_folders(graded):
    """#1 #2 #10 #25 #35 #42 #52 #60 #61: the reference, the graders, the probes, every
    submission, a world-writable canary folder in /tmp and site-packages are unchanged."""
    for name, digest in graded.before.items():
        assert graded.after[name] == digest, name
    assert list(graded.canary) == ["existing.txt"], graded.canary
    content, mode, _, xattrs = graded.canary["existing.txt"]
    assert content == b"original\n" and mode & 0o7777 == 0o666 and xattrs == ()
    for planted in PLANTED:
        assert not (graded.target.site / planted).exists(), planted
    assert not Path("/tmp/pth-ran").exists()
    subs = graded.target.subs
    assert not (subs.parent / "slipped.py").exists() and not (subs.parent / "tarslip.py").exists()
    assert "odd-id-canary" not in graded.cwd_left  # 44: no shell ever ran an id


def test_no_process_survives_the_batch(graded):
    """#10 #25: no zygote, child, grandchild or daemon of the batch is left; nothing the
    daemons meant to touch later exists."""
    assert graded.survivors == []
    assert not {"daemon.txt", "grandchild.txt", "thread.txt"} & set(graded.canary)


def test_the_command_never_waited_on_a_pipe_held_by_student_code(graded):
    """#26 #6: the command ran with its stdout/stderr on pipes, which no sandboxed process
    inherits; it ended in time, and nothing a student printed reached its output."""
    assert graded.wall < 200
    shown = graded.cli.stdout + graded.cli.stderr
    for marker in ("FAKE-PASS-MARKER", "holding stdout", "INPUTS", "SMUGGLED", "REPORT"):
        assert marker not in shown


# ------------------------------------------------------------------- faking results


def test_writing_the_results_files_is_denied(graded):
    """#1: results, gradebook and feedback are written by the grading parent only."""
    found = graded.report("fake-results")
    assert set(found) == {"mine", "other", "book", "feedback", "unlink", "mkdir"}
    assert not [k for k, v in found.items() if v.startswith("ok")], found
    graded.expect("fake-results", zero=("sgd",))
    assert graded.results["fake-results"]["score"] == 92
    assert "fake-results,100" not in "\n".join(",".join(r) for r in graded.gradebook)


def test_rewriting_the_harness_is_denied_and_patching_it_in_memory_gains_nothing(graded):
    """#2: the kit's files are unreadable and unwritable; a result writer replaced inside
    the child claims success with no output, which the parent calls an invalid output."""
    found = graded.report("rewrite-harness")
    assert set(found) == {"child", "grader", "results", "cli", "import_compare"}, found
    assert set(found.values()) <= DENIED, found
    graded.expect("rewrite-harness", zero=("sgd", "momentum"))
    assert graded.first("rewrite-harness", "momentum").startswith("invalid output")


def test_patched_numpy_comparisons_change_nothing(graded):
    """#3: np.allclose, np.array_equal, np.isclose and np.testing patched in the child;
    the comparison runs in the parent, on the values."""
    graded.expect("patch-numpy", zero=("sgd",), partial=("dropout",))
    assert "outside tolerance" in graded.first("patch-numpy", "sgd")
    assert graded.parts("patch-numpy")["dropout"] < 6
    assert "dropped 0.000 of the units" in graded.first("patch-numpy", "dropout")


def test_a_shipped_conftest_is_never_collected(graded):
    """#4: conftest.py, pytest.ini and setup.cfg next to the stubs: ignored, never run."""
    assert graded.results["conftest-shipped"]["score"] == 0
    note = " ".join(graded.notes("conftest-shipped"))
    assert "ignored 5 other files" in note and "conftest.py" in note
    assert "conftest-ran" not in graded.canary


def test_leaving_the_process_early_earns_nothing(graded):
    """#5: os._exit(0), sys.exit(0) and SystemExit('all tests passed') inside update."""
    graded.expect("exits", zero=("sgd", "momentum", "nesterov"))
    for part, code in (("sgd", 0), ("momentum", 0), ("nesterov", 1)):
        for output in graded.outputs("exits", part):
            assert output == f"your code exited the process (exit code {code}) before returning"


def test_printed_verdicts_are_ignored_and_floods_are_cut(graded):
    """#6: fake PASSED lines and JSON, 30 MB on stdout and stderr: verdicts never come
    from output; feedback shows at most five lines of it, labelled as the student's."""
    graded.expect("prints-fake", zero=("sgd", "momentum"))
    for output in graded.outputs("prints-fake", "sgd"):
        assert "FAKE-PASS-MARKER" not in output and "outside tolerance" in output
    for output in graded.outputs("prints-fake", "momentum"):
        head, _, printed = output.partition("your code printed (first lines):\n")
        assert head.startswith("your code raised AssertionError: FAKE-PASS-MARKER")
        assert printed.startswith("  | PASSED 100/100 FAKE-PASS-MARKER")
        assert len(printed.splitlines()) <= 5 and len(output) < 6000
    assert len(graded.raw["prints-fake"]) < 60_000
    assert len(graded.feedback["prints-fake"]) < 40_000


@pytest.mark.skipif(not SIGNALS, reason="needs seccomp and a PID namespace to be harmless")
def test_signals_at_the_grader_are_denied_and_the_student_is_graded_normally(graded):
    """#7: kill(grader), kill(parent), kill(-1), killpg, SIGSTOP: all refused; the batch
    (this test process included) survived, and the SGD that tried them earns its points."""
    found = graded.report("kills-grader", "momentum")
    assert set(found) == {"grader", "parent", "all", "group", "stop"}
    assert all(v in ("PermissionError", "ProcessLookupError") for v in found.values()), found
    graded.expect("kills-grader", zero=("momentum",))


def test_frames_and_the_garbage_collector_hold_no_reference(graded):
    """#8: the frames above the student's code and every object of the child: no
    reference, no grader, no expected value, no oracle module."""
    found = graded.report("frame-hunter")
    assert found["hits"] == []
    assert found["frames"][0] == "_attack_SGD_update" and "check" not in found["frames"]
    graded.expect("frame-hunter", zero=("sgd",))


def test_hiding_tracebacks_does_not_hide_the_failure(graded):
    """#9: excepthook and traceback patched away; the failure is judged in the parent."""
    graded.expect("hides-traceback", zero=("sgd",))
    for output in graded.outputs("hides-traceback", "sgd"):
        assert output.startswith("your code raised ValueError: hidden failure")


# ------------------------------------------------------- hidden tests and the reference


def test_reading_the_reference_and_the_graders_is_denied(graded):
    """#11: the reference, MISTAKES.md, the graders and HIDDEN_SEED, listings, /etc/shadow."""
    found = graded.report("reads-secrets")
    assert len(found) == 7 and set(found.values()) <= DENIED, found
    graded.expect("reads-secrets", zero=("sgd",))


def test_other_students_and_the_outputs_are_invisible(graded):
    """#12: the submissions folder, a classmate's module, the folders around its own copy,
    /tmp and the batch's outputs are denied; only its own package is readable."""
    found = graded.report("snoops-peers")
    own = found.pop("own")
    assert own.startswith("ok:") and "__init__.py" in own
    assert found == dict.fromkeys(("subs", "peer", "around", "tmp", "out"), "PermissionError")


def test_proc_of_the_grader_is_invisible(graded):
    """#13: /proc/<grader>/cmdline, environ and mem, /proc of the parent and of pid 1."""
    found = graded.report("reads-proc")
    assert len(found) == 6
    assert all(v in ("PermissionError", "FileNotFoundError") for v in found.values()), found


def test_no_connection_leaves_the_sandbox(graded):
    """#14: TCP to the test's own listener, UDP, a unix socket, HTTP: refused, and the
    listener saw no connection."""
    found = graded.report("network")
    assert {k: found[k] for k in ("tcp", "udp", "unix")} == dict.fromkeys(
        ("tcp", "udp", "unix"), "PermissionError"
    )
    assert found["http"] == "URLError"
    assert graded.connections == []


def test_feedback_cannot_carry_the_hidden_inputs_beyond_the_message_caps(graded):
    """#15: an exception message holding every hidden input, and the inputs printed: the
    feedback keeps 500 characters of the message and five printed lines; a wrong answer
    to a hidden case shows where and how far off, never the expected or returned values."""
    for output in graded.outputs("smuggles-inputs", "sgd"):
        message = output.split("\n  File ")[0]
        assert message.startswith("your code raised ValueError: SMUGGLED")
        assert message.endswith("...")
        assert len(message) <= len("your code raised ValueError: ") + 503
        printed = output.partition("your code printed (first lines):\n")[2]
        assert 0 < len(printed.splitlines()) <= 5
        assert len(output) < 6000
    for output in graded.outputs("smuggles-inputs", "momentum"):
        assert "outside tolerance" in output and "(expected" not in output
    graded.expect("smuggles-inputs", zero=("sgd", "momentum"))


def test_hard_coded_public_answers_fail_the_hidden_cases(graded, tmp_path):
    """#17: the public SGD case's answers, hard-coded: the public test passes, the hidden
    cases (other seed, other shapes) earn nothing."""
    graded.expect("hardcodes-public", zero=("sgd",))
    submission = intake.read_folder(graded.target.subs / "hardcodes-public", OPTIM)
    folder = intake.materialize(submission, OPTIM, tmp_path / "student")
    public = selfcheck.check(OPTIM, folder, ["sgd"], oracle=ReferenceOracle(OPTIM))
    assert public and all(r.passed for r in public), [r.output for r in public]


def test_importing_the_reference_or_the_graders_fails(graded):
    """#18: solutions, the graders, autograder.reference_oracle, the parent's alias of the
    reference and the release package cannot be imported in the child."""
    found = graded.report("imports-secrets")
    assert len(found) == 7
    assert set(found.values()) <= {"ModuleNotFoundError", "PermissionError"}, found


# -------------------------------------------------------------------- denial of service


def test_time_wasters_cost_only_their_part(graded):
    """#19 busy loop, #20 sleep and input(), #21 SIGTERM/SIGXCPU ignored, #10 a writer
    thread (its fork denied) while the call sleeps, #33 SIGSTOP to itself (the child is
    pid 1 of its PID namespace: the signal has no effect, it is graded normally)."""
    name = "dos-time"
    graded.expect(name, zero=("sgd", "momentum", "nesterov", "adagrad", "rmsprop"))
    for part in ("sgd", "momentum", "nesterov", "rmsprop"):
        first, *rest = graded.outputs(name, part)
        assert first == "time limit exceeded (3 s)", (part, first)
        assert rest and all(
            r.startswith("not run: an earlier case of this part ran out") for r in rest
        )
    assert graded.first(name, "adagrad").startswith("your code raised EOFError")
    assert graded.parts(name)["adam"] == POINTS["adam"]


def test_memory_bombs_are_reported_as_memory(graded):
    """#22: np.ones(2**34), a list of 2**33 items, 256 MiB arrays until it fails."""
    graded.expect("memory-bomb", zero=("sgd", "momentum", "nesterov"))
    for part in ("sgd", "momentum", "nesterov"):
        assert graded.first("memory-bomb", part).startswith("memory limit exceeded"), part


def test_process_creation_is_denied(graded):
    """#23: fork bomb, subprocess, os.system, os.popen, exec, multiprocessing, posix_spawn."""
    graded.expect("spawns", zero=("sgd", "momentum"))
    assert graded.first("spawns", "sgd").startswith("your code raised PermissionError")
    found = graded.report("spawns", "momentum")
    system = found.pop("system")
    assert set(found.values()) <= DENIED, found
    assert system != "ok:0"  # the shell never ran
    assert "spawned" not in graded.canary


def test_ten_thousand_threads_fail_cleanly(graded):
    """#24: thread creation fails in the child (address-space limit); only its part."""
    graded.expect("thread-bomb", zero=("sgd",))
    assert graded.first("thread-bomb", "sgd").startswith(
        "your code raised RuntimeError: can't start new thread"
    )


def test_daemons_cannot_outlive_the_call(graded):
    """#25: setsid and fork refused; a non-daemon thread looping on a file dies with the
    call; the SGD that started it is graded normally (see also the survivor check)."""
    graded.expect("daemon", zero=("momentum",))
    assert graded.report("daemon", "momentum") == {
        "fork": "PermissionError",
        "setsid": "PermissionError",
    }


def test_holding_stdout_does_not_hold_the_grader(graded):
    """#26: a thread writing to a duplicate of stdout forever; the call returns, the
    student earns everything."""
    assert graded.results["holds-stdout"]["score"] == 100


def test_filling_the_disk_is_bounded(graded):
    """#27: a 100 MiB file stops at the file-size limit; files and 7 MiB files until the
    private scratch file system (8192 inodes, 1 GiB) is full: only this call is hurt."""
    graded.expect("fills-disk", zero=("sgd", "momentum", "nesterov"))
    assert "[Errno 27] File too large" in graded.first("fills-disk", "sgd")
    many = graded.report("fills-disk", "momentum")
    assert many["error"] == "No space left on device" and many["made"] < 9000
    big = graded.report("fills-disk", "nesterov")
    assert big["error"] == "No space left on device" and big["mib"] <= 1024


def test_descriptors_are_bounded_and_devices_denied(graded):
    """#28: open() until EMFILE stops below 64 descriptors; /dev/zero, /dev/mem, the disk
    and the terminal cannot be opened."""
    found = graded.report("exhausts-fds")
    assert found["error"] == "Too many open files" and found["opened"] < 64
    devices = graded.report("exhausts-fds", "momentum")
    assert all(v in ("PermissionError", "FileNotFoundError") for v in devices.values())
    graded.expect("exhausts-fds", zero=("sgd", "momentum"))


def test_heavy_work_at_import_costs_only_the_importing_parts(graded):
    """#29: layers.py trains forever at import: batchnorm and dropout time out (each
    part's remaining cases are not run), the optimizers earn everything."""
    graded.expect("slow-import", zero=LAYER_PARTS)
    for part in LAYER_PARTS:
        assert graded.first("slow-import", part) == "time limit exceeded (3 s)"


def test_oversubscription_changes_nothing(graded):
    """#30: 64 BLAS threads asked for and 16 threads of matrix products: still correct,
    in time (one BLAS thread per child, fixed when the zygote loaded NumPy)."""
    assert graded.results["oversubscribes"]["score"] == 100


# ----------------------------------------------------------------------------- crashes


def test_crashes_are_named_and_cost_only_their_part(graded):
    """#31 ctypes segfault; #32 C-stack recursion and os.abort (the abort's SIGABRT is
    ignored by a namespace's pid 1, so glibc ends it with a fault)."""
    graded.expect("segfaults", zero=("sgd",))
    assert graded.outputs("segfaults", "sgd") == ["crashed with signal SIGSEGV"] * 2
    graded.expect("recursion-abort", zero=("sgd", "momentum"))
    for part in ("sgd", "momentum"):
        assert graded.first("recursion-abort", part).startswith("crashed with signal SIG")


def test_raw_memory_writes_hurt_only_the_writer(graded):
    """#34: NumPy's __array_interface__ writes raw memory without ctypes: a clobbered
    object header crashes the child; zeroed gradient buffers give wrong values."""
    graded.expect("corrupts-memory", zero=("sgd", "momentum"))
    assert graded.first("corrupts-memory", "sgd").startswith("crashed with signal")
    assert "outside tolerance" in graded.first("corrupts-memory", "momentum")


# ---------------------------------------------------------------------------- archives


ARCHIVE_STATUSES = {
    "zip-slip": "rejected archive: unsafe path ../../slipped.py",  # 35
    "tar-renamed": "could not read your archive (not a zip file: it is a tar archive)",  # 36 37
    "symlink-member": "rejected archive: optim_reg/optimizers.py is a symbolic link",  # 38
    "zip-bomb": "archive too large (it unpacks to 200 MiB; the limit is 50 MiB)",  # 39
    "overlap-bomb": "archive too large (it unpacks to 200 MiB; the limit is 50 MiB)",  # 40
    "many-entries": "archive too large (100002 files; the limit is 2000)",  # 41
    "nested": "no graded module found",  # 41
    "encrypted": "could not read your archive (encrypted)",  # 43
    "truncated": "could not read your archive (truncated or corrupt)",  # 43
    "not-a-zip": "could not read your archive (not a zip file: it is a PDF document)",  # 43
    "empty": "no graded module found",  # 43
}


@pytest.mark.parametrize("student", sorted(ARCHIVE_STATUSES))
def test_hostile_archives_are_rejected_with_a_reason(graded, student):
    """#35-#43: each bad archive gets a row, 0 points and the reason as its status."""
    assert graded.status(student) == ARCHIVE_STATUSES[student]
    assert graded.results[student]["score"] == 0 and graded.results[student]["tests"] == []


def test_absolute_member_names_are_rejected(graded):
    """#35: a member named by absolute path into the canary folder."""
    assert graded.status("abs-path").startswith("rejected archive: unsafe path /tmp/")
    assert "slipped.py" not in graded.canary


def test_nested_archives_are_explained(graded):
    """#41: an inner zip is never opened, whatever it holds."""
    notes = " ".join(graded.notes("nested"))
    assert "archives inside your submission are not opened: inner.zip" in notes


def test_links_in_a_folder_are_never_followed(graded):
    """#38: optimizers.py as a link to the reference (and a link to the graders): not
    read, so the optimizer parts get the stubs; the real layers.py earns in full."""
    graded.expect("symlink-folder", zero=OPTIMIZER_PARTS)
    notes = " ".join(graded.notes("symlink-folder"))
    assert "ignored 2 links or special files (never read)" in notes
    assert "not submitted: optimizers.py" in notes


def test_shadowing_modules_next_to_the_graded_ones_never_run(graded):
    """#42: numpy.py, json.py, sitecustomize.py, usercustomize.py, conftest.py,
    autograder.py and a .pth file, at the top and in the package: only the graded modules
    are taken; none of these ran (they would have created a canary and exited)."""
    assert graded.results["shadows"]["score"] == 100
    assert "ignored 14 other files" in " ".join(graded.notes("shadows"))
    assert "shadow-ran" not in graded.canary


def test_odd_ids_get_rows_and_safe_file_names(graded):
    """#44: shell metacharacters, a newline, quotes, Hangul, 200 characters, a leading
    dash: every one is a gradebook row under its own name, with a safe file name, and no
    shell ran it (the canary it would create is checked with the other writes)."""
    for attacker in graded.attackers.values():
        if 44 not in attacker.threats:
            continue
        student = attacker.student
        assert student in graded.results and safe_name(graded.files[student])
    assert graded.results["$(touch odd-id-canary)"]["score"] == 100
    assert graded.results["; touch odd-id-canary #"]["score"] == 100
    assert graded.status("a\nb") == "no graded module found"


# ------------------------------------------------------------------------ output tricks


def test_lying_objects_and_exotic_values_are_not_outputs(graded):
    """#45 an object whose __eq__/__array__/__array_function__ agree with anything; #46 an
    ndarray subclass whose ufuncs say True; #47 NaN and inf; #48 shapes that broadcast;
    #49 float16 and bool; #53 a generator, a set, a dict with int keys. Only batchnorm
    (their target) loses: everything, or (#49, which forges only ``out``) that output's
    share of each case."""
    expected = {
        "liar-object": "output must be a number or a numeric array, got <class",
        "ufunc-subclass": "result[0].out: 40 of 40 values outside tolerance",
        "nan-inf": "result[0].out: NaN at (0, 0) where a number was expected",
        "broadcasts": "result[0].out: expected shape (8, 5), got (1,)",
        "wrong-dtype": "result[0].out: expected float64 values, got dtype float16",
        "odd-objects": "output must be a number or a numeric array, got <class 'generator'>",
    }
    for student, start in expected.items():
        if student == "wrong-dtype":  # only `out` is forged: dx, dgamma, ... earn their shares
            graded.expect(student, partial=("batchnorm",))
            assert graded.parts(student)["batchnorm"] < POINTS["batchnorm"]
        else:
            graded.expect(student, zero=("batchnorm",))
        assert graded.first(student, "batchnorm").startswith(start), student
    four_d = {t["name"]: t["output"] for t in graded.results["wrong-dtype"]["tests"]}
    assert "expected float64 values, got dtype bool" in four_d["batchnorm: train_forward[case 2]"]
    assert (
        "expected shape (4, 3, 5, 5), got (0,)"
        in {t["name"]: t["output"] for t in graded.results["broadcasts"]["tests"]}[
            "batchnorm: train_forward[case 2]"
        ]
    )
    assert "keys must be str" in " ".join(graded.outputs("odd-objects", "batchnorm"))


def test_forged_output_files_are_refused_by_the_parent(graded):
    """#50 an array claiming 10**12 elements; #51 the output file as a link to the
    reference, then as a FIFO (both refused in scratch, by Landlock or seccomp); #52 a
    pickle whose __reduce__ would create a canary in the grader. The kit's own writer was
    replaced in the child; the parent validates what it reads."""
    starts = {
        "forged-array": "invalid output: arrays too large",
        "blob-symlink": "the output could not be written (",
        "pickle-payload": "invalid output: array dtype '|O' is not numeric",
    }
    for student, start in starts.items():
        # the forged writer, installed at the import of layers.py, stays in the
        # submission's child: its later parts (the optimizers) lose their outputs too
        graded.expect(student, zero=tuple(POINTS))
        for part in LAYER_PARTS:
            assert graded.first(student, part).startswith(start), (student, part)
    assert "unpickled" not in graded.canary


def test_mutated_inputs_do_not_move_the_expected_values(graded):
    """#54: zeroing the caller's parameters and gradients (a grader computing its answer
    from the same arrays would agree) earns nothing; mutating inputs after a correct
    result costs nothing: the parent keeps its own copy of every input."""
    graded.expect("mutates-inputs", zero=("sgd",))
    assert "outside tolerance" in graded.first("mutates-inputs", "sgd")


# ------------------------------------------------- nondeterminism, state, environment


def test_nondeterministic_code_gets_a_deterministic_grade(graded):
    """#55: a dropout mask from fresh OS entropy, submitted twice: both get the same
    tests, scores and messages (the seeded-generator test fails, the statistics pass)."""
    first, second = (graded.results[f"unseeded-dropout-{k}"]["tests"] for k in "ab")
    assert first == second
    graded.expect("unseeded-dropout-a", partial=("dropout",))
    assert 0 < graded.parts("unseeded-dropout-a")["dropout"] < POINTS["dropout"]


def test_global_state_never_leaks_into_the_next_call(graded):
    """#57: np.seterr, warnings filters, np.random.seed, print options, sys.modules and
    os.environ changed in every call; the next call (a fresh fork) sees none of it."""
    assert graded.results["global-state"]["score"] == 100


def test_the_environment_is_a_whitelist(graded):
    """#58: the child's environment holds only the whitelist, no grader secret."""
    found = graded.report("reads-env")
    assert set(found["keys"]) == ENV_WHITELIST and found["secret"] is False


def test_home_cwd_and_tmpdir_are_a_fresh_scratch_per_call(graded):
    """#59: files planted in ~/.cache, cwd and $TMPDIR are gone in the next call; HOME,
    cwd and TMPDIR are that call's own folder, not the grader's home."""
    graded.expect("home-cache", zero=("momentum",))
    found = graded.report("home-cache", "momentum")
    assert found["same"] is True
    assert "/scratch/" in found["home"] and "/call-" in found["home"]
    assert not found["home"].startswith("/root")
    assert found["cache"] == "FileNotFoundError" and found["bytecode"] is True


def test_site_packages_and_the_kit_cannot_be_poisoned(graded):
    """#60: a .pth, a .pyc and an edited numpy in site-packages, a module in the stdlib,
    a .pyc in the kit, the probe module: all denied (the files are checked absent)."""
    found = graded.report("poisons-site")
    assert found.pop("dont_write_bytecode") is True
    assert set(found.values()) <= DENIED and len(found) == 6, found


def test_the_submission_cannot_edit_itself(graded):
    """#61: append, create, unlink, rename, __pycache__ in its own package: denied (and
    the submissions folder's hash is unchanged)."""
    found = graded.report("edits-itself")
    assert set(found) == {"append", "create", "unlink", "rename", "pycache"}, found
    assert set(found.values()) <= DENIED, found


def test_inode_flags_cannot_be_set_inside_or_outside(graded):
    """#62: FS_IOC_SETFLAGS on its own read-only module, on a scratch file and on a file
    outside; FS_IOC_FSSETXATTR; file_setattr(2), newer than the filter: all refused by the
    allowlist (the canary keeps its flags: see the untouched-files test)."""
    found = graded.report("sets-inode-flags")
    assert found.pop("outside") in ("PermissionError", "FileNotFoundError")  # Landlock first
    assert found == dict.fromkeys(
        ("own", "scratch", "fsxattr", "file_setattr"), "PermissionError"
    ), found


# ---------------------------------------------------------- refusal, doctor, new holes


def test_grade_refuses_to_run_without_a_confinement_layer(tmp_path, monkeypatch):
    """With no confinement layer (simulated: none counts as confining), ``grade`` stops
    with exit status 2 and a reason before any student code runs; --allow-unconfined
    grades anyway."""
    from release.grade import grade

    adv.correct("kim").write(tmp_path / "subs")
    monkeypatch.setattr(parent, "CONFINING", ())
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the refused sandbox's folder
    console = Console(file=io.StringIO(), width=200)
    assert grade(OPTIM, tmp_path / "subs", tmp_path / "out", console=console) == 2
    message = console.file.getvalue()
    assert "no confinement layer works on this machine" in message
    assert "refusing to run untrusted code" in message
    assert not (tmp_path / "out" / "results").exists()
    allowed = grade(
        OPTIM,
        tmp_path / "subs",
        tmp_path / "out2",
        allow_unconfined=True,
        console=Console(file=io.StringIO()),
    )
    assert allowed == 0
    assert json.loads((tmp_path / "out2" / "results" / "kim.json").read_text())["score"] == 100


def test_doctor_reports_the_layers():
    run = subprocess.run(
        [sys.executable, "-m", "release", "doctor"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert run.returncode == (0 if ACTIVE & {"landlock", "seccomp", "netns"} else 1)
    for name in LAYERS:
        assert name in run.stdout


def _tiny_batch(root: Path, attackers: list[adv.Attacker]) -> dict:
    for attacker in attackers:
        attacker.write(root / "subs")
    rows = batch.grade_folder(OPTIM, root / "subs", root / "out")
    return {row.student: row for row in rows}


def test_student_text_is_not_rich_markup(tmp_path, capsys, monkeypatch):
    """#44 #35: a zip member named ``[/bold]/../x.py`` (its status quotes it) and a folder
    named ``[bold red]styled``: the command must print both literally and exit 0."""
    from release.grade import grade

    monkeypatch.setenv("COLUMNS", "300")
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "markup.zip").write_bytes(hostile.zip_of({"[/bold]/../x.py": "x"}))
    adv.correct("[bold red]styled").write(tmp_path / "subs")
    code = grade(OPTIM, tmp_path / "subs", tmp_path / "out", console=Console(file=io.StringIO()))
    shown = capsys.readouterr().out
    assert code == 0
    assert "[/bold]/../x.py" in shown and "[bold red]styled" in shown


def test_a_surrogate_in_an_exception_message_costs_only_its_tests(tmp_path):
    """#6 #15: ``raise ValueError('\\ud800')``: the student's row, and the rows after it."""
    rows = _tiny_batch(
        tmp_path,
        [
            adv.sgd("raise ValueError('bad \\ud800 text')").folder("a-surrogate", (6,)),
            adv.correct("b-correct"),
        ],
    )
    assert rows["b-correct"].score == 100
    assert rows["a-surrogate"].part_scores()["sgd"] == 0
    for path in (tmp_path / "out" / "results").iterdir():
        json.loads(path.read_bytes().decode("utf-8"))


def test_a_file_name_that_is_not_utf8_gets_a_row(tmp_path):
    """#44: a submission folder named in cp949 bytes, then a correct one."""
    name = os.fsdecode("김민지".encode("cp949"))
    rows = _tiny_batch(tmp_path, [adv.correct(name), adv.correct("z-correct")])
    assert rows["z-correct"].score == 100 and len(rows) == 2
    assert (tmp_path / "out" / "gradebook.csv").read_bytes().decode("utf-8")


def test_feedback_is_capped_whatever_the_output_holds(tmp_path):
    """#6 #15: the child's to_plain replaced to return a record with 100 000 keys."""
    flood = (
        adv.Source()
        .at_import(
            "layers.py",
            """
        import autograder.plain as _plain
        _real_to_plain = _plain.to_plain
        def _flood(value, **kwargs):
            if isinstance(value, list) and value and isinstance(value[0], dict) and (
                    "running_mean" in value[0]):
                return [{"key_%06d" % i + "_" * 20: 0 for i in range(100_000)}]
            return _real_to_plain(value, **kwargs)
        _plain.to_plain = _flood
    """,
        )
        .folder("keys-flood", (6,))
    )
    rows = _tiny_batch(tmp_path, [flood])
    assert rows["keys-flood"].part_scores()["batchnorm"] == 0
    assert all(len(t.output) < 10_000 for t in rows["keys-flood"].tests)
    assert (tmp_path / "out" / "results" / "keys-flood.json").stat().st_size < 200_000


def test_file_metadata_outside_scratch_cannot_change(tmp_path):
    """A root-owned file in /tmp (mode 0644): chmod 04777, utime, setxattr."""
    folder = Path(tempfile.mkdtemp(prefix="adversary-meta-", dir="/tmp"))
    try:
        victim = folder / "victim.txt"
        victim.write_text("original\n")
        victim.chmod(0o644)
        before = victim.stat()
        attack = adv.sgd(f"""
            import os
            v = {str(victim)!r}
            _report(chmod=_try(lambda: os.chmod(v, 0o4777)),
                    utime=_try(lambda: os.utime(v, (0, 0))),
                    xattr=_try(lambda: os.setxattr(v, "user.smuggled", b"hidden inputs")),
                    folder=_try(lambda: os.chmod(os.path.dirname(v), 0o777)))
        """).folder("meta", (1, 60))
        rows = _tiny_batch(tmp_path, [attack])
        after = victim.stat()
        xattrs = os.listxattr(victim)
        mode = folder.stat().st_mode
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    found = adv.report(next(t.output for t in rows["meta"].tests if t.part == "sgd"))
    assert set(found.values()) <= DENIED, found
    assert (after.st_mode, after.st_mtime_ns, xattrs) == (before.st_mode, before.st_mtime_ns, [])
    assert mode & 0o777 != 0o777


def test_a_parallel_batch_leaves_no_temporary_folders(graded):
    assert graded.tmp_left == []
