"""The sandboxed child: the calls of one session, after its confinement.

Runs in a process forked from the zygote, which already imported NumPy (and torch, the
kit's probe modules and this module) and is pid 1 of a fresh PID namespace when that
layer is active. :func:`serve` confines the process (:func:`.confine.confine`), tells the
zygote "ready" over a pipe and closes it, then serves calls; it never returns: it ends
with ``os._exit``. The ready pipe is the only trusted statement about the setup:
everything the child writes afterwards (the result records, outputs, the "done" bytes) is
written by a process that ran student code, and the parent treats it as untrusted.

A session serves the calls of one submission. The parent writes its requests straight to
the child's requests pipe (passed to it once, when the session opened); each request
names a request folder (made by the parent, holding every call's inputs in one document,
and one empty call folder per call) and its calls, each a probe and its call folder. For
each call the child resets the global state it knows (:class:`Baseline`), runs the probe
with the call folder as cwd, HOME and TMPDIR, writes the result there and writes one byte
on the "done" pipe. The parent stops the child (SIGSTOP) after the
request's last call, before it reads anything, and continues it for the next request.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import gc
import json
import os
import sys
import time
import traceback
import warnings
from types import ModuleType
from typing import Any

import numpy as np

from autograder import plain

from . import confine
from .protocol import (
    EXIT_NO_MEMORY,
    EXIT_NO_RECORD,
    FRAMES_KEPT,
    IN_DIR,
    MESSAGE_CAP,
    OUT_DIR,
    RESULT_DIR,
    ChildPlan,
    Record,
    Request,
)

_MT19937_BYTES = 624 * 4 + 4  # NumPy's mt19937_state: uint32_t key[624]; int pos


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


def _describe(exc: BaseException, submission: str) -> Record:
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

    The global generator is put back only when its words changed (reading them is a
    copy of 2.5 KB; ``np.random.set_state`` takes 0.1 ms): a call that sets the state
    to the very same words with a cached Gaussian keeps that Gaussian, for its own later
    calls only.
    """

    def __init__(self) -> None:
        self.environ = {k: v for k, v in os.environ.items() if k not in ("HOME", "TMPDIR")}
        self.environ_names = {*self.environ, "HOME", "TMPDIR"}
        self.path = list(sys.path)
        self.meta_path = list(sys.meta_path)
        self.modules = dict(sys.modules)
        self.recursion = sys.getrecursionlimit()
        self.filters = list(warnings.filters)
        self.numpy_errors = np.geterr()
        self.numpy_print = np.get_printoptions()
        self.numpy_random = np.random.get_state()
        # the words (624 and a position) the global RandomState draws from
        self.generator = np.random.mtrand._rand._bit_generator  # kept alive: its address
        self.generator_words = self._generator_words()

    def _generator_words(self) -> bytes:
        return ctypes.string_at(self.generator.ctypes.state_address, _MT19937_BYTES)

    def restore(self, folder: str) -> None:
        os.chdir(folder)
        environ = os.environ
        if set(environ) != self.environ_names or any(
            environ[name] != value for name, value in self.environ.items()
        ):
            environ.clear()
            environ.update(self.environ)
        environ["HOME"] = environ["TMPDIR"] = folder
        sys.path[:] = self.path
        sys.meta_path[:] = self.meta_path
        modules = sys.modules
        modules.update(self.modules)  # every module replaced or removed comes back
        if len(modules) != len(self.modules):  # and some were added
            for name in modules.keys() - self.modules.keys():
                if not isinstance(modules[name], ModuleType):
                    del modules[name]  # None (an import blocker) or an impostor object
        sys.setrecursionlimit(self.recursion)
        # the stubs show a read-only filter list and no _filters_mutated (both are there)
        warnings.filters[:] = self.filters  # type: ignore[index]
        warnings._filters_mutated()  # type: ignore[attr-defined]
        if np.geterr() != self.numpy_errors:
            np.seterr(**self.numpy_errors)
        if np.get_printoptions() != self.numpy_print:
            np.set_printoptions(**self.numpy_print)
        if self._generator_words() != self.generator_words:
            np.random.set_state(self.numpy_random)


def _next_request(fd: int, buffer: bytearray) -> Any:
    """The next JSON line from the parent, decoded (None when it closed the pipe)."""
    while b"\n" not in buffer:
        chunk = os.read(fd, 4096)
        if not chunk:
            return None
        buffer += chunk
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return json.loads(line)


def _request_inputs(folder: str, count: int) -> list[dict[str, Any]] | str:
    """The inputs of a request's ``count`` calls, one dict each, from the document the
    parent wrote in ``folder``; or why they could not be read."""
    try:
        inputs = plain.load(
            folder,
            max_bytes=1 << 40,
            max_arrays=1 << 20,
            max_json_bytes=1 << 30,
            max_depth=plain.MAX_DEPTH + 1,
            max_nodes=1 << 40,
        )
        if type(inputs) is not list or len(inputs) != count:
            raise TypeError("inputs must be a list of one dict per call")
        for given in inputs:
            if type(given) is not dict:
                raise TypeError("inputs must be a dict")
    except BaseException as exc:
        return f"the inputs could not be read ({type(exc).__name__})"
    return inputs


def _call(
    submission: str,
    fsize: int,
    probe: Any,
    inputs: list[dict[str, Any]] | str,
    index: int,
    folder: str,
) -> int:
    """Run ``probe(**inputs[index])`` (taking the dict out of the list, so that it goes
    with the call; ``inputs`` a str: why they could not be read); write the result record
    (and the output) in ``folder``. Returns 0, or the exit code when no record could be
    written."""
    record: Record
    given: dict[str, Any] | None = None
    if isinstance(inputs, str):
        record = {"status": "output", "message": inputs}
    else:
        given, inputs[index] = inputs[index], {}
    # ---- from here on, student code runs ----
    started = time.perf_counter()
    if given is not None:
        try:
            value = probe(**given)
        except SystemExit as exc:
            record = {"status": "exit", "code": _exit_code(exc.code)}
        except MemoryError:
            record = {"status": "memory"}
        except BaseException as exc:
            record = _describe(exc, submission)
            del exc
        else:
            record = _dump_output(fsize, value, folder)
            value = None
    given = None
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


def _dump_output(fsize: int, value: Any, folder: str) -> Record:
    try:
        plain.dump(plain.to_plain(value), os.path.join(folder, OUT_DIR))
        return {"status": "ok"}
    except MemoryError:
        return {"status": "memory"}
    except (TypeError, plain.PlainDataError) as exc:
        return {"status": "output", "message": str(exc)[:MESSAGE_CAP]}
    except OSError as exc:
        # EFBIG: past RLIMIT_FSIZE (a short write without an errno counts as the same)
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


def serve(plan: ChildPlan, ready_fd: int, requests_fd: int, done_fd: int) -> None:
    """Confine this freshly forked process, then run the parent's requests until the
    requests pipe closes; ``_exit`` at the end.

    A request is ``{"folder": "<folder in scratch>", "calls": [{"probe":
    "module:function", "call": "<call folder in it>"}, ...]}``, run in order; the probe
    modules were imported by the zygote (``plan["modules"]``), the child cannot import kit
    code. Each call ends with one byte on ``done_fd``.
    """
    code = 70
    try:
        try:
            applied = confine.confine(plan, (ready_fd, requests_fd, done_fd))
            modules = {name: sys.modules[name] for name in plan["modules"]}
            baseline = Baseline()
        except BaseException as exc:
            _report_ready(
                ready_fd, {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
            )
            os._exit(code)
        _report_ready(ready_fd, {"ok": True, "applied": applied})
        buffer = bytearray()
        code = 0
        request: Request | None
        while not code and (request := _next_request(requests_fd, buffer)) is not None:
            calls = request["calls"]
            where = os.path.join(plan["scratch"], request["folder"])
            inputs = _request_inputs(os.path.join(where, IN_DIR), len(calls))
            for index, call in enumerate(calls):
                module, _, function = call["probe"].partition(":")
                folder = os.path.join(where, call["call"])
                baseline.restore(folder)
                confine.redirect_output(folder, plan["limits"]["stream"])
                code = _call(
                    plan["submission"],
                    plan["limits"]["fsize"],
                    getattr(modules[module], function),
                    inputs,
                    index,
                    folder,
                )
                if code:
                    break
                _flush()
                with contextlib.suppress(OSError):
                    os.write(done_fd, b"\n")
    finally:
        _finish(code)
