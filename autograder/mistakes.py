"""Known mistakes: deliberately wrong (or equivalent) variants of the reference.

They are written in ``solutions/<a>/MISTAKES.md`` (hidden: they quote the reference). An
entry starts with ``## <name>``, then the lines ``part:``, ``module:`` (the module edited),
``expect:`` (``fail`` for a mistake, ``pass`` for an equivalent formulation that must earn
full marks), ``why:`` (for the student) and optionally ``note:`` (for grader authors), each
possibly continued on indented lines; then its edits: a fenced ```` ```old ```` block
(```` ```old <file> ```` to edit another module) holding text that occurs exactly once in
the module, followed by a ```` ```new ```` block with its replacement.

Each entry serves twice: the grading parent imports the reference with the edits made to
recognise the mistake in a student's output ("this looks like a known mistake: ..."), and
``release verify`` submits the edited modules as a student would, to prove that the
graders take points for every mistake and none for an equivalent form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_ENTRY = re.compile(r"^## (?P<name>.+?)\s*$", re.M)
_FIELD = re.compile(r"^(part|module|expect|why|note):[ \t]*(.*(?:\n[ \t]+\S.*)*)", re.M)
_EDIT = re.compile(
    r"^```old(?: (?P<file>\S+))?\n(?P<old>.*?)^```\n^```new\n(?P<new>.*?)^```$", re.M | re.S
)


@dataclass(frozen=True)
class Edit:
    """Replace ``old`` (occurring once) by ``new`` in ``file``."""

    file: str
    old: str
    new: str


@dataclass(frozen=True)
class Mistake:
    """A named variant of the reference (see the module docstring)."""

    name: str
    part: str
    why: str
    expect: str = "fail"
    edits: tuple[Edit, ...] = ()

    @property
    def is_mistake(self) -> bool:
        """A real mistake (loses points), not an equivalent form (earns full marks)."""
        return self.expect == "fail"

    def apply(self, files: dict[str, str]) -> dict[str, str]:
        """The files (name -> text) with every edit made; ``ValueError`` when an edit's
        old text does not occur exactly once, or lies outside the solution regions (what a
        student writes)."""
        files = dict(files)
        for edit in self.edits:
            text = files[edit.file]
            count = text.count(edit.old)
            if count != 1:
                raise ValueError(
                    f"{self.name}: the text to replace occurs {count} times in "
                    f"{edit.file}, not once"
                )
            at = text.index(edit.old)
            lines = (text.count("\n", 0, at) + 1, text.count("\n", 0, at + len(edit.old) - 1) + 1)
            if not any(first <= lines[0] and lines[1] <= last for first, last in regions(text)):
                raise ValueError(
                    f"{self.name}: the edit of {edit.file} is outside its solution regions"
                )
            files[edit.file] = text.replace(edit.old, edit.new)
        return files


def regions(source: str) -> list[tuple[int, int]]:
    """Line ranges (first, last, 1-based) inside the solution markers of a module."""
    found, start = [], 0
    for number, line in enumerate(source.splitlines(), start=1):
        if line.strip().startswith("# BEGIN SOLUTION"):
            start = number + 1
        elif line.strip() == "# END SOLUTION":
            found.append((start, number - 1))
    return found


def parse(text: str) -> list[Mistake]:
    """Every entry of a MISTAKES.md text, in order."""
    starts = list(_ENTRY.finditer(text))
    ends = [entry.start() for entry in starts[1:]] + [len(text)]
    mistakes = []
    for entry, end in zip(starts, ends, strict=True):
        body = text[entry.end() : end]
        fields = {key: " ".join(value.split()) for key, value in _FIELD.findall(body)}
        if not {"part", "expect", "why"} <= set(fields) or fields["expect"] not in ("fail", "pass"):
            raise ValueError(
                f"mistake {entry['name']}: needs part, expect (fail or pass) and why lines"
            )
        module = fields.get("module", "")
        edits = tuple(
            Edit(m["file"] or f"{module}.py", m["old"], m["new"]) for m in _EDIT.finditer(body)
        )
        if not edits or any(edit.file == ".py" for edit in edits):
            raise ValueError(f"mistake {entry['name']}: no edit, or an edit of no module")
        mistakes.append(
            Mistake(entry["name"], fields["part"], fields["why"], fields["expect"], edits)
        )
    return mistakes


def load(path: Path) -> list[Mistake]:
    """The entries of one MISTAKES.md file."""
    return parse(path.read_text(encoding="utf-8"))
