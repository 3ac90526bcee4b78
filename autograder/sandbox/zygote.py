"""The zygote: a warm interpreter that forks one confined child per session.

Started by :class:`autograder.sandbox.Sandbox` as ``python -I -B -c <boot> ROOT CONFIG FD``
with a whitelisted environment (thread variables = 1 before NumPy/torch load). It:

1. moves itself into a private network namespace (no interfaces up), so every child
   inherits one;
2. checks which layers work on this machine by forking a test child that confines itself
   and then tries to escape (read a file, open a socket, fork, start a thread);
3. imports NumPy, the preload list (torch: imported, never run: a fork after an OpenMP
   region deadlocks) and the trusted probe modules; never a reference solution or a grader
   (checked before every fork);
4. serves JSON lines on the control socket, one session at a time: ``open`` forks a
   child (pid 1 of a fresh PID namespace when possible) and waits for its setup report on
   a private pipe; ``call`` hands it one request, continues it (SIGCONT), waits for its
   "done" byte with a wall timeout (SIGKILL, then ``wait4``) and stops it again (SIGSTOP);
   ``close`` kills and reaps it. Replies carry the child's state: alive, or dead with its
   wait status and rusage.

The zygote never reads student output; the grading parent does, after the reply, when the
child is stopped or dead.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import json
import os
import select
import signal
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any

from . import _linux, landlock

PROBE_PACKAGE = "autograder.probes"
FORBIDDEN_PREFIXES = ("solutions", "_reference_", "autograder.graders", "autograder.hidden")
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
# Imported along with "torch": modules torch loads lazily at great cost (torch.optim's first
# step imports torch._dynamo, ~1 s). Imports only: no torch op runs in the zygote.
TORCH_EXTRAS = ("torch._dynamo", "torch.optim", "torch.nn.functional")
SETUP_TIMEOUT = 30.0  # seconds for a session's child to confine itself
SYSTEM_READ_WRITE = ("/dev/null",)


def _is_within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class Zygote:
    def __init__(self, config: dict[str, Any], ctl_fd: int) -> None:
        self.config = config
        self.ctl = ctl_fd
        self.inbuf = b""
        self.base = config["base"]
        self.repo = os.path.realpath(config["repo"])
        self.probe_dirs = [os.path.realpath(p) for p in config.get("probe_dirs", ())]
        self.uid = int(config["uid"])
        self.scratch_root = os.path.join(self.base, "scratch")
        self.layers: dict[str, dict[str, Any]] = {}
        self.real_root = os.geteuid() == 0  # before any user namespace makes us "root"
        self.pidns_fd = -1
        self.landlock_abi = 0
        self._ro_paths: list[str] | None = None
        self._sys_path: list[str] | None = None
        self._modules_checked: set[str] = set()
        self._probe_ok: set[str] = set()
        self.oom_seen = self._oom_kills()
        self.child: _Child | None = None  # of the open session
        self.cgroup: str | None = None  # this zygote's pids cgroup, holding one per child
        self.children_made = 0
        self.cap_last = 63
        with contextlib.suppress(OSError, ValueError), open("/proc/sys/kernel/cap_last_cap") as fh:
            self.cap_last = int(fh.read())

    # ------------------------------------------------------------------ layers

    def _set(self, name: str, active: bool, detail: str) -> None:
        self.layers[name] = {"active": bool(active), "detail": detail}

    def setup_namespaces(self) -> None:
        root = os.geteuid() == 0
        if not _linux.SUPPORTED:
            for name in ("netns", "pidns"):
                self._set(name, False, f"unsupported platform {sys.platform}/{_linux.MACHINE}")
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
            self._set(
                "netns",
                True,
                "private network namespace (no interface up)"
                + ("" if root else " inside a user namespace"),
            )
        except OSError as exc:
            self._set("netns", False, f"unshare(CLONE_NEWNET) failed: {exc.strerror or exc}")
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
            self._set("pidns", True, "fresh PID namespace per child (child is pid 1)")
        except OSError as exc:
            if self.pidns_fd >= 0:
                with contextlib.suppress(OSError):
                    _linux.setns(self.pidns_fd, _linux.CLONE_NEWPID)
                os.close(self.pidns_fd)
                self.pidns_fd = -1
            self._set("pidns", False, f"per-call PID namespace unavailable: {exc.strerror or exc}")

    def setup_scratch(self) -> None:
        """Mount a size-capped tmpfs on the scratch root, private to this zygote's mount ns.

        Children inherit it; the parent reaches it through a directory fd sent with the
        hello message. Fast (no disk) and bounded in bytes and inodes (threat: fill the
        disk); it vanishes with the zygote. Falls back to a plain folder on disk.
        """
        size, inodes = int(self.config["scratch_size"]), int(self.config["scratch_inodes"])
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
            self._set("scratch", True, f"private tmpfs, {size >> 20} MiB and {inodes} inodes")
            self._set(
                "rofs", True, "every mount read-only but the scratch (a mount namespace per child)"
            )
        except OSError as exc:
            self._set(
                "scratch",
                False,
                f"scratch on disk without a size cap (tmpfs mount failed: {exc.strerror or exc})",
            )
            self._set("rofs", False, "needs the scratch's own mount")

    def setup_task_limits(self) -> None:
        """A private IPC namespace per child (nothing of SysV IPC or POSIX message queues
        outlives it or reaches another), and a pids cgroup per child, capping its threads
        and processes whatever its uid (root ignores ``RLIMIT_NPROC``)."""
        if _linux.SUPPORTED:
            self._set("ipcns", True, "private IPC namespace per child")
        else:
            self._set("ipcns", False, f"unsupported platform {sys.platform}/{_linux.MACHINE}")
        try:
            if not self.real_root:
                raise OSError(0, "not running as root")
            if not os.path.isfile(os.path.join(_linux.PIDS_HIERARCHY, "cgroup.procs")):
                raise OSError(0, f"no cgroup v1 pids hierarchy at {_linux.PIDS_HIERARCHY}")
            path = _linux.pids_cgroup(self.base)
            _linux.remove_cgroup(path)  # left by this sandbox's previous zygote, if it died
            os.mkdir(path, 0o700)
            self.cgroup = path
            self._set("pids", True, "pids cgroup per child (its tasks capped at NPROC)")
        except OSError as exc:
            self._set("pids", False, f"no pids cgroup: {exc.strerror or exc}")

    def _child_cgroup(self, nproc: int) -> str | None:
        """A fresh pids cgroup for the next child, at most ``nproc`` tasks (the children's
        earlier cgroups, empty once they are dead, are removed first)."""
        if self.cgroup is None or not self.layers["pids"]["active"]:
            return None
        for name in os.listdir(self.cgroup):
            if name.startswith("child-"):
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.join(self.cgroup, name))
        self.children_made += 1
        path = os.path.join(self.cgroup, f"child-{self.children_made}")
        os.mkdir(path, 0o700)
        with open(os.path.join(path, "pids.max"), "w") as fh:
            fh.write(str(int(nproc)))
        return path

    def _uid_problem(self, paths: list[str], read_last: bool = True) -> str | None:
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
            self._set("landlock", True, f"ABI {abi}: " + ", ".join(parts))
        else:
            self._set("landlock", False, "Landlock not supported or disabled in this kernel")
        if _linux.AUDIT_ARCH is not None:
            from . import seccomp

            self._set(
                "seccomp",
                True,
                f"BPF allowlist of {seccomp.allowed_count()} system "
                "calls (threads, no processes; signals to itself); the rest refused",
            )
        else:
            self._set("seccomp", False, f"no seccomp filter for {sys.platform}/{_linux.MACHINE}")
        caps = (
            "uid 0 with every capability dropped"
            if self.real_root
            else "root of the zygote's user namespace, every capability dropped"
        )
        if not self.real_root:
            self._set("uid", False, "not running as root: children keep the grader's uid")
            self._set("caps", root, caps if root else "not root: no capabilities to drop")
        else:
            # the children read the interpreter, and the submissions in the sandbox's folder
            problem = self._uid_problem(self.interpreter_paths()) or self._uid_problem(
                [self.base], read_last=False
            )
            if problem:
                self._set("uid", False, problem)
                self._set("caps", True, caps)
            else:
                self._set("uid", True, f"setuid to dedicated uid {self.uid}")
                self._set("caps", False, "not needed: uid dropped")
        self._set("rlimits", True, "")
        for _ in range(4):
            failed = self._test_child()
            if failed is None:
                break
            name, reason = failed
            self._set(name, False, reason)
            if name == "uid" and root:
                self._set("caps", True, caps)
        self._set(
            "rlimits",
            True,
            "CPU, AS, FSIZE, NOFILE, CORE"
            + (", NPROC" if self.layers["uid"]["active"] else " (no NPROC: children share a uid)"),
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
            if any(_is_within(real, p) for p in prefixes) or os.path.basename(real) in (
                "site-packages",
                "dist-packages",
            ):
                cands.append(real)
        out: list[str] = []
        for real in cands:
            real = os.path.realpath(real)
            if real == os.sep or any(_is_within(p, real) for p in protected):
                continue  # never the repo, a probe folder, or one of their ancestors
            out.append(real)
        # Drop entries nested in another entry.
        out = sorted(set(out))
        return [p for p in out if not any(p != q and _is_within(p, q) for q in out)]

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
                _is_within(real, p) and not any(_is_within(real, g) for g in granted)
                for p in protected
            ):
                continue
            if any(_is_within(real, g) for g in granted):
                path.append(entry)
        return path

    def active(self) -> dict[str, bool]:
        return {k: v["active"] for k, v in self.layers.items()}

    def _test_child(self) -> tuple[str, str] | None:
        """Fork a child that confines itself and tries to break out; None when all held."""
        work = tempfile.mkdtemp(prefix="layer-test-", dir=self.base)
        scratch = tempfile.mkdtemp(prefix="layer-test-", dir=self.scratch_root)
        secret = os.path.join(work, "secret.txt")
        with open(secret, "w") as fh:
            fh.write("secret")
        if self.layers["uid"]["active"]:
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
        pid = self._fork()
        if pid == 0:
            self._test_child_body(plan, w, secret)
        os.close(w)
        data = b""
        while chunk := os.read(r, 65536):
            data += chunk
        os.close(r)
        os.waitpid(pid, 0)
        import shutil

        for path in (work, scratch):
            shutil.rmtree(path, ignore_errors=True)
        try:
            report = json.loads(data)
        except ValueError:
            return (
                "seccomp" if self.layers["seccomp"]["active"] else "landlock",
                "test child died during confinement",
            )
        if report.get("failed"):
            return report["failed"], report["reason"]
        return None

    def _test_child_body(self, plan: dict[str, Any], w: int, secret: str) -> None:
        from . import child

        result: dict[str, Any] = {}
        try:
            trace: list[str] = []
            try:
                child.confine(plan, (w,), trace)
            except BaseException as exc:
                stage = trace[-1] if trace else "rlimits"
                result = {
                    "failed": stage,
                    "reason": f"{stage} failed in the test child: {type(exc).__name__}: {exc}",
                }
                return
            checks = []
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

    # ------------------------------------------------------------------ imports

    def preload(self) -> None:
        for d in self.probe_dirs:
            if d not in sys.path:
                sys.path.append(d)
        import numpy.random  # noqa: F401  (lazy in NumPy 2: 10 ms in every child otherwise)

        import autograder.plain  # noqa: F401

        from . import child  # noqa: F401

        for name in self.config.get("preload", ()):
            importlib.import_module(name)
            if name == "torch":
                for extra in TORCH_EXTRAS:
                    importlib.import_module(extra)
        for name in self.config.get("probes", ()):
            self.import_probe_module(name)
        self.check_forbidden()
        self.check_single_thread()

    @staticmethod
    def check_single_thread() -> None:
        """A fork copies one thread; a zygote with more (an OpenMP pool) is not fork-safe."""
        with contextlib.suppress(OSError):
            tasks = os.listdir("/proc/self/task")
            if len(tasks) != 1:
                raise RuntimeError(
                    f"the zygote has {len(tasks)} threads after its imports; "
                    "forking it is unsafe (did a preload run a torch op?)"
                )

    def import_probe_module(self, name: str) -> Any:
        """Import a trusted probe module (allow-listed: never an arbitrary module)."""
        if name not in self._probe_ok:
            allowed = name == PROBE_PACKAGE or name.startswith(PROBE_PACKAGE + ".")
            if not allowed and self.probe_dirs:
                top = name.split(".")[0]
                spec = importlib.machinery.PathFinder.find_spec(top, self.probe_dirs)
                allowed = spec is not None and top not in sys.builtin_module_names
                known = sys.modules.get(top)
                if allowed and known is not None:  # loaded from elsewhere (stdlib, numpy...)
                    origin = getattr(known, "__file__", None) or ""
                    allowed = any(_is_within(os.path.realpath(origin), d) for d in self.probe_dirs)
            if not allowed:
                raise ImportError(
                    f"{name} is not a probe module (only {PROBE_PACKAGE}.* or "
                    "modules in the configured probe folders)"
                )
            self._probe_ok.add(name)
        module = importlib.import_module(name)
        self.check_forbidden()
        return module

    def check_forbidden(self) -> None:
        solutions = os.path.join(self.repo, "solutions")
        if len(sys.modules) == len(self._modules_checked):
            return
        for name, module in list(sys.modules.items()):
            if name in self._modules_checked:
                continue
            self._modules_checked.add(name)
            bad = name.startswith(FORBIDDEN_PREFIXES)
            if not bad:
                origin = getattr(module, "__file__", None)
                bad = isinstance(origin, str) and _is_within(os.path.realpath(origin), solutions)
            if bad:
                raise RuntimeError(f"forbidden module {name!r} was imported into the zygote")

    # ------------------------------------------------------------------ calls

    def plan(
        self,
        scratch: str,
        submission: str,
        package: str | None,
        budget: float,
        limits: dict[str, Any],
        modules: tuple[str, ...] | list[str] = (),
    ) -> dict[str, Any]:
        ro = [*self.interpreter_paths(), *SYSTEM_READ_ONLY, submission]
        rw = [scratch, *SYSTEM_READ_WRITE]
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
            "cgroup": self._child_cgroup(limits["nproc"]),
            "sys_path": self._sys_path if self._sys_path is not None else self.child_sys_path(ro),
        }

    def _fork(self) -> int:
        """``os.fork()``, the child being pid 1 of a fresh PID namespace when possible."""
        sys.stdout.flush()
        sys.stderr.flush()
        pidns = self.layers["pidns"]["active"]
        if pidns:
            _linux.unshare(_linux.CLONE_NEWPID)
        try:
            return os.fork()
        finally:
            if pidns and os.getpid() != 1:  # the parent goes back to its own namespace
                _linux.setns(self.pidns_fd, _linux.CLONE_NEWPID)

    def _oom_kills(self) -> int:
        with contextlib.suppress(OSError, ValueError), open("/proc/vmstat") as fh:
            for line in fh:
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
        return -1

    def open(self, req: dict[str, Any]) -> dict[str, Any]:
        """Fork the session's child, wait until it is confined (or failed to be)."""
        self._end()
        try:
            names = [str(name) for name in req["modules"]]
            for name in names:
                self.import_probe_module(name)
            self.check_single_thread()
            self.check_forbidden()
        except Exception as exc:
            return {
                "ok": False,
                "error": f"probe modules {req.get('modules')!r}: {type(exc).__name__}: {exc}",
            }
        name = str(req["scratch"])
        if "/" in name or name in ("", ".", ".."):
            return {"ok": False, "error": f"bad scratch name {name!r}"}
        if self.layers["uid"]["active"]:
            problem = self._uid_problem([req["submission"]])
            if problem:
                return {
                    "ok": False,
                    "error": f"submission not readable by the sandbox uid: {problem}",
                }
        plan = self.plan(
            os.path.join(self.scratch_root, name),
            req["submission"],
            req.get("package"),
            float(req["budget"]),
            req["limits"],
            names,
        )
        from . import child

        ready_r, ready_w = os.pipe()  # not inheritable (PEP 446); fork keeps them
        requests_r, requests_w = os.pipe()
        done_r, done_w = os.pipe()
        try:
            pid = self._fork()
        except OSError:
            for fd in (ready_r, ready_w, requests_r, requests_w, done_r, done_w):
                os.close(fd)
            raise
        if pid == 0:
            try:
                child.serve(plan, ready_w, requests_r, done_w)
            finally:
                os._exit(70)
        for fd in (ready_w, requests_r, done_w):
            os.close(fd)
        self.child = _Child(pid, _pidfd(pid), requests_w, done_r, names)
        setup = b""
        deadline = time.monotonic() + SETUP_TIMEOUT
        # the report, then end of file (the child closed the pipe and waits for requests)
        while (event := self._wait(ready_r, deadline)) == "fd" and (
            chunk := os.read(ready_r, 65536)
        ):
            setup += chunk
        os.close(ready_r)
        try:
            report = json.loads(setup)
        except ValueError:
            report = {"ok": False, "error": f"no setup report (the child: {event})"}
        if event != "fd" or not report.get("ok"):
            return {**self._end(), "opened": False, "setup": report}
        os.set_blocking(requests_w, False)
        os.set_blocking(done_r, False)
        ended = self._stop()
        return (
            {**ended, "opened": False, "setup": report}
            if ended
            else {"ok": True, "opened": True, "setup": report}
        )

    def call(self, req: dict[str, Any]) -> dict[str, Any]:
        """Run one call in the session's child: continue it, wait for its "done" byte (or
        its death, or the deadline), stop it again. The child is dead in the reply unless
        ``alive``."""
        c = self.child
        if c is None:
            return {"ok": False, "error": "no open session"}
        module, _, function = str(req["probe"]).partition(":")
        if module not in c.modules or not callable(getattr(sys.modules[module], function, None)):
            return {
                "ok": False,
                "error": f"{req['probe']!r} is no function of the session's "
                f"probe modules {c.modules}",
            }
        request = json.dumps({"probe": str(req["probe"]), "call": str(req["call"])}) + "\n"
        _drain(c.done)
        before = _cpu_seconds(c.pid)
        started = time.monotonic()
        try:
            os.write(c.requests, request.encode())
        except OSError:  # the child stopped reading its requests: it is finished
            return self._end(started, before)
        os.kill(c.pid, signal.SIGCONT)
        event = self._wait(c.done, started + float(req["timeout"]))
        if event != "fd":
            return self._end(started, before, timed_out=event == "timeout")
        ended = self._stop(started, before)
        if ended:  # it died just after it said done
            return ended
        return {
            "ok": True,
            "alive": True,
            "wall": time.monotonic() - started,
            "cpu": max(_cpu_seconds(c.pid) - before, 0.0),
            "maxrss_kib": _peak_kib(c.pid),
        }

    def close(self, req: dict[str, Any] | None = None) -> dict[str, Any]:
        """End the session: its child (if any) is killed and reaped."""
        return self._end()

    def _end(
        self, started: float | None = None, cpu_before: float = 0.0, timed_out: bool = False
    ) -> dict[str, Any]:
        """Kill the session's child (if any), reap it, and say how it ended."""
        c, self.child = self.child, None
        if c is None:
            return {"ok": True, "alive": False}
        if c.ended is None:
            self._kill(c.pid, c.pidfd)
            _, status, usage = os.wait4(c.pid, 0)
        else:
            status, usage = c.ended
        for fd in (c.pidfd, c.requests, c.done):
            if fd >= 0:
                os.close(fd)
        if not self.layers["pidns"]["active"] and self.layers["uid"]["active"]:
            self._sweep_uid()
        oom = False
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL and not timed_out:
            count = self._oom_kills()
            oom = count > self.oom_seen >= 0
            self.oom_seen = count
        return {
            "ok": True,
            "alive": False,
            "status": status,
            "timed_out": timed_out,
            "oom": oom,
            "wall": time.monotonic() - started if started else 0.0,
            "cpu": max(usage.ru_utime + usage.ru_stime - cpu_before, 0.0),
            "cpu_total": usage.ru_utime + usage.ru_stime,
            "maxrss_kib": usage.ru_maxrss,
        }

    def _stop(self, started: float | None = None, cpu_before: float = 0.0) -> dict[str, Any] | None:
        """SIGSTOP the child and wait until it is stopped, so that nothing of the student
        runs while the parent reads what it wrote. None, or how it ended if it died."""
        c = self.child
        assert c is not None
        os.kill(c.pid, signal.SIGSTOP)
        _, status, usage = os.wait4(c.pid, os.WUNTRACED)
        if os.WIFSTOPPED(status):
            return None
        c.ended = (status, usage)  # reaped: it died before the stop
        return self._end(started, cpu_before)

    def _wait(self, fd: int, deadline: float) -> str:
        """Wait until ``fd`` is readable ("fd"), the child died ("dead") or ``deadline``
        passed ("timeout"). When the grading parent is gone: kill the child and leave."""
        c = self.child
        assert c is not None
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            fds = [self.ctl, fd] + ([c.pidfd] if c.pidfd >= 0 else [])
            # no pidfd (old kernel, not Linux): poll for the child's death
            readable, _, _ = select.select(fds, [], [], left if c.pidfd >= 0 else min(left, 0.005))
            if self.ctl in readable:
                chunk = os.read(self.ctl, 65536)
                if not chunk:
                    self._end()
                    sys.exit(0)
                self.inbuf += chunk
            if fd in readable:
                return "fd"
            if c.pidfd in readable or (c.pidfd < 0 and _dead(c.pid)):
                return "dead"

    @staticmethod
    def _kill(pid: int, pidfd: int) -> None:
        with contextlib.suppress(OSError):
            if pidfd >= 0:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)

    def _sweep_uid(self) -> None:
        """Kill every process of the slot uid (fallback when there is no PID namespace)."""
        for _ in range(3):
            found = False
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    if os.stat(f"/proc/{entry}").st_uid == self.uid:
                        os.kill(int(entry), signal.SIGKILL)
                        found = True
                except OSError:
                    continue
            if not found:
                return
            time.sleep(0.01)

    # ------------------------------------------------------------------ protocol

    def send(self, msg: dict[str, Any], fds: list[int] | None = None) -> None:
        data = (json.dumps(msg) + "\n").encode()
        view = memoryview(data)
        if fds:
            sock = socket.socket(fileno=self.ctl)
            try:
                sent = socket.send_fds(sock, [data], fds)
            finally:
                sock.detach()
            view = view[sent:]
        while view:
            view = view[os.write(self.ctl, view) :]

    def recv(self) -> dict[str, Any] | None:
        while b"\n" not in self.inbuf:
            chunk = os.read(self.ctl, 65536)
            if not chunk:
                return None
            self.inbuf += chunk
        line, _, self.inbuf = self.inbuf.partition(b"\n")
        return json.loads(line)

    def serve(self) -> None:
        while True:
            req = self.recv()
            if req is None or req.get("op") == "exit":
                return
            op = req.get("op")
            if op in ("open", "call", "close"):
                try:
                    reply = getattr(self, op)(req)
                except Exception as exc:  # e.g. fork() refused: the grader hears of it
                    reply = {
                        "ok": False,
                        "error": f"sandbox {op} failed: {type(exc).__name__}: {exc}",
                    }
            elif op == "ping":
                reply = {"ok": True, "pid": os.getpid()}
            else:
                reply = {"ok": False, "error": f"unknown op {op!r}"}
            self.send(reply)


@dataclass
class _Child:
    """The child of the open session, with the zygote's ends of its pipes."""

    pid: int
    pidfd: int  # -1 without pidfd_open (old kernel, not Linux)
    requests: int
    done: int
    modules: list[str]  # the probe modules its calls may use
    ended: tuple[int, Any] | None = None  # wait status and rusage, once reaped


def _pidfd(pid: int) -> int:
    try:
        return os.pidfd_open(pid)
    except (OSError, AttributeError):
        return -1


def _dead(pid: int) -> bool:
    """Whether the child exited (without reaping it)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _drain(fd: int) -> None:
    with contextlib.suppress(OSError):
        while os.read(fd, 4096):
            pass


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a living child, from /proc (0 where there is none)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rpartition(b")")[2].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def _peak_kib(pid: int) -> int:
    """Peak resident memory (VmHWM) of a living child, in KiB."""
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, IndexError, ValueError):
        pass
    return 0


def _read(path: str) -> str:
    with open(path) as fh:
        return fh.read()


def main(config_json: str, ctl_fd: int) -> None:
    config = json.loads(config_json)
    zygote = Zygote(config, ctl_fd)
    try:
        zygote.setup_namespaces()
        zygote.setup_scratch()
        zygote.setup_task_limits()
        zygote.detect()
        zygote.preload()
        zygote.freeze_paths()
        from . import seccomp

        seccomp.build(1)  # cached for the children (pid 1 in their PID namespace)
        import gc

        gc.collect()
        gc.freeze()  # children share these pages instead of touching them in each collection
        with open("/proc/self/statm", "rb") as fh:
            vmsize = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        root_fd = os.open(zygote.scratch_root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        zygote.send(
            {
                "ok": True,
                "hello": True,
                "pid": os.getpid(),
                "layers": zygote.layers,
                "vmsize": vmsize,
                "python": sys.version.split()[0],
            },
            fds=[root_fd],
        )
        os.close(root_fd)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            zygote.send({"ok": False, "error": f"zygote start failed: {type(exc).__name__}: {exc}"})
        raise
    try:
        zygote.serve()
    finally:
        if zygote.cgroup is not None:
            zygote.close()
            _linux.remove_cgroup(zygote.cgroup)
