"""The child's seccomp filter: an allowlist, written as classic BPF by hand (no libseccomp).

The filter is loaded last in the child, after ``no_new_privs``. It allows the calls in
:data:`ALLOW` (what CPython, NumPy and PyTorch need to run a student's module and a
hidden grader's probe, measured with ``strace -f`` over the reference solutions, the
demo's submissions and ``release verify`` of both assignments) and the calls of
:data:`CHECKED` for the argument values listed there. Everything else is refused with
``EPERM``, so a call that a newer kernel adds is refused by default. Two exceptions:

* ``clone3`` gets ``ENOSYS``: glibc then makes threads with ``clone``, whose flags a
  filter can read (``clone3`` passes them in memory);
* a foreign architecture (i386 ``int 0x80``) or an x32 call kills the process.

Where a call is refused, Landlock and the uid drop are never asked: the filter is the
last word. Where it is allowed, they still are (files, for instance).
"""

from __future__ import annotations

import ctypes
import errno
import functools
import struct
import sys

from . import _linux

# Calls allowed whatever their arguments, each with the reason the child needs it.
ALLOW: dict[str, str] = {
    # Files and descriptors: Landlock (and the uid drop) decide which files.
    "read": "reading files and pipes",
    "write": "writing files and the reply pipe",
    "readv": "buffered reads",
    "writev": "buffered writes",
    "pread64": "NumPy and zipfile reads at an offset",
    "pwrite64": "writes at an offset",
    "lseek": "file positions",
    "open": "opening files (legacy call)",
    "openat": "opening files",
    "close": "closing descriptors",
    "close_range": "CPython's os.closerange",
    "dup": "descriptor copies",
    "dup2": "descriptor copies",
    "dup3": "descriptor copies",
    "pipe2": "os.pipe",
    "fstat": "stat of an open file",
    "stat": "stat (legacy call)",
    "lstat": "lstat (legacy call)",
    "newfstatat": "os.stat, imports",
    "statx": "stat with more fields (libraries probe it)",
    "statfs": "file system facts (shutil, tempfile)",
    "fstatfs": "file system facts of an open file",
    "access": "os.access",
    "faccessat": "os.access",
    "faccessat2": "os.access with flags",
    "readlink": "os.path.realpath",
    "readlinkat": "os.path.realpath",
    "getdents64": "listing folders",
    "getcwd": "os.getcwd",
    "chdir": "the call folder as working folder",
    "fchdir": "os.chdir on a descriptor",
    "mkdir": "folders in the scratch space",
    "mkdirat": "folders in the scratch space",
    "rmdir": "removing scratch folders",
    "unlink": "removing scratch files",
    "unlinkat": "removing scratch files",
    "rename": "os.replace of a scratch file",
    "renameat": "os.replace of a scratch file",
    "renameat2": "os.replace of a scratch file",
    "ftruncate": "truncating a scratch file",
    "fallocate": "reserving file space (bounded by the file-size limit and the scratch)",
    "fsync": "flushing a file",
    "fdatasync": "flushing a file",
    "fadvise64": "read-ahead hints",
    "flock": "file locks",
    "getxattr": "reading extended attributes (shutil.copystat)",
    "lgetxattr": "reading extended attributes",
    "fgetxattr": "reading extended attributes",
    "listxattr": "listing extended attributes",
    "llistxattr": "listing extended attributes",
    "flistxattr": "listing extended attributes",
    "sendfile": "shutil.copyfile",
    "copy_file_range": "shutil.copyfile",
    "umask": "tempfile and os.makedirs",
    "poll": "waiting on a descriptor",
    "ppoll": "waiting on a descriptor",
    "select": "waiting on a descriptor",
    "pselect6": "waiting on a descriptor",
    # Memory: the address-space limit bounds it.
    "brk": "the heap",
    "mmap": "memory and mapped files",
    "munmap": "memory",
    "mremap": "growing arrays",
    "mprotect": "loading extension modules, thread stacks",
    "madvise": "allocators returning memory",
    "msync": "NumPy memmap",
    "mincore": "allocators probing pages",
    # Threads and their synchronisation (process creation is a CHECKED clone).
    "futex": "locks and condition variables",
    "set_robust_list": "thread start",
    "get_robust_list": "thread start",
    "set_tid_address": "thread start",
    "rseq": "thread start (glibc registers restartable sequences)",
    "sched_yield": "spin locks (OpenMP)",
    "sched_getaffinity": "os.cpu_count, PyTorch's thread pool",
    "sched_getparam": "thread pools query their priority",
    "sched_getscheduler": "thread pools query their policy",
    "sched_get_priority_max": "thread pools query priorities",
    "sched_get_priority_min": "thread pools query priorities",
    "getpriority": "os.getpriority",
    "exit": "a thread ending",
    "exit_group": "the child ending",
    "restart_syscall": "a call interrupted by a signal",
    "wait4": "os.wait (there are no child processes)",
    "waitid": "os.waitid (there are no child processes)",
    # Signals to this process only (kill and tgkill are CHECKED).
    "rt_sigaction": "signal handlers",
    "rt_sigprocmask": "blocking signals",
    "rt_sigreturn": "returning from a handler",
    "rt_sigpending": "signal.sigpending",
    "rt_sigtimedwait": "signal.sigtimedwait",
    "rt_sigsuspend": "signal.pause",
    "sigaltstack": "faulthandler's stack",
    "pause": "signal.pause",
    "alarm": "signal.alarm",
    "getitimer": "interval timers",
    "setitimer": "interval timers (the CPU limit stays)",
    "timer_create": "POSIX timers of this process",
    "timer_settime": "POSIX timers of this process",
    "timer_gettime": "POSIX timers of this process",
    "timer_getoverrun": "POSIX timers of this process",
    "timer_delete": "POSIX timers of this process",
    # Time.
    "clock_gettime": "time.time, time.perf_counter",
    "clock_getres": "time.get_clock_info",
    "clock_nanosleep": "time.sleep",
    "nanosleep": "time.sleep",
    "gettimeofday": "time of day",
    "time": "time of day",
    "times": "os.times",
    # Facts about this process and machine.
    "getpid": "os.getpid",
    "gettid": "threading.get_native_id",
    "getppid": "os.getppid",
    "getuid": "os.getuid",
    "geteuid": "os.geteuid",
    "getgid": "os.getgid",
    "getegid": "os.getegid",
    "getresuid": "os.getresuid",
    "getresgid": "os.getresgid",
    "getgroups": "os.getgroups",
    "getpgrp": "os.getpgrp",
    "getpgid": "os.getpgid",
    "getsid": "os.getsid",
    "getrlimit": "resource.getrlimit",
    "getrusage": "resource.getrusage (the parent's CPU accounting is its own)",
    "uname": "platform.uname",
    "sysinfo": "free memory (libraries size their caches)",
    "getrandom": "random seeds, hash randomisation",
    "capget": "capability queries",
    "arch_prctl": "thread-local storage (x86_64)",
}

# Calls allowed only where one argument takes one of a few values; ``SELF`` stands for the
# child's own pid (1 in its PID namespace) and 0 for "the caller" where the call says so.
SELF = -1
CHECKED: dict[str, tuple[int, dict[int, str]]] = {
    "kill": (0, {SELF: "signals to itself only"}),
    "tgkill": (0, {SELF: "signals to its own threads only"}),
    "rt_sigqueueinfo": (0, {SELF: "signals to itself only"}),
    "rt_tgsigqueueinfo": (0, {SELF: "signals to its own threads only"}),
    "prlimit64": (0, {0: "its own limits", SELF: "its own limits"}),
    "sched_setaffinity": (0, {0: "its own threads' CPUs", SELF: "its own CPUs"}),
    "ioctl": (
        1,
        {
            0x5401: "TCGETS: isatty",
            0x5413: "TIOCGWINSZ: the terminal's size",
            0x541B: "FIONREAD: bytes waiting in a pipe",
            0x5421: "FIONBIO: os.set_blocking",
            0x5450: "FIONCLEX: os.set_inheritable",
            0x5451: "FIOCLEX: os.set_inheritable",
        },
    ),
    "fcntl": (
        1,
        {
            0: "F_DUPFD",
            1: "F_GETFD",
            2: "F_SETFD",
            3: "F_GETFL",
            4: "F_SETFL",
            5: "F_GETLK",
            6: "F_SETLK",
            7: "F_SETLKW",
            36: "F_OFD_GETLK",
            37: "F_OFD_SETLK",
            38: "F_OFD_SETLKW",
            1030: "F_DUPFD_CLOEXEC",
            1032: "F_GETPIPE_SZ",
        },
    ),
    "prctl": (
        0,
        {
            2: "PR_GET_PDEATHSIG",
            3: "PR_GET_DUMPABLE",
            15: "PR_SET_NAME: thread names",
            16: "PR_GET_NAME",
            21: "PR_GET_SECCOMP",
            23: "PR_CAPBSET_READ",
            30: "PR_GET_TIMERSLACK",
            39: "PR_GET_NO_NEW_PRIVS",
            0x53564D41: "PR_SET_VMA: allocators name their mappings",
        },
    ),
}
# clone is allowed for a thread (CLONE_THREAD) that makes no namespace; never a process.
THREAD_CLONE = "clone"

# BPF opcodes (linux/filter.h, linux/bpf_common.h).
_LD_W_ABS = 0x20
_JA = 0x05
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06

RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000
RET_EPERM = RET_ERRNO | errno.EPERM
RET_ENOSYS = RET_ERRNO | errno.ENOSYS

# struct seccomp_data offsets: nr (int), arch (u32), instruction_pointer (u64), args[6].
_OFF_NR = 0
_OFF_ARCH = 4
_X32_SYSCALL_BIT = 0x40000000


def _arg_low(i: int) -> int:
    """Offset of the low 32 bits of argument ``i``: every checked argument is an ``int``
    or ``unsigned int`` to the kernel, which ignores the high half."""
    return 16 + 8 * i + (0 if sys.byteorder == "little" else 4)


@functools.lru_cache(maxsize=4)
def build(self_pid: int) -> bytes:
    """The filter program as raw ``struct sock_filter`` bytes for the process ``self_pid``.

    Layout: architecture check, one ``JEQ``/``JA`` pair per checked call into its block,
    then one ``JEQ``/``RET ALLOW`` pair per allowed call, then ``RET EPERM``. Conditional
    jumps only ever skip one instruction; long jumps are ``JA`` (32-bit offsets).
    """
    if _linux.AUDIT_ARCH is None:
        raise OSError(errno.ENOSYS, f"seccomp filter: unsupported architecture {_linux.MACHINE}")
    nrs = _linux.SYSCALLS
    prog: list[tuple[int, int, int, int | str]] = []  # (code, jt, jf, k or label)
    labels: dict[str, int] = {}

    def emit(code: int, k: int | str, jt: int = 0, jf: int = 0) -> None:
        prog.append((code, jt, jf, k))

    def allow_if(value: int) -> None:  # A == value: allow; else fall through
        emit(_JEQ_K, value & 0xFFFFFFFF, 0, 1)
        emit(_RET_K, RET_ALLOW)

    emit(_LD_W_ABS, _OFF_ARCH)
    emit(_JEQ_K, _linux.AUDIT_ARCH, 1, 0)
    emit(_RET_K, RET_KILL_PROCESS)
    emit(_LD_W_ABS, _OFF_NR)
    if _linux.MACHINE == "x86_64":
        emit(_JGE_K, _X32_SYSCALL_BIT, 0, 1)
        emit(_RET_K, RET_KILL_PROCESS)
    emit(_JEQ_K, nrs["clone3"], 0, 1)
    emit(_RET_K, RET_ENOSYS)
    for name in (THREAD_CLONE, *CHECKED):
        emit(_JEQ_K, nrs[name], 0, 1)
        emit(_JA, name)
    emit(_JA, "allowlist")

    labels[THREAD_CLONE] = len(prog)  # clone(flags, ...): a thread, no new namespace
    emit(_LD_W_ABS, _arg_low(0))
    emit(_JSET_K, _linux.CLONE_NAMESPACES, 1, 0)
    emit(_JSET_K, _linux.CLONE_THREAD, 1, 0)
    emit(_RET_K, RET_EPERM)
    emit(_RET_K, RET_ALLOW)
    for name, (arg, values) in CHECKED.items():
        labels[name] = len(prog)
        emit(_LD_W_ABS, _arg_low(arg))
        for value in values:
            allow_if(self_pid if value == SELF else value)
        emit(_RET_K, RET_EPERM)

    labels["allowlist"] = len(prog)
    for name in ALLOW:
        if name in nrs:  # legacy calls (open, stat, ...) exist on x86_64 only
            allow_if(nrs[name])
    emit(_RET_K, RET_EPERM)

    out = bytearray()
    for pc, (code, jt, jf, k) in enumerate(prog):
        if isinstance(k, str):
            k = labels[k] - pc - 1
        out += struct.pack("=HBBI", code, jt, jf, k)
    return bytes(out)


def allowed_count() -> int:
    """How many of this machine's system calls the filter lets through (some by argument)."""
    return len({*ALLOW, *CHECKED, THREAD_CLONE} & set(_linux.SYSCALLS))


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


def install(self_pid: int) -> int:
    """Load the filter into the calling thread (and its future threads); returns its length.

    Requires ``no_new_privs`` (or CAP_SYS_ADMIN). Irreversible.
    """
    code = build(self_pid)
    buf = ctypes.create_string_buffer(code, len(code))
    prog = _SockFprog(len(code) // 8, ctypes.cast(buf, ctypes.c_void_p))
    _linux.prctl(_linux.PR_SET_SECCOMP, _linux.SECCOMP_MODE_FILTER, ctypes.addressof(prog))
    return len(code) // 8
