"""The zygote: a warm interpreter that forks one confined child per session.

Started by :class:`autograder.sandbox.Sandbox` as ``python -I -B -c <boot> ROOT CONFIG FD``
with a whitelisted environment (thread variables = 1 before NumPy/torch load). It:

1. sets up its own layers and finds out which per-child layers work on this machine
   (:mod:`.layers`: a private network namespace, the scratch tmpfs, a test child that
   confines itself and then tries to escape);
2. imports NumPy, the preload list (torch: imported, never run: a fork after an OpenMP
   region deadlocks) and the trusted probe modules; never a reference solution or a grader
   (checked before every fork);
3. serves JSON lines on the control socket, one session at a time: ``open`` forks a
   child (pid 1 of a fresh PID namespace when possible), which confines itself
   (:mod:`.confine`) and serves calls (:mod:`.child`), waits for its setup report on a
   private pipe, stops it (SIGSTOP) and passes the parent the child's requests and "done"
   pipes with the reply, once; ``end`` kills the child if need be, reaps it and says how
   it ended (wait status, rusage, whether the OOM killer took it), or, with ``"reap":
   false`` (a session that ends with its child stopped, no verdict to make), kills it and
   answers at once: the kernel tears the child down while the parent goes on, and the
   zygote reaps it before it serves the next message (above all before the next fork:
   the pids cgroup and ``RLIMIT_NPROC`` count the dying child's tasks until it is reaped);
   ``stop`` stops it for a parent that cannot see the child's threads in /proc.

The calls themselves never pass through the zygote: the parent writes the child's
requests, continues it, waits for its "done" bytes and stops it. The zygote waits on the
control socket meanwhile, the child's only parent: nothing reaps it but ``end``, so its pid
stays the child's (a zombie's at worst) while the grading parent signals it. When the
parent goes, the zygote kills the child and leaves; the child dies with the zygote
(parent-death signal). The zygote never reads student output.
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
import time
from dataclasses import dataclass
from typing import Any

from .layers import Layers, is_within
from .protocol import TORCH_EXTRAS, Ended, Open, ZygoteConfig

PROBE_PACKAGE = "autograder.probes"
FORBIDDEN_PREFIXES = ("solutions", "_reference_", "autograder.graders", "autograder.hidden")
SETUP_TIMEOUT = 30.0  # seconds for a session's child to confine itself


class Zygote:
    """The fork server: its imports, the child of the open session, the control socket."""

    def __init__(self, config: ZygoteConfig, ctl_fd: int) -> None:
        self.config = config
        self.ctl = ctl_fd
        self.inbuf = b""
        self.layers = Layers(config)
        self.repo = self.layers.repo
        self.probe_dirs = self.layers.probe_dirs
        self._modules_checked: set[str] = set()
        self._probe_ok: set[str] = set()
        self.oom_seen = self._oom_kills()
        self.child: _Child | None = None  # of the open session
        self.dying: _Child | None = None  # killed by an end without reaping, not reaped yet
        self._passed: list[int] = []  # its pipes' parent ends, until they are sent

    def detect(self) -> None:
        """Set up this zygote's layers, then find out which per-child layers work here."""
        self.layers.setup_namespaces()
        self.layers.setup_scratch()
        self.layers.setup_task_limits()
        self.layers.detect()

    def _set(self, name: str, active: bool, detail: str) -> None:
        """Record a layer as on or off (an image's own knowledge may override detection)."""
        self.layers.set(name, active, detail)

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
                    allowed = any(is_within(os.path.realpath(origin), d) for d in self.probe_dirs)
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
                bad = isinstance(origin, str) and is_within(os.path.realpath(origin), solutions)
            if bad:
                raise RuntimeError(f"forbidden module {name!r} was imported into the zygote")

    # ------------------------------------------------------------------ children

    def _oom_kills(self) -> int:
        with contextlib.suppress(OSError, ValueError), open("/proc/vmstat") as fh:
            for line in fh:
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
        return -1

    def open(self, req: Open) -> dict[str, Any]:
        """Fork the session's child, wait until it is confined (or failed to be) and stop
        it; the reply passes the parent the child's requests and "done" pipes."""
        self._end()
        try:
            names = [str(name) for name in req["modules"]]
            probes = [
                f"{name}:{attr}"
                for name in names
                for attr, value in vars(self.import_probe_module(name)).items()
                if callable(value)
            ]
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
        if self.layers.on("uid"):
            problem = self.layers.uid_problem([req["submission"]])
            if problem:
                return {
                    "ok": False,
                    "error": f"submission not readable by the sandbox uid: {problem}",
                }
        plan = self.layers.plan(
            os.path.join(self.layers.scratch_root, name),
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
            pid = self.layers.fork()
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
        self.child = _Child(pid, _pidfd(pid))
        self._passed = [requests_w, done_r]  # the parent's ends, sent with the reply
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
        ended = self.stop()
        if not ended["stopped"]:
            return {**ended, "opened": False, "setup": report}
        return {"ok": True, "opened": True, "setup": report, "pid": pid, "probes": probes}

    def stop(self, req: dict[str, Any] | None = None) -> dict[str, Any]:
        """SIGSTOP the child and wait until it is stopped, so that nothing of the student
        runs while the parent reads what it wrote (the parent's own way where it cannot
        see the child's threads); ``stopped``, or how it ended if it died."""
        c = self.child
        if c is None:
            return {"ok": True, "stopped": False, "alive": False}
        os.kill(c.pid, signal.SIGSTOP)
        _, status, usage = os.wait4(c.pid, os.WUNTRACED)
        if os.WIFSTOPPED(status):
            return {"ok": True, "stopped": True}
        c.ended = (status, usage)  # reaped: it died before the stop
        return {**self._end(), "stopped": False}

    def end(self, req: dict[str, Any] | None = None) -> Ended:
        """End the session: kill its child (if any), reap it, and say how it ended
        (``timed_out``: the parent killed it at a time limit, not the kernel); with
        ``reap`` false, kill it and leave the reaping to :meth:`reap`."""
        req = req or {}
        return self._end(timed_out=bool(req.get("timed_out")), wait=req.get("reap") is not False)

    def reap(self) -> None:
        """Reap the child an end left dying (waiting for it to be gone), if any."""
        c, self.dying = self.dying, None
        if c is not None:
            _, status, usage = os.wait4(c.pid, 0)
            self._reaped(c, status, usage, timed_out=False)

    def _end(self, timed_out: bool = False, wait: bool = True) -> Ended:
        self.reap()
        c, self.child = self.child, None
        self._close_passed()
        if c is None:
            return {"ok": True, "alive": False}
        if c.ended is None:
            self._kill(c.pid, c.pidfd)
            if not wait:
                self.dying = c
                return {"ok": True, "alive": False}
            _, status, usage = os.wait4(c.pid, 0)
        else:
            status, usage = c.ended
        return self._reaped(c, status, usage, timed_out)

    def _reaped(self, c: _Child, status: int, usage: Any, timed_out: bool) -> Ended:
        """How a reaped child ended; its pidfd closed, its uid swept where no PID
        namespace took its processes with it."""
        if c.pidfd >= 0:
            os.close(c.pidfd)
        if not self.layers.on("pidns") and self.layers.on("uid"):
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
            "cpu_total": usage.ru_utime + usage.ru_stime,
            "maxrss_kib": usage.ru_maxrss,
        }

    def _close_passed(self) -> None:
        for fd in self._passed:
            os.close(fd)
        self._passed = []

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
                    if os.stat(f"/proc/{entry}").st_uid == self.layers.uid:
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
        """Answer the parent's requests until it closes the control socket or says exit.
        Between requests the zygote waits here: the parent talks to the child itself."""
        while True:
            req = self.recv()
            self.reap()
            if req is None or req.get("op") == "exit":
                return
            op = req.get("op")
            if op in ("open", "stop", "end"):
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
            if reply.get("opened"):
                self.send(reply, self._passed)
                self._close_passed()  # the parent holds them now; EOF tells the child
            else:
                self.send(reply)


@dataclass
class _Child:
    """The child of the open session."""

    pid: int
    pidfd: int  # -1 without pidfd_open (old kernel, not Linux)
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


def main(config_json: str, ctl_fd: int) -> None:
    config: ZygoteConfig = json.loads(config_json)
    zygote = Zygote(config, ctl_fd)
    try:
        zygote.detect()
        zygote.preload()
        zygote.layers.freeze_paths()
        from . import seccomp

        seccomp.build(1)  # cached for the children (pid 1 in their PID namespace)
        import gc

        gc.collect()
        gc.freeze()  # children share these pages instead of touching them in each collection
        with open("/proc/self/statm", "rb") as fh:
            vmsize = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        root_fd = os.open(zygote.layers.scratch_root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        zygote.send(
            {
                "ok": True,
                "hello": True,
                "pid": os.getpid(),
                "layers": zygote.layers.report,
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
        if zygote.layers.cgroup is not None:
            zygote.end()
            zygote.layers.leave_cgroup()
