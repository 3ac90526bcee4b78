"""Solution regions of a reference module: what the student writes (instructor side).

A region starts with a ``# BEGIN SOLUTION`` line and ends with a ``# END SOLUTION`` line.
The BEGIN line may carry a hint for the stub (``# BEGIN SOLUTION hint: use np.maximum``)
or, for a region at module level, the stub's own line
(``# BEGIN SOLUTION stub: KERNELS = {}  # the lecture's table``). Regions neither nest nor
stay open, and a comment that starts like a marker but is not one is an error: the stub
generator, the mistake applier and the tests all read regions through :func:`regions`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BEGIN = re.compile(
    r"^(?P<indent>[ \t]*)# BEGIN SOLUTION"
    r"(?:\s+hint:\s*(?P<hint>.*?)|\s+stub:\s*(?P<stub>.*?))?\s*$"
)
END = re.compile(r"^[ \t]*# END SOLUTION\s*$")
_MARKER = re.compile(r"^[ \t]*# (BEGIN|END) SOLUTION")


class MarkerError(ValueError):
    """A module whose markers are nested, unclosed, unopened or malformed."""


@dataclass(frozen=True)
class Region:
    """One marked region; line numbers are 1-based."""

    begin: int  # the BEGIN line
    end: int  # the END line
    indent: str  # the BEGIN line's indentation
    hint: str | None = None
    stub: str | None = None

    def holds(self, line: int) -> bool:
        """Whether ``line`` is inside the region (between its two markers)."""
        return self.begin < line < self.end


def regions(source: str, filename: str = "<solution>") -> list[Region]:
    """The marked regions of a module's text, in order; :class:`MarkerError` unless every
    marker is well formed and BEGIN and END alternate, starting with BEGIN."""
    found: list[Region] = []
    opened: re.Match[str] | None = None
    opened_at = 0
    for number, line in enumerate(source.split("\n"), start=1):  # as tokenize numbers them
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if opened:
                raise MarkerError(
                    f"{filename}:{number}: BEGIN SOLUTION inside the region "
                    f"opened at line {opened_at}"
                )
            opened, opened_at = begin, number
        elif end:
            if not opened:
                raise MarkerError(f"{filename}:{number}: END SOLUTION without BEGIN SOLUTION")
            found.append(
                Region(opened_at, number, opened["indent"], opened["hint"], opened["stub"])
            )
            opened = None
        elif _MARKER.match(line):
            raise MarkerError(f"{filename}:{number}: a malformed marker: {line.strip()!r}")
    if opened:
        raise MarkerError(f"{filename}:{opened_at}: BEGIN SOLUTION is never closed")
    return found
