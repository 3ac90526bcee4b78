"""The seccomp allowlist: every system call number of this machine's table, and what the
filter answers for it, first by running the filter's own BPF program here (every number,
chosen arguments), then in a real confined child (every refused number, called).

Run with ``-s`` to see the table: one line per number with its name and verdict.
"""

from __future__ import annotations

import errno
import shutil
import struct
import tempfile
import textwrap
from pathlib import Path

import pytest

from autograder.sandbox import Call, Sandbox, _linux, layers, seccomp
from autograder.sandbox.syscall_table import AARCH64, X86_64

TESTS = Path(__file__).resolve().parent
TOP = 1024  # beyond every table: numbers a future kernel may give to new calls
SELF = 1  # the child's pid in its PID namespace
ALLOW, EPERM, ENOSYS, KILL = (
    seccomp.RET_ALLOW,
    seccomp.RET_EPERM,
    seccomp.RET_ENOSYS,
    seccomp.RET_KILL_PROCESS,
)
# x86_64 calls the kernel lets past seccomp and refuses itself (ENXIO) unless a uprobe's
# trampoline makes them.
PASSTHROUGH = {"uretprobe", "uprobe"}
VERDICT = {ALLOW: "allowed", EPERM: "EPERM", ENOSYS: "ENOSYS", KILL: "killed"}

pytestmark = pytest.mark.skipif(_linux.AUDIT_ARCH is None, reason="no seccomp filter here")


def verdict(nr: int, *args: int, arch: int | None = None) -> int:
    """Run the filter built for pid ``SELF`` on one call, as the kernel would (classic BPF)."""
    prog = seccomp.build(SELF)
    data = struct.pack(
        "=iIQ6Q",
        nr,
        _linux.AUDIT_ARCH if arch is None else arch,
        0,
        *[a & (2**64 - 1) for a in (*args, 0, 0, 0, 0, 0, 0)[:6]],
    )
    pc, acc = 0, 0
    while True:
        code, jt, jf, k = struct.unpack_from("=HBBI", prog, 8 * pc)
        pc += 1
        if code == 0x20:  # LD W ABS
            (acc,) = struct.unpack_from("=I", data, k)
        elif code == 0x05:  # JA
            pc += k
        elif code in (0x15, 0x35, 0x45):  # JEQ, JGE, JSET
            hit = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
            pc += jt if hit else jf
        elif code == 0x06:  # RET
            return k
        else:
            raise AssertionError(f"unexpected BPF opcode {code:#x}")


def names() -> dict[int, str]:
    return {nr: name for name, nr in _linux.SYSCALLS.items()}


def test_every_allowed_name_is_a_real_call():
    """A misspelt name would silently allow nothing; aarch64 lacks only the legacy calls."""
    wanted = set(seccomp.ALLOW) | set(seccomp.CHECKED) | {"clone", "clone3"}
    assert wanted - set(X86_64) == set()
    assert wanted - set(AARCH64) <= {
        "open",
        "stat",
        "lstat",
        "access",
        "readlink",
        "mkdir",
        "rmdir",
        "unlink",
        "rename",
        "poll",
        "select",
        "pause",
        "alarm",
        "time",
        "getpgrp",
        "arch_prctl",
        "dup2",
    }


def test_every_number_of_the_table_has_the_verdict_of_the_allowlist():
    """Numbers 0..1023 with zero arguments: the allowlist passes, clone3 is ENOSYS, the
    checked calls follow their argument, every other number (known or not) is EPERM."""
    by_nr = names()
    rows, counts = [], {}
    for nr in range(TOP):
        got = verdict(nr)
        name = by_nr.get(nr, "-")
        if name in seccomp.ALLOW:
            want = ALLOW
        elif name == "clone3":
            want = ENOSYS
        elif name in seccomp.CHECKED:
            want = ALLOW if 0 in seccomp.CHECKED[name][1] else EPERM
        else:
            want = EPERM  # clone with flags 0 makes a process: refused too
        assert got == want, (nr, name, VERDICT.get(got, hex(got)))
        counts[VERDICT[got]] = counts.get(VERDICT[got], 0) + 1
        rows.append(f"{nr:4} {name:24} {VERDICT[got]}")
    print("\n".join(rows))
    print(counts)
    assert counts["allowed"] == len([n for n in seccomp.ALLOW if n in by_nr.values()]) + 3
    assert counts["EPERM"] > 2 * counts["allowed"]


def test_checked_calls_follow_their_arguments():
    nr = _linux.SYSCALLS
    thread = 0x3D0F00  # glibc's pthread_create flags: VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|...
    assert verdict(nr["clone"], thread) == ALLOW
    assert verdict(nr["clone"], 0x1200011) == EPERM  # fork(): CHILD_SETTID|CLEARTID|SIGCHLD
    assert verdict(nr["clone"], thread | _linux.CLONE_NEWNET) == EPERM
    assert verdict(nr["clone"], thread | _linux.CLONE_NEWUSER) == EPERM
    assert verdict(nr["ioctl"], 1, 0x5401) == ALLOW  # TCGETS
    assert verdict(nr["ioctl"], 1, 0x5401 | 1 << 32) == ALLOW  # the kernel ignores the top
    assert verdict(nr["ioctl"], 3, 0x40086602) == EPERM  # FS_IOC_SETFLAGS (chattr)
    assert verdict(nr["ioctl"], 3, 0x5412) == EPERM  # TIOCSTI: typing into a terminal
    assert verdict(nr["fcntl"], 3, 1030) == ALLOW  # F_DUPFD_CLOEXEC
    assert verdict(nr["fcntl"], 3, 8) == EPERM  # F_SETOWN: signals sent to another process
    assert verdict(nr["fcntl"], 3, 1024) == EPERM  # F_SETLEASE
    assert verdict(nr["prctl"], 15) == ALLOW  # PR_SET_NAME
    assert verdict(nr["prctl"], _linux.PR_SET_PDEATHSIG) == EPERM
    assert verdict(nr["prctl"], _linux.PR_SET_DUMPABLE) == EPERM
    assert verdict(nr["kill"], SELF, 9) == ALLOW
    for target in (0, 2, -1, 1 << 32 | 2):
        assert verdict(nr["kill"], target, 9) == EPERM, target
    assert verdict(nr["tgkill"], SELF, 5, 10) == ALLOW
    assert verdict(nr["prlimit64"], 0, 9) == ALLOW
    assert verdict(nr["prlimit64"], 7, 9) == EPERM
    if _linux.MACHINE == "x86_64":
        assert verdict(nr["read"] | 0x40000000) == KILL  # an x32 call
    assert verdict(nr["read"], arch=0x40000003) == KILL  # i386


@pytest.fixture(scope="module")
def box():
    with Sandbox(probes=["sandbox_probes"], probe_dirs=[TESTS], slot=4) as sandbox:
        yield sandbox


def test_a_confined_child_is_refused_every_number_outside_the_allowlist(box):
    """Every refused number of 0..1023 called for real (arguments -1) in a confined child:
    the kernel answers what the filter says, so a call a newer kernel adds is refused."""
    if not layers()["seccomp"].active:
        pytest.skip("seccomp inactive")
    refused = {nr: verdict(nr, *[-1] * 6) for nr in range(TOP)}
    refused = {nr: v for nr, v in refused.items() if v != ALLOW}
    area = Path(tempfile.mkdtemp(prefix="seccomp-test-"))
    try:
        (area / "stu").mkdir()
        (area / "stu" / "__init__.py").write_text("")
        (area / "stu" / "m.py").write_text(
            textwrap.dedent("""
            import ctypes
            def f(numbers):
                libc = ctypes.CDLL(None, use_errno=True)
                libc.syscall.restype = ctypes.c_long
                out = {}
                for nr in numbers:
                    ctypes.set_errno(0)
                    res = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(-1)] * 6)
                    out[str(nr)] = [res, ctypes.get_errno()]
                return out
        """)
        )
        for path in [area, *area.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        out = box.run(
            Call(
                "sandbox_probes:call",
                area,
                "stu",
                {"module": "stu.m", "function": "f", "args": [sorted(refused)]},
                timeout=20,
            )
        )
    finally:
        shutil.rmtree(area, ignore_errors=True)
    assert out.status == "ok", out
    want = {ENOSYS: errno.ENOSYS, EPERM: errno.EPERM}
    wrong = {
        nr: got
        for nr, got in ((int(k), v) for k, v in out.value.items())
        if got != [-1, want[refused[nr]]]
        and not (names().get(nr) in PASSTHROUGH and got == [-1, errno.ENXIO])
    }
    assert wrong == {}, {names().get(nr, nr): got for nr, got in wrong.items()}
    assert len(out.value) == len(refused) > 700
