"""A seccomp filter written as classic BPF by hand (no libseccomp).

The filter is loaded last in the child, after ``no_new_privs``. It returns:

* kill the process for a foreign architecture (i386 ``int 0x80``) or an x32 call;
* ``ENOSYS`` for ``clone3`` (glibc then falls back to ``clone`` for threads);
* ``EPERM`` for ``clone``/``fork``/``vfork`` creating a process (threads, i.e. ``clone``
  with ``CLONE_THREAD`` and no namespace flag, are allowed), exec, every socket call,
  ptrace and cross-process
  memory access, namespaces and mounts, keyrings, bpf, perf, io_uring, kernel modules,
  clocks, reboot and the like;
* ``EPERM`` for signals (``kill``, ``tgkill``, ``rt_[tg]sigqueueinfo``) aimed at any
  process but this one, and for ``tkill`` and ``pidfd_*`` altogether;
* ``EPERM`` for ``prlimit64`` and ``sched_setaffinity`` on another process (pid not 0 or
  self), and for priority/scheduler changes (``setpriority``, ``sched_set{scheduler,param,
  attr}``, ``ioprio_set``): a uid-0 child must not starve or cripple the grader;
* ``EPERM`` for ``prctl(PR_SET_PDEATHSIG, ...)``: the child must keep dying with the zygote;
* allow for everything else.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import struct
import sys

from . import _linux

# BPF opcodes (linux/filter.h, linux/bpf_common.h).
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06

RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000

# struct seccomp_data offsets: nr (int), arch (u32), instruction_pointer (u64), args[6].
_OFF_NR = 0
_OFF_ARCH = 4
_X32_SYSCALL_BIT = 0x40000000


def _arg_low(i: int) -> int:
    """Offset of the low 32 bits of argument ``i`` (little-endian machines)."""
    return 16 + 8 * i + (0 if sys.byteorder == "little" else 4)


DENY_EPERM = (
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    "fork", "vfork", "execve", "execveat",
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_open", "pidfd_getfd",
    "pidfd_send_signal", "tkill",
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "open_tree",
    "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "personality", "syslog", "uselib", "ustat", "sysfs", "_sysctl", "vhangup", "modify_ldt",
    "iopl", "ioperm", "acct", "quotactl", "quotactl_fd", "nfsservctl", "lookup_dcookie",
    "swapon", "swapoff", "reboot", "kexec_load", "kexec_file_load", "create_module",
    "init_module", "finit_module", "delete_module", "get_kernel_syms", "query_module",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname",
    "setdomainname", "name_to_handle_at", "open_by_handle_at", "fanotify_init",
    "migrate_pages", "move_pages", "process_madvise", "process_mrelease",
    "setpriority", "ioprio_set", "sched_setscheduler", "sched_setparam", "sched_setattr",
    # file metadata: Landlock does not cover it, and a uid-0 child could change root's files
    "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat",
    "utime", "utimes", "futimesat", "utimensat", "setxattr", "lsetxattr", "fsetxattr",
    "removexattr", "lremovexattr", "fremovexattr", "setxattrat", "removexattrat",
)
# Signal-sending calls whose first argument is the target pid/tgid: allowed only for self.
SIGNAL_SELF_ONLY = ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")
# Calls whose first argument is a pid where 0 means the caller: allowed for 0 or self.
SELF_OR_ZERO = ("prlimit64", "sched_setaffinity")


@functools.lru_cache(maxsize=4)
def build(self_pid: int) -> bytes:
    """The filter program as raw ``struct sock_filter`` bytes for this process."""
    if _linux.AUDIT_ARCH is None:
        raise OSError(errno.ENOSYS, f"seccomp filter: unsupported architecture {_linux.MACHINE}")
    nrs = _linux.SYSCALLS
    # Instructions: (code, jt, jf, k) where jt/jf may be label strings.
    prog: list[tuple[int, int | str, int | str, int]] = []
    labels: dict[str, int] = {}

    def emit(code: int, k: int, jt: int | str = 0, jf: int | str = 0) -> None:
        prog.append((code, jt, jf, k))

    def label(name: str) -> None:
        labels[name] = len(prog)

    emit(_LD_W_ABS, _OFF_ARCH)
    emit(_JEQ_K, _linux.AUDIT_ARCH, 0, "kill")
    emit(_LD_W_ABS, _OFF_NR)
    if _linux.MACHINE == "x86_64":
        emit(_JGE_K, _X32_SYSCALL_BIT, "kill", 0)
    # Dispatch: each special call jumps to its own block.
    emit(_JEQ_K, nrs["clone"], "clone", 0)
    emit(_JEQ_K, nrs["clone3"], "enosys", 0)
    emit(_JEQ_K, nrs["prctl"], "prctl", 0)
    for name in SIGNAL_SELF_ONLY:
        emit(_JEQ_K, nrs[name], "self_arg0", 0)
    for name in SELF_OR_ZERO:
        emit(_JEQ_K, nrs[name], "self_or_zero_arg0", 0)
    for name in DENY_EPERM:
        nr = nrs.get(name)
        if nr is not None:
            emit(_JEQ_K, nr, "eperm", 0)
    emit(_RET_K, RET_ALLOW)
    label("clone")  # clone(flags, ...): a thread shares the thread group, no new namespace
    emit(_LD_W_ABS, _arg_low(0))
    emit(_JSET_K, _linux.CLONE_NAMESPACES, "eperm", 0)
    emit(_JSET_K, _linux.CLONE_THREAD, "allow", "eperm")
    label("self_or_zero_arg0")  # prlimit64(pid, ...): 0 or our own pid
    emit(_LD_W_ABS, _arg_low(0))
    emit(_JEQ_K, 0, "allow", 0)
    emit(_JEQ_K, self_pid & 0xFFFFFFFF, "allow", "eperm")
    label("self_arg0")  # kill(pid, sig), tgkill(tgid, tid, sig), ...: pid must be ours
    emit(_LD_W_ABS, _arg_low(0))
    emit(_JEQ_K, self_pid & 0xFFFFFFFF, "allow", "eperm")
    label("prctl")  # prctl(option, ...): keep the parent-death signal
    emit(_LD_W_ABS, _arg_low(0))
    emit(_JEQ_K, _linux.PR_SET_PDEATHSIG, "eperm", "allow")
    label("allow")
    emit(_RET_K, RET_ALLOW)
    label("eperm")
    emit(_RET_K, RET_ERRNO | errno.EPERM)
    label("enosys")
    emit(_RET_K, RET_ERRNO | errno.ENOSYS)
    label("kill")
    emit(_RET_K, RET_KILL_PROCESS)

    out = bytearray()
    for pc, (code, jt, jf, k) in enumerate(prog):
        offs = []
        for target in (jt, jf):
            if isinstance(target, str):
                delta = labels[target] - pc - 1
                if not 0 <= delta <= 255:
                    raise ValueError("seccomp jump out of range")
                offs.append(delta)
            else:
                offs.append(target)
        out += struct.pack("=HBBI", code, offs[0], offs[1], k)
    return bytes(out)


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


def install(self_pid: int) -> int:
    """Load the filter into the calling thread (and its future threads); returns its length.

    Requires ``no_new_privs`` (or CAP_SYS_ADMIN). Irreversible.
    """
    code = build(self_pid)
    buf = ctypes.create_string_buffer(code, len(code))
    prog = _SockFprog(len(code) // 8, ctypes.cast(buf, ctypes.c_void_p))
    _linux.prctl(_linux.PR_SET_SECCOMP, _linux.SECCOMP_MODE_FILTER,
                 ctypes.addressof(prog))
    return len(code) // 8
