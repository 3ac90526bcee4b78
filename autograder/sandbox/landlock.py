"""Landlock through ctypes: file-system, TCP and scope restrictions for the calling thread.

Landlock (Linux >= 5.13) is an unprivileged, stackable LSM. A ruleset lists the access
rights it *handles*; everything handled and not granted by a rule is denied, for the
calling thread and every thread or process it later creates. Restrictions only ever
add up: a later ruleset cannot re-allow anything.

ABI features used (queried with ``landlock_create_ruleset(NULL, 0, VERSION)``):
1 file rights, 2 REFER, 3 TRUNCATE, 4 TCP bind/connect, 5 IOCTL_DEV,
6 scopes (abstract unix sockets, signals). Unknown higher ABIs use the ABI 6 set.
"""

from __future__ import annotations

import ctypes
import os
import stat

from . import _linux

# landlock_create_ruleset flags and rule types.
CREATE_RULESET_VERSION = 1 << 0
RULE_PATH_BENEATH = 1
RULE_NET_PORT = 2

# File-system access rights.
FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5

# Network (ABI 4) and scopes (ABI 6).
NET_BIND_TCP = 1 << 0
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1

# Rights that may be granted on a regular file (not only on directories).
FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV

READ = FS_READ_FILE | FS_READ_DIR
READ_WRITE = (
    READ | FS_WRITE_FILE | FS_TRUNCATE | FS_MAKE_REG | FS_MAKE_DIR | FS_REMOVE_FILE | FS_REMOVE_DIR
)


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


def abi_version() -> int:
    """The kernel's Landlock ABI version; 0 when Landlock is missing or disabled."""
    try:
        return _linux.syscall("landlock_create_ruleset", None, 0, CREATE_RULESET_VERSION)
    except OSError:
        return 0


def handled_fs(abi: int) -> int:
    """Every file-system right this ABI knows (so all of them are denied unless granted)."""
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def handled_net(abi: int) -> int:
    return NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0


def scoped(abi: int) -> int:
    return SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0


def restrict(read_only: list[str], read_write: list[str], abi: int) -> list[str]:
    """Restrict the calling thread: ``read_only`` paths readable, ``read_write`` writable too.

    Everything else in the file system is denied (including exec), TCP bind/connect is
    denied (ABI >= 4), and signals / abstract unix sockets cannot leave the domain
    (ABI >= 6). Missing paths are skipped; their names are returned. The caller must have
    set ``no_new_privs`` (or hold CAP_SYS_ADMIN).
    """
    if abi < 1:
        raise OSError(95, "Landlock is not available")
    fs = handled_fs(abi)
    attr = _RulesetAttr(fs, handled_net(abi), scoped(abi))
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else (16 if abi >= 4 else 8)
    ruleset = _linux.syscall(
        "landlock_create_ruleset", ctypes.c_void_p(ctypes.addressof(attr)), size, 0
    )
    skipped: list[str] = []
    try:
        for paths, rights in ((read_only, READ), (read_write, READ_WRITE)):
            for path in paths:
                try:
                    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except OSError:
                    skipped.append(path)
                    continue
                try:
                    allowed = rights & fs
                    if not stat.S_ISDIR(os.fstat(fd).st_mode):
                        allowed &= FILE_RIGHTS
                    rule = _PathBeneathAttr(allowed, fd)
                    _linux.syscall(
                        "landlock_add_rule",
                        ruleset,
                        RULE_PATH_BENEATH,
                        ctypes.c_void_p(ctypes.addressof(rule)),
                        0,
                    )
                finally:
                    os.close(fd)
        _linux.syscall("landlock_restrict_self", ruleset, 0)
    finally:
        os.close(ruleset)
    return skipped
