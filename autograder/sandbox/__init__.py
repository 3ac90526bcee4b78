"""The trust boundary: untrusted student code runs in confined child processes.

    from autograder.sandbox import Call, Sandbox

    with Sandbox(preload=("torch",), probes=("autograder.probes.cnn",), slot=0) as box:
        out = box.run(Call("autograder.probes.cnn:conv2d", submission="/work/s1",
                           package="cnn", inputs={"x": x, "w": w}, timeout=2.0))
        out.status   # ok | error | timeout | crash | exit | memory | output
        out.value    # plain data (numbers, strings, lists, dicts, numeric arrays) when ok

A :class:`Sandbox` owns a *zygote*: a separate ``python -I`` process with a whitelisted
environment (BLAS/OpenMP threads = 1) that imported NumPy, the ``preload`` list (torch is
imported, never run) and the kit's probe modules, and that lives in a private network
namespace with a size-capped private tmpfs for scratch folders. Per call it forks a fresh
child (pid 1 of a new PID namespace) which confines itself - session, fds, rlimits,
Landlock, uid drop or capability drop, seccomp - before it calls ``probe(**inputs)``; the
probe imports the student's package, so the import is timed and confined too. Only plain
data comes back (:mod:`autograder.plain`); the parent reads it after the child is dead.
:func:`layers` (or :meth:`Sandbox.report`) says which layers work on this machine and why
the others do not; a Sandbox refuses to start with none of Landlock, seccomp and the
network namespace unless ``allow_unconfined=True``.

Rules for probe modules (``autograder.probes.<assignment>``, or modules in ``probe_dirs``):

* the zygote imports them, so they must not run a torch op or start threads at import;
* the child cannot read the repository: everything a probe needs from the kit must be
  imported at module level (lazy imports of kit modules fail with PermissionError);
* they hold no secrets and no expected values (the child can read their globals).

Behaviour worth knowing: each call starts from the zygote's state (NumPy's global RNG
included), so nothing a student changes survives into the next call; the student's
package is importable by its name only (other files in the submission folder cannot
shadow modules); stdout/stderr are kept up to 64 KiB each and returned as 2 KiB excerpts;
files the child writes live in its scratch folder (cwd, HOME, TMPDIR), deleted after the
call.
"""

from .parent import STATUSES, Call, Layer, Limits, Outcome, Sandbox, SandboxError, layers

__all__ = ["STATUSES", "Call", "Layer", "Limits", "Outcome", "Sandbox", "SandboxError", "layers"]
