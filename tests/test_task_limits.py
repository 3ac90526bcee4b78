"""Threads, processes and IPC objects: nothing a submission makes outlives it or reaches
another, with or without the uid drop.

Graded through ``batch.grade_folder`` with two workers, honest submissions beside the
attacker: the attacker starts threads on every call until the kernel refuses (its pids
cgroup), tries to leave SysV shared memory, a message queue and a semaphore set behind
(seccomp refuses them; its own IPC namespace would hold them), POSIX shared memory (a
read-only /dev/shm) and a POSIX message queue (refused), and looks for another
submission's queue. The honest students get their 100, and the host's IPC tables and
/dev/shm hold nothing new after the batch.
"""

from __future__ import annotations

import os
from pathlib import Path

import adversaries as adv
import pytest

from autograder import batch
from autograder.sandbox import layers

KEY = 0x6B17  # a fixed SysV key, the same in every submission's namespace
ATTACK = f"""
import _posixshmem, ctypes, threading, time
libc = ctypes.CDLL(None, use_errno=True)
started = 0
try:
    while started < 100_000:
        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
        started += 1
except RuntimeError:
    pass
found = libc.msgget({KEY}, 0)  # another submission's queue, if namespaces were shared
made = [libc.shmget({KEY}, 64 << 20, 0o1600),  # IPC_CREAT | 0600
        libc.msgget({KEY}, 0o1600), libc.semget({KEY}, 4, 0o1600)]
sysv_errno = ctypes.get_errno()
posix = []
for attempt in (lambda: _posixshmem.shm_open("/kit-attack", 0o102, 0o600),  # O_CREAT|O_RDWR
                lambda: libc.mq_open(b"/kit-attack", 0o102, 0o600, None)):
    try:
        posix.append(attempt())
    except OSError as exc:
        posix.append(exc.errno)
posix.append(ctypes.get_errno())  # mq_open's, through ctypes
_report(threads=started, other_queue=found, made=made, errno=sysv_errno, posix=posix)
"""


def _ipc_keys() -> dict[str, set[str]]:
    """The keys of the host's SysV shared memory, queues and semaphores."""
    tables = {}
    for kind in ("shm", "msg", "sem"):
        lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
        tables[kind] = {line.split()[0] for line in lines}
    return tables


@pytest.mark.slow
def test_threads_and_ipc_are_contained_per_submission(tmp_path):
    report = layers()
    if not report["pids"].active:
        pytest.skip(f"no pids cgroup here: {report['pids'].detail}")
    assert report["ipcns"].active, report["ipcns"].detail
    subs = tmp_path / "submissions"
    for name in ("aaa-correct", "zzz-correct"):
        adv.correct(name).write(subs)
    for name in ("mmm-bomb-1", "mmm-bomb-2"):  # two: one is graded beside each honest one
        adv.sgd(ATTACK).folder(name, threats=()).write(subs)
    before = _ipc_keys(), sorted(os.listdir("/dev/shm"))
    results = {r.student: r for r in batch.grade_folder(adv.OPTIM, subs, tmp_path / "out", jobs=2)}
    assert results["aaa-correct"].score == results["zzz-correct"].score == 100
    for name in ("mmm-bomb-1", "mmm-bomb-2"):
        sgd = [t for t in results[name].tests if t.part == "sgd"]
        found = adv.report(sgd[0].output)
        assert 0 < found["threads"] < 64, found  # the cgroup's cap (Limits.nproc)
        assert found["other_queue"] == -1  # no other submission's queue is visible
        assert found["made"] == [-1, -1, -1] and found["errno"] == 1, found  # EPERM
        # POSIX shared memory: /dev/shm is read-only (EROFS) or out of Landlock's view
        # (EACCES); a POSIX message queue: mq_open is refused (EPERM)
        assert found["posix"][0] in (30, 13) and found["posix"][1:] == [-1, 1], found
        assert results[name].part_scores()["momentum"] == 10  # the rest is graded as usual
    assert (_ipc_keys(), sorted(os.listdir("/dev/shm"))) == before
