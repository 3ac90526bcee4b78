"""autograder.sandbox: real children, real attacks, no mocks.

Each test writes a small hostile "student" package and runs it through the generic probe
``tests/sandbox_probes.py:call`` (the zygote gets this folder as a probe folder).
Attacks that need a particular layer are skipped when that layer is inactive here.
"""

from __future__ import annotations

import errno
import math
import os
import shutil
import signal
import socket
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from autograder.sandbox import Call, Limits, Sandbox, SandboxError, _linux, layers

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
PROBES = "sandbox_probes"
# Optional: run the zygote on another interpreter, e.g. a world-readable venv where the
# uid drop becomes possible (SANDBOX_TEST_PYTHON=/opt/venv/bin/python pytest ...).
PYTHON = os.environ.get("SANDBOX_TEST_PYTHON") or None


@pytest.fixture(scope="module")
def box():
    with Sandbox(probes=[PROBES], probe_dirs=[TESTS], slot=1, python=PYTHON) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def area():
    """A world-readable folder for submissions (readable by a dropped uid, if any)."""
    path = Path(tempfile.mkdtemp(prefix="sandbox-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


_counter = iter(range(10**6))


def submit(area: Path, source: str, extra: dict[str, str] | None = None) -> Path:
    """A submission folder holding package ``stu`` with module ``m`` = ``source``."""
    sub = area / f"sub{next(_counter)}"
    (sub / "stu").mkdir(parents=True)
    (sub / "stu" / "__init__.py").write_text("")
    (sub / "stu" / "m.py").write_text(textwrap.dedent(source))
    for name, text in (extra or {}).items():
        (sub / name).write_text(textwrap.dedent(text))
    for path in [sub, *sub.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return sub


def run(box, area, source, function="f", args=None, timeout=1.0, limits=None, extra=None):
    sub = submit(area, source, extra)
    return box.run(
        Call(
            f"{PROBES}:call",
            sub,
            "stu",
            {"module": "stu.m", "function": function, "args": args or []},
            timeout=timeout,
            limits=limits,
        )
    )


def active(box, name: str) -> bool:
    return box.report()[name].active


def zygote_children(box) -> list[str]:
    """The zygote's children once it answered a message (it reaps an ended session's child
    before it serves the next one)."""
    box._request({"op": "ping"}, time.monotonic() + 10.0)
    pid = box.info["pid"]
    with open(f"/proc/{pid}/task/{pid}/children") as fh:
        return fh.read().split()


def assert_healthy(box, area):
    """The next call works, and afterwards the zygote runs with no child left."""
    out = run(box, area, "def f(): return 41 + 1")
    assert out.status == "ok" and out.value == 42
    assert box.running
    assert zygote_children(box) == []


# --------------------------------------------------------------------------- layers


def test_the_parent_side_never_imports_the_child_side():
    """The grading process shares only :mod:`autograder.sandbox.protocol` with the child."""
    import json
    import subprocess
    import sys

    code = (
        "import json, sys, autograder.sandbox, autograder.batch; "
        "print(json.dumps([m for m in sys.modules if m.startswith('autograder.sandbox.')]))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    loaded = set(json.loads(run.stdout))
    assert "autograder.sandbox.protocol" in loaded
    assert not loaded & {
        "autograder.sandbox.child",
        "autograder.sandbox.confine",
        "autograder.sandbox.layers",
        "autograder.sandbox.portable_child",
        "autograder.sandbox.zygote",
        "autograder.sandbox.seccomp",
        "autograder.sandbox.landlock",
    }, loaded


def test_layers_report_and_required_confinement(box):
    report = box.report()
    assert {"landlock", "seccomp", "netns", "pidns", "uid", "caps", "rlimits", "scratch"} <= set(
        report
    )
    for layer in report.values():
        assert isinstance(layer.detail, str) and layer.detail
    assert any(report[n].active for n in ("landlock", "seccomp", "netns"))
    if os.geteuid() == 0:
        assert report["uid"].active or report["caps"].active
    standalone = layers(probe_dirs=[TESTS], python=PYTHON)
    assert {k: v.active for k, v in standalone.items()} == {k: v.active for k, v in report.items()}


# --------------------------------------------------------------------------- values


def test_ok_round_trip_of_arrays_nested_dicts_and_scalars(box, area):
    out = run(
        box,
        area,
        """
        import numpy as np
        def f(x, w):
            x = np.asarray(x)
            return {"y": x @ np.asarray(w), "meta": [("shape", x.shape), None, float("nan")],
                    "s": np.float32(1.5), "flag": True}
    """,
        args=[[[1.0, 2.0]], [[3.0], [4.0]]],
    )
    assert out.status == "ok", out
    assert type(out.value["y"]) is np.ndarray and out.value["y"].tolist() == [[11.0]]
    assert out.value["meta"][0] == ("shape", (1, 2)) and math.isnan(out.value["meta"][2])
    assert type(out.value["s"]) is np.float32 and out.value["flag"] is True
    assert out.wall > 0 and out.cpu >= 0 and out.max_rss > 0


def test_inputs_arrays_reach_the_probe_and_echo_back(box, area):
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    out = box.run(Call(f"{PROBES}:echo", submit(area, ""), "stu", {"x": x, "k": (1, "a")}))
    assert out.status == "ok"
    assert out.value["x"].dtype == np.float32 and np.array_equal(out.value["x"], x)
    assert out.value["k"] == (1, "a")


@pytest.mark.slow
def test_torch_tensor_output_is_converted():
    pytest.importorskip("torch")
    if PYTHON:
        pytest.skip("torch is only known to exist for this interpreter")
    with tempfile.TemporaryDirectory() as tmp:
        area = Path(tmp)
        area.chmod(0o755)
        with Sandbox(probes=[PROBES], probe_dirs=[TESTS], preload=["torch"], slot=2) as tbox:
            out = run(
                tbox,
                area,
                """
                import torch
                def f():
                    x = torch.arange(6.0, requires_grad=True).reshape(2, 3)
                    y = torch.nn.functional.conv2d(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 3, 3))
                    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(2))], lr=0.1)
                    opt.step()
                    return {"t": x * 2, "conv": y, "n": torch.get_num_threads()}
            """,
                timeout=20,
            )
    assert out.status == "ok", out
    assert type(out.value["t"]) is np.ndarray and out.value["t"].dtype == np.float32
    assert out.value["t"].tolist() == [[0.0, 2.0, 4.0], [6.0, 8.0, 10.0]]
    assert out.value["conv"].shape == (1, 1, 2, 2) and out.value["n"] == 1


# --------------------------------------------------------------------------- student failures


def test_student_exception_has_clean_message_and_only_student_frames(box, area):
    out = run(
        box,
        area,
        """
        def helper(x):
            return x[5]
        def f():
            return helper([1, 2])
    """,
    )
    assert out.status == "error"
    assert out.error_type == "IndexError" and out.message == "IndexError: list index out of range"
    assert len(out.traceback) == 2
    assert out.traceback[0].startswith('File "stu/m.py", line 5, in f')
    assert out.traceback[1] == 'File "stu/m.py", line 3, in helper\n    return x[5]'
    assert not any("sandbox_probes" in f or "autograder" in f for f in out.traceback)


def test_long_messages_are_capped_and_syntax_errors_point_at_the_student_file(box, area):
    out = run(box, area, "def f():\n    raise ValueError('x' * 10000)\n")
    assert out.status == "error" and len(out.message) < 600
    out = run(box, area, "def f(:\n    pass\n")
    assert out.status == "error" and out.error_type == "SyntaxError"
    assert out.traceback and out.traceback[-1].startswith('File "stu/m.py", line 1')


def test_sys_exit_and_os_exit_are_reported_as_exit(box, area):
    out = run(box, area, "import os\ndef f():\n    os._exit(0)\n")
    assert out.status == "exit" and out.exit_code == 0 and "exit code 0" in out.message
    out = run(box, area, "import sys\ndef f():\n    sys.exit(3)\n")
    assert out.status == "exit" and out.exit_code == 3
    assert_healthy(box, area)


def test_infinite_loop_times_out_and_the_next_call_works(box, area):
    started = time.monotonic()
    out = run(box, area, "def f():\n    while True:\n        pass\n", timeout=0.5)
    assert out.status == "timeout" and "0.5 s" in out.message
    assert time.monotonic() - started < 3
    assert out.cpu > 0.01
    assert_healthy(box, area)


def test_sleep_and_sigterm_ignoring_loop_time_out(box, area):
    out = run(box, area, "import time\ndef f():\n    time.sleep(1000)\n", timeout=0.3)
    assert out.status == "timeout" and out.cpu < 0.3
    out = run(
        box,
        area,
        """
        import signal
        def f():
            for s in (signal.SIGTERM, signal.SIGINT, signal.SIGXCPU, signal.SIGHUP):
                signal.signal(s, signal.SIG_IGN)
            while True:
                pass
    """,
        timeout=0.3,
    )
    assert out.status == "timeout"
    assert_healthy(box, area)


@pytest.mark.slow
def test_cpu_rlimit_stops_a_loop_before_a_long_wall_timeout(box, area):
    out = run(
        box, area, "def f():\n    while True:\n        pass\n", timeout=10, limits=Limits(cpu=1)
    )
    assert out.status == "timeout" and "CPU time limit" in out.message
    assert out.cpu >= 0.9 and out.wall < 10  # stopped by CPU time, long before the wall limit


def test_memory_bombs_are_reported_as_memory(box, area):
    out = run(box, area, "import numpy as np\ndef f():\n    return np.ones(1 << 34)\n")
    assert out.status == "memory", out
    out = run(
        box,
        area,
        """
        def f():
            hog = []
            while True:
                hog.append(bytearray(1 << 24))
    """,
        limits=Limits(memory=256 << 20),
        timeout=5,
    )
    assert out.status == "memory", out
    assert_healthy(box, area)


def test_segfault_is_a_crash_with_the_signal_name(box, area):
    out = run(box, area, "import ctypes\ndef f():\n    return ctypes.string_at(0)\n")
    assert out.status == "crash" and out.signal == "SIGSEGV"
    assert "SIGSEGV" in out.message
    assert_healthy(box, area)


def test_huge_stdout_is_bounded_and_does_not_fail_the_call(box, area):
    out = run(
        box,
        area,
        """
        import sys
        def f():
            print("PASSED 100/100")
            for _ in range(2000):
                print("x" * 10_000)
            sys.stderr.write("err" * 100_000)
            return 1
    """,
        timeout=5,
    )
    assert out.status == "ok" and out.value == 1
    assert out.stdout.startswith("PASSED 100/100\nxxxx") and len(out.stdout) < 2200
    assert "more bytes not shown" in out.stdout
    assert out.stderr.startswith("errerr") and len(out.stderr) < 2200


# --------------------------------------------------------------------------- escapes


def test_process_creation_is_denied(box, area):
    if not active(box, "seccomp"):
        pytest.skip("seccomp inactive")
    marker = area / "spawned"
    out = run(
        box,
        area,
        f"""
        import os, subprocess, multiprocessing
        def f():
            errors = []
            for name, attempt in [
                ("fork", os.fork),
                ("subprocess", lambda: subprocess.run(["touch", {str(marker)!r}])),
                ("exec", lambda: os.execv("/bin/sh", ["sh", "-c", "touch {marker}"])),
                ("pool", lambda: multiprocessing.Pool(2)),
            ]:
                try:
                    pid = attempt()
                    if pid == 0:
                        os._exit(0)
                except OSError as exc:
                    errors.append(name + ":" + type(exc).__name__)
            errors.append("system:" + str(os.system("touch {marker}")))
            return errors
    """,
        timeout=5,
    )
    assert out.status == "ok", out
    assert out.value[:3] == [
        "fork:PermissionError",
        "subprocess:PermissionError",
        "exec:PermissionError",
    ]
    # the pool's first semaphore, in /dev/shm: a read-only mount (rofs) or Landlock
    assert out.value[3] in ("pool:OSError", "pool:PermissionError")
    assert out.value[4] != "system:0"
    assert not marker.exists()
    assert_healthy(box, area)


def test_fork_bomb_is_stopped(box, area):
    if not active(box, "seccomp"):
        pytest.skip("seccomp inactive")
    out = run(
        box,
        area,
        """
        import os
        def f():
            while True:
                os.fork()
    """,
    )
    assert out.status == "error" and out.error_type == "PermissionError"
    assert_healthy(box, area)


def test_threads_still_work_and_leftovers_die_with_the_call(box, area):
    out = run(
        box,
        area,
        """
        import threading, time
        import numpy as np
        def f():
            box = []
            t = threading.Thread(target=lambda: box.append(np.ones(3).sum()))
            t.start(); t.join()
            threading.Thread(target=lambda: time.sleep(1000)).start()   # never joined
            threading.Thread(target=lambda: time.sleep(1000), daemon=True).start()
            return box[0]
    """,
        timeout=2,
    )
    assert out.status == "ok" and out.value == 3.0
    assert out.wall < 1.5
    assert_healthy(box, area)


def test_setsid_daemon_cannot_outlive_the_call(box, area):
    out = run(
        box,
        area,
        """
        import os, time
        def f():
            try:
                if os.fork() == 0:
                    os.setsid()
                    time.sleep(1000)
            except OSError as exc:
                return type(exc).__name__
            return "forked"
    """,
    )
    assert out.status == "ok"
    if active(box, "seccomp"):
        assert out.value == "PermissionError"
    assert zygote_children(box) == []


def test_loopback_connect_is_denied(box, area):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    try:
        out = run(
            box,
            area,
            f"""
            import socket
            def f():
                s = socket.create_connection(("127.0.0.1", {port}), timeout=0.5)
                s.sendall(b"stolen")
                return "connected"
        """,
        )
        assert out.status == "error", out
        assert out.error_type in ("PermissionError", "OSError", "ConnectionRefusedError")
        with pytest.raises(OSError):
            listener.accept()
    finally:
        listener.close()


def test_reading_outside_files_is_denied(box, area, tmp_path):
    if not active(box, "landlock") and not active(box, "uid"):
        pytest.skip("no file-system confinement here")
    secret = tmp_path / "secret.txt"
    secret.write_text("hidden test inputs")
    layers_py = REPO / "solutions" / "cnn" / "layers.py"
    targets = [
        str(secret),
        str(REPO / "autograder" / "course.py"),
        "/etc/passwd",
        "/proc/1/environ",
        str(TESTS / "test_sandbox.py"),
    ]
    if layers_py.exists():
        targets.append(str(layers_py))
    out = run(
        box,
        area,
        f"""
        import os
        def f():
            results = {{}}
            for path in {targets!r}:
                try:
                    with open(path) as fh:
                        results[path] = fh.read()[:20]
                except OSError as exc:
                    results[path] = type(exc).__name__
            for folder in ({str(REPO)!r}, {str(tmp_path)!r}, "/root", "/tmp"):
                try:
                    results[folder] = os.listdir(folder)
                except OSError as exc:
                    results[folder] = type(exc).__name__
            try:
                import solutions
                results["import"] = "imported"
            except ImportError as exc:
                results["import"] = type(exc).__name__
            return results
    """,
    )
    assert out.status == "ok", out
    for key, value in out.value.items():
        if key == "import":
            assert value in ("ModuleNotFoundError", "ImportError")
        else:
            assert value == "PermissionError", (key, value)


@pytest.mark.skipif(os.geteuid() != 0 or not _linux.SUPPORTED, reason="needs root on Linux")
def test_read_only_mounts_leave_only_the_scratch_writable(tmp_path):
    """The rofs layer alone (no Landlock, no uid drop): in a forked process's own mount
    namespace every mount turns read-only but the scratch, so /tmp, /dev/shm (POSIX shared
    memory and semaphores) and the kit keep nothing; /dev/null still takes writes."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            _linux.unshare(_linux.CLONE_NEWNS)
            _linux.mount(None, "/", None, _linux.MS_REC | _linux.MS_PRIVATE)
            _linux.mount("tmpfs", str(scratch), "tmpfs", 0, "size=1m")
            _linux.remount_read_only(keep=str(scratch))
            refused = 0
            for path in (tmp_path / "left.txt", "/dev/shm/kit-test-left", REPO / "left.txt"):
                try:
                    open(path, "w").close()
                except OSError as exc:
                    refused += exc.errno == errno.EROFS
            (scratch / "mine.txt").write_text("ok")
            with open("/dev/null", "w") as fh:
                fh.write("ok")
            code = 0 if refused == 3 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert not (tmp_path / "left.txt").exists() and not (REPO / "left.txt").exists()
    assert not os.path.exists("/dev/shm/kit-test-left")
    assert list(scratch.iterdir()) == []  # the tmpfs went with the namespace


def test_writing_outside_scratch_and_into_the_submission_is_denied(box, area, tmp_path):
    if not active(box, "landlock") and not active(box, "uid"):
        pytest.skip("no file-system confinement here")
    target = tmp_path / "planted.txt"
    out = run(
        box,
        area,
        f"""
        import errno, os
        def f():
            here = os.path.dirname(__file__)
            results = []
            for path in ({str(target)!r}, os.path.join(here, "m.py"),
                         os.path.join(here, "new.py"), os.path.join(here, "..", "x.pth")):
                try:
                    with open(path, "a") as fh:
                        fh.write("import os")
                    results.append("written")
                except OSError as exc:
                    results.append(errno.errorcode[exc.errno])
            with open("ok.txt", "w") as fh:          # cwd = scratch: allowed
                fh.write("fine")
            try:
                os.symlink("/etc/passwd", "link")
                results.append("symlinked")
            except OSError as exc:
                results.append(errno.errorcode[exc.errno])
            return results
    """,
    )
    assert out.status == "ok", out
    # refused by the read-only mounts (rofs), Landlock, the uid drop or seccomp (symlink)
    assert len(out.value) == 5 and set(out.value) <= {"EROFS", "EACCES", "EPERM"}, out.value
    assert not target.exists()


def test_signals_and_limits_aimed_at_the_zygote_and_the_grader_are_denied(box, area):
    if not active(box, "seccomp"):
        pytest.skip("seccomp inactive")
    zpid = box.info["pid"]
    out = run(
        box,
        area,
        f"""
        import os, resource, signal
        def f():
            results = []
            for pid in (os.getppid(), {zpid}, {os.getpid()}, -1, 0):
                for name, attack in (
                    ("kill", lambda: os.kill(pid, signal.SIGKILL)),
                    ("prlimit", lambda: resource.prlimit(pid, resource.RLIMIT_NOFILE, (0, 0))),
                    ("nice", lambda: os.setpriority(os.PRIO_PROCESS, pid, 19)),
                ):
                    if name == "prlimit" and pid in (0, -1):
                        continue
                    try:
                        attack()
                        results.append(f"{{name}} {{pid}}: done")
                    except OSError as exc:
                        results.append(type(exc).__name__)
            results.append(resource.getrlimit(resource.RLIMIT_NOFILE))   # own limits: fine
            return results
    """,
    )
    assert out.status == "ok", out
    assert not [r for r in out.value if "done" in str(r)], out.value
    assert box.info["pid"] == zpid
    assert_healthy(box, area)


def test_only_the_session_pipes_are_inherited_and_parent_death_signal_stays(box, area):
    """Besides stdio, the child holds its two session pipes (requests in, "done" out):
    no socket, no file, no other descriptor of the zygote."""
    out = run(
        box,
        area,
        """
        import ctypes, os, stat
        def f():
            inherited = []
            for fd in range(3, 256):
                try:
                    inherited.append(stat.S_ISFIFO(os.fstat(fd).st_mode))
                except OSError:
                    pass
            libc = ctypes.CDLL(None, use_errno=True)
            rc = libc.prctl(1, 0, 0, 0, 0)      # PR_SET_PDEATHSIG = 0
            return {"fds": inherited, "pdeathsig": rc}
    """,
    )
    assert out.status == "ok"
    assert out.value["fds"] == [True, True]
    if active(box, "seccomp"):
        assert out.value["pdeathsig"] == -1


def test_large_output_beyond_the_file_size_limit_is_an_output_error(box, area):
    out = run(
        box,
        area,
        "import numpy as np\ndef f():\n    return np.zeros(1 << 21)\n",
        limits=Limits(fsize=1 << 20),
    )
    assert out.status == "output" and "file size limit" in out.message


def test_environment_is_a_whitelist_and_home_is_scratch(box, area):
    os.environ["AUTOGRADER_TEST_SECRET"] = "s3cret"
    try:
        out = run(
            box,
            area,
            """
            import os, sys
            def f():
                return {"env": dict(os.environ), "cwd": os.getcwd(), "path": sys.path,
                        "bytecode": sys.dont_write_bytecode}
        """,
        )
    finally:
        del os.environ["AUTOGRADER_TEST_SECRET"]
    assert out.status == "ok"
    env = out.value["env"]
    assert set(env) == {
        "PATH",
        "HOME",
        "TMPDIR",
        "LANG",
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "PYTHONDONTWRITEBYTECODE",
    }
    assert env["HOME"] == env["TMPDIR"] == out.value["cwd"]
    assert not any(str(REPO) == p or str(TESTS) == p for p in out.value["path"])
    assert out.value["bytecode"] is True


def test_submission_files_cannot_shadow_modules(box, area):
    out = run(
        box,
        area,
        """
        import json
        def f():
            return json.__file__
    """,
        extra={"json.py": "raise SystemExit('shadowed')", "numpy.py": "x = 1"},
    )
    assert out.status == "ok" and out.value.endswith("json/__init__.py")


# --------------------------------------------------------------------------- output tricks


def test_lying_objects_and_object_arrays_are_rejected(box, area):
    source = """
        import numpy as np
        class Liar:
            def __eq__(self, other): return True
            def __array__(self, dtype=None, copy=None): return np.ones(3)
            def __array_function__(self, *a, **k): return True
        def liar(): return Liar()
        def objects(): return np.array([Liar(), 1], dtype=object)
        def keys(): return {1: 2}
    """
    out = run(box, area, source, function="liar")
    assert out.status == "output"
    assert out.message.startswith("output must be a number or a numeric array, got <class")
    out = run(box, area, source, function="objects")
    assert out.status == "output" and "dtype object" in out.message
    out = run(box, area, source, function="keys")
    assert out.status == "output" and "keys must be str" in out.message


def test_ndarray_subclass_comes_back_as_plain_values(box, area):
    out = run(
        box,
        area,
        """
        import numpy as np
        class Sneaky(np.ndarray):
            def __array_ufunc__(self, *a, **k): return True
            def __eq__(self, other): return True
        def f():
            return np.arange(3.0).view(Sneaky)
    """,
    )
    assert out.status == "ok"
    assert type(out.value) is np.ndarray and out.value.tolist() == [0.0, 1.0, 2.0]
    assert not np.array_equal(out.value, np.zeros(3))


def test_forged_pickle_output_is_rejected_by_the_parent(box, area, tmp_path):
    marker = tmp_path / "pwned"
    out = run(
        box,
        area,
        f"""
        import json, os
        import numpy as np
        import autograder.plain as plain
        class Evil:
            def __reduce__(self):
                return (open, ({str(marker)!r}, "w"))
        real_dump = plain.dump
        def forged(obj, folder):
            if not str(folder).endswith("out"):   # keep the result record valid
                return real_dump(obj, folder)
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, "arrays.bin"), "wb") as fh:
                np.save(fh, np.array([Evil()], dtype=object), allow_pickle=True)
            with open(os.path.join(folder, "data.json"), "w") as fh:
                json.dump({{"format": "plain", "version": 2,
                            "root": {{"array": ["|O", [1]]}}}}, fh)
        def f():
            plain.dump = forged
            return 1.0
    """,
    )
    assert out.status == "output" and "not numeric" in out.message
    assert not marker.exists()


def test_global_state_does_not_leak_into_the_next_call(box, area):
    out = run(
        box,
        area,
        """
        import numpy as np
        def f():
            np.seterr(all="ignore")
            np.set_printoptions(precision=2)
            np.random.seed(0)
            return float(np.random.random())
    """,
    )
    assert out.status == "ok" and out.value == pytest.approx(0.5488135039273248)
    fresh = box.run(Call(f"{PROBES}:global_state", submit(area, ""), "stu"))
    assert fresh.status == "ok"
    assert fresh.value["divide"] == "warn" and fresh.value["printoptions"] == 8
    assert fresh.value["random"] != pytest.approx(0.5488135039273248)


# --------------------------------------------------------------------------- the sandbox itself


def test_zygote_death_is_a_crash_and_the_sandbox_restarts(area):
    with Sandbox(probes=[PROBES], probe_dirs=[TESTS], slot=3, python=PYTHON) as sandbox:
        old = sandbox.info["pid"]
        threading.Timer(0.3, os.kill, (old, signal.SIGKILL)).start()
        out = run(sandbox, area, "import time\ndef f():\n    time.sleep(5)\n", timeout=3)
        assert out.status == "crash" and "supervisor" in out.message
        assert_healthy(sandbox, area)
        assert sandbox.info["pid"] != old and sandbox.restarts == 1
        cgroup = _linux.pids_cgroup(sandbox.folder)
        assert sandbox.report()["pids"].active == os.path.isdir(cgroup)  # made anew
    assert not os.path.exists(cgroup)  # nothing of the sandbox outlives it


def test_bad_calls_raise_sandbox_error(box, area):
    sub = submit(area, "")
    with pytest.raises(SandboxError, match="not a probe module"):
        box.run(Call("os:getcwd", sub, "stu"))
    with pytest.raises(SandboxError, match="probe must look like"):
        box.run(Call("no colon", sub, "stu"))
    with pytest.raises(SandboxError, match="package"):
        box.run(Call(f"{PROBES}:trivial", sub, "json"))
    with pytest.raises(SandboxError, match="does not exist"):
        box.run(Call(f"{PROBES}:trivial", area / "missing", "stu"))
    with pytest.raises(SandboxError, match="plain data"):
        box.run(Call(f"{PROBES}:echo", sub, "stu", {"x": object()}))
    assert_healthy(box, area)


# ------------------------------------------------------------------------------ sessions


def call_in(session, function, *args, timeout=1.0):
    return session.run(
        f"{PROBES}:call", {"module": "stu.m", "function": function, "args": list(args)}, timeout
    )


def test_a_session_imports_the_package_once_and_resets_global_state(box, area):
    """One child serves the calls: module state persists (the package is not re-imported),
    while NumPy's settings and generator, warnings and the environment are restored before
    each call, and every call gets its own folder as cwd."""
    sub = submit(
        area,
        """
        import os, warnings
        import numpy as np
        imports = [1]
        def f():
            imports.append(1)
            seen = {"count": len(imports), "divide": np.geterr()["divide"],
                    "random": float(np.random.random()), "env": "LEAK" in os.environ,
                    "path": os.environ.get("PATH"), "home": os.environ.get("HOME"),
                    "precision": np.get_printoptions()["precision"],
                    "warnings": any(f[0] == "error" for f in warnings.filters),
                    "cwd": os.getcwd(), "files": os.listdir(".")}
            np.seterr(all="raise")
            np.set_printoptions(precision=2)
            np.random.seed(7)
            os.environ["LEAK"] = "1"
            os.environ["PATH"] = "/planted"
            del os.environ["HOME"]
            warnings.simplefilter("error")
            open("planted.txt", "w").close()
            return seen
    """,
    )
    with box.session(sub, "stu", modules=[PROBES]) as session:
        first, second, third = (call_in(session, "f") for _ in range(3))
        assert session.children == 1
    assert [o.status for o in (first, second, third)] == ["ok"] * 3
    assert [o.value["count"] for o in (first, second, third)] == [2, 3, 4]
    for later in (second.value, third.value):
        for key in ("divide", "random", "env", "path", "precision", "warnings"):
            assert later[key] == first.value[key], key
        assert later["home"] == later["cwd"]
        assert "planted.txt" not in later["files"]
    assert len({first.value["cwd"], second.value["cwd"], third.value["cwd"]}) == 3


@pytest.mark.parametrize(
    "fault, status",
    [
        ("time.sleep(5)", "timeout"),
        ("os._exit(3)", "exit"),
        ("ctypes.string_at(0)", "crash"),
    ],
)
def test_a_fault_ends_the_child_and_the_next_call_gets_a_fresh_one(box, area, fault, status):
    sub = submit(
        area,
        f"""
        import ctypes, os, time
        calls = []
        def f(fail):
            calls.append(1)
            if fail:
                {fault}
            return len(calls)
    """,
    )
    with box.session(sub, "stu", modules=[PROBES]) as session:
        outcomes = [call_in(session, "f", fail) for fail in (False, False, True, False)]
        assert session.children == 2
    assert [o.status for o in outcomes] == ["ok", "ok", status, "ok"]
    assert outcomes[1].value == 2 and outcomes[3].value == 1  # a fresh import
    assert not zygote_children(box)


def test_the_child_is_stopped_between_calls(box, area):
    """A thread left running after "done" does not run while the parent reads: the file
    it appends to does not grow between two calls; it resumes with the next call."""
    sub = submit(
        area,
        """
        import os, threading, time
        def f(path=None):
            def spin():
                while True:
                    with open("tick.txt", "a") as fh:
                        fh.write(".")
                    time.sleep(0.001)
            if path is None:
                threading.Thread(target=spin, daemon=True).start()
                time.sleep(0.05)
            return os.getcwd()
    """,
    )
    with box.session(sub, "stu", modules=[PROBES]) as session:
        cwd = call_in(session, "f").value
        tick = os.path.join(session._folder, os.path.basename(cwd), "tick.txt")
        assert not os.path.exists(tick)  # the call folder is deleted after the call
        [child] = zygote_children(box)
        with open(f"/proc/{child}/stat") as fh:
            assert fh.read().rpartition(")")[2].split()[0] == "T"  # stopped
        assert call_in(session, "f", "again").status == "ok"


def test_opening_a_second_session_ends_the_first(box, area):
    sub_a = submit(area, "def f():\n    return 'a'\n")
    sub_b = submit(area, "def f():\n    return 'b'\n")
    a = box.session(sub_a, "stu", modules=[PROBES])
    b = box.session(sub_b, "stu", modules=[PROBES])
    try:
        assert [call_in(s, "f").value for s in (a, b, a, b)] == ["a", "b", "a", "b"]
        assert a.children == b.children == 2
        assert len(zygote_children(box)) == 1
    finally:
        a.close()
        b.close()
    assert not zygote_children(box)


def test_a_session_runs_only_its_probe_modules(box, area):
    sub = submit(area, "def f():\n    return 1\n")
    with (
        box.session(sub, "stu", modules=[PROBES]) as session,
        pytest.raises(SandboxError, match="not in this session's probe modules"),
    ):
        session.run("autograder.probes.optim_reg:optimizer", {}, 1.0)


def test_names_planted_in_the_session_folder_do_not_block_later_calls(box, area):
    """The child may write next to its call folder and its request folder; files and
    folders it names like the requests and calls to come cannot stop them (each request
    folder gets a fresh, unpredictable name, and its call folders are made with it)."""
    sub = submit(
        area,
        """
        import os
        def f():
            for i in range(1, 50):
                for up in ("..", os.path.join("..", "..")):
                    for name in (f"call-{i}", f"request-{i}"):
                        open(os.path.join(up, name), "w").close()
                        os.makedirs(os.path.join(up, name + "x", "result"), exist_ok=True)
            return os.getcwd()
    """,
    )
    with box.session(sub, "stu", modules=[PROBES]) as session:
        names = [call_in(session, "f") for _ in range(3)]
    assert [o.status for o in names] == ["ok"] * 3
    assert len({o.value for o in names}) == 3


def test_a_child_that_fills_its_scratch_gets_a_fresh_one(area):
    """Files a call leaves in its session folder (above its request folder, which goes
    after the request) stay for the child's next calls; when they fill the scratch space,
    the next call cannot even receive its inputs: it fails with that reason and the call
    after it runs in a fresh child with an empty scratch."""
    sub = submit(
        area,
        """
        import os
        SESSION = os.path.join("..", "..")
        def f(fill, pad):
            if fill:  # all the space but what this call's result needs
                with open("reserve", "wb") as fh:
                    fh.write(bytes(256 << 10))
                try:
                    for i in range(64):
                        with open(os.path.join(SESSION, f"junk{i}"), "wb") as fh:
                            fh.write(bytes(1 << 20))
                except OSError:
                    pass
                os.remove("reserve")
            return len([n for n in os.listdir(SESSION) if n.startswith("junk")])
    """,
    )
    big = np.zeros(1 << 17)  # 1 MiB of inputs: more than the room left
    with (
        Sandbox(
            probes=[PROBES], probe_dirs=[TESTS], slot=2, python=PYTHON, scratch_size=4 << 20
        ) as small,
        small.session(sub, "stu", modules=[PROBES]) as session,
    ):
        runs = [
            call_in(session, "f", fill, pad, timeout=2.0)
            for fill, pad in ((True, 0), (False, big), (False, big))
        ]
        assert session.children == 2, runs
    if not active(small, "scratch"):
        pytest.skip("no size-capped scratch here")
    assert runs[0].status == "ok" and runs[0].value >= 3
    assert runs[1].status == "crash" and "filled its scratch space" in runs[1].message
    assert runs[2].status == "ok" and runs[2].value == 0


def test_a_call_that_leaves_no_room_for_its_result_is_told_so(area):
    sub = submit(
        area,
        """
        import os
        def f(fill):
            try:
                for i in range(64 if fill else 0):
                    with open(f"junk{i}", "wb") as fh:
                        fh.write(bytes(1 << 20))
            except OSError:
                pass
            return 1
    """,
    )
    with (
        Sandbox(
            probes=[PROBES], probe_dirs=[TESTS], slot=2, python=PYTHON, scratch_size=4 << 20
        ) as small,
        small.session(sub, "stu", modules=[PROBES]) as session,
    ):
        full, after = call_in(session, "f", True), call_in(session, "f", False)
    if not active(small, "scratch"):
        pytest.skip("no size-capped scratch here")
    assert full.status == "output" and "fill its scratch space" in full.message
    assert after.status == "ok"


def test_a_probe_the_session_does_not_have_is_a_sandbox_error(box, area):
    """A kit bug (a probe name that does not exist) is the kit's error, never the student's."""
    sub = submit(area, "def f():\n    return 1\n")
    with box.session(sub, "stu", modules=[PROBES]) as session:
        with pytest.raises(SandboxError, match="no function of the session"):
            session.run(f"{PROBES}:no_such_probe", {}, 1.0)
        assert call_in(session, "f").value == 1


def test_a_call_folder_replaced_by_a_link_is_not_read(tmp_path):
    """Defence in depth behind Landlock (which stops the child making links): the parent
    opens a call folder without following links, and reads nothing when it cannot."""
    from autograder import plain
    from autograder.sandbox.parent import _read_call

    real = tmp_path / "elsewhere"
    for folder in (real, real / "missing"):  # any folder below the link, too
        plain.dump({"status": "ok", "seconds": 0.0}, folder / "result")
        plain.dump("planted", folder / "out")
    (tmp_path / "call-x").symlink_to(real)
    reply = {"ok": True, "alive": True, "wall": 0.01}
    linked = _read_call(reply, str(tmp_path / "call-x"), 1.0, Limits(), 10.0)
    assert linked.status == "output" and linked.value is None
    assert _read_call(reply, str(real), 1.0, Limits(), 10.0).value == "planted"


def _calls(*args: object, timeout: float = 1.0) -> list[tuple[str, dict, float]]:
    return [
        (f"{PROBES}:call", {"module": "stu.m", "function": "f", "args": [a]}, timeout) for a in args
    ]


def test_a_call_that_rewrites_its_request_folder_changes_nothing_of_the_later_calls(box, area):
    """A request's folder is the child's to write: a call that forges the inputs document
    and plants a result in the next call's folder changes nothing of that call (the inputs
    were read with the request; the call writes its own result over the planted one)."""
    sub = submit(
        area,
        """
        import os
        FORGED = '{"format":"plain","version":2,"root":%s}'
        def f(x):
            if x == "plant":  # the inputs replaced (the parent's own files, its folder the child's)
                os.rename(os.path.join("..", "in"), os.path.join("..", "old"))
                os.mkdir(os.path.join("..", "in"))
                with open(os.path.join("..", "in", "data.json"), "w") as fh:
                    fh.write(FORGED % '[{"dict":{}},{"dict":{}}]')
                for name, root in (("result", '{"dict":{"status":"ok"}}'), ("out", '"planted"')):
                    os.makedirs(os.path.join("..", "call-1", name))
                    with open(os.path.join("..", "call-1", name, "data.json"), "w") as fh:
                        fh.write(FORGED % root)
            return x
    """,
    )
    with box.session(sub, "stu", modules=[PROBES]) as session:
        outcomes = session.run_many(_calls("plant", "real"))
        assert [(o.status, o.value) for o in outcomes] == [("ok", "plant"), ("ok", "real")]
        assert session.children == 1


def test_a_request_of_several_calls_gives_each_its_outcome_up_to_the_one_that_ends_the_child(
    box, area
):
    """One request, several calls: each its own outcome, in order; a crash ends the child,
    so it is the last call run (the calls after it are left to the caller, and the next
    call gets a fresh child); a time limit is each call's own."""
    sub = submit(
        area,
        """
        import ctypes, os, time
        def f(x):
            if x == "crash":
                ctypes.string_at(0)
            if x == "slow":
                time.sleep(0.6)
            return [x, os.getpid() == 1 and "ok"]
    """,
    )
    with box.session(sub, "stu", modules=[PROBES]) as session:
        first = session.run_many(_calls("a", "slow", "crash", "d"), time_left=10.0)
        assert [o.status for o in first] == ["ok", "ok", "crash"]
        assert first[0].value[0] == "a" and first[1].value[0] == "slow"
        assert first[2].message == "crashed with signal SIGSEGV"
        assert session.children == 1 and not session.open
        again = session.run_many(_calls("d", "slow", "e", timeout=0.3))
        assert [o.status for o in again] == ["ok", "timeout"]
        assert again[1].message == "time limit exceeded (0.3 s)"
        assert session.run_many(_calls("f"))[0].value[0] == "f"
        assert session.children == 3
        # what is left of the time for all the calls cuts each one's limit
        cut = session.run_many(_calls("slow", "slow", "g", timeout=2.0), time_left=1.0)
        assert [o.status for o in cut] == ["ok", "timeout"]
        assert cut[1].message.startswith("time limit exceeded (0.")


def test_a_request_is_stopped_as_a_whole_and_its_folders_read_afterwards(box, area):
    """The parent stops the child once a request's last call is done, and reads every call
    folder only then: a thread the first call left running finds it stopped."""
    sub = submit(
        area,
        """
        import os, threading, time
        def f(x):
            if x == "spin":
                def spin():
                    while True:
                        time.sleep(0.001)
                threading.Thread(target=spin, daemon=True).start()
            return x
    """,
    )
    with box.session(sub, "stu", modules=[PROBES]) as session:
        outs = session.run_many(_calls("spin", "b", "c"))
        assert [o.value for o in outs] == ["spin", "b", "c"]
        [child] = zygote_children(box)
        for tid in os.listdir(f"/proc/{child}/task"):
            with open(f"/proc/{child}/task/{tid}/stat") as fh:
                assert fh.read().rpartition(")")[2].split()[0] == "T"  # every thread stopped
