"""What the grading notebook's hidden tests call, in nbgrader's kernel.

The kit grades a submission before nbgrader starts the kernel
(`autograder.jupyter.nbgrader_plugins.KitAutograde`) and names the saved Result in the environment
variable ``KIT_NBGRADER_RESULT``. Each part's test cell ends with ``part_score(<a>, <part>)``:
it prints the part's feedback (the first call also the total, the status and the notes) on
stdout, never stderr (nbgrader scores a cell that writes to stderr 0), and evaluates to the
part's points, which nbgrader takes as the cell's partial credit. Nothing of the student's
runs in this kernel: its cells are the course's own, and it never imports the student's
package.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from autograder.results import Result

RESULT = "KIT_NBGRADER_RESULT"
_shown: set[str] = set()  # Results whose summary this kernel printed


def part_score(assignment: str, part: str) -> float | None:
    """The points of ``part`` in the kit's Result of this submission (under ``nbgrader
    autograde``); prints the part's feedback. Elsewhere (validating the source notebook)
    it only says so and returns None."""
    if os.environ.get("NBGRADER_EXECUTION") != "autograde":
        print(f"{part}: the course's hidden tests grade this part when it is autograded")
        return None
    path = os.environ.get(RESULT)
    if not path:
        raise RuntimeError(
            "the course's nbgrader_config.py did not load (see nbgrader's log): "
            "the kit did not grade this submission"
        )
    result = Result.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
    if result.assignment != assignment:
        raise RuntimeError(f"the kit graded {result.assignment}, not {assignment}")
    if path not in _shown:
        _shown.add(path)
        print(result.report_text())
        print()
    print(result.part_text(part))
    return result.part_scores()[part]
