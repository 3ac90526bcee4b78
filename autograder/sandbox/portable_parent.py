"""The portable runner's parent side: student code in another process, time-limited, unconfined.

For the self-check where the confined :class:`~autograder.sandbox.Sandbox` cannot run
(Windows has no ``fork()``, macOS none of the Linux layers, some containers allow none of
them): it is the student's own code on the student's own machine, so nothing is confined, but
the calls still run in another process (spawned: ``python -I -B``, see
:mod:`~autograder.sandbox.portable_child`), with the confined runner's time limits, and
they come back as the same :class:`~autograder.sandbox.Outcome` with the same messages::

    with PortableSandbox(probes=("autograder.probes.cnn",), reason="no fork()") as box:
        with box.session("/work/s1", "cnn", modules=["autograder.probes.cnn"]) as s:
            out = s.run("autograder.probes.cnn:conv2d", {"x": x, "w": w}, timeout=2.0)

A :class:`PortableSession` starts one child (which imports NumPy, the ``preload`` list and
the probe modules before the first call is timed) and serves its calls from it: per call
the inputs are written as plain data in a fresh call folder, the child resets its global
state (:class:`~autograder.sandbox.child.Baseline`), runs the probe with that folder as its
cwd, HOME and TMPDIR and answers when the result is written. A call that outlasts its
timeout is killed with its child (``timeout``), as is one that would take the child's
calls past the session's budget (``ceil(budget) + 1`` seconds or ``Limits.cpu``: the
confined child's CPU limit, counted here as the wall time of its calls); a dead child is
``exit`` or ``crash``; the next call starts a fresh child. There is no memory limit (a
``MemoryError`` is still ``memory``), no file-system or network confinement, and student
threads run on between calls.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from autograder import plain

from . import protocol as _protocol
from .parent import (
    _REPO,
    Layer,
    Limits,
    Outcome,
    Runner,
    SandboxError,
    SessionBase,
    _classify,
    _probe_module,
    _rmtree,
    _seconds,
    _signal_name,
    _tail,
)

_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from autograder.sandbox.portable_child import main; main(sys.argv[1])"
)
# The grader's thread settings (one BLAS / OpenMP thread): the same numbers, the same speed.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_TIMEOUT = "timeout"  # what _Child's waits return when their deadline passed


class PortableSandbox(Runner["PortableSession"]):
    """Runs calls in spawned, unconfined child processes: a drop-in for
    :class:`~autograder.sandbox.Sandbox` in the self-check (the same ``session`` interface,
    the same :class:`~autograder.sandbox.Outcome`).

    ``preload`` lists modules each child imports after NumPy (``"torch"``), ``probes`` probe
    modules it imports up front, ``probe_dirs`` extra folders (on the child's path for
    those imports only) holding probe modules; ``reason`` says why this runner is used
    instead of the confined one (shown by :meth:`report`). Of ``limits``, the output caps and
    ``cpu`` apply (no memory, file or process limits). Not thread-safe; one session at a
    time (opening another one ends it).
    """

    def __init__(
        self,
        *,
        preload: tuple[str, ...] | list[str] = (),
        probes: tuple[str, ...] | list[str] = (),
        probe_dirs: tuple[str | os.PathLike[str], ...] | list[Any] = (),
        limits: Limits | None = None,
        reason: str = "the portable runner was asked for",
        python: str | None = None,
        workdir: str | None = None,
        start_timeout: float = 120.0,
    ) -> None:
        self.preload = tuple(preload)
        if "torch" in self.preload:  # what the zygote imports along with torch
            self.preload += _protocol.TORCH_EXTRAS
        self.probes = tuple(probes)
        self.probe_dirs = tuple(os.path.realpath(p) for p in probe_dirs)
        self.limits = limits or Limits()
        self.session_class = PortableSession
        self.reason = reason
        self.python = python or sys.executable
        self.workdir = workdir
        self.start_timeout = start_timeout
        self._base: str | None = None

    def start(self) -> None:
        """Make the runner's temporary folder (no-op when it exists); children start with
        their sessions' first calls."""
        if self._base is None:
            self._base = tempfile.mkdtemp(prefix="autograder-portable-", dir=self.workdir)

    def close(self) -> None:
        """End the open session's child and delete the runner's temporary folder."""
        if self._session is not None:
            self._session.close()
        if self._base is not None:
            _rmtree(self._base)
            self._base = None

    def report(self) -> dict[str, Layer]:
        """What protects the student's machine here (little), layer by layer, like
        :meth:`Sandbox.report <autograder.sandbox.Sandbox.report>`."""
        return {
            "process": Layer("process", True, "a separate Python process per session (spawned)"),
            "timeouts": Layer(
                "timeouts", True, "wall-clock limit per call and the session's budget"
            ),
            "confinement": Layer("confinement", False, self.reason),
        }


class PortableSession(SessionBase["PortableSandbox"]):
    """The calls of one submission, served by one spawned child (a fresh one after a fault).

    The same contract as :class:`~autograder.sandbox.Session`, without its confinement.
    """

    _child: _Child | None = None

    @property
    def allowance(self) -> float:
        """What the child's calls may run in all, as the confined child's CPU limit."""
        return float(self.limits.cpu or math.ceil(self.budget) + 1)

    @property
    def open(self) -> bool:
        return self._child is not None

    def close(self) -> None:
        """End the child (if it runs) and delete its folder."""
        ended, self._child = self._child, None
        if ended is not None:
            ended.kill()
            _rmtree(ended.folder)
        self._release()

    def _start(self) -> _Child:
        box = self._claim()
        assert box._base is not None
        folder = tempfile.mkdtemp(prefix="session-", dir=box._base)
        plan: _protocol.PortablePlan = {
            "submission": self.submission,
            "package": self.package,
            "modules": list(dict.fromkeys([*box.probes, *self.modules])),
            "preload": list(box.preload),
            "probe_dirs": list(box.probe_dirs),
            "site": _site_folders(),
            "scratch": folder,
            "limits": {"stream": int(self.limits.stream), "fsize": int(self.limits.fsize)},
        }
        child = _Child(box.python, folder, os.path.join(box._base, "child.log"))
        reply = child.start(plan, box.start_timeout)
        if reply is not None:
            _rmtree(folder)
            raise SandboxError(f"the portable runner's child did not start: {reply}")
        box._session = self
        self._child = child
        self.children += 1
        return child

    def run(self, probe: str, inputs: dict[str, Any], timeout: float) -> Outcome:
        """``probe(**inputs)`` in this session's child, with a wall ``timeout``."""
        module = _probe_module(probe)
        if module not in self.modules:
            raise SandboxError(f"{probe} is not in this session's probe modules {self.modules}")
        timeout = _seconds(timeout, "timeout")
        if type(inputs) is not dict:
            raise SandboxError("inputs must be a dict of keyword arguments")
        child = self._child or self._start()
        try:
            work = tempfile.mkdtemp(prefix="call-", dir=child.folder)
            plain.dump([inputs], os.path.join(work, _protocol.IN_DIR))  # a request of one
        except plain.PlainDataError as exc:
            raise SandboxError(f"inputs are not plain data: {exc}") from None
        except OSError as exc:  # the disk is full
            self.close()
            return Outcome(
                "crash",
                message=f"no room for this call's inputs ({exc.strerror}); the next call "
                "starts afresh",
            )
        name = os.path.basename(work)
        left = self.allowance - child.used
        started = time.monotonic()
        try:
            limit = min(timeout, left)
            request: _protocol.PortableRequest = {"probe": probe, "call": name, "timeout": limit}
            reply = child.call(request, limit)
            wall = time.monotonic() - started
            child.used += wall
            if isinstance(reply, str):  # _TIMEOUT
                self._end_child()
                message = (
                    f"time limit exceeded ({timeout:g} s)"
                    if timeout <= left
                    else f"time limit exceeded ({self.allowance:g} s for all the calls of "
                    "this session)"
                )
                outcome = Outcome("timeout", message=message, wall=wall)
            elif reply is None:
                outcome = _ended(self._end_child(), wall)
            else:
                cpu = reply.get("cpu")
                alive: _protocol.Reply = {
                    "alive": True,
                    "wall": wall,
                    "cpu": cpu if type(cpu) is float else 0.0,
                }
                outcome = _classify(alive, work, timeout, self.limits, self.budget)
            outcome.stdout = _excerpt(os.path.join(work, _protocol.STDOUT), self.limits.excerpt)
            outcome.stderr = _excerpt(os.path.join(work, _protocol.STDERR), self.limits.excerpt)
            return outcome
        finally:  # the call's folder, or all of a dead child's
            _rmtree(work if self._child is child else child.folder)

    def _end_child(self) -> int:
        """Kill the child (its folder is left to the caller); its return code."""
        child, self._child = self._child, None
        assert child is not None
        self._release()
        return child.kill()


class _Child:
    """One spawned child process, and a thread that queues the lines of its replies
    (pipes cannot be waited on with a timeout on every platform; a queue can)."""

    def __init__(self, python: str, folder: str, log_path: str) -> None:
        self.folder = folder
        self.used = 0.0  # wall seconds of its calls so far
        self._replies: queue.Queue[bytes | None] = queue.Queue()
        env = {**os.environ, **{name: _protocol.ENV_WHITELIST[name] for name in THREAD_VARIABLES}}
        with open(log_path, "ab") as log:
            try:
                self.proc = subprocess.Popen(
                    [python, "-I", "-B", "-c", _BOOT, _REPO],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    env=env,
                    cwd=folder,
                )
            except OSError as exc:
                raise SandboxError(
                    f"cannot start the portable runner with {python}: {exc}"
                ) from None
        self._log = log_path
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with contextlib.suppress(OSError, ValueError):
            for line in self.proc.stdout:
                self._replies.put(line)
        self._replies.put(None)

    def _send(self, message: _protocol.PortablePlan | _protocol.PortableRequest) -> bool:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(message) + "\n").encode())
            self.proc.stdin.flush()
        except OSError:  # it died
            return False
        return True

    def _reply(self, deadline: float, key: str) -> dict[str, Any] | str | None:
        """The child's next reply holding ``key``; None when it died, :data:`_TIMEOUT`
        when ``deadline`` (monotonic) passed. Other lines (no reply of ours) are skipped."""
        while True:
            try:
                line = self._replies.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                return _TIMEOUT
            if line is None:
                return None
            with contextlib.suppress(ValueError):
                reply = json.loads(line)
                if type(reply) is dict and key in reply:
                    return reply

    def start(self, plan: _protocol.PortablePlan, timeout: float) -> str | None:
        """Send the session's plan and wait until the child is ready; None, or why not."""
        reply = self._reply(time.monotonic() + timeout, "ok") if self._send(plan) else None
        if isinstance(reply, dict) and reply["ok"] is True:
            return None
        self.kill()
        if isinstance(reply, dict):
            return str(reply.get("error"))[:2000]
        tail = _tail(self._log)
        return (f"no answer in {timeout:g} s" if reply == _TIMEOUT else "it exited") + (
            f": {tail}" if tail else ""
        )

    def call(
        self, request: _protocol.PortableRequest, timeout: float
    ) -> dict[str, Any] | str | None:
        """Send one call; its reply, None when the child died, :data:`_TIMEOUT` after
        ``timeout`` seconds."""
        deadline = time.monotonic() + max(timeout, 0.0)
        if not self._send(request):
            return None
        while isinstance(reply := self._reply(deadline, "done"), dict):  # not None, _TIMEOUT
            if reply["done"] == request["call"]:
                return reply
        return reply

    def kill(self) -> int:
        """Kill the child (if it still runs); its return code (negative: the POSIX signal
        that ended it)."""
        with contextlib.suppress(OSError):
            self.proc.kill()
        code = self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                pipe.close()  # type: ignore[union-attr]
        return code


def _ended(code: int, wall: float) -> Outcome:
    """The :class:`Outcome` of a call whose child died with return code ``code``, in the
    confined runner's words (its ``_classify`` reads a wait status, which Windows lacks)."""
    if code < 0:  # POSIX: killed by a signal
        name = _signal_name(-code)
        return Outcome("crash", message=f"crashed with signal {name}", signal=name, wall=wall)
    if code >= 0xC0000000:  # Windows: an exception code (0xC0000005: access violation)
        return Outcome("crash", message=f"crashed with exception 0x{code:08X}", wall=wall)
    if code == _protocol.EXIT_NO_MEMORY:
        return Outcome("memory", message="memory limit exceeded", exit_code=code, wall=wall)
    if code == _protocol.EXIT_NO_RECORD:
        return Outcome(
            "output",
            message="the call's result could not be written (did your code fill its "
            "scratch space?)",
            exit_code=code,
            wall=wall,
        )
    return Outcome(
        "exit",
        message=f"your code exited the process (exit code {code}) before returning",
        exit_code=code,
        wall=wall,
    )


def _excerpt(path: str, limit: int) -> str:
    """The start of a call's stdout or stderr file, as the confined runner shows it."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            data = fh.read(limit)
    except OSError:
        return ""
    text = data.decode("utf-8", "replace")
    if size > limit:
        text += f"\n[... {size - limit} more bytes not shown]"
    return text


def _site_folders() -> list[str]:
    """This interpreter's package folders: ``-I`` leaves out the user's site-packages, where
    a student may have installed NumPy or torch."""
    return [
        folder
        for folder in sys.path
        if os.path.basename(os.path.normpath(folder)) in ("site-packages", "dist-packages")
        and os.path.isdir(folder)
    ]
