"""Code similarity between the submissions of one assignment, for the instructor's report.

Each submission's graded modules are read with the kit's intake (as data: nothing runs).
Of each module only the student's own lines count: the lines of the given stub (docstrings,
signatures, the imports: every line the stub has) are set aside first, and the stub's
fingerprints are also passed to the detector as boilerplate. What is left is normalised
(every name becomes ``V``, every string ``S``; comments and layout drop out), so renaming
variables and rewriting comments change nothing. Pairs are counted all at once (a sparse
product of submissions by fingerprints), and each distinct module text is read once.

The fingerprints, their winnowing, the boilerplate removal and the matching regions are
copydetect's (a MOSS-style winnowing detector): ``CodeFingerprint`` on the normalised text,
``compare_files`` for the regions shown side by side. A pair's score is the share of the
fingerprints of one submission's own code that the other has too (the larger of the two
shares); a pair is flagged from ``THRESHOLD`` on, and only when enough code matches
(``MIN_SHARED``): two short submissions that both wrote ``p -= lr * g`` are not alike.
Submissions with the very same own code, character for character, form one group, compared
once (a disguised copy is not the very same: it is a pair, shown side by side).
"""

from __future__ import annotations

import hashlib
import io
import keyword
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autograder import intake, samples
from autograder.course import Assignment

NOISE = 25  # characters of normalised code per fingerprint (copydetect's noise threshold)
WINDOW = 1  # winnowing window: every fingerprint is kept (guarantee threshold = NOISE)
THRESHOLD = 0.6  # share of a submission's fingerprints found in the other's
MIN_SHARED = 40  # fingerprints in common, at the least (about 2 lines of code)


@dataclass(frozen=True)
class Own:
    """A module's own code: the student's lines that are not the stub's, joined, and the
    normalised form with, for each of its characters, where it came from in ``text``."""

    text: str
    normal: str
    origin: tuple[int, ...]  # normal[i] comes from text[origin[i]:...]
    ends: tuple[int, ...]  # ... up to text[ends[i]]


def own_lines(source: str, stub: str) -> str:
    """The lines of ``source`` that are not lines of ``stub`` (leading and trailing
    blanks aside): the student's own, without the given docstrings and signatures."""
    given = {line.strip() for line in stub.splitlines()}
    kept = [line for line in source.splitlines() if line.strip() not in given]
    return "\n".join(kept) + ("\n" if kept else "")


_TOKEN = re.compile(
    r"""(?P<skip>\#[^\n]*|\s+)
    |(?P<string>[rRbBuUfF]{0,2}(?:\"\"\"(?:\\.|[^\\])*?\"\"\"|\'\'\'(?:\\.|[^\\])*?\'\'\'
        |"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))
    |(?P<name>[^\W\d]\w*)
    |(?P<other>.)""",
    re.S | re.X,
)
_KEYWORDS = frozenset(keyword.kwlist + keyword.softkwlist)


def normalise(text: str) -> Own:
    """``text`` as the detector sees it (module docstring): one regular expression in the
    spirit of Python's tokenizer (strings, comments, names), linear in the text and never
    failing on code that does not parse."""
    normal: list[str] = []
    origin: list[int] = []
    ends: list[int] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind == "skip":
            continue
        token = match.group()
        if kind == "name":
            chars = token if token in _KEYWORDS else "V"
        elif kind == "string":
            chars = "S"
        else:
            chars = token
        normal.append(chars)
        origin += [match.start()] * len(chars)
        ends += [match.end()] * len(chars)
    return Own(text, "".join(normal), tuple(origin), tuple(ends))


def _fingerprint(own: Own, boilerplate):
    from copydetect import CodeFingerprint  # imports matplotlib: only when asked for

    return CodeFingerprint(
        "own.py", NOISE, WINDOW, boilerplate=boilerplate, filter=False, fp=io.StringIO(own.normal)
    )


@dataclass(frozen=True)
class Region:
    """One module of a flagged pair: each side's own code and its matching character
    ranges (in that code)."""

    module: str
    left: str
    left_spans: tuple[tuple[int, int], ...]
    right: str
    right_spans: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Pair:
    """Two groups of submissions whose own code is alike (each group: one code)."""

    left: tuple[str, ...]
    right: tuple[str, ...]
    score: float  # the larger share of fingerprints found in the other
    shared: int  # fingerprints in common
    regions: tuple[Region, ...]


@dataclass(frozen=True)
class Similarity:
    compared: int  # submissions with own code
    groups: tuple[tuple[str, ...], ...]  # two or more submissions with the very same own text
    pairs: tuple[Pair, ...]  # most alike first
    threshold: float


def _spans(own: Own, slices) -> tuple[tuple[int, int], ...]:
    """Normalised-text slices (copydetect's 2 x N array) as ranges of ``own.text``."""
    spans = []
    for start, end in zip(slices[0], slices[1], strict=True):
        start, end = int(start), min(int(end), len(own.origin)) - 1
        if 0 <= start <= end:
            spans.append((own.origin[start], own.ends[end]))
    return tuple(spans)


def _shared(sets: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """For arrays of distinct fingerprints: the number each pair has in common (a matrix)
    and each array's size, by one sparse product (every pair at once)."""
    from scipy import sparse

    _, columns = np.unique(np.concatenate(sets), return_inverse=True)
    rows = np.repeat(np.arange(len(sets)), [len(s) for s in sets])
    matrix = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.int32), (rows, columns.ravel())),
        shape=(len(sets), int(columns.max()) + 1),
    )
    return (matrix @ matrix.T).toarray(), np.array([len(s) for s in sets])


def compare(
    assignment: Assignment, submissions: Path, students: list[str], shown: int = 10
) -> Similarity:
    """Similarity between the submissions in ``submissions`` of ``students`` (the report's
    rows; others are ignored), with regions for the ``shown`` most alike pairs."""
    from copydetect import compare_files

    stubs = samples.graded(assignment, "stubs")
    boilerplate = sorted(
        {h for m in assignment.graded for h in _fingerprint(normalise(stubs[m]), None).hashes}
    )
    wanted = set(students)
    groups: dict[str, list[str]] = {}
    owns: dict[str, dict[str, Own]] = {}
    seen: dict[tuple[str, str], Own] = {}  # the same module text is normalised once
    for submission in intake.collect(submissions, assignment):
        if not submission.ok or submission.student not in wanted:
            continue
        own = {}
        for m in assignment.graded:
            if m in submission.files:
                text = own_lines(submission.files[m].decode("utf-8", "replace"), stubs[m])
                if (m, text) not in seen:
                    seen[m, text] = normalise(text)
                own[m] = seen[m, text]
        if sum(len(o.normal) for o in own.values()) < NOISE:
            continue  # nothing of their own (the stubs)
        key = hashlib.sha256(repr(sorted((m, o.text) for m, o in own.items())).encode())
        code = key.hexdigest()
        groups.setdefault(code, []).append(submission.student)
        owns.setdefault(code, own)
    printed: dict[tuple[str, str], object] = {}
    prints = {}
    for code, own in owns.items():
        prints[code] = {}
        for m, o in own.items():
            if (m, o.text) not in printed:
                printed[m, o.text] = _fingerprint(o, boilerplate)
            prints[code][m] = printed[m, o.text]
    codes = list(prints)
    modules = {m: number for number, m in enumerate(assignment.graded)}
    shared, sizes = _shared(  # fingerprints of a module match those of the same module only
        [
            np.unique(
                np.concatenate(
                    [
                        np.fromiter(fp.hashes, np.int64, len(fp.hashes)) * 31 + modules[m]
                        for m, fp in prints[c].items()
                    ]
                    or [np.zeros(0, np.int64)]
                )
            )
            for c in codes
        ]
    )
    found = []
    for i, j in zip(*np.triu_indices(len(codes), 1), strict=True):
        smaller = min(sizes[i], sizes[j])
        if smaller and shared[i, j] >= MIN_SHARED and shared[i, j] / smaller >= THRESHOLD:
            found.append((float(shared[i, j] / smaller), int(shared[i, j]), codes[i], codes[j]))
    found.sort(key=lambda f: (-f[0], -f[1]))
    pairs = []
    for rank, (score, shared, a, b) in enumerate(found):
        regions = []
        if rank < shown:
            for m in assignment.graded:
                if m not in prints[a] or m not in prints[b]:
                    continue
                overlap, _, (left, right) = compare_files(prints[a][m], prints[b][m])
                if overlap:
                    regions.append(
                        Region(
                            m,
                            owns[a][m].text,
                            _spans(owns[a][m], left),
                            owns[b][m].text,
                            _spans(owns[b][m], right),
                        )
                    )
        pairs.append(Pair(tuple(groups[a]), tuple(groups[b]), score, shared, tuple(regions)))
    same = tuple(tuple(members) for members in groups.values() if len(members) > 1)
    return Similarity(sum(map(len, groups.values())), same, tuple(pairs), THRESHOLD)
