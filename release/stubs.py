"""Student stubs generated from the reference solutions.

A solution module marks what the student writes with a ``# BEGIN SOLUTION`` line and an
``# END SOLUTION`` line. In the stub, each marked region becomes one
``raise NotImplementedError("<hint>")`` at the region's indentation; every other line stays
byte for byte. The hint is the text after ``hint:`` on the BEGIN line, or a default.

A region at module level, where a raise would break the import, names its stub line
instead: ``# BEGIN SOLUTION stub: KERNELS = {}  # the lecture's table``.
"""

from __future__ import annotations

import re
from pathlib import Path

BEGIN = re.compile(
    r"^(?P<indent>[ \t]*)# BEGIN SOLUTION"
    r"(?:\s+hint:\s*(?P<hint>.*?)|\s+stub:\s*(?P<stub>.*?))?\s*$"
)
END = re.compile(r"^[ \t]*# END SOLUTION\s*$")
DEFAULT_HINT = "your code here"


class MarkerError(ValueError):
    """A solution file whose markers are nested, unclosed or unopened."""


def make_stub(source: str, filename: str = "<solution>") -> str:
    """The stub of one solution module's text (see the module docstring)."""
    out: list[str] = []
    opened_at = 0  # line number of the open BEGIN, 0 outside a region
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if opened_at:
                raise MarkerError(
                    f"{filename}:{number}: BEGIN SOLUTION inside the region "
                    f"opened at line {opened_at}"
                )
            opened_at = number
            hint = (begin["hint"] or DEFAULT_HINT).replace("\\", "\\\\").replace('"', '\\"')
            line = begin["stub"] or f'raise NotImplementedError("{hint}")'
            out.append(f"{begin['indent']}{line}\n")
        elif end:
            if not opened_at:
                raise MarkerError(f"{filename}:{number}: END SOLUTION without BEGIN SOLUTION")
            opened_at = 0
        elif not opened_at:
            out.append(line)
    if opened_at:
        raise MarkerError(f"{filename}:{opened_at}: BEGIN SOLUTION is never closed")
    return "".join(out)


def has_solution(source: str) -> bool:
    """Whether a module has at least one marked region (a graded module)."""
    return any(BEGIN.match(line) for line in source.splitlines())


def student_files(solution_dir: Path, modules: list[str]) -> dict[str, str]:
    """File name -> the text the student receives, for each module of ``modules``.

    Modules with marked regions become stubs; the others (given modules) are copied whole.
    Symbolic links are read through, so one given source can serve two assignments.
    """
    files = {}
    for name in modules:
        text = (solution_dir / name).read_text(encoding="utf-8")
        files[name] = make_stub(text, name) if has_solution(text) else text
    return files


def write_stubs(solution_dir: Path, modules: list[str], dest: Path) -> list[Path]:
    """Write :func:`student_files` into ``dest``; returns the paths written."""
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in student_files(solution_dir, modules).items():
        path = dest / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
