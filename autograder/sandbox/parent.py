"""The grading parent's side of the sandbox: :class:`Sandbox` and the :class:`Outcome` of a call.

The parent never imports student code and never handles a student object: it writes the
inputs as plain data, asks the zygote to run one call, waits (with its own timeout on the
control channel), and then, with the child and everything it started dead, reads the
child's files through :func:`autograder.plain.load` and bounded reads.
"""

from __future__ import annotations

import abc
import contextlib
import json
import math
import os
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Self, TypeVar, cast

import autograder
from autograder import plain

from . import _linux
from . import protocol as _protocol
from .protocol import Call, Ended, Layer, Limits, Open, Outcome, Reply, Request, ZygoteConfig

CONFINING = ("landlock", "seccomp", "netns")
UID_BASE = 64000
MAX_CALLS = 64  # per request: its line stays far below a pipe's buffer
STOP_TIMEOUT = 10.0  # seconds for every thread of a child to stop
_PROBE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*")
_PACKAGE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from autograder.sandbox.zygote import main; main(sys.argv[2], int(sys.argv[3]))"
)
_REPO = str(Path(autograder.__file__).resolve().parent.parent)


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the student): bad call, setup failure, no confinement."""


class _ZygoteLost(Exception):
    pass


S = TypeVar("S", bound="SessionBase[Any]", covariant=True)


class Runner(Generic[S]):
    """What runs a submission's calls: :class:`Sandbox`, or the self-check's portable runner.

    Subclasses make ``_base`` (their own folder) in ``start`` and remove it in ``close``,
    and set ``session_class``: what :meth:`session` makes (a :class:`SessionBase`, from the
    runner, the submission, its package, the probe modules, the budget and the limits).
    """

    _base: str | None = None
    _session: S | None = None  # the one whose child runs (one at a time)
    limits: Limits
    session_class: Callable[
        [Any, str | os.PathLike[str], str | None, tuple[str, ...] | list[str], float, Limits], S
    ]

    @property
    def folder(self) -> str | None:
        """The runner's own folder (its workspaces and scratch) while it runs."""
        return self._base

    def start(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:  # noqa: SIM105 (at interpreter exit, module globals such as contextlib may be None)
            self.close()
        except Exception:
            pass

    @contextlib.contextmanager
    def workspace(self, prefix: str = "submission-") -> Iterator[Path]:
        """A fresh folder for one submission's files, removed afterwards.

        It lies in the sandbox's own folder, which nobody else can list (mode 0711 when
        children drop to the sandbox uid), and is itself readable by that uid (0755): the
        children can import what is written there, and no other submission can find it.
        """
        self.start()
        assert self._base is not None
        folder = tempfile.mkdtemp(prefix=prefix, dir=self._base)
        try:
            os.chmod(folder, 0o755)
            yield Path(folder)
        finally:
            _rmtree(folder)

    def session(
        self,
        submission: str | os.PathLike[str],
        package: str | None,
        *,
        modules: tuple[str, ...] | list[str],
        budget: float = 120.0,
        limits: Limits | None = None,
    ) -> S:
        """A session for the calls of one submission (probes of ``modules``)."""
        return self.session_class(self, submission, package, modules, budget, limits or self.limits)


class Sandbox(Runner["Session"]):
    """Runs untrusted calls in confined children forked from one warm zygote.

    One per grading worker (not thread-safe). ``preload`` lists modules the zygote imports
    after NumPy (``"torch"``), ``probes`` probe modules to import up front, ``probe_dirs``
    extra folders (on the zygote's path only) holding probe modules, ``slot`` the worker
    number (its children get uid ``64000 + slot`` when the uid drop is possible).
    Refuses to start when no confinement layer works, unless ``allow_unconfined``.
    """

    def __init__(
        self,
        *,
        preload: tuple[str, ...] | list[str] = (),
        probes: tuple[str, ...] | list[str] = (),
        probe_dirs: tuple[str | os.PathLike[str], ...] | list[Any] = (),
        slot: int = 0,
        limits: Limits | None = None,
        allow_unconfined: bool = False,
        python: str | None = None,
        workdir: str | None = None,
        scratch_size: int = 1 << 30,
        scratch_inodes: int = 8192,
        start_timeout: float = 120.0,
        grace: float = 5.0,
    ) -> None:
        self.preload = tuple(preload)
        self.probes = tuple(probes)
        self.probe_dirs = tuple(str(Path(p).resolve()) for p in probe_dirs)
        self.slot = int(slot)
        self.uid = UID_BASE + self.slot
        self.limits = limits or Limits()
        self.session_class = Session
        self.allow_unconfined = allow_unconfined
        self.python = python or sys.executable
        self.workdir = workdir
        self.scratch_size = int(scratch_size)
        self.scratch_inodes = int(scratch_inodes)
        self.start_timeout = start_timeout
        self.grace = grace
        self.info: dict[str, Any] = {}
        self._layers: dict[str, Layer] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._buf = b""
        self._base: str | None = None
        self._scratch_fd = -1
        self.restarts = 0

    # ------------------------------------------------------------------ lifecycle

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the zygote (no-op when it runs). Raises :class:`SandboxError` on failure."""
        if self.running:
            return
        if not hasattr(os, "fork"):
            raise SandboxError(
                "the sandbox needs a POSIX system with fork() (Linux for confinement)"
            )
        if self._proc is not None:  # it died between calls
            self.restarts += 1
        self._stop_zygote()
        if self._base is None:
            self._base = tempfile.mkdtemp(
                prefix=f"autograder-sandbox-{self.slot}-", dir=self.workdir
            )
            # reachable (not listable) by the children's uid, should they drop to it
            os.chmod(self._base, 0o711)
            os.mkdir(os.path.join(self._base, "scratch"), 0o711)
        config: ZygoteConfig = {
            "base": self._base,
            "repo": _REPO,
            "probe_dirs": list(self.probe_dirs),
            "uid": self.uid,
            "preload": list(self.preload),
            "probes": list(self.probes),
            "scratch_size": self.scratch_size,
            "scratch_inodes": self.scratch_inodes,
        }
        ours, theirs = socket.socketpair()
        env = {**_protocol.ENV_WHITELIST, "HOME": self._base}
        log_path = os.path.join(self._base, "zygote.log")
        with open(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as log:
            try:
                self._proc = subprocess.Popen(
                    [
                        self.python,
                        "-I",
                        "-B",
                        "-c",
                        _BOOT,
                        _REPO,
                        json.dumps(config),
                        str(theirs.fileno()),
                    ],
                    pass_fds=(theirs.fileno(),),
                    env=env,
                    cwd=self._base,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    start_new_session=True,
                )
            except OSError as exc:
                ours.close()
                raise SandboxError(
                    f"cannot start the sandbox zygote with {self.python}: {exc}"
                ) from None
            finally:
                theirs.close()
        self._sock = ours
        self._buf = b""
        passed: list[int] = []
        try:
            hello = self._recv(time.monotonic() + self.start_timeout, passed)
            self._scratch_fd = passed.pop(0) if passed else -1
        except _ZygoteLost:
            tail = _tail(log_path)
            self._stop_zygote()
            raise SandboxError(
                f"the sandbox zygote did not start{': ' + tail if tail else ''}"
            ) from None
        for fd in passed:
            os.close(fd)
        if not hello.get("ok") or self._scratch_fd < 0:
            self._stop_zygote()
            raise SandboxError(str(hello.get("error", "zygote start failed"))[:2000])
        self._layers = {
            name: Layer(name, bool(v["active"]), str(v["detail"]))
            for name, v in hello["layers"].items()
        }
        self.info = {k: hello.get(k) for k in ("pid", "vmsize", "python")}
        if not self.allow_unconfined and not any(self._layers[n].active for n in CONFINING):
            reasons = "; ".join(f"{n}: {self._layers[n].detail}" for n in CONFINING)
            self.close()
            raise SandboxError(
                f"no confinement layer works on this machine ({reasons}); "
                "refusing to run untrusted code (override: the grade "
                "command's --allow-unconfined)"
            )

    def close(self) -> None:
        """Stop the zygote (killing any child) and delete the sandbox's temporary folder
        (and its pids cgroup, should the zygote have died before removing it)."""
        self._stop_zygote()
        if self._base is not None:
            _linux.remove_cgroup(_linux.pids_cgroup(self._base))
            _rmtree(self._base)
            self._base = None

    def _stop_zygote(self) -> None:
        if self._session is not None:
            self._session._drop()  # its child and scratch go with the zygote
            self._session = None
        proc, sock = self._proc, self._sock
        self._proc = self._sock = None
        if self._scratch_fd >= 0:
            os.close(self._scratch_fd)
            self._scratch_fd = -1
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.sendall(b'{"op": "exit"}\n')
            sock.close()
        if proc is not None:
            try:
                proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def report(self) -> dict[str, Layer]:
        """Which confinement layers are active for this sandbox, with the reason for each."""
        self.start()
        return dict(self._layers)

    # ------------------------------------------------------------------ protocol

    def _recv(self, deadline: float, fds: list[int] | None = None) -> dict[str, Any]:
        """The zygote's next message; descriptors passed with it go to ``fds`` (closed
        when the caller wants none)."""
        assert self._sock is not None
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _ZygoteLost("timeout")
            ready, _, _ = select.select([self._sock], [], [], left)
            if not ready:
                continue
            chunk, passed, _, _ = socket.recv_fds(self._sock, 1 << 16, 4)
            for fd in passed:
                os.set_inheritable(fd, False)
                if fds is None:
                    os.close(fd)
                else:
                    fds.append(fd)
            if not chunk:
                raise _ZygoteLost("eof")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return json.loads(line)

    def _request(
        self, msg: Mapping[str, object], deadline: float, fds: list[int] | None = None
    ) -> dict[str, Any]:
        assert self._sock is not None
        try:
            self._sock.settimeout(max(deadline - time.monotonic(), 0.1))
            self._sock.sendall((json.dumps(msg) + "\n").encode())
        except OSError:
            raise _ZygoteLost("send") from None
        return self._recv(deadline, fds)

    # ------------------------------------------------------------------ calls

    def run(self, call: Call) -> Outcome:
        """Run one call in a fresh confined child and classify what happened."""
        module = _probe_module(call.probe)
        with self.session(
            call.submission,
            call.package,
            modules=(module,),
            budget=call.timeout,
            limits=call.limits,
        ) as session:
            return session.run(call.probe, call.inputs, call.timeout)

    def _scratch_dir(self) -> str:
        """The scratch root as this process reaches it: through the zygote's directory fd
        when it is a tmpfs private to the zygote's mount namespace, else by its path."""
        assert self._base is not None
        if self._layers["scratch"].active:
            return f"/proc/self/fd/{self._scratch_fd}"
        return os.path.join(self._base, "scratch")

    def _lost(self) -> None:
        """The zygote died or stopped answering: kill it (its child dies with it,
        parent-death signal); the next request starts a fresh one."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
        self._stop_zygote()
        self.restarts += 1


R = TypeVar("R", bound=Runner[Any])


class SessionBase(abc.ABC, Generic[R]):
    r"""What every runner's session offers (the calls of one submission, one at a time; a
    :class:`Session` also takes several per request) and what it checks and keeps: its
    runner, the submission's folder, the student's package, the probe modules, the time
    budget and the limits (shared by the confined :class:`Session` and the portable one). A
    runner serves one session at a time: a session :meth:`_claim`\ s it to start a child,
    :meth:`_release`\ s it after."""

    children = 0  # children started for this session (more than 1 after faults)

    def __init__(
        self,
        sandbox: R,
        submission: str | os.PathLike[str],
        package: str | None,
        modules: tuple[str, ...] | list[str],
        budget: float,
        limits: Limits,
    ) -> None:
        self.sandbox = sandbox
        self.submission = os.path.realpath(os.fspath(submission))
        if not os.path.isdir(self.submission):
            raise SandboxError(f"submission folder {self.submission} does not exist")
        if package is not None and (
            not isinstance(package, str)
            or not _PACKAGE.fullmatch(package)
            or package in sys.stdlib_module_names
            or package in ("autograder", "numpy", "torch")
        ):
            raise SandboxError(f"invalid student package name {package!r}")
        self.package = package
        self.modules = tuple(modules)
        self.budget = _seconds(budget, "budget")
        self.limits = limits

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abc.abstractmethod
    def run(self, probe: str, inputs: dict[str, Any], timeout: float) -> Outcome:
        """``probe(**inputs)`` in the session's child, with a wall ``timeout``."""

    @abc.abstractmethod
    def close(self) -> None:
        """End the child (if it lives) and delete its folder."""

    def _claim(self) -> R:
        """The runner, started, with its other session (if any) closed: this one's turn."""
        box = self.sandbox
        box.start()
        if box._session is not None:
            box._session.close()
        return box

    def _release(self) -> None:
        if self.sandbox._session is self:
            self.sandbox._session = None


class Session(SessionBase["Sandbox"]):
    """The calls of one submission, served by one confined child (a fresh one after a fault).

    The child imports the student's package once; before each call it resets the global
    state the kit knows (:class:`autograder.sandbox.child.Baseline`) and gets a fresh call
    folder as its cwd, HOME and TMPDIR. The parent talks to the child directly, over the
    two pipes the zygote passed it when the child started: a request (one call or several,
    :meth:`run_many`) and SIGCONT, one "done" byte per call, then SIGSTOP: the parent reads
    a request's files while nothing of the student runs. A timeout, crash or exit ends the
    child; the next call starts a new one. A session never serves two submissions, and a
    sandbox runs one session at a time: opening another one ends it.
    """

    requests = 0  # requests sent to its children (one call or several each)
    _folder: str | None = None  # the child's scratch folder while it lives
    _link: _Link | None = None  # the parent's ends of the child while it lives

    @property
    def open(self) -> bool:
        return self._folder is not None and self.sandbox._session is self

    def close(self) -> None:
        """End the child (if it lives) and delete its scratch folder."""
        if not self.open:
            self._drop()
            return
        try:
            self._end_child(reap=False)  # stopped, no verdict: the zygote reaps it later
        except _ZygoteLost:
            self.sandbox._lost()
        self._ended()

    def _drop(self) -> None:
        """Forget the child (it is dead, or going with the zygote)."""
        if self._link is not None:
            self._link.close()
            self._link = None
        self._folder = None

    def _ended(self) -> None:
        if self._folder is not None and self.sandbox.running:
            _rmtree(self._folder)  # through our fd: still valid while the zygote runs
        self._drop()
        self._release()

    def _start(self) -> None:
        box = self._claim()
        folder = tempfile.mkdtemp(prefix="session-", dir=box._scratch_dir())
        limits = self.limits
        msg: Open = {
            "op": "open",
            "scratch": os.path.basename(folder),
            "submission": self.submission,
            "package": self.package,
            "modules": list(self.modules),
            "budget": self.budget,
            "limits": {
                "memory": int(limits.memory),
                "fsize": int(limits.fsize),
                "nofile": int(limits.nofile),
                "nproc": int(limits.nproc),
                "cpu": limits.cpu,
                "stream": int(limits.stream),
            },
        }
        pipes: list[int] = []
        try:
            reply = box._request(msg, time.monotonic() + 60.0, pipes)
        except _ZygoteLost as exc:
            for fd in pipes:
                os.close(fd)
            box._lost()
            raise SandboxError(
                f"the sandbox supervisor failed while starting a child ({exc})"
            ) from None
        if not reply.get("ok") or not reply.get("opened") or len(pipes) != 2:
            for fd in pipes:
                os.close(fd)
            _rmtree(folder)
            setup = reply.get("setup")
            detail = (
                reply.get("error")
                or (setup.get("error") if isinstance(setup, dict) else None)
                or f"wait status {reply.get('status')}"
            )
            raise SandboxError(f"sandbox setup failed: {str(detail)[:2000]}")
        box._session = self
        self._folder = folder
        self._link = _Link(int(reply["pid"]), pipes[0], pipes[1], frozenset(reply["probes"]))
        self.children += 1

    def run(self, probe: str, inputs: dict[str, Any], timeout: float) -> Outcome:
        """``probe(**inputs)`` in this session's child, with a wall ``timeout``."""
        return self.run_many([(probe, inputs, timeout)])[0]

    def run_many(
        self, calls: list[tuple[str, dict[str, Any], float]], time_left: float | None = None
    ) -> list[Outcome]:
        """Run ``calls`` (``(probe, inputs, timeout)`` each), in order, in one request to
        this session's child: the Outcome of each call that ran, in order.

        Each call has its own time limit, cut to what is left of ``time_left`` (seconds for
        all of them, when given). A call that ends the child (time limit, crash, exit) is
        the last one run: the calls after it are not run, and not in the list (run them
        again: the next call starts a fresh child). So is the last call that fits in
        ``time_left``. Raises :class:`SandboxError` for a bad call (nothing of the request
        runs) or when the sandbox fails.
        """
        if not 0 < len(calls) <= MAX_CALLS:
            raise SandboxError(f"a request holds 1 to {MAX_CALLS} calls, got {len(calls)}")
        checked = [self._check(*call) for call in calls]
        if not self.open:
            self._start()
        box, folder, link = self.sandbox, self._folder, self._link
        assert folder is not None and link is not None
        for probe, _, _ in checked:
            if probe not in link.probes:
                raise SandboxError(
                    f"{probe!r} is no function of the session's probe modules {self.modules}"
                )
        names = [f"call-{index}" for index in range(len(checked))]
        request = ""
        try:
            # a fresh name the child cannot have taken in advance (it may write in
            # ``folder``), holding every call's inputs in one document and a folder per call
            request = tempfile.mkdtemp(prefix="request-", dir=folder)
            for name in names:
                os.mkdir(os.path.join(request, name))
            if box._layers["uid"].active:
                for name in ("", *names):
                    os.chown(os.path.join(request, name), box.uid, box.uid)
            plain.dump(
                [inputs for _, inputs, _ in checked], os.path.join(request, _protocol.IN_DIR)
            )
        except plain.PlainDataError as exc:
            _rmtree(request)
            raise SandboxError(f"inputs are not plain data: {exc}") from None
        except OSError as exc:  # the child's earlier calls filled the scratch
            if request:
                _rmtree(request)
            self.close()
            return [
                Outcome(
                    "crash",
                    message="no room for this call's inputs: your code filled "
                    f"its scratch space in an earlier call ({exc.strerror}); the next "
                    "call starts afresh",
                )
            ]
        try:
            try:
                replies, alive = self._serve(
                    os.path.basename(request),
                    [(probe, name) for (probe, _, _), name in zip(checked, names, strict=True)],
                    [timeout for _, _, timeout in checked],
                    time_left,
                )
            except _ZygoteLost as exc:
                box._lost()
                self._ended()
                return [
                    Outcome(
                        "crash",
                        message="the sandbox supervisor failed during the call "
                        f"({exc}); it is restarted for the next call",
                    )
                ]
            outcomes = []
            claimed = 0.0  # seconds the records say the probes took, checked against the clock
            for reply, name in zip(replies, names, strict=False):
                reply["seconds_cap"] = reply["elapsed"] - claimed
                # nothing of a dead child's last call is read (its folder goes with it)
                where = os.path.join(request, name) if reply.get("alive") else None
                outcome = _read_call(reply, where, reply["limit"], self.limits, self.budget)
                claimed += outcome.probe_seconds
                outcomes.append(outcome)
            if not alive:
                self._ended()
            return outcomes
        finally:
            if self._folder is not None:  # else gone with the child (or the zygote)
                _rmtree(request)

    def _check(self, probe: str, inputs: Any, timeout: float) -> tuple[str, dict[str, Any], float]:
        module = _probe_module(probe)
        if module not in self.modules:
            raise SandboxError(f"{probe} is not in this session's probe modules {self.modules}")
        if type(inputs) is not dict:
            raise SandboxError("inputs must be a dict of keyword arguments")
        return probe, inputs, _seconds(timeout, "timeout")

    def _serve(
        self,
        folder: str,
        calls: list[tuple[str, str]],
        timeouts: list[float],
        time_left: float | None,
    ) -> tuple[list[Reply], bool]:
        """Hand the child one request (its folder's name, ``(probe, call folder name)``
        each), continue it, collect a "done" byte per call within its time limit, stop it.
        One reply per call that ran (``alive``, or how the child ended: the last one), each
        with its ``wall``, ``cpu``, ``limit`` and ``elapsed`` (seconds since the request, at
        its end); and whether the child still lives."""
        link = self._link
        assert link is not None
        self.requests += 1
        link.drain()  # bytes left by a thread of an earlier call
        request: Request = {"folder": folder, "calls": [{"probe": p, "call": n} for p, n in calls]}
        before = _cpu_seconds(link.pid)
        started = previous = time.monotonic()
        try:
            os.write(link.requests, (json.dumps(request) + "\n").encode())
            link.signal(signal.SIGCONT)
        except OSError:  # the child stopped reading its requests: it is finished
            ended = self._end_child()
            return [{**ended, "wall": 0.0, "limit": timeouts[0], "elapsed": 0.0}], False
        replies: list[Reply] = []
        for timeout in timeouts:
            limit = timeout if time_left is None else min(timeout, time_left - (previous - started))
            if limit <= 0:  # no time left for this call: it does not run
                link.signal(signal.SIGKILL)
                self._end_child(timed_out=True)
                return replies, False
            event = link.wait(previous + limit)
            now = time.monotonic()
            timing: Reply = {"wall": now - previous, "limit": limit, "elapsed": now - started}
            previous = now
            if event != "done":
                if event == "timeout":
                    link.signal(signal.SIGKILL)
                ended = self._end_child(timed_out=event == "timeout")
                replies.append({**ended, **timing, "cpu": max(ended["cpu_total"] - before, 0.0)})
                return replies, False
            cpu = _cpu_seconds(link.pid)
            replies.append({"alive": True, **timing, "cpu": max(cpu - before, 0.0)})
            before = cpu
        died = self._stop_child()
        if died:  # it died just after it said done
            last = replies[-1]
            replies[-1] = {
                **died,
                "wall": last["wall"],
                "limit": last["limit"],
                "elapsed": last["elapsed"],
                "cpu": max(died["cpu_total"] - before, 0.0),
            }
            return replies, False
        peak = _peak_kib(link.pid)
        for reply in replies:
            reply["maxrss_kib"] = peak
        return replies, True

    def _stop_child(self) -> Ended | None:
        """SIGSTOP the child and make sure it stopped: None, or how it ended if it died.
        Where /proc shows the child's threads the parent waits for each to stop itself;
        elsewhere it asks the zygote, which waits for the stop (``wait4``)."""
        link, box = self._link, self.sandbox
        assert link is not None
        if not link.procfs:
            reply = box._request({"op": "stop"}, time.monotonic() + box.grace)
            return None if reply.get("stopped") else cast(Ended, reply)
        link.signal(signal.SIGSTOP)
        state = _await_stop(link, time.monotonic() + STOP_TIMEOUT)
        if state == "stopped":
            return None
        if state == "dead":
            return self._end_child()
        link.signal(signal.SIGKILL)
        self._end_child()
        self._ended()
        raise SandboxError(f"the child did not stop within {STOP_TIMEOUT:g} s")

    def _end_child(self, timed_out: bool = False, reap: bool = True) -> Ended:
        """Ask the zygote to kill (if need be) and reap the child: how it ended (without
        ``reap``, the zygote reaps it before its next message and says nothing)."""
        box = self.sandbox
        reply = box._request(
            {"op": "end", "timed_out": timed_out, "reap": reap}, time.monotonic() + box.grace
        )
        if not reply.get("ok"):
            raise SandboxError(str(reply.get("error", "sandbox request failed"))[:2000])
        return cast(Ended, reply)


@dataclass
class _Link:
    """The parent's ends of a session's child: its pid, its requests pipe and its "done"
    pipe (passed by the zygote when the child started), a pidfd where there is one."""

    pid: int
    requests: int
    done: int
    probes: frozenset[str]  # "module:function" of the session's probe modules
    pidfd: int = -1
    procfs: bool = False  # /proc shows the child's threads: the parent sees it stop
    pending: int = 0  # "done" bytes read and not yet counted

    def __post_init__(self) -> None:
        os.set_blocking(self.done, False)
        with contextlib.suppress(OSError, AttributeError):
            self.pidfd = os.pidfd_open(self.pid)
        self.procfs = os.path.isdir(f"/proc/{self.pid}/task")

    def signal(self, sig: int) -> None:
        # The zygote reaps the child only when the parent asks: until then its pid (a
        # zombie's at worst) is the child's, so a signal cannot reach another process.
        if self.pidfd >= 0:
            signal.pidfd_send_signal(self.pidfd, sig)
        else:
            os.kill(self.pid, sig)

    def exited(self) -> bool:
        """Whether the child is known to have died (its pidfd says so)."""
        return self.pidfd >= 0 and bool(select.select([self.pidfd], [], [], 0)[0])

    def drain(self) -> None:
        with contextlib.suppress(OSError):
            while os.read(self.done, 4096):
                pass
        self.pending = 0

    def wait(self, deadline: float) -> str:
        """The next "done" byte ("done"), the child's death ("dead") or ``deadline``
        passed ("timeout")."""
        watched = [self.done] + ([self.pidfd] if self.pidfd >= 0 else [])
        while not self.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            readable, _, _ = select.select(watched, [], [], left)
            if self.done in readable:
                try:
                    chunk = os.read(self.done, 4096)
                except BlockingIOError:
                    continue
                if not chunk:  # every write end is closed: the child is gone
                    return "dead"
                self.pending += chunk.count(b"\n")
            elif readable:
                return "dead"
        self.pending -= 1
        return "done"

    def close(self) -> None:
        for fd in (self.requests, self.done, self.pidfd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.requests = self.done = self.pidfd = -1


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


def _await_stop(link: _Link, deadline: float) -> str:
    """After a SIGSTOP: "stopped" once every thread of the child is (the same threads on
    a second look), "dead" once it died, "stuck" at ``deadline``."""
    task = f"/proc/{link.pid}/task"
    pause = 20e-6
    while True:
        states = _thread_states(task)
        if link.exited() or all(state in "ZX" for state in states.values()):
            return "dead"
        if all(state in "TtZX" for state in states.values()) and set(_thread_states(task)) == set(
            states
        ):
            return "stopped"
        if time.monotonic() > deadline:
            return "stuck"
        time.sleep(pause)
        pause = min(pause * 2, 1e-3)


def _thread_states(task: str) -> dict[str, str]:
    """Thread id -> state letter (R, S, D, T, Z...) of each thread in ``task``."""
    states: dict[str, str] = {}
    try:
        tids = os.listdir(task)
    except OSError:
        return states
    for tid in tids:
        try:
            with open(f"{task}/{tid}/stat", "rb") as fh:
                states[tid] = fh.read().rpartition(b")")[2].split()[0].decode()
        except (OSError, IndexError):
            continue  # the thread ended meanwhile
    return states


def _read_call(
    reply: Reply, work: str | None, timeout: float, limits: Limits, budget: float
) -> Outcome:
    """The :class:`Outcome` of a call from its reply and the call folder ``work``
    (written by the child, which is now stopped: opened without following links; None:
    nothing is read)."""
    if work is None:
        return _classify(reply, None, timeout, limits, budget)
    try:
        fd = os.open(work, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:  # gone, or replaced by a link: nothing in it is read
        return _classify(reply, None, timeout, limits, budget)
    here = f"/proc/self/fd/{fd}"
    try:
        outcome = _classify(reply, here, timeout, limits, budget)
        outcome.stdout = _excerpt(os.path.join(here, _protocol.STDOUT), limits.excerpt)
        outcome.stderr = _excerpt(os.path.join(here, _protocol.STDERR), limits.excerpt)
        return outcome
    finally:
        os.close(fd)


def _classify(
    reply: Reply, work: str | None, timeout: float, limits: Limits, budget: float
) -> Outcome:
    """What the call came to, from the reply and the call folder ``work`` (None when it
    could not be opened safely: then no record or output is read), with the reply's
    clocks."""
    outcome = _verdict(reply, work, timeout, limits, budget)
    outcome.wall = float(reply.get("wall", 0.0))
    outcome.cpu = float(reply.get("cpu", 0.0))
    outcome.max_rss = int(reply.get("maxrss_kib", 0)) * 1024
    return outcome


def _verdict(
    reply: Reply, work: str | None, timeout: float, limits: Limits, budget: float
) -> Outcome:
    """:func:`_classify`'s Outcome before the clocks: how the child ended, else what its
    result record says."""
    if reply.get("timed_out"):
        return Outcome("timeout", message=f"time limit exceeded ({timeout:g} s)")
    code = 0
    if not reply.get("alive"):
        status = int(reply["status"])
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            name = _signal_name(sig)
            cpu_limit = limits.cpu or math.ceil(budget) + 1
            if sig == signal.SIGKILL and reply.get("oom"):
                return Outcome(
                    "memory", message="memory limit exceeded (killed by the kernel)", signal=name
                )
            if sig == signal.SIGXCPU or (
                sig == signal.SIGKILL and reply.get("cpu_total", 0.0) >= cpu_limit - 0.05
            ):
                return Outcome(
                    "timeout", message=f"CPU time limit exceeded ({cpu_limit} s)", signal=name
                )
            return Outcome("crash", message=f"crashed with signal {name}", signal=name)
        code = os.waitstatus_to_exitcode(status)
    record: object = None
    if code == 0 and work is not None:
        with contextlib.suppress(plain.PlainDataError):
            record = plain.load(
                os.path.join(work, _protocol.RESULT_DIR),
                max_bytes=0,
                max_arrays=0,
                max_json_bytes=64 << 10,
                max_depth=4,
                max_nodes=64,
            )
    if work is None or type(record) is not dict:
        if code == _protocol.EXIT_NO_MEMORY:
            return Outcome("memory", message="memory limit exceeded", exit_code=code)
        if code == _protocol.EXIT_NO_RECORD:
            return Outcome(
                "output",
                message="the call's result could not be written (did "
                "your code fill its scratch space?)",
                exit_code=code,
            )
        if reply.get("alive"):
            return Outcome("output", message="the call ended without a result record")
        return Outcome(
            "exit",
            message=f"your code exited the process (exit code {code}) before returning",
            exit_code=code,
        )
    outcome = _from_record(record, work, limits)
    seconds = record.get("seconds")
    # the student's share, as the child wrote it: believed only within the clock's bound
    if type(seconds) is float and 0 <= seconds <= reply.get(
        "seconds_cap", float(reply.get("wall", 0.0))
    ):
        outcome.probe_seconds = seconds
    return outcome


def _from_record(record: dict[str, object], work: str, limits: Limits) -> Outcome:
    """The Outcome a child's result record (a :class:`~.protocol.Record`, untrusted: each
    field is checked) and, for ``ok``, its output in ``work`` come to."""
    kind = record.get("status")
    if kind == "ok":
        try:
            value = plain.load(
                os.path.join(work, _protocol.OUT_DIR),
                max_bytes=limits.max_output_bytes,
                max_arrays=limits.max_output_arrays,
            )
        except plain.PlainDataError as exc:
            return Outcome("output", message=f"invalid output: {exc}")
        return Outcome("ok", value=value)
    if kind == "error":
        etype = _text(record.get("type"), 100) or "Exception"
        msg = _text(record.get("message"), _protocol.MESSAGE_CAP + 3)
        frames = record.get("traceback")
        return Outcome(
            "error",
            message=f"{etype}: {msg}" if msg else etype,
            error_type=etype,
            traceback=(
                [_text(f, 600) for f in frames[: _protocol.FRAMES_KEPT]]
                if type(frames) is list
                else []
            ),
        )
    if kind == "exit":
        code = record.get("code")
        exit_code = code if type(code) is int else 1
        return Outcome(
            "exit",
            message=f"your code exited the process (exit code {exit_code}) before returning",
            exit_code=exit_code,
        )
    if kind == "memory":
        return Outcome("memory", message="memory limit exceeded (MemoryError)")
    if kind == "output":
        return Outcome(
            "output",
            message=_text(record.get("message"), _protocol.MESSAGE_CAP) or "invalid output",
        )
    return Outcome("output", message="invalid result record")


def _probe_module(probe: Any) -> str:
    if not isinstance(probe, str) or not _PROBE.fullmatch(probe):
        raise SandboxError(f"probe must look like 'package.module:function', got {probe!r}")
    return probe.partition(":")[0]


def _seconds(value: Any, what: str) -> float:
    seconds = float(value)
    if not (0 < seconds <= 3600) or math.isnan(seconds):
        raise SandboxError(f"{what} must be in (0, 3600] seconds, got {value!r}")
    return seconds


def _text(value: object, cap: int) -> str:
    """A student's string, cut to ``cap`` and made encodable (lone surrogates escaped)."""
    if type(value) is not str:
        return ""
    return value[:cap].encode("utf-8", "backslashreplace").decode("utf-8")


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def _excerpt(path: str, limit: int) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return ""
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            return ""
        data = fh.read(limit)
    text = data.decode("utf-8", "replace")
    if st.st_size > limit:
        text += f"\n[... {st.st_size - limit} more bytes not shown]"
    return text


def _tail(path: str, limit: int = 2000) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(fh.tell() - limit, 0))
            return fh.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _rmtree(path: str) -> None:
    """Delete a tree the student may have made hostile (deep nesting, odd modes)."""
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        pass
    except (OSError, RecursionError):
        # /proc/self/fd/N paths must name *our* fd table, not rm's.
        if path.startswith("/proc/self/"):
            path = f"/proc/{os.getpid()}/" + path[len("/proc/self/") :]
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                ["rm", "-rf", "--", path],
                check=False,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=60,
            )


def layers(**kwargs: Any) -> dict[str, Layer]:
    """Start a throw-away sandbox and return its layer report (for a ``doctor`` command)."""
    kwargs.setdefault("allow_unconfined", True)
    with Sandbox(**kwargs) as box:
        return box.report()
