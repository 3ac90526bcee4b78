"""The trust boundary: untrusted student code runs in confined child processes.

    from autograder.sandbox import Call, Sandbox

    with Sandbox(preload=("torch",), probes=("autograder.probes.cnn",), slot=0) as box:
        with box.session("/work/s1", "cnn", modules=["autograder.probes.cnn"]) as s:
            out = s.run("autograder.probes.cnn:conv2d", {"x": x, "w": w}, timeout=2.0)
        out.status   # ok | error | timeout | crash | exit | memory | output
        out.value    # plain data (numbers, strings, lists, dicts, numeric arrays) when ok
        outs = s.run_many([(probe, inputs, timeout), ...])  # several calls, one request
        box.run(Call(...))  # one call in a child of its own

A :class:`Sandbox` owns a *zygote*: a separate ``python -I`` process with a whitelisted
environment (BLAS/OpenMP threads = 1) that imported NumPy, the ``preload`` list (torch is
imported, never run) and the kit's probe modules, and that lives in a private network
namespace with a size-capped private tmpfs for scratch folders. Per :class:`Session` (the
calls of one submission) it forks a child (pid 1 of a new PID namespace) which confines
itself - session, fds, rlimits, Landlock, uid drop or capability drop, seccomp - and then
serves the session's calls, ``probe(**inputs)`` each; the probe imports the student's
package (once), so the import is timed and confined too. The parent talks to the child
directly, over pipes the zygote passed it once, one request of one or several calls
(:meth:`Session.run_many`) at a time. Only plain data comes back
(:mod:`autograder.plain`); the parent reads it while the child is stopped or dead.
:func:`layers` (or :meth:`Sandbox.report`) says which layers work on this machine and why
the others do not; a Sandbox refuses to start with none of Landlock, seccomp and the
network namespace unless ``allow_unconfined=True``. :meth:`Runner.workspace` gives a fresh
folder for a submission's files that the children can read (they may run as another uid).

Where none of that exists (Windows, macOS), the self-check uses
:class:`~autograder.sandbox.portable_parent.PortableSandbox` instead: the same sessions and
outcomes, in a spawned process with time limits only (no confinement).

Rules for probe modules (``autograder.probes.<assignment>``, or modules in ``probe_dirs``):

* the zygote imports them, so they must not run a torch op or start threads at import;
* the child cannot read the repository: everything a probe needs from the kit must be
  imported at module level (lazy imports of kit modules fail with PermissionError);
* they hold no secrets and no expected values (the child can read their globals).

Behaviour worth knowing: each call of a session starts from the global state the child
had after confinement, as far as :class:`~autograder.sandbox.child.Baseline` restores it
(NumPy's error handling, print options and global RNG, warnings, environment, import
system); the student's own modules stay imported. A timeout, crash or exit ends the child
and the session's next call starts a fresh one; a session never serves two submissions.
The student's package is importable by its name only (other files in the submission folder
cannot shadow modules); stdout/stderr are kept up to 64 KiB per call and returned as 2 KiB
excerpts; files the child writes live in the call's folder (cwd, HOME, TMPDIR), deleted
after the call.
"""

from .parent import Runner, Sandbox, SandboxError, Session, SessionBase, layers
from .protocol import STATUSES, Call, Layer, Limits, Outcome

__all__ = [
    "STATUSES",
    "Call",
    "Layer",
    "Limits",
    "Outcome",
    "Runner",
    "Sandbox",
    "SandboxError",
    "Session",
    "SessionBase",
    "layers",
]
