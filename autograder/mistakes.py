"""Known mistakes: deliberately wrong variants of the reference, named for feedback.

A :class:`Mistake` is a source edit of one reference module. The same edit serves twice:
the grading parent imports the edited reference to recognise the mistake in a student's
output ("this looks like: flipped kernel"), and ``release verify`` submits it as a student
would to prove the graders catch it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Mistake:
    """Replacing ``old`` by ``new`` in ``module`` of the reference makes the mistake ``name``."""

    name: str
    part: str
    module: str
    old: str
    new: str
    why: str  # one sentence for the student: what the mistake is and how to fix it

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "_", self.name.lower()).strip("_")

    def apply(self, source: str) -> str:
        """The module's source with the mistake made; ``ValueError`` if ``old`` is not unique."""
        if source.count(self.old) != 1:
            raise ValueError(f"mistake {self.name!r}: the text to replace occurs "
                             f"{source.count(self.old)} times in {self.module}, not once")
        return source.replace(self.old, self.new)

