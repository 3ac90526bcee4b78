"""The sandboxed child: confinement right after ``fork()``, then the calls of one session.

Runs in a process forked from the zygote, which already imported NumPy (and torch, the
kit's probe modules and this module) and is pid 1 of a fresh PID namespace when that
layer is active. :func:`serve` never returns: it ends with ``os._exit``.

Order of confinement (:func:`confine`), all before any student byte runs:

1. new session; parent-death signal (the child dies if the zygote dies);
2. stdin = /dev/null, stdout/stderr = files in the scratch folder, every other fd closed
   (the zygote's control socket) except the session's three pipes;
3. rlimits: CORE 0, FSIZE, NOFILE, CPU (soft = ceil(budget) + 1), AS (VmSize + budget),
   NPROC (only meaningful after a uid drop);
4. cwd = scratch; environment = a whitelist; ``sys.path`` = the interpreter's own
   directories (never the repo or the probe folders);
5. ``no_new_privs``; Landlock (read-only: interpreter, system libraries, submission;
   read-write: scratch; no exec, no TCP, scoped signals and abstract sockets);
6. uid drop (setgroups([]), setresgid, setresuid) when possible, else drop every
   capability of uid 0;
7. seccomp filter (last: it forbids exec and process creation).

Then the child tells the zygote "ready" over a pipe and closes it. That pipe is the only
trusted statement about the setup: everything the child writes afterwards (the result
records, outputs, the "done" bytes) is written by a process that ran student code, and
the parent treats it as untrusted.

A session serves the calls of one submission: each request names a probe and a call
folder (made by the parent, holding the inputs); the child resets the global state it
knows (:class:`Baseline`), runs the probe with the call folder as cwd, HOME and TMPDIR,
writes the result there and writes one byte on the "done" pipe. The zygote stops the
child (SIGSTOP) before the parent reads anything, and continues it for the next call.
"""

from __future__ import annotations

import contextlib
import errno
import faulthandler
import gc
import importlib.machinery
import io
import json
import math
import os
import signal
import sys
import time
import traceback
import warnings
from types import ModuleType
from typing import Any

import numpy as np

from autograder import plain

try:
    import resource
except ImportError:  # not POSIX: the parent refuses to start before anything runs here
    resource = None  # type: ignore[assignment]

from . import _linux, landlock, seccomp
from .protocol import (
    ENV_WHITELIST,
    EXIT_NO_MEMORY,
    EXIT_NO_RECORD,
    FRAMES_KEPT,
    IN_DIR,
    MESSAGE_CAP,
    OUT_DIR,
    RESULT_DIR,
    STDERR,
    STDOUT,
)

# --------------------------------------------------------------------------- confinement


class _CappedRaw(io.RawIOBase):
    """A write-only stream to ``fd`` that silently drops everything past ``cap`` bytes."""

    def __init__(self, fd: int, cap: int) -> None:
        super().__init__()
        self._fd = fd
        self._left = cap

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def write(self, b: Any) -> int:
        n = len(b)
        if self._left > 0:
            chunk = bytes(b[: self._left])
            self._left -= len(chunk)
            if self._left <= 0:
                chunk += b"\n[output truncated by the grader]\n"
            with contextlib.suppress(OSError):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(self._fd, view) :]
        return n


def _stream(fd: int, cap: int) -> io.TextIOWrapper:
    return io.TextIOWrapper(
        io.BufferedWriter(_CappedRaw(fd, cap)),
        encoding="utf-8",
        errors="backslashreplace",
        line_buffering=True,
    )


def _redirect_output(folder: str, stream_cap: int) -> None:
    """stdout and stderr (the descriptors and the Python streams) to new files in ``folder``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    for target, name in ((1, STDOUT), (2, STDERR)):
        fd = os.open(os.path.join(folder, name), flags, 0o644)
        os.dup2(fd, target)
        os.close(fd)
    sys.stdout = _stream(1, stream_cap)
    sys.stderr = _stream(2, stream_cap)


def _redirect_stdio(scratch: str, keep: tuple[int, ...], stream_cap: int) -> None:
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    _redirect_output(scratch, stream_cap)
    # Every other inherited descriptor goes: the zygote's control socket above all.
    # (Linux: one close_range() call per gap; elsewhere a loop up to the descriptor limit.)
    end = 1 << 20 if sys.platform == "linux" else os.sysconf("SC_OPEN_MAX")
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, end)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115


def _set_rlimits(plan: dict[str, Any]) -> None:
    lim = plan["limits"]
    cpu = int(lim.get("cpu") or math.ceil(plan["budget"]) + 1)
    linux = sys.platform == "linux"
    rl = [
        (resource.RLIMIT_CORE, 0, 0),
        (resource.RLIMIT_FSIZE, lim["fsize"], lim["fsize"]),
        (resource.RLIMIT_NOFILE, lim["nofile"], lim["nofile"]),
        (resource.RLIMIT_CPU, cpu, cpu + 1),
    ]
    if linux:  # the budget is on top of what the zygote already maps
        with open("/proc/self/statm", "rb") as fh:
            vmsize = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        rl.append((resource.RLIMIT_AS, vmsize + lim["memory"], vmsize + lim["memory"]))
    if plan["layers"].get("uid"):
        rl.append((resource.RLIMIT_NPROC, lim["nproc"], lim["nproc"]))
    for which, soft, hard in rl:
        _, old_hard = resource.getrlimit(which)
        if old_hard != resource.RLIM_INFINITY:
            hard = min(hard, old_hard)
            soft = min(soft, hard)
        try:
            resource.setrlimit(which, (soft, hard))
        except (OSError, ValueError):
            if linux:
                raise  # elsewhere (macOS) some limits are not settable: best effort


def _clean_environment(plan: dict[str, Any]) -> None:
    scratch = plan["scratch"]
    # The zygote was started with exactly ENV_WHITELIST (+ HOME); enforce it cheaply.
    for key in [k for k in os.environ if k not in ENV_WHITELIST]:
        del os.environ[key]
    for key, value in ENV_WHITELIST.items():
        if os.environ.get(key) != value:
            os.environ[key] = value
    os.environ["HOME"] = scratch
    os.environ["TMPDIR"] = scratch
    os.chdir(scratch)
    sys.dont_write_bytecode = True
    sys.argv = ["<submission>"]
    sys.orig_argv = ["python", "<submission>"]  # not the kit's command line and folders
    dropped = [p for p in sys.path if p not in plan["sys_path"]]
    sys.path[:] = list(plan["sys_path"])
    for key in dropped:  # cached finders of the repo / probe folders
        sys.path_importer_cache.pop(key, None)
    package = plan.get("package")
    if package:
        if package in sys.modules:
            raise RuntimeError(f"module {package!r} is already loaded in the zygote")
        sys.meta_path.insert(0, _SubmissionFinder(plan["submission"], package))
    else:
        sys.path.insert(0, plan["submission"])


class _SubmissionFinder:
    """Finds exactly one top-level package, the student's, in the submission folder.

    Other files in that folder cannot shadow a module (``numpy.py``, ``json.py``...);
    the package's own submodules are found through its ``__path__`` as usual.
    """

    def __init__(self, folder: str, package: str) -> None:
        self.folder = folder
        self.package = package

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != self.package:
            return None
        return importlib.machinery.PathFinder.find_spec(name, [self.folder])

    def invalidate_caches(self) -> None:
        pass


def _chown_scratch(scratch: str, uid: int) -> None:
    for root, dirs, files in os.walk(scratch):
        os.chown(root, uid, uid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, uid, follow_symlinks=False)


def _drop_uid(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.getresuid() != (uid, uid, uid) or _linux.effective_capabilities():
        raise RuntimeError("uid drop did not take effect")


def confine(
    plan: dict[str, Any], keep: tuple[int, ...], trace: list[str] | None = None
) -> list[str]:
    """Apply every active layer of ``plan`` to this (single-threaded) process, keeping
    only the descriptors ``keep`` (besides 0, 1 and 2).

    Returns the names of the layers applied. Raises on any failure (``trace`` then ends
    with the layer being applied): the caller reports it over the ready pipe and exits
    without running student code.
    """
    layers = plan["layers"]
    trace = [] if trace is None else trace
    trace.append("session")
    os.setsid()
    if plan.get("cgroup"):
        trace.append("pids")
        with open(os.path.join(plan["cgroup"], "cgroup.procs"), "w") as fh:
            fh.write("0")  # this process: its threads and children count against pids.max
    if layers.get("ipcns"):
        trace.append("ipcns")
        _linux.unshare(_linux.CLONE_NEWIPC)
    if layers.get("rofs"):
        trace.append("rofs")
        _linux.unshare(_linux.CLONE_NEWNS)
        _linux.remount_read_only(keep=plan["scratch_root"])
    if sys.platform == "linux":
        _linux.set_pdeathsig(signal.SIGKILL)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    trace.append("stdio")
    _redirect_stdio(plan["scratch"], keep, plan["limits"]["stream"])
    faulthandler.enable(2, all_threads=False)
    trace.append("rlimits")
    _set_rlimits(plan)
    trace.append("environment")
    _clean_environment(plan)
    if layers.get("uid"):
        trace.append("uid")
        _chown_scratch(plan["scratch"], plan["uid"])
    trace.append("landlock" if layers.get("landlock") else "seccomp")
    if sys.platform == "linux":
        _linux.set_no_new_privs()
    if layers.get("landlock"):
        missing = landlock.restrict(plan["ro"], plan["rw"], plan["landlock_abi"])
        if plan["scratch"] in missing or plan["submission"] in missing:
            raise RuntimeError("Landlock: scratch or submission folder missing")
    if layers.get("uid"):
        trace.append("uid")
        _drop_uid(plan["uid"])
        _linux.set_pdeathsig(signal.SIGKILL)  # a change of uid cleared it
    elif layers.get("caps"):
        trace.append("caps")
        _linux.drop_capabilities(plan.get("cap_last", 63))
        if _linux.effective_capabilities():
            raise RuntimeError("capabilities still present after the drop")
    if layers.get("seccomp"):
        trace.append("seccomp")
        seccomp.install(os.getpid())
    if layers.get("pidns"):
        trace.append("pidns")
        if os.getpid() != 1:
            raise RuntimeError("expected to be pid 1 of a new PID namespace")
    trace.append("done")
    return [name for name, on in layers.items() if on]


# --------------------------------------------------------------------------- the call


def _report_ready(fd: int, message: dict[str, Any]) -> None:
    data = json.dumps(message).encode()[:60000]
    with contextlib.suppress(OSError):
        os.write(fd, data)
    with contextlib.suppress(OSError):
        os.close(fd)


def _frames(exc: BaseException, submission: str) -> list[str]:
    """The last frames of ``exc``'s traceback that lie in the submission, paths relative."""
    root = os.path.realpath(submission) + os.sep
    out = []
    with contextlib.suppress(Exception):
        for fs in traceback.extract_tb(exc.__traceback__):
            real = os.path.realpath(fs.filename)
            if real.startswith(root):
                rel = real[len(root) :]
                text = f'File "{rel}", line {fs.lineno}, in {fs.name}'
                if fs.line:
                    text += f"\n    {fs.line.strip()[:200]}"
                out.append(text)
        if isinstance(exc, SyntaxError) and exc.filename:
            real = os.path.realpath(exc.filename)
            if real.startswith(root):
                text = f'File "{real[len(root) :]}", line {exc.lineno}'
                if exc.text:
                    text += f"\n    {exc.text.strip()[:200]}"
                out.append(text)
    return out[-FRAMES_KEPT:]


def _describe(exc: BaseException, submission: str) -> dict[str, Any]:
    try:
        name = str(type(exc).__name__)[:100]
    except Exception:
        name = "Exception"
    try:
        message = str(exc)
    except BaseException:
        message = "<exception message could not be shown>"
    if len(message) > MESSAGE_CAP:
        message = message[:MESSAGE_CAP] + "..."
    return {
        "status": "error",
        "type": name,
        "message": message,
        "traceback": _frames(exc, submission),
    }


def _exit_code(code: Any) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return int(code) & 0xFF  # what the process exit status would have been
    return 1


class Baseline:
    """The global state every call starts from, as it was right after confinement.

    A session's calls share one process, so what one call changes would reach the next:
    :meth:`restore` puts back what the kit knows to matter (NumPy's error handling, print
    options and global generator; warnings filters; the environment; ``sys.path``, the
    import system and modules replaced in ``sys.modules``; the recursion limit) and makes
    the call folder the cwd, HOME and TMPDIR. The student's own modules stay imported.
    """

    def __init__(self) -> None:
        self.environ = dict(os.environ)
        self.path = list(sys.path)
        self.meta_path = list(sys.meta_path)
        self.modules = dict(sys.modules)
        self.recursion = sys.getrecursionlimit()
        self.filters = list(warnings.filters)
        self.numpy_errors = np.geterr()
        self.numpy_print = np.get_printoptions()
        self.numpy_random = np.random.get_state()

    def restore(self, folder: str) -> None:
        os.chdir(folder)
        os.environ.clear()
        os.environ.update(self.environ, HOME=folder, TMPDIR=folder)
        sys.path[:] = self.path
        sys.meta_path[:] = self.meta_path
        modules = sys.modules
        added = modules.keys() - self.modules.keys()
        modules.update(self.modules)  # every module replaced or removed comes back
        for name in added:
            if not isinstance(modules[name], ModuleType):
                del modules[name]  # None (an import blocker) or an impostor object
        sys.setrecursionlimit(self.recursion)
        warnings.filters[:] = self.filters
        warnings._filters_mutated()
        np.seterr(**self.numpy_errors)
        np.set_printoptions(**self.numpy_print)
        np.random.set_state(self.numpy_random)


def _next_request(fd: int, buffer: bytearray) -> dict[str, Any] | None:
    """The next JSON line from the zygote (None when it closed the pipe)."""
    while b"\n" not in buffer:
        chunk = os.read(fd, 4096)
        if not chunk:
            return None
        buffer += chunk
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return json.loads(line)


def _call(plan: dict[str, Any], probe: Any, folder: str) -> int:
    """Run ``probe(**inputs)`` with the inputs in ``folder``/in; write the result record
    (and the output) in ``folder``. Returns 0, or the exit code when no record could be
    written."""
    record: dict[str, Any]
    try:
        inputs = plain.load(
            os.path.join(folder, IN_DIR),
            max_bytes=1 << 40,
            max_arrays=1 << 20,
            max_json_bytes=1 << 30,
        )
        if type(inputs) is not dict:
            raise TypeError("inputs must be a dict")
    except BaseException as exc:
        inputs = None
        record = {
            "status": "output",
            "message": f"the inputs could not be read ({type(exc).__name__})",
        }
    # ---- from here on, student code runs ----
    started = time.perf_counter()
    if inputs is not None:
        try:
            value = probe(**inputs)
        except SystemExit as exc:
            record = {"status": "exit", "code": _exit_code(exc.code)}
        except MemoryError:
            record = {"status": "memory"}
        except BaseException as exc:
            record = _describe(exc, plan["submission"])
            del exc
        else:
            record = _dump_output(plan, value, folder)
            value = None
    inputs = None
    record["seconds"] = time.perf_counter() - started  # the student's share (untrusted)
    if record["status"] == "memory":
        gc.collect()
    try:
        plain.dump(record, os.path.join(folder, RESULT_DIR))
    except MemoryError:
        return EXIT_NO_MEMORY
    except BaseException:
        return EXIT_NO_RECORD
    return 0


def _dump_output(plan: dict[str, Any], value: Any, folder: str) -> dict[str, Any]:
    try:
        plain.dump(plain.to_plain(value), os.path.join(folder, OUT_DIR))
        return {"status": "ok"}
    except MemoryError:
        return {"status": "memory"}
    except (TypeError, plain.PlainDataError) as exc:
        return {"status": "output", "message": str(exc)[:MESSAGE_CAP]}
    except OSError as exc:
        # EFBIG: past RLIMIT_FSIZE (a short write without an errno counts as the same)
        fsize = plan["limits"]["fsize"]
        too_big = exc.errno in (errno.EFBIG, None)
        return {
            "status": "output",
            "message": (
                f"the output is larger than the file size limit ({fsize} bytes)"
                if too_big
                else f"the output could not be written ({exc.strerror})"
            ),
        }
    except BaseException as exc:
        return {
            "status": "output",
            "message": (f"the output could not be converted ({type(exc).__name__})"),
        }


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()


def _finish(code: int) -> None:
    _flush()
    os._exit(code)


def serve(plan: dict[str, Any], ready_fd: int, requests_fd: int, done_fd: int) -> None:
    """Confine this freshly forked process, then run the zygote's requests until it closes
    the requests pipe; ``_exit`` at the end.

    A request is ``{"probe": "module:function", "call": "<folder in scratch>"}``; the probe
    modules were imported by the zygote (``plan["modules"]``), the child cannot import kit
    code. Each call ends with one byte on ``done_fd``.
    """
    code = 70
    try:
        try:
            applied = confine(plan, (ready_fd, requests_fd, done_fd))
            modules = {name: sys.modules[name] for name in plan["modules"]}
            baseline = Baseline()
        except BaseException as exc:
            _report_ready(
                ready_fd, {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
            )
            os._exit(code)
        _report_ready(ready_fd, {"ok": True, "applied": applied})
        buffer = bytearray()
        while (request := _next_request(requests_fd, buffer)) is not None:
            module, _, function = request["probe"].partition(":")
            folder = os.path.join(plan["scratch"], request["call"])
            baseline.restore(folder)
            _redirect_output(folder, plan["limits"]["stream"])
            code = _call(plan, getattr(modules[module], function), folder)
            if code:
                break
            _flush()
            with contextlib.suppress(OSError):
                os.write(done_fd, b"\n")
        else:
            code = 0
    finally:
        _finish(code)
