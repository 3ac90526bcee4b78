"""Code similarity between the submissions of one assignment, for the instructor's report.

Each submission's graded modules are read with the kit's intake (as data: nothing runs).
Of each module only the student's own lines count: the lines of the given stub (docstrings,
signatures, the imports) are set aside first (an alignment with the stub), and the stub's
fingerprints are also passed to the detector as boilerplate. What is left is normalised
(Python's own tokenizer: every name becomes ``V``, every string ``S``; comments and layout
drop out), so renaming variables and rewriting comments change nothing.

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

import difflib
import hashlib
import io
import itertools
import tokenize
from dataclasses import dataclass
from pathlib import Path

from autograder import intake
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
    """The lines of ``source`` that are not aligned with a line of ``stub``."""
    mine, given = source.splitlines(), stub.splitlines()
    matcher = difflib.SequenceMatcher(None, given, mine, autojunk=False)
    kept = [
        line
        for op, _, _, start, end in matcher.get_opcodes()
        if op in ("replace", "insert")
        for line in mine[start:end]
    ]
    return "\n".join(kept) + ("\n" if kept else "")


def _offsets(text: str) -> list[int]:
    starts, at = [], 0
    for line in text.splitlines(keepends=True):
        starts.append(at)
        at += len(line)
    return [*starts, at]


def normalise(text: str) -> Own:
    """``text`` as the detector sees it (module docstring). Code that does not tokenize is
    kept up to the first error."""
    lines = _offsets(text)
    normal: list[str] = []
    origin: list[int] = []
    ends: list[int] = []
    skipped = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT}
    skipped |= {tokenize.DEDENT, tokenize.ENDMARKER, tokenize.ENCODING}
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type in skipped:
                continue
            start = lines[token.start[0] - 1] + token.start[1]
            end = lines[token.end[0] - 1] + token.end[1]
            if token.type == tokenize.NAME and not _keyword(token.string):
                chars = "V"
            elif token.type == tokenize.STRING:
                chars = "S"
            else:
                chars = token.string
            normal.append(chars)
            origin += [start] * len(chars)
            ends += [end] * len(chars)
    except (tokenize.TokenError, SyntaxError):
        pass
    return Own(text, "".join(normal), tuple(origin), tuple(ends))


def _keyword(name: str) -> bool:
    import keyword

    return keyword.iskeyword(name) or keyword.issoftkeyword(name)


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


def compare(
    assignment: Assignment, submissions: Path, students: list[str], shown: int = 10
) -> Similarity:
    """Similarity between the submissions in ``submissions`` of ``students`` (the report's
    rows; others are ignored), with regions for the ``shown`` most alike pairs."""
    from copydetect import compare_files

    stubs = {m: (assignment.stub_dir / m).read_text("utf-8") for m in assignment.graded}
    boilerplate = sorted(
        {h for m in assignment.graded for h in _fingerprint(normalise(stubs[m]), None).hashes}
    )
    wanted = set(students)
    groups: dict[str, list[str]] = {}
    owns: dict[str, dict[str, Own]] = {}
    for submission in intake.collect(submissions, assignment):
        if not submission.ok or submission.student not in wanted:
            continue
        own = {
            m: normalise(own_lines(submission.files[m].decode("utf-8", "replace"), stubs[m]))
            for m in assignment.graded
            if m in submission.files
        }
        if sum(len(o.normal) for o in own.values()) < NOISE:
            continue  # nothing of their own (the stubs)
        key = hashlib.sha256(repr(sorted((m, o.text) for m, o in own.items())).encode())
        code = key.hexdigest()
        groups.setdefault(code, []).append(submission.student)
        owns.setdefault(code, own)
    prints = {
        code: {m: _fingerprint(o, boilerplate) for m, o in own.items()}
        for code, own in owns.items()
    }
    # one set per code: module name and fingerprint, so that modules match only each other
    sets = {
        code: {(m, h) for m, fp in fps.items() for h in fp.hashes} for code, fps in prints.items()
    }
    found = []
    for a, b in itertools.combinations(sets, 2):
        left, right = sets[a], sets[b]
        if not left or not right:
            continue
        shared = len(left & right)
        score = shared / min(len(left), len(right))
        if score >= THRESHOLD and shared >= MIN_SHARED:
            found.append((score, shared, a, b))
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
