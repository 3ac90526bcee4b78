"""The portable runner's child: one session's calls in a spawned interpreter, unconfined.

Started by :class:`autograder.sandbox.portable_parent.PortableSandbox` as
``python -I -B -c <boot> ROOT`` (spawn semantics: no fork, nothing Linux-only, so it runs on
Windows and macOS too). Its stdin and stdout are the control channel, moved to other
descriptors at once: student code reads stdin from the null device, and its stdout and
stderr go to files in the call's folder. Protocol, one JSON line each way:

1. the parent sends the session's plan ``{"submission", "package", "modules", "preload",
   "probe_dirs", "site", "scratch", "limits": {"stream", "fsize"}}``; the child imports
   NumPy, ``preload`` and the probe modules, makes the student's package importable by its
   name from the submission folder only (and no more of the kit), takes its
   :class:`~autograder.sandbox.child.Baseline` and answers ``{"ok": true}`` (or
   ``{"ok": false, "error": "..."}`` and exits);
2. per call the parent sends ``{"probe": "module:function", "call": "<folder in scratch>",
   "timeout": seconds}`` (the inputs are in that folder, written with
   :mod:`autograder.plain` as a request of one call); the child restores the baseline
   and runs the call as the confined child does (:func:`autograder.sandbox.child._call`:
   the same result record, output and messages), then answers ``{"done": "<folder>",
   "cpu": seconds}``.

It ends when its stdin closes, or with the confined child's exit codes when no record could
be written. The parent kills it when a call runs out of time; should the parent be gone, a
watchdog ends a call that outlives its timeout by :data:`WATCHDOG_GRACE` seconds.
"""

from __future__ import annotations

import importlib
import json
import os
import site
import sys
import threading
import time
from typing import Any

import numpy.random  # noqa: F401  (imported up front, as in the zygote)

from . import child, confine, protocol
from .protocol import PortablePlan, PortableRequest

# Exit code when the plan could not be carried out (nothing of the student ran).
EXIT_SETUP = 70
# Exit code when a call outlived its timeout by WATCHDOG_GRACE seconds: the parent, which
# kills the child at the timeout, is gone (the child must not loop on forever without it).
EXIT_WATCHDOG = 124
WATCHDOG_GRACE = 2.0
# Windows: files written without newline translation (0 elsewhere).
_BINARY = getattr(os, "O_BINARY", 0)


def _redirect_output(folder: str, stream_cap: int) -> None:
    """stdout and stderr (descriptors 1 and 2 and the Python streams) to new files in
    ``folder``, capped at ``stream_cap`` bytes each as in the confined child."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY
    for target, name in ((1, protocol.STDOUT), (2, protocol.STDERR)):
        fd = os.open(os.path.join(folder, name), flags, 0o644)
        os.dup2(fd, target)
        os.close(fd)
    sys.stdout = confine.stream(1, stream_cap)
    sys.stderr = confine.stream(2, stream_cap)


def _release_output(null: int, scratch: str) -> None:
    """Close the call's files and leave its folder (Windows cannot delete open files or a
    process's working directory), so that the parent can remove it."""
    child._flush()
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.chdir(scratch)


def _setup(plan: PortablePlan, root: str) -> tuple[dict[str, Any], child.Baseline]:
    """Import what the calls need, then hide the kit and expose the student's package.

    Returns the probe modules by name and the baseline every call starts from.
    """
    for folder in plan["site"]:  # the parent's site folders (a user site, say) that -I left out
        if folder not in sys.path:
            site.addsitedir(folder)
    for name in plan["preload"]:
        importlib.import_module(name)
    extra = [folder for folder in plan["probe_dirs"] if folder not in sys.path]
    sys.path.extend(extra)
    modules = {name: importlib.import_module(name) for name in plan["modules"]}
    # The kit's folder and the probe folders were for these imports only.
    for folder in [root, *extra]:
        sys.path.remove(folder)
        sys.path_importer_cache.pop(folder, None)
    package = plan["package"]
    if package:
        if package in sys.modules:
            raise RuntimeError(f"module {package!r} is already loaded")
        sys.meta_path.insert(0, confine.SubmissionFinder(plan["submission"], package))
    else:
        sys.path.insert(0, plan["submission"])
    os.chdir(plan["scratch"])
    sys.argv = ["<submission>"]
    sys.orig_argv = ["python", "<submission>"]  # not the kit's command line and folders
    sys.dont_write_bytecode = True
    return modules, child.Baseline()


def _send(fd: int, message: dict[str, Any]) -> None:
    data = memoryview((json.dumps(message) + "\n").encode())
    while data:
        data = data[os.write(fd, data) :]


def main(root: str) -> None:
    """Serve one session (see the module's docstring); ``root`` holds the ``autograder``
    package and was put first on ``sys.path`` by the boot code. Ends with ``os._exit``."""
    requests, replies = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)  # stderr stays the parent's log until the first call
    buffer = bytearray()
    code = EXIT_SETUP
    try:
        try:
            plan: PortablePlan | None = child._next_request(requests, buffer)
            if plan is None:
                os._exit(0)
            modules, baseline = _setup(plan, root)
        except BaseException as exc:
            _send(replies, {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:2000]}"})
            os._exit(code)
        _send(replies, {"ok": True})
        stream = plan["limits"]["stream"]
        request: PortableRequest | None
        while (request := child._next_request(requests, buffer)) is not None:
            module, _, function = request["probe"].partition(":")
            folder = os.path.join(plan["scratch"], request["call"])
            baseline.restore(folder)
            _redirect_output(folder, stream)
            watchdog = threading.Timer(
                request["timeout"] + WATCHDOG_GRACE, os._exit, args=(EXIT_WATCHDOG,)
            )
            watchdog.daemon = True
            watchdog.start()
            started = time.process_time()
            code = child._call(
                plan["submission"],
                plan["limits"]["fsize"],
                getattr(modules[module], function),
                child._request_inputs(os.path.join(folder, protocol.IN_DIR), 1),
                0,
                folder,
            )
            watchdog.cancel()
            if code:
                break
            cpu = time.process_time() - started
            _release_output(null, plan["scratch"])
            _send(replies, {"done": request["call"], "cpu": cpu})
        else:
            code = 0
    finally:
        child._finish(code)
