"""A faithful copy of Gradescope's autograder image, under a temporary root.

As Gradescope's specification lays it out: the autograder zip is extracted (by ``unzip``,
which keeps the executable bits) into ``<root>/source``; ``setup.sh`` runs there once, as
root, with the image's own interpreter (the system's, world-readable, so the sandbox's uid
layer turns on) and nothing of this test process (a PATH of system folders only, no
PYTHONPATH, no virtual environment); ``run_autograder`` is copied to
``<root>/run_autograder`` and run from ``<root>`` for each upload, with the upload in
``<root>/submission``, ``<root>/submission_metadata.json`` beside it and the grade in
``<root>/results/results.json``.

The environment is a fresh shell's (tests/roads.py), with ``TORCH_INDEX_URL`` emptied: the
CPU wheel index that ``setup.sh`` names is not reachable from here (pip finds the same wheel
on this machine's disk).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roads import system_environment

from autograder import samples
from autograder.course import Assignment
from release.build import autograder_archive


@dataclass
class Run:
    process: subprocess.CompletedProcess
    results: dict[str, Any]


class GradescopeImage:
    """One assignment's autograder, built into an image once; :meth:`run` per upload.

    ``setup.sh`` starts when the image is made and runs in the background (images of several
    assignments set up side by side); the first use of :attr:`setup` waits for it."""

    def __init__(self, assignment: Assignment) -> None:
        self.assignment = assignment
        self.root = Path(tempfile.mkdtemp(prefix=f"gradescope-{assignment.name}-"))
        os.chmod(self.root, 0o755)  # as /autograder is
        archive = autograder_archive(assignment, self.root)
        subprocess.run(["unzip", "-q", str(archive), "-d", str(self.root / "source")], check=True)
        with zipfile.ZipFile(archive) as opened:
            self.names = opened.namelist()
        archive.unlink()
        descriptor, log = tempfile.mkstemp(prefix=f"gradescope-setup-{assignment.name}-")
        self._log = Path(log)
        with os.fdopen(descriptor, "w") as output:  # the child keeps its own copy
            self._setup = subprocess.Popen(
                ["bash", "./setup.sh"],
                cwd=self.root / "source",
                env=system_environment(TORCH_INDEX_URL=""),
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self.python = self.root / "venv" / "bin" / "python"

    @functools.cached_property
    def setup(self) -> subprocess.CompletedProcess:
        """The finished ``setup.sh`` (its output in ``stdout``); raises if it failed."""
        code = self._setup.wait(timeout=900)
        done = subprocess.CompletedProcess(self._setup.args, code, self._log.read_text(), "")
        if code != 0:
            raise RuntimeError(f"setup.sh failed:\n{done.stdout}")
        shutil.copy2(self.root / "source" / "run_autograder", self.root / "run_autograder")
        return done

    def run(self, upload: Callable[[Path], None], metadata: dict | None = None) -> Run:
        """Lay out a fresh ``submission/`` (``upload`` fills it) and ``results/``, run
        ``run_autograder`` as Gradescope does; the run and ``results.json``."""
        for name in ("submission", "results", "tmp"):
            shutil.rmtree(self.root / name, ignore_errors=True)
            (self.root / name).mkdir()
        os.chmod(self.root / "tmp", 0o1777)  # as /tmp is
        upload(self.root / "submission")
        meta = self.root / "submission_metadata.json"
        meta.unlink(missing_ok=True)
        if metadata is not None:
            meta.write_text(json.dumps(metadata), encoding="utf-8")
        process = subprocess.run(
            [str(self.root / "run_autograder")],
            cwd=self.root,
            env=system_environment(TMPDIR=str(self.root / "tmp")),
            capture_output=True,
            text=True,
            timeout=600,
        )
        path = self.root / "results" / "results.json"
        results = json.loads(path.read_text("utf-8")) if path.exists() else {}
        return Run(process, results)

    def close(self) -> None:
        if self._setup.poll() is None:
            self._setup.kill()
            self._setup.wait()
        self._log.unlink(missing_ok=True)
        shutil.rmtree(self.root, ignore_errors=True)


def files(modules: dict[str, str | bytes], folder: str = "") -> Callable[[Path], None]:
    """An upload of loose files (Gradescope's drag-and-drop), optionally in a folder."""

    def upload(submission: Path) -> None:
        for name, text in modules.items():
            path = submission / folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)

    return upload


def zipped(modules: dict[str, str], name: str, folder: str = "") -> Callable[[Path], None]:
    """An upload of one zip file, as ``selfcheck.py --pack`` writes it."""

    def upload(submission: Path) -> None:
        samples.write_zip(submission / name, modules, folder)

    return upload
