"""Gradescope's entry point under attack: a submission cannot forge ``results.json``.

Run in the faithful copy of Gradescope's image (tests/gradescope_image.py: the system's
interpreter, the sandbox's uid layer on). tests/test_gradescope.py checks the honest
uploads there; this file adds the forging attacks of the UPenn 2019 and Gradescope 2020
reports.

The forger starts from the stubs, so its real score is 0, and tries every way to write a
better one: writing ``results.json`` directly during the call, a forked daemon and a
thread that rewrite it every 50 ms, printing fake JSON, rewriting ``run_autograder`` and
the kit's Gradescope module, reading the reference. The file must hold the real score,
and still hold it two seconds later, when no process of the run is left.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import time
from pathlib import Path
from textwrap import dedent

import adversaries as adv
import hostile_archives as hostile
import pytest
from gradescope_image import GradescopeImage

OPTIM = adv.OPTIM
FAKE = '{"score": 100, "output": "FORGED-RESULTS-MARKER", "tests": []}'


def _digest(root: Path) -> dict[str, str]:
    out = {}
    for path in sorted(root.rglob("*")):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _alive(marker: str) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            with contextlib.suppress(OSError):
                if marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(entry)
    return found


def _gradescope(image: GradescopeImage, upload) -> tuple[Path, subprocess.CompletedProcess, dict]:
    """Run ``upload`` (it fills the submission folder) on the image; the root, the run and
    the digest of ``source`` (with run_autograder) before it."""
    root = image.root
    before = {
        **_digest(root / "source"),
        "run_autograder": hashlib.sha256((root / "run_autograder").read_bytes()).hexdigest(),
    }
    run = image.run(upload).process
    assert run.returncode == 0, run.stderr[-3000:]
    return root, run, before


def _joined(*blocks: str) -> str:
    return "\n".join(dedent(block).strip("\n") for block in blocks)


def _forger(root: Path) -> dict[str, str]:
    """The stubs, with every forging attack the kit must defeat."""
    results = str(root / "results" / "results.json")
    source = str(root / "source")
    rewrite = f"""
        import os, threading, time
        def rewrite():
            while True:
                try:
                    with open({results!r}, "w") as fh:
                        fh.write({FAKE!r})
                except OSError:
                    pass
                time.sleep(0.05)
    """
    forger = (
        adv.Source(adv.STUBS)
        .patch(
            "SGD.update",
            "params, grads",
            f"""
                  import os
                  def write(path, text):
                      with open(path, "w") as fh:
                          fh.write(text)
                  def replace():
                      write("forged.json", {FAKE!r})
                      os.replace("forged.json", {results!r})
                  _report(
                      direct=_try(lambda: write({results!r}, {FAKE!r})),
                      replace=_try(replace),
                      unlink=_try(lambda: os.unlink({results!r})),
                      run_autograder=_try(lambda: write({source!r} + "/../run_autograder",
                                                        "#!/bin/sh\\necho forged\\n")),
                      entry=_try(lambda: write({source!r} + "/autograder/gradescope.py", "")),
                      reference=_try(lambda: open({source!r} + "/solutions/optim_reg/"
                                                  "optimizers.py").read()),
                  )
              """,
        )
        .patch(
            "Momentum.update",
            "params, grads",
            _joined(
                rewrite,
                """
                  tried = {}
                  try:
                      if os.fork() == 0:
                          os.setsid()
                          time.sleep(1)  # until the grader has written the real file
                          rewrite()
                      tried["fork"] = "ok"
                  except OSError as exc:
                      tried["fork"] = type(exc).__name__
                  threading.Thread(target=rewrite).start()
                  time.sleep(0.3)
                  _report(**tried)
              """,
            ),
        )
        .at_import(
            "layers.py",
            f"""
                  import sys
                  print({FAKE!r})
                  sys.stdout.flush()
                  sys.__stdout__.write({FAKE!r} + "\\n")
              """,
        )
    )
    return {name: text for name, text in forger.modules.items()}


@pytest.mark.slow
def test_a_submission_cannot_forge_results_json(gradescope):
    def upload(folder: Path) -> None:
        for name, text in _forger(folder.parent).items():
            (folder / name).write_text(text, encoding="utf-8")

    root, run, before = _gradescope(gradescope(OPTIM.name), upload)
    path = root / "results" / "results.json"
    written = path.read_bytes()
    results = json.loads(written)
    assert results["score"] == 0
    assert results["extra_data"]["status"] == "ok"
    assert round(sum(t["max_score"] for t in results["tests"]), 6) == OPTIM.max_score
    outputs = {t["tags"][0]: t["output"] for t in results["tests"]}
    found = adv.report(outputs["sgd"])
    # refused by Landlock or seccomp (PermissionError) or by a read-only mount (EROFS)
    assert found.pop("unlink") in ("PermissionError", "EROFS", "FileNotFoundError")  # none yet
    # a rename out of the scratch tmpfs is cross-device (EXDEV) before Landlock is asked
    assert found.pop("replace") in ("PermissionError", "EROFS", "OSError")
    assert set(found.values()) <= {"PermissionError", "EROFS"}, found
    assert adv.report(outputs["momentum"]) == {"fork": "PermissionError"}
    assert "FORGED-RESULTS-MARKER" not in run.stdout + run.stderr
    assert run.stdout.strip().endswith("0 / 100 (ok)")
    time.sleep(2)  # a daemon or thread would have rewritten it by now
    assert path.read_bytes() == written
    assert sorted(os.listdir(root / "results")) == ["results.json"]
    assert _alive(str(root)) == []
    assert {
        **_digest(root / "source"),
        "run_autograder": hashlib.sha256((root / "run_autograder").read_bytes()).hexdigest(),
    } == before


@pytest.mark.slow
def test_an_uploaded_zip_cannot_slip_into_the_results_folder(gradescope):
    def upload(folder: Path) -> None:
        members = {f"{adv.PACKAGE}/{name}": text for name, text in adv.REFERENCE.items()}
        members["../results/results.json"] = FAKE
        (folder / "20251234.zip").write_bytes(hostile.zip_of(members))

    root, _, _ = _gradescope(gradescope(OPTIM.name), upload)
    results = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
    assert results["score"] == 0
    assert results["extra_data"]["status"] == (
        "rejected archive: unsafe path ../results/results.json"
    )
    assert sorted(os.listdir(root / "results")) == ["results.json"]
