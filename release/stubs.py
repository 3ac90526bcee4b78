"""Student stubs generated from the reference solutions.

A solution module marks what the student writes with a ``# BEGIN SOLUTION`` line and an
``# END SOLUTION`` line. In the stub, each marked region becomes one
``raise NotImplementedError("<hint>")`` at the region's indentation; every other line stays
byte for byte. The hint is the text after ``hint:`` on the BEGIN line, or a default.

A region at module level, where a raise would break the import, names its stub line
instead: ``# BEGIN SOLUTION stub: KERNELS = {}  # the lecture's table``.
"""

from __future__ import annotations

from pathlib import Path

from autograder.regions import regions

DEFAULT_HINT = "your code here"


def make_stub(source: str, filename: str = "<solution>") -> str:
    """The stub of one solution module's text (see the module docstring);
    :class:`~autograder.regions.MarkerError` for malformed markers."""
    lines = source.split("\n")  # numbered as regions() numbers them
    out: list[str] = []
    after = 0  # lines before this index are done
    for region in regions(source, filename):
        hint = (region.hint or DEFAULT_HINT).replace("\\", "\\\\").replace('"', '\\"')
        out += lines[after : region.begin - 1]
        out.append(region.indent + (region.stub or f'raise NotImplementedError("{hint}")'))
        after = region.end
    return "\n".join(out + lines[after:])


def has_solution(source: str) -> bool:
    """Whether a module has at least one marked region (a graded module)."""
    return bool(regions(source))


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
