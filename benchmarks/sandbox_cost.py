"""What one sandboxed call costs, against a bare fork.

    python benchmarks/sandbox_cost.py [--calls 200] [--no-torch]

Rows (median and 90th percentile over ``--calls`` runs, after a warm-up):

* ``bare fork``: this process (NumPy imported) forks a child that exits at once; the
  parent reaps it. The floor for any fork-per-call design.
* ``bare fork + numpy op``: the child multiplies two 100x100 matrices first.
* ``fresh child, trivial``: ``Sandbox.run`` of a probe that returns 1, end to end in the
  parent (session folder, inputs written, control round trips, fork, every confinement
  layer, the call, outputs read back, child killed, folder deleted).
* ``session call, trivial``: the same probe called in an open :class:`Session` (one child
  per submission): request, continue, "done", stop, outputs read. ``child wall`` is the
  call as the parent saw it (from the request to its "done").
* ``10 per request``: ten such calls in one request (:meth:`Session.run_many`: how the
  graders send a part's cases), per call.
* ``... 2x(100,100) in/out``: the same with two float64 arrays in and one out, i.e. the
  plain-data transport both ways.
* the same rows with torch imported in this process and preloaded in the zygote.

The layers active during the measurement are printed first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.sandbox import Call, Sandbox  # noqa: E402

BATCH = 10


def stats(samples: list[float]) -> str:
    ms = sorted(s * 1e3 for s in samples)
    p90 = ms[min(len(ms) - 1, int(len(ms) * 0.9))]
    return f"median {statistics.median(ms):7.2f} ms   p90 {p90:7.2f} ms   min {ms[0]:6.2f} ms"


def bare_fork(calls: int, work: bool) -> list[float]:
    a = np.ones((100, 100))
    out = []
    for i in range(calls + 5):
        t = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            if work:
                a @ a
            os._exit(0)
        os.waitpid(pid, 0)
        if i >= 5:
            out.append(time.perf_counter() - t)
    return out


def sandbox_rows(label: str, preload: tuple[str, ...], calls: int, submission: Path) -> None:
    t = time.perf_counter()
    with Sandbox(preload=preload, probes=["sandbox_probes"], probe_dirs=[ROOT / "tests"]) as box:
        print(
            f"  zygote start ({label}): {time.perf_counter() - t:.2f} s, "
            f"VmSize {box.info['vmsize'] / 2**20:.0f} MiB"
        )
        x = np.random.default_rng(0).standard_normal((100, 100))
        probes = {
            "trivial": ("sandbox_probes:trivial", {}),
            "2x(100,100) in/out": (
                "sandbox_probes:call",
                {"module": "pkg.mm", "function": "mm", "args": [x, x]},
            ),
        }
        session = box.session(submission, "pkg", modules=["sandbox_probes"])
        for name, (probe, inputs) in probes.items():
            for kind, run in (
                (
                    "fresh child",
                    lambda p=probe, i=inputs: [box.run(Call(p, submission, "pkg", i))],
                ),
                ("session call", lambda p=probe, i=inputs: [session.run(p, i, 2.0)]),
                (
                    f"{BATCH} per request",
                    lambda p=probe, i=inputs: session.run_many([(p, i, 2.0)] * BATCH),
                ),
            ):
                total, walls = [], []
                for i in range(calls + 5):
                    t = time.perf_counter()
                    outs = run()
                    if i >= 5:
                        total.append((time.perf_counter() - t) / len(outs))
                        walls.append(sum(out.wall for out in outs) / len(outs))
                assert all(out.status == "ok" for out in outs), outs
                print(f"  {kind}, {name:<20} ({label}): {stats(total)}")
                print(f"    child wall                                    {stats(walls)}")
        session.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        sub = Path(tmp) / "sub"
        (sub / "pkg").mkdir(parents=True)
        (sub / "pkg" / "__init__.py").write_text("")
        (sub / "pkg" / "mm.py").write_text("def mm(a, b):\n    return a @ b\n")
        for p in (Path(tmp), sub, sub / "pkg"):
            p.chmod(0o755)

        with Sandbox(probes=["sandbox_probes"], probe_dirs=[ROOT / "tests"]) as box:
            print("layers:")
            for layer in box.report().values():
                print(f"  {layer.name:<9} {'on ' if layer.active else 'off'}  {layer.detail}")
        print(f"numpy only ({args.calls} calls each):")
        print(f"  bare fork                      : {stats(bare_fork(args.calls, False))}")
        print(f"  bare fork + numpy op           : {stats(bare_fork(args.calls, True))}")
        sandbox_rows("numpy", (), args.calls, sub)
        if args.no_torch:
            return
        import torch  # noqa: F401  (imported, never run: this process forks below)

        print(f"numpy + torch ({args.calls} calls each):")
        print(f"  bare fork                      : {stats(bare_fork(args.calls, False))}")
        sandbox_rows("torch", ("torch",), args.calls, sub)


if __name__ == "__main__":
    main()
