"""What crosses between the parent, the zygote and the child: call folders' file names,
the child's exit codes and caps, the environment, the typed call, limits, layers and
outcomes; the messages (the zygote's configuration, the open request, a child's plan, the
requests of the confined and the portable children); and the records the parent reads: the
child's result record, the zygote's word on a child it reaped, and the reply the parent
makes of both for each call. Both sides import this module; the parent never imports the
child.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

STATUSES = ("ok", "error", "timeout", "crash", "exit", "memory", "output")

# A request folder, made by the parent: every call's inputs in ``in/`` (plain data, a list
# of one dict per call) and an empty call folder per call, in which the child writes its
# record in ``result/``, its value in ``out/`` and its streams beside them.
STDOUT = "stdout.txt"
STDERR = "stderr.txt"
IN_DIR = "in"
OUT_DIR = "out"
RESULT_DIR = "result"
# Exit code of the runner when even the memory-error record could not be written.
EXIT_NO_MEMORY = 86
# Exit code of the runner when the result record could not be written (e.g. no space left).
EXIT_NO_RECORD = 71
MESSAGE_CAP = 500
FRAMES_KEPT = 5

# Imported along with "torch" (by the zygote, and the portable runner's child): modules
# torch loads lazily at great cost (torch.optim's first step imports torch._dynamo, ~1 s).
# Imports only: no torch op runs in the zygote.
TORCH_EXTRAS = ("torch._dynamo", "torch.optim", "torch.nn.functional")

# The environment of the zygote and every child (with HOME, TMPDIR set per call).
ENV_WHITELIST = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
}


@dataclass(frozen=True)
class Limits:
    """Resource limits of one call. ``memory`` is address space *on top of* the zygote's."""

    memory: int = 1536 << 20
    fsize: int = 8 << 20
    nofile: int = 64
    nproc: int = 64
    cpu: int | None = None  # seconds of CPU; default ceil(timeout) + 1
    stream: int = 64 << 10  # bytes of stdout / stderr kept in the scratch files
    excerpt: int = 2048  # bytes of stdout / stderr returned in the Outcome
    max_output_bytes: int = 256 << 20
    max_output_arrays: int = 256


@dataclass(frozen=True)
class Call:
    """One sandboxed call: ``probe(**inputs)`` with the student's package importable.

    ``probe`` is ``"module:function"`` in the kit's trusted code (``autograder.probes.*``
    or a module in one of the Sandbox's ``probe_dirs``). ``submission`` is the folder that
    holds the student's package folder ``package`` (read-only to the child).
    """

    probe: str
    submission: str | os.PathLike[str]
    package: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    timeout: float = 2.0
    limits: Limits | None = None


@dataclass
class Outcome:
    """What one call came to. ``value`` is plain data, set only when ``status == "ok"``."""

    status: str
    value: Any = None
    message: str = ""
    error_type: str | None = None
    traceback: list[str] = field(default_factory=list)
    exit_code: int | None = None
    signal: str | None = None
    wall: float = 0.0
    cpu: float = 0.0
    probe_seconds: float = 0.0  # inside the probe, as the child measured it (for benchmarks)
    max_rss: int = 0
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class Layer:
    name: str
    active: bool
    detail: str


class ZygoteConfig(TypedDict):
    """The zygote's configuration, from the parent (its command line, JSON)."""

    base: str  # the sandbox's own folder
    repo: str  # the kit's checkout (on the zygote's path)
    probe_dirs: list[str]  # extra folders holding probe modules
    uid: int  # the children's uid, should they drop to one
    preload: list[str]  # modules imported after NumPy
    probes: list[str]  # probe modules imported up front
    scratch_size: int  # bytes of the scratch tmpfs
    scratch_inodes: int


class SessionLimits(TypedDict):
    """A session's :class:`Limits` as the zygote and the child apply them."""

    memory: int
    fsize: int
    nofile: int
    nproc: int
    cpu: int | None
    stream: int


class Open(TypedDict):
    """The parent's request to the zygote for a session's child."""

    op: Literal["open"]
    scratch: str  # the name of the child's scratch folder
    submission: str
    package: str | None
    modules: list[str]  # its probe modules
    budget: float  # seconds of the session's calls
    limits: SessionLimits


class ChildPlan(TypedDict):
    """What a confined child applies (made by the zygote's layers, for one session)."""

    scratch: str  # the child's scratch folder
    submission: str  # the submission's folder (read-only)
    package: str | None
    scratch_root: str
    budget: float
    limits: SessionLimits
    ro: list[str]  # what the child may read (Landlock)
    rw: list[str]  # and write
    modules: list[str]  # its probe modules (imported by the zygote)
    layers: dict[str, bool]  # which layers are on
    uid: int
    landlock_abi: int
    cap_last: int
    sys_path: list[str]


class PortablePlan(TypedDict):
    """What the portable runner's child sets up (from the parent, its first line)."""

    submission: str
    package: str | None
    modules: list[str]
    preload: list[str]
    probe_dirs: list[str]
    site: list[str]  # the parent's site folders that ``-I`` leaves out
    scratch: str
    limits: dict[str, int]  # stream and fsize


class CallEntry(TypedDict):
    """One call of a request: a probe (``module:function``) and its call folder's name."""

    probe: str
    call: str


class Request(TypedDict):
    """The parent's request to a confined child: calls run in order, their folders (and
    inputs) in the request folder ``folder`` of the child's scratch."""

    folder: str
    calls: list[CallEntry]


class PortableRequest(CallEntry):
    """The portable parent's request to its child: one call (its folder in the scratch,
    holding its inputs as a request of one), with its time limit."""

    timeout: float


class Record(TypedDict, total=False):
    """A call's result record, as the child writes it in ``result/`` (plain data).

    Written after the student's code ran in the same process, so untrusted: the parent
    reads each field only after checking its type, and believes ``seconds`` only within its
    own clock's bound.
    """

    status: Literal["ok", "error", "exit", "memory", "output"]
    seconds: float  # in the probe, as the child measured it
    type: str  # error: the exception's class name
    message: str  # error, output: what went wrong
    traceback: list[str]  # error: the last frames
    code: int  # exit: the exit code the student asked for


class Ended(TypedDict, total=False):
    """The zygote's word on a child it reaped (its reply to ``end``, and to ``stop`` when the
    child died first). The zygote runs no student code: trusted."""

    ok: bool
    alive: bool  # False
    status: int  # the wait status (absent when there was no child, or it is not reaped yet)
    timed_out: bool  # the parent killed it at a time limit
    oom: bool  # the kernel's OOM killer killed it
    cpu_total: float  # seconds of CPU, user + system
    maxrss_kib: int


class Reply(Ended, total=False):
    """What the parent knows of one call besides the child's files: how the child ended
    (:class:`Ended`'s fields) or ``alive``, and the parent's own clocks."""

    wall: float  # seconds from the call's start to its "done" byte (or the child's end)
    cpu: float  # seconds of CPU the child used for it
    limit: float  # its time limit, seconds
    elapsed: float  # seconds from the request's start to the call's end
    seconds_cap: float  # the most the record's ``seconds`` may claim
