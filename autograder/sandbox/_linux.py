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
import re
import signal
import sys
import time

from .syscall_table import AARCH64, X86_64

MACHINE = platform.machine()
SUPPORTED = sys.platform == "linux" and MACHINE in ("x86_64", "aarch64")

_libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
if _libc is not None:
    # Resolve and type the libc entry points once, in the zygote, so that a forked child
    # pays no lookup (and touches fewer copy-on-write pages) when it confines itself.
    _libc.syscall.restype = ctypes.c_long
    _libc.prctl.restype = ctypes.c_int
    _libc.prctl.argtypes = (
        ctypes.c_int,
        ctypes.c_ulong,
        ctypes.c_ulong,
        ctypes.c_ulong,
        ctypes.c_ulong,
    )
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

# Every system call of this machine by name (empty where the sandbox has no filter).
SYSCALLS: dict[str, int] = {"x86_64": X86_64, "aarch64": AARCH64}.get(MACHINE, {})

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


MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
# Per-mount options of /proc/self/mountinfo that a read-only remount must keep.
_MOUNT_OPTIONS = {
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": 1024,
    "nodiratime": 2048,
    "relatime": 1 << 21,
}


def mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None
) -> None:
    if _libc is None:
        raise OSError(38, "not Linux")

    def enc(x: str | None) -> bytes | None:
        return None if x is None else os.fsencode(x)

    _check(
        _libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
        f"mount {target}",
    )


def remount_read_only(keep: str) -> None:
    """Make every mount of this (private) mount namespace read-only, except ``keep`` and
    the mounts below it; each keeps its other per-mount options."""
    keep = keep.rstrip("/") + "/"
    with open("/proc/self/mountinfo", "rb") as fh:
        lines = fh.read().decode("utf-8", "surrogateescape").splitlines()
    for line in lines:
        fields = line.split(" ")
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), fields[4])
        if (point.rstrip("/") + "/").startswith(keep):
            continue
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY
        for option in fields[5].split(","):
            flags |= _MOUNT_OPTIONS.get(option, 0)
        mount(None, point, None, flags)


def set_no_new_privs() -> None:
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def set_pdeathsig(sig: int) -> None:
    prctl(PR_SET_PDEATHSIG, sig)


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


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


def own_pids_cgroup() -> str:
    """The pids cgroup this process is in (its folder in the hierarchy)."""
    with open("/proc/self/cgroup") as fh:
        for line in fh:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if "pids" in controllers.split(","):
                return PIDS_HIERARCHY + path.rstrip("/")
    raise OSError(0, "this process is in no pids cgroup")


def join_cgroup(path: str) -> None:
    """Move this process (all its threads) into the cgroup ``path``."""
    with open(os.path.join(path, "cgroup.procs"), "w") as fh:
        fh.write("0")


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
