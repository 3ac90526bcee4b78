"""Confinement of a freshly forked child: every active layer of its plan, before any
student byte runs (:func:`confine`). Which layers are active, and the plan, come from
:class:`.layers.Layers` in the zygote; the table there names each layer's test.

Order (:func:`confine`):

1. new session (the pids cgroup it was born in caps its tasks: :mod:`.layers`); a private
   IPC namespace (:func:`private_ipc`), read-only mounts but the scratch
   (:func:`read_only_mounts`); parent-death signal (the child dies if the zygote dies);
2. stdin = /dev/null, stdout/stderr = files in the scratch folder, every other fd closed
   (the zygote's control socket) except the session's pipes;
3. rlimits (:func:`set_rlimits`): CORE 0, FSIZE, NOFILE, CPU (soft = ceil(budget) + 1),
   AS (VmSize + budget), NPROC (only meaningful after a uid drop);
4. cwd = scratch; environment = a whitelist; ``sys.path`` = the interpreter's own
   directories (never the repo or the probe folders); the student's package importable by
   its name only (:class:`SubmissionFinder`);
5. ``no_new_privs``; Landlock (read-only: interpreter, system libraries, submission;
   read-write: scratch; no exec, no TCP, scoped signals and abstract sockets);
6. uid drop (:func:`drop_uid`) when possible, else drop every capability of uid 0;
7. seccomp filter (last: it forbids exec and process creation); the PID namespace checked
   (the child is its pid 1: :meth:`.layers.Layers.fork`).
"""

from __future__ import annotations

import contextlib
import faulthandler
import importlib.machinery
import io
import math
import os
import signal
import sys
from typing import Any

try:
    import resource
except ImportError:  # not POSIX: the parent refuses to start before anything runs here
    resource = None  # type: ignore[assignment]

from . import _linux, landlock, seccomp
from .protocol import ENV_WHITELIST, STDERR, STDOUT, ChildPlan


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


def stream(fd: int, cap: int) -> io.TextIOWrapper:
    return io.TextIOWrapper(
        io.BufferedWriter(_CappedRaw(fd, cap)),
        encoding="utf-8",
        errors="backslashreplace",
        line_buffering=True,
    )


def redirect_output(folder: str, stream_cap: int) -> None:
    """stdout and stderr (the descriptors and the Python streams) to new files in ``folder``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    for target, name in ((1, STDOUT), (2, STDERR)):
        fd = os.open(os.path.join(folder, name), flags, 0o644)
        os.dup2(fd, target)
        os.close(fd)
    sys.stdout = stream(1, stream_cap)
    sys.stderr = stream(2, stream_cap)


def _redirect_stdio(scratch: str, keep: tuple[int, ...], stream_cap: int) -> None:
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    redirect_output(scratch, stream_cap)
    # Every other inherited descriptor goes: the zygote's control socket above all.
    # (Linux: one close_range() call per gap; elsewhere a loop up to the descriptor limit.)
    end = 1 << 20 if sys.platform == "linux" else os.sysconf("SC_OPEN_MAX")
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, end)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115


def set_rlimits(plan: ChildPlan) -> None:
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


def _clean_environment(plan: ChildPlan) -> None:
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
        sys.meta_path.insert(0, SubmissionFinder(plan["submission"], package))
    else:
        sys.path.insert(0, plan["submission"])


class SubmissionFinder:
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


def drop_uid(uid: int) -> None:
    """Layer ``uid``: no groups, the dedicated uid and gid; the parent-death signal again
    (a change of uid clears it)."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.getresuid() != (uid, uid, uid) or _linux.effective_capabilities():
        raise RuntimeError("uid drop did not take effect")
    _linux.set_pdeathsig(signal.SIGKILL)


def confine(plan: ChildPlan, keep: tuple[int, ...], trace: list[str] | None = None) -> list[str]:
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
    if layers.get("ipcns"):
        trace.append("ipcns")
        private_ipc()
    if layers.get("rofs"):
        trace.append("rofs")
        read_only_mounts(plan["scratch_root"])
    if sys.platform == "linux":
        _linux.set_pdeathsig(signal.SIGKILL)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    trace.append("stdio")
    _redirect_stdio(plan["scratch"], keep, plan["limits"]["stream"])
    faulthandler.enable(2, all_threads=False)
    trace.append("rlimits")
    set_rlimits(plan)
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
        drop_uid(plan["uid"])
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


def private_ipc() -> None:
    """Layer ``ipcns``: SysV IPC objects and POSIX message queues the child makes are
    seen by nobody else and die with it."""
    _linux.unshare(_linux.CLONE_NEWIPC)


def read_only_mounts(scratch_root: str) -> None:
    """Layer ``rofs``: a mount namespace of the child's own, every mount read-only but the
    scratch (``EROFS`` is checked before Landlock)."""
    _linux.unshare(_linux.CLONE_NEWNS)
    _linux.remount_read_only(keep=scratch_root)
