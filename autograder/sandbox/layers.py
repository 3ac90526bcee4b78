"""Which confinement layers work on this machine, and the policy a child applies.

The zygote (:mod:`.zygote`) sets up its own layers once, at its start, and tells the
children which of theirs to apply: :class:`Layers` holds that report and everything a
child's :func:`plan <Layers.plan>` needs. The child applies the plan in
:func:`.confine.confine`. Each layer, where it is set up or detected, where it is applied,
and the test that proves it holds (in ``tests/``):

* ``netns``: the zygote's own (:meth:`Layers.setup_namespaces`), inherited by every child.
  ``test_sandbox.py::test_loopback_connect_is_denied``.
* ``pidns``: checked in :meth:`Layers.setup_namespaces`; applied at the fork
  (:meth:`Layers.fork`: the child is pid 1 of a new namespace), checked in ``confine``.
  ``test_sandbox.py::test_setsid_daemon_cannot_outlive_the_call``.
* ``scratch``: the zygote's tmpfs (:meth:`Layers.setup_scratch`); each call's folder is
  its cwd, HOME and TMPDIR. ``test_adversarial.py::test_filling_the_disk_is_bounded``.
* ``rofs``: needs the scratch's mount (:meth:`Layers.setup_scratch`); applied by
  :func:`.confine.read_only_mounts`.
  ``test_sandbox.py::test_read_only_mounts_leave_only_the_scratch_writable``.
* ``ipcns``: :meth:`Layers.setup_task_limits`; :func:`.confine.private_ipc`.
  ``test_task_limits.py``.
* ``pids``: :meth:`Layers.setup_task_limits` (the zygote joins a cgroup; its children
  are born in it) and :meth:`Layers.cap_tasks` before each fork. ``test_task_limits.py``.
* ``rlimits``: always; :func:`.confine.set_rlimits`.
  ``test_sandbox.py::test_memory_bombs_are_reported_as_memory``.
* ``landlock``: :meth:`Layers.detect` (ABI, test child); :func:`.landlock.restrict`.
  ``test_sandbox.py::test_reading_outside_files_is_denied``.
* ``uid``: :meth:`Layers.detect` (can the uid read the interpreter and the sandbox's
  folder); :func:`.confine.drop_uid`. ``test_uid_layer.py``.
* ``caps`` (where ``uid`` is off): :meth:`Layers.detect`;
  :func:`._linux.drop_capabilities`.
  ``test_sandbox.py::test_signals_and_limits_aimed_at_the_zygote_and_the_grader_are_denied``.
* ``seccomp``: :meth:`Layers.detect` (test child); :func:`.seccomp.install`, last.
  ``test_seccomp.py``.

:meth:`Layers.detect` forks a test child that applies every layer thought to work and then
tries to escape (read a file, read the kit, open a socket, fork, start a thread); a layer
that fails or does not hold is reported off, with the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
from collections.abc import Callable
from typing import Any

from . import _linux, landlock
from .protocol import ChildPlan, SessionLimits, ZygoteConfig

SYSTEM_READ_ONLY = (
    "/usr/lib",
    "/usr/lib64",
    "/lib",
    "/lib64",
    "/usr/share/zoneinfo",
    "/etc/ld.so.cache",
    "/dev/urandom",
    "/dev/random",
    # CPU topology, read lazily by torch's cpuinfo at the first op.
    "/proc/cpuinfo",
    "/sys/devices/system/cpu",
)
SYSTEM_READ_WRITE = ("/dev/null",)


def is_within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class Layers:
    """The layer report of one zygote (name -> active, detail) and the facts behind it.

    ``config`` is the zygote's (``base``, ``repo``, ``probe_dirs``, ``uid``,
    ``scratch_size``, ``scratch_inodes``).
    """

    def __init__(self, config: ZygoteConfig) -> None:
        self.base = config["base"]
        self.repo = os.path.realpath(config["repo"])
        self.probe_dirs = [os.path.realpath(p) for p in config.get("probe_dirs", ())]
        self.uid = int(config["uid"])
        self.scratch_size = int(config["scratch_size"])
        self.scratch_inodes = int(config["scratch_inodes"])
        self.scratch_root = os.path.join(self.base, "scratch")
        self.report: dict[str, dict[str, Any]] = {}
        self.real_root = os.geteuid() == 0  # before any user namespace makes us "root"
        self.pidns_fd = -1
        self.landlock_abi = 0
        self._ro_paths: list[str] | None = None
        self._sys_path: list[str] | None = None
        self.cgroup: str | None = None  # this zygote's pids cgroup (it and its child)
        self.home_cgroup: str | None = None  # the pids cgroup the zygote came from
        self._tasks_cap = -1
        self.cap_last = 63
        with contextlib.suppress(OSError, ValueError), open("/proc/sys/kernel/cap_last_cap") as fh:
            self.cap_last = int(fh.read())

    def set(self, name: str, active: bool, detail: str) -> None:
        self.report[name] = {"active": bool(active), "detail": detail}

    def on(self, name: str) -> bool:
        return self.report[name]["active"]

    def setup_namespaces(self) -> None:
        root = os.geteuid() == 0
        if not _linux.SUPPORTED:
            for name in ("netns", "pidns"):
                self.set(name, False, f"unsupported platform {sys.platform}/{_linux.MACHINE}")
            return
        try:
            if root:
                _linux.unshare(_linux.CLONE_NEWNET)
            else:
                uid, gid = os.getuid(), os.getgid()
                _linux.unshare(_linux.CLONE_NEWUSER | _linux.CLONE_NEWNET)
                for name, text in (
                    ("setgroups", "deny"),
                    ("uid_map", f"0 {uid} 1"),
                    ("gid_map", f"0 {gid} 1"),
                ):
                    with open(f"/proc/self/{name}", "w") as fh:
                        fh.write(text)
            names = [n for _, n in socket.if_nameindex()]
            if names not in ([], ["lo"]):
                raise OSError(0, f"unexpected interfaces {names}")
            self.set(
                "netns",
                True,
                "private network namespace (no interface up)"
                + ("" if root else " inside a user namespace"),
            )
        except OSError as exc:
            self.set("netns", False, f"unshare(CLONE_NEWNET) failed: {exc.strerror or exc}")
        try:
            self.pidns_fd = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
            # Coming back must be possible before leaving: after unshare(CLONE_NEWPID) and a
            # first child, forks fail (ENOMEM) until setns() restores our own namespace.
            # Unprivileged (in a user namespace) that setns() is refused.
            _linux.setns(self.pidns_fd, _linux.CLONE_NEWPID)
            _linux.unshare(_linux.CLONE_NEWPID)
            pid = os.fork()
            if pid == 0:
                os._exit(0 if os.getpid() == 1 else 1)
            _linux.setns(self.pidns_fd, _linux.CLONE_NEWPID)
            _, status = os.waitpid(pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                raise OSError(0, "first child was not pid 1")
            self.set("pidns", True, "fresh PID namespace per child (child is pid 1)")
        except OSError as exc:
            if self.pidns_fd >= 0:
                with contextlib.suppress(OSError):
                    _linux.setns(self.pidns_fd, _linux.CLONE_NEWPID)
                os.close(self.pidns_fd)
                self.pidns_fd = -1
            self.set("pidns", False, f"per-call PID namespace unavailable: {exc.strerror or exc}")

    def setup_scratch(self) -> None:
        """Mount a size-capped tmpfs on the scratch root, private to this zygote's mount ns.

        Children inherit it; the parent reaches it through a directory fd sent with the
        hello message. Fast (no disk) and bounded in bytes and inodes (threat: fill the
        disk); it vanishes with the zygote. Falls back to a plain folder on disk.
        """
        size, inodes = self.scratch_size, self.scratch_inodes
        try:
            if not _linux.SUPPORTED:
                raise OSError(38, "unsupported platform")
            _linux.unshare(_linux.CLONE_NEWNS)
            _linux.mount(None, "/", None, _linux.MS_REC | _linux.MS_PRIVATE)
            _linux.mount(
                "tmpfs",
                self.scratch_root,
                "tmpfs",
                _linux.MS_NOSUID | _linux.MS_NODEV | _linux.MS_NOEXEC,
                f"size={size},nr_inodes={inodes},mode=0711",
            )
            self.set("scratch", True, f"private tmpfs, {size >> 20} MiB and {inodes} inodes")
            self.set(
                "rofs", True, "every mount read-only but the scratch (a mount namespace per child)"
            )
        except OSError as exc:
            self.set(
                "scratch",
                False,
                f"scratch on disk without a size cap (tmpfs mount failed: {exc.strerror or exc})",
            )
            self.set("rofs", False, "needs the scratch's own mount")

    def setup_task_limits(self) -> None:
        """A private IPC namespace per child (nothing of SysV IPC or POSIX message queues
        outlives it or reaches another), and a pids cgroup that caps each child's threads
        and processes whatever its uid (root ignores ``RLIMIT_NPROC``).

        The zygote joins that cgroup itself, once: its children are born in it, one at a
        time, so ``pids.max`` = the child's NPROC + 1 (the zygote) caps each child. (A
        child joining a cgroup of its own cost ~10 ms per child: moving a task between
        cgroup v1 groups waits for an RCU grace period.)"""
        if _linux.SUPPORTED:
            self.set("ipcns", True, "private IPC namespace per child")
        else:
            self.set("ipcns", False, f"unsupported platform {sys.platform}/{_linux.MACHINE}")
        try:
            if not self.real_root:
                raise OSError(0, "not running as root")
            if not os.path.isfile(os.path.join(_linux.PIDS_HIERARCHY, "cgroup.procs")):
                raise OSError(0, f"no cgroup v1 pids hierarchy at {_linux.PIDS_HIERARCHY}")
            path = _linux.pids_cgroup(self.base)
            _linux.remove_cgroup(path)  # left by this sandbox's previous zygote, if it died
            home = _linux.own_pids_cgroup()
            os.mkdir(path, 0o700)
            try:
                _linux.join_cgroup(path)
            except OSError:
                os.rmdir(path)
                raise
            self.cgroup, self.home_cgroup = path, home
            self.set(
                "pids",
                True,
                "pids cgroup of the zygote and its one child (the child's tasks capped at NPROC)",
            )
        except OSError as exc:
            self.set("pids", False, f"no pids cgroup: {exc.strerror or exc}")

    def cap_tasks(self, nproc: int) -> None:
        """Before a fork: the next child (the zygote's only one) may hold ``nproc`` tasks."""
        if self.cgroup is not None and nproc != self._tasks_cap:
            with open(os.path.join(self.cgroup, "pids.max"), "w") as fh:
                fh.write(str(int(nproc) + 1))
            self._tasks_cap = nproc

    def leave_cgroup(self) -> None:
        """At the zygote's exit: back to the cgroup it came from, and its own removed."""
        if self.cgroup is not None and self.home_cgroup is not None:
            with contextlib.suppress(OSError):
                _linux.join_cgroup(self.home_cgroup)
            _linux.remove_cgroup(self.cgroup)

    def uid_problem(self, paths: list[str], read_last: bool = True) -> str | None:
        """Why ``self.uid`` could not read ``paths`` (None when it can); with ``read_last``
        false, reaching them (search permission on every folder) is enough."""
        for path in paths:
            parts = os.path.realpath(path).split(os.sep)
            for i in range(1, len(parts) + 1):
                sub = os.sep.join(parts[:i]) or os.sep
                try:
                    st = os.stat(sub)
                except OSError:
                    break
                mode = st.st_mode
                if st.st_uid == self.uid:
                    continue
                is_dir = os.path.isdir(sub)
                last = read_last and i == len(parts)
                need = 0o005 if is_dir and last else (0o001 if is_dir else 0o004)
                if mode & need != need:
                    return f"{sub} (mode {mode & 0o7777:04o}) is not accessible to uid {self.uid}"
        return None

    def detect(self) -> None:
        """Decide which per-child layers work here by confining a test child."""
        root = os.geteuid() == 0
        abi = landlock.abi_version() if _linux.SUPPORTED else 0
        self.landlock_abi = abi
        if abi >= 1:
            parts = (
                ["file system"]
                + (["TCP"] if abi >= 4 else [])
                + (["signals", "abstract sockets"] if abi >= 6 else [])
            )
            self.set("landlock", True, f"ABI {abi}: " + ", ".join(parts))
        else:
            self.set("landlock", False, "Landlock not supported or disabled in this kernel")
        if _linux.AUDIT_ARCH is not None:
            from . import seccomp

            self.set(
                "seccomp",
                True,
                f"BPF allowlist of {seccomp.allowed_count()} system "
                "calls (threads, no processes; signals to itself); the rest refused",
            )
        else:
            self.set("seccomp", False, f"no seccomp filter for {sys.platform}/{_linux.MACHINE}")
        caps = (
            "uid 0 with every capability dropped"
            if self.real_root
            else "root of the zygote's user namespace, every capability dropped"
        )
        if not self.real_root:
            self.set("uid", False, "not running as root: children keep the grader's uid")
            self.set("caps", root, caps if root else "not root: no capabilities to drop")
        else:
            # the children read the interpreter, and the submissions in the sandbox's folder
            problem = self.uid_problem(self.interpreter_paths()) or self.uid_problem(
                [self.base], read_last=False
            )
            if problem:
                self.set("uid", False, problem)
                self.set("caps", True, caps)
            else:
                self.set("uid", True, f"setuid to dedicated uid {self.uid}")
                self.set("caps", False, "not needed: uid dropped")
        self.set("rlimits", True, "")
        for _ in range(4):
            failed = self._test_child()
            if failed is None:
                break
            name, reason = failed
            self.set(name, False, reason)
            if name == "uid" and root:
                self.set("caps", True, caps)
        self.set(
            "rlimits",
            True,
            "CPU, AS, FSIZE, NOFILE, CORE"
            + (", NPROC" if self.on("uid") else " (no NPROC: children share a uid)"),
        )

    def interpreter_paths(self) -> list[str]:
        """Read-only roots that hold the interpreter, its stdlib and its packages.

        ``<prefix>/lib*`` of each prefix, plus ``sys.path`` entries inside a prefix or named
        site-/dist-packages; never the repo, a probe folder, or an ancestor of one. (The
        test child checks that the repo really is unreadable.)
        """
        if self._ro_paths is not None:
            return self._ro_paths
        protected = [self.repo, *self.probe_dirs, self.base]
        prefixes = [
            os.path.realpath(p)
            for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
        ]
        # The library folders of each prefix (stdlib, lib-dynload, site-packages), not the
        # whole prefix: a base prefix may be /usr.
        cands = [
            os.path.join(p, sub)
            for p in prefixes
            for sub in ("lib", "lib64", "lib32")
            if os.path.isdir(os.path.join(p, sub))
        ]
        for entry in sys.path:
            if not entry or not os.path.isdir(entry):
                continue
            real = os.path.realpath(entry)
            if any(is_within(real, p) for p in prefixes) or os.path.basename(real) in (
                "site-packages",
                "dist-packages",
            ):
                cands.append(real)
        out: list[str] = []
        for real in cands:
            real = os.path.realpath(real)
            if real == os.sep or any(is_within(p, real) for p in protected):
                continue  # never the repo, a probe folder, or one of their ancestors
            out.append(real)
        # Drop entries nested in another entry.
        out = sorted(set(out))
        return [p for p in out if not any(p != q and is_within(p, q) for q in out)]

    def freeze_paths(self) -> None:
        """Compute the read-only set and the child's sys.path once, after all imports."""
        self._ro_paths = None
        self._ro_paths = self.interpreter_paths()
        self._sys_path = self.child_sys_path(self._ro_paths)

    def child_sys_path(self, granted: list[str]) -> list[str]:
        protected = [self.repo, *self.probe_dirs]
        path = []
        for entry in sys.path:
            if not entry:
                continue
            real = os.path.realpath(entry)
            if any(
                is_within(real, p) and not any(is_within(real, g) for g in granted)
                for p in protected
            ):
                continue
            if any(is_within(real, g) for g in granted):
                path.append(entry)
        return path

    def active(self) -> dict[str, bool]:
        return {k: v["active"] for k, v in self.report.items()}

    def _test_child(self) -> tuple[str, str] | None:
        """Fork a child that confines itself and tries to break out; None when all held."""
        work = tempfile.mkdtemp(prefix="layer-test-", dir=self.base)
        scratch = tempfile.mkdtemp(prefix="layer-test-", dir=self.scratch_root)
        secret = os.path.join(work, "secret.txt")
        with open(secret, "w") as fh:
            fh.write("secret")
        if self.on("uid"):
            os.chmod(work, 0o711)
        plan = self.plan(
            scratch,
            scratch,
            None,
            1.0,
            {
                "memory": 1 << 30,
                "fsize": 1 << 20,
                "nofile": 64,
                "nproc": 64,
                "cpu": None,
                "stream": 4096,
            },
        )
        r, w = os.pipe()  # not inheritable (PEP 446); fork keeps it
        pid = self.fork()
        if pid == 0:
            self._test_child_body(plan, w, secret)
        os.close(w)
        data = b""
        while chunk := os.read(r, 65536):
            data += chunk
        os.close(r)
        os.waitpid(pid, 0)
        for path in (work, scratch):
            shutil.rmtree(path, ignore_errors=True)
        try:
            report = json.loads(data)
        except ValueError:
            return (
                "seccomp" if self.on("seccomp") else "landlock",
                "test child died during confinement",
            )
        if report.get("failed"):
            return report["failed"], report["reason"]
        return None

    def _test_child_body(self, plan: ChildPlan, w: int, secret: str) -> None:
        from . import confine

        result: dict[str, Any] = {}
        try:
            trace: list[str] = []
            try:
                confine.confine(plan, (w,), trace)
            except BaseException as exc:
                stage = trace[-1] if trace else "rlimits"
                result = {
                    "failed": stage,
                    "reason": f"{stage} failed in the test child: {type(exc).__name__}: {exc}",
                }
                return
            checks: list[tuple[str, Callable[[], object], str]] = []
            if plan["layers"].get("landlock"):
                checks.append(("landlock", lambda: _read(secret), "read a file outside"))
                checks.append(
                    (
                        "landlock",
                        lambda: _read(os.path.join(self.repo, "autograder", "__init__.py")),
                        "read the kit's repository",
                    )
                )
            if plan["layers"].get("seccomp"):
                checks.append(("seccomp", lambda: socket.socket(), "create a socket"))
                checks.append(("seccomp", os.fork, "fork"))
            for layer, fn, what in checks:
                try:
                    got = fn()
                except OSError:
                    continue
                if got == 0 and what == "fork":
                    os._exit(0)
                result = {
                    "failed": layer,
                    "reason": f"{layer} did not stop the test child from trying to {what}",
                }
                return
            box: list[int] = []
            t = threading.Thread(target=lambda: box.append(1))
            t.start()
            t.join()
            if box != [1]:
                result = {"failed": "seccomp", "reason": "threads do not work under seccomp"}
        except BaseException as exc:
            result = {"failed": "seccomp", "reason": f"test child error {exc!r}"}
        finally:
            with contextlib.suppress(BaseException):
                os.write(w, json.dumps(result).encode())
            os._exit(0)

    def plan(
        self,
        scratch: str,
        submission: str,
        package: str | None,
        budget: float,
        limits: SessionLimits,
        modules: tuple[str, ...] | list[str] = (),
    ) -> ChildPlan:
        ro = [*self.interpreter_paths(), *SYSTEM_READ_ONLY, submission]
        rw = [scratch, *SYSTEM_READ_WRITE]
        self.cap_tasks(limits["nproc"])
        return {
            "scratch": scratch,
            "submission": submission,
            "package": package,
            "scratch_root": self.scratch_root,
            "budget": budget,
            "limits": limits,
            "ro": ro,
            "rw": rw,
            "modules": list(modules),
            "layers": self.active(),
            "uid": self.uid,
            "landlock_abi": self.landlock_abi,
            "cap_last": self.cap_last,
            "sys_path": self._sys_path if self._sys_path is not None else self.child_sys_path(ro),
        }

    def fork(self) -> int:
        """``os.fork()``, the child being pid 1 of a fresh PID namespace when possible."""
        sys.stdout.flush()
        sys.stderr.flush()
        pidns = self.on("pidns")
        if pidns:
            _linux.unshare(_linux.CLONE_NEWPID)
        try:
            return os.fork()
        finally:
            if pidns and os.getpid() != 1:  # the parent goes back to its own namespace
                _linux.setns(self.pidns_fd, _linux.CLONE_NEWPID)


def _read(path: str) -> str:
    with open(path) as fh:
        return fh.read()
