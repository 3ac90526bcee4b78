"""The trust boundary: untrusted student code runs in confined child processes.

    from autograder.sandbox import Call, Sandbox

    with Sandbox(preload=("torch",), slot=0) as box:
        out = box.run(Call("autograder.probes.cnn:conv2d", submission="/work/s1",
                           package="cnn", inputs={"x": x, "w": w}, timeout=2.0))
        out.status   # ok | error | timeout | crash | exit | memory | output
        out.value    # plain data (numbers, strings, lists, dicts, numeric arrays) when ok

A :class:`Sandbox` owns a *zygote*: a separate ``python -I`` process that imported NumPy
(and torch, running no torch op) and the kit's probe modules, lives in a private network
namespace, and forks one fresh child per call. The child confines itself (session, fds,
rlimits, Landlock, uid drop or capability drop, seccomp; pid 1 of a fresh PID namespace)
before calling ``probe(**inputs)``; the probe imports the student's package. Only plain
data comes back (:mod:`autograder.plain`). :func:`layers` reports which layers work here.
"""

from .parent import STATUSES, Call, Layer, Limits, Outcome, Sandbox, SandboxError, layers

__all__ = ["STATUSES", "Call", "Layer", "Limits", "Outcome", "Sandbox", "SandboxError", "layers"]
