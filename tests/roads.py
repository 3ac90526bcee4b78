"""What a fresh machine gives a user: the system's interpreter and a clean environment.

Tests of the roads the kit travels (Gradescope's image, a student's first install, the uid
layer) start from these, never from the test process's own Python or environment. The only
thing taken from this machine is pip's own configuration (``PIP_*``: where the package
registries and the CPU torch wheel are).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TORCH = "torch==2.13.0"  # the CPU wheel that lies on this machine's disk


def system_environment(**extra: str) -> dict[str, str]:
    """An environment as a fresh shell of the machine has it: system PATH, pip's config."""
    env = {name: value for name, value in os.environ.items() if name.startswith("PIP_")}
    return {**env, "PATH": SYSTEM_PATH, "HOME": "/root", "LANG": "C.UTF-8", **extra}


def system_python() -> str:
    """The system's own ``python3`` (3.11 or newer, world-readable, as on Gradescope)."""
    python = shutil.which("python3", path=SYSTEM_PATH)
    if python is None:
        raise RuntimeError(f"no python3 on {SYSTEM_PATH}")
    return python


def fresh_venv(folder: Path, *packages: str) -> Path:
    """A new virtual environment of the system's interpreter in ``folder``, with the newest
    pip and ``packages``; its python."""
    env = system_environment()
    subprocess.run([system_python(), "-m", "venv", str(folder)], check=True, env=env)
    python = folder / "bin" / "python"
    pip(python, "install", "-q", "--upgrade", "pip")
    if packages:
        pip(python, "install", "-q", *packages)
    return python


def pip(python: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m pip args`` in the clean environment; raises with pip's output on failure."""
    run = subprocess.run(
        [str(python), "-m", "pip", *args],
        env=system_environment(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if run.returncode != 0:
        raise RuntimeError(
            f"pip {' '.join(args)} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
        )
    return run
