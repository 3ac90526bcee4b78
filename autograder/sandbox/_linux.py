"""Thin ctypes wrappers over the Linux system calls the sandbox needs (stdlib only).

Nothing here decides policy: :mod:`.landlock`, :mod:`.seccomp` and :mod:`.child` do.
Syscall numbers are per architecture; x86_64 and aarch64 are supported (aarch64 uses
the generic table of ``asm-generic/unistd.h``). Every wrapper raises ``OSError`` with
the real errno on failure.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import platform
import signal
import sys
import time

MACHINE = platform.machine()
SUPPORTED = sys.platform == "linux" and MACHINE in ("x86_64", "aarch64")

_libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
if _libc is not None:
    # Resolve and type the libc entry points once, in the zygote, so that a forked child
    # pays no lookup (and touches fewer copy-on-write pages) when it confines itself.
    _libc.syscall.restype = ctypes.c_long
    _libc.prctl.restype = ctypes.c_int
    _libc.prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                            ctypes.c_ulong)
    for _name in ("unshare", "setns", "capset", "capget", "mount"):
        getattr(_libc, _name).restype = ctypes.c_int

# Namespaces (linux/sched.h).
CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_THREAD = 0x00010000
# Every CLONE_NEW* flag clone() accepts (NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID,
# NEWNET); CLONE_NEWTIME only exists for clone3/unshare.
CLONE_NAMESPACES = 0x7E020000

# prctl options (linux/prctl.h).
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECCOMP_MODE_FILTER = 2

# Per-architecture system call numbers. ``None`` = the call does not exist there
# (aarch64 has no fork/vfork: glibc uses clone).
_X86_64 = {
    "socket": 41, "connect": 42, "accept": 43, "bind": 49, "listen": 50, "socketpair": 53,
    "clone": 56, "fork": 57, "vfork": 58, "execve": 59, "kill": 62, "ptrace": 101,
    "syslog": 103, "rt_sigqueueinfo": 129, "uselib": 134, "personality": 135, "ustat": 136,
    "sysfs": 139, "vhangup": 153, "modify_ldt": 154, "pivot_root": 155, "_sysctl": 156,
    "prctl": 157, "adjtimex": 159, "chroot": 161, "acct": 163, "settimeofday": 164,
    "mount": 165, "umount2": 166, "swapon": 167, "swapoff": 168, "reboot": 169,
    "sethostname": 170, "setdomainname": 171, "iopl": 172, "ioperm": 173,
    "create_module": 174, "init_module": 175, "delete_module": 176, "get_kernel_syms": 177,
    "query_module": 178, "quotactl": 179, "nfsservctl": 180, "tkill": 200,
    "lookup_dcookie": 212, "clock_settime": 227, "tgkill": 234, "kexec_load": 246,
    "add_key": 248, "request_key": 249, "keyctl": 250, "migrate_pages": 256, "unshare": 272,
    "move_pages": 279, "accept4": 288, "rt_tgsigqueueinfo": 297, "perf_event_open": 298,
    "fanotify_init": 300, "name_to_handle_at": 303, "open_by_handle_at": 304,
    "clock_adjtime": 305, "setns": 308, "process_vm_readv": 310, "process_vm_writev": 311,
    "kcmp": 312, "finit_module": 313, "seccomp": 317, "kexec_file_load": 320, "bpf": 321,
    "execveat": 322, "userfaultfd": 323, "pidfd_send_signal": 424, "io_uring_setup": 425,
    "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428, "move_mount": 429,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "pidfd_open": 434,
    "clone3": 435, "pidfd_getfd": 438, "process_madvise": 440, "mount_setattr": 442,
    "quotactl_fd": 443, "landlock_create_ruleset": 444, "landlock_add_rule": 445,
    "landlock_restrict_self": 446, "process_mrelease": 448,
    "setpriority": 141, "sched_setparam": 142, "sched_setscheduler": 144,
    "sched_setaffinity": 203, "ioprio_set": 251, "prlimit64": 302, "sched_setattr": 314,
    "chmod": 90, "fchmod": 91, "chown": 92, "fchown": 93, "lchown": 94, "utime": 132,
    "setxattr": 188, "lsetxattr": 189, "fsetxattr": 190, "removexattr": 197,
    "lremovexattr": 198, "fremovexattr": 199, "utimes": 235, "fchownat": 260,
    "futimesat": 261, "fchmodat": 268, "utimensat": 280, "fchmodat2": 452,
    "setxattrat": 463, "removexattrat": 466,
}
_AARCH64 = {
    "socket": 198, "connect": 203, "accept": 202, "bind": 200, "listen": 201, "socketpair": 199,
    "clone": 220, "fork": None, "vfork": None, "execve": 221, "kill": 129, "ptrace": 117,
    "syslog": 116, "rt_sigqueueinfo": 138, "uselib": None, "personality": 92, "ustat": None,
    "sysfs": None, "vhangup": 58, "modify_ldt": None, "pivot_root": 41, "_sysctl": None,
    "prctl": 167, "adjtimex": 171, "chroot": 51, "acct": 89, "settimeofday": 170,
    "mount": 40, "umount2": 39, "swapon": 224, "swapoff": 225, "reboot": 142,
    "sethostname": 161, "setdomainname": 162, "iopl": None, "ioperm": None,
    "create_module": None, "init_module": 105, "delete_module": 106, "get_kernel_syms": None,
    "query_module": None, "quotactl": 60, "nfsservctl": 42, "tkill": 130,
    "lookup_dcookie": 18, "clock_settime": 112, "tgkill": 131, "kexec_load": 104,
    "add_key": 217, "request_key": 218, "keyctl": 219, "migrate_pages": 238, "unshare": 97,
    "move_pages": 239, "accept4": 242, "rt_tgsigqueueinfo": 240, "perf_event_open": 241,
    "fanotify_init": 262, "name_to_handle_at": 264, "open_by_handle_at": 265,
    "clock_adjtime": 266, "setns": 268, "process_vm_readv": 270, "process_vm_writev": 271,
    "kcmp": 272, "finit_module": 273, "seccomp": 277, "kexec_file_load": 294, "bpf": 280,
    "execveat": 281, "userfaultfd": 282, "pidfd_send_signal": 424, "io_uring_setup": 425,
    "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428, "move_mount": 429,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "pidfd_open": 434,
    "clone3": 435, "pidfd_getfd": 438, "process_madvise": 440, "mount_setattr": 442,
    "quotactl_fd": 443, "landlock_create_ruleset": 444, "landlock_add_rule": 445,
    "landlock_restrict_self": 446, "process_mrelease": 448,
    "setpriority": 140, "sched_setparam": 118, "sched_setscheduler": 119,
    "sched_setaffinity": 122, "ioprio_set": 30, "prlimit64": 261, "sched_setattr": 274,
    "chmod": None, "fchmod": 52, "chown": None, "fchown": 55, "lchown": None, "utime": None,
    "setxattr": 5, "lsetxattr": 6, "fsetxattr": 7, "removexattr": 14, "lremovexattr": 15,
    "fremovexattr": 16, "utimes": None, "fchownat": 54, "futimesat": None, "fchmodat": 53,
    "utimensat": 88, "fchmodat2": 452, "setxattrat": 463, "removexattrat": 466,
}
SYSCALLS: dict[str, int | None] = {"x86_64": _X86_64, "aarch64": _AARCH64}.get(MACHINE, {})

# AUDIT_ARCH_* values checked by the seccomp filter (linux/audit.h).
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}.get(MACHINE)


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def syscall(name: str, *args: int | ctypes.c_void_p | None) -> int:
    """Call a system call by name; arguments are passed as C ``long``/pointers."""
    if _libc is None:
        raise OSError(38, "not Linux")
    nr = SYSCALLS.get(name)
    if nr is None:
        raise OSError(38, f"{name}: no such system call on {MACHINE}")
    cargs = [a if isinstance(a, ctypes.c_void_p) or a is None else ctypes.c_long(a) for a in args]
    return _check(_libc.syscall(ctypes.c_long(nr), *cargs), name)


def prctl(option: int, arg2: int = 0, arg3: int = 0) -> int:
    if _libc is None:
        raise OSError(38, "not Linux")
    return _check(_libc.prctl(option, arg2, arg3, 0, 0), f"prctl({option})")


def unshare(flags: int) -> None:
    if _libc is None:
        raise OSError(38, "not Linux")
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(fd: int, nstype: int) -> None:
    if _libc is None:
        raise OSError(38, "not Linux")
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REC = 16384
MS_PRIVATE = 1 << 18


def mount(source: str | None, target: str, fstype: str | None, flags: int,
          data: str | None = None) -> None:
    if _libc is None:
        raise OSError(38, "not Linux")

    def enc(x: str | None) -> bytes | None:
        return None if x is None else os.fsencode(x)

    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags),
                       enc(data)), f"mount {target}")


def set_no_new_privs() -> None:
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def set_pdeathsig(sig: int) -> None:
    prctl(PR_SET_PDEATHSIG, sig)


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32))


_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def drop_capabilities(last_cap: int = 63) -> None:
    """Empty the bounding, ambient, inheritable, permitted and effective sets.

    A uid-0 process without capabilities still owns root's files (owner permission bits),
    but loses CAP_DAC_OVERRIDE, CAP_SYS_ADMIN, CAP_KILL, CAP_SYS_TIME, CAP_NET_ADMIN, ...
    """
    if _libc is None:
        raise OSError(38, "not Linux")
    fn = _libc.prctl
    for cap in range(last_cap + 1):
        if fn(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0:
            err = ctypes.get_errno()
            if err == 22:  # EINVAL: past the kernel's last capability
                break
            raise OSError(err, f"PR_CAPBSET_DROP: {os.strerror(err)}")
    try:
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    except OSError as exc:
        if exc.errno != 22:
            raise
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), ctypes.byref(data)), "capset")


def effective_capabilities() -> int:
    """The effective capability mask of this process (0 when none)."""
    if _libc is None:
        return 0
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capget(ctypes.byref(header), ctypes.byref(data)), "capget")
    return data[0].effective | (data[1].effective << 32)


# cgroup v1's pids controller: where each child gets a cgroup capping its tasks.
PIDS_HIERARCHY = "/sys/fs/cgroup/pids"


def pids_cgroup(base: str) -> str:
    """The pids cgroup of the sandbox whose folder is ``base``."""
    return os.path.join(PIDS_HIERARCHY, f"kit-{os.path.basename(base)}")


def remove_cgroup(path: str, wait: float = 2.0) -> None:
    """Remove the cgroup ``path`` and the cgroups inside it, killing any task still in them
    (a child that outlived its zygote); what stays busy after ``wait`` seconds is left."""
    deadline = time.monotonic() + wait
    for folder, _, _ in sorted(os.walk(path), key=lambda entry: -len(entry[0])):
        while True:
            try:
                os.rmdir(folder)
                break
            except FileNotFoundError:
                break
            except OSError as exc:
                if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                    break
                _kill_tasks(folder)
                time.sleep(0.01)


def _kill_tasks(folder: str) -> None:
    try:
        with open(os.path.join(folder, "cgroup.procs")) as fh:
            pids = [int(line) for line in fh if line.strip()]
    except (OSError, ValueError):
        return
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
