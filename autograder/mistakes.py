"""Known mistakes: deliberately wrong (or equivalent) variants of the reference.

They are written in ``solutions/<a>/MISTAKES.md`` (hidden: they quote the reference). An
entry starts with ``## <name>``, then the lines ``part:``, ``expect:`` (``fail`` for a
mistake, ``pass`` for an equivalent formulation that must earn full marks), ``why:`` (the
explanation the student reads, wherever the mistake is recognised) and optionally ``note:``
(for grader authors), each possibly continued on indented lines; then its edit: a fenced
```` ```old <file> <scope> ```` block, where ``<scope>`` names the function, method or class
the edit is in (``im2col``, ``Adam.update``), followed by a ```` ```new ```` block.

The old text is matched as Python tokens, not characters, so that a reformatted or partly
rewritten reference keeps its mistakes: layout (indentation, line breaks, spaces), comments,
a comma before a closing bracket and the spelling of a literal (quotes, ``1E-8``) do not
count. It must occur exactly once inside the solution regions of ``<scope>``; the lines it
covers are replaced by the new text, moved right or left by as much as the match's
indentation differs from the old text's. An entry that no longer applies raises
:class:`NotApplicable`, which says why (``release verify`` lists every such entry).

Each entry serves twice: the grading parent imports the reference with the edit made to
recognise the mistake in a student's output ("this looks like a known mistake: ..."), and
``release verify`` submits the edited modules as a student would, to prove that the
graders take points for every mistake and none for an equivalent form.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import tokenize
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .oracles import KnownMistake
from .regions import Region, regions

_ENTRY = re.compile(r"^## (?P<name>.+?)\s*$", re.M)
_FIELD = re.compile(r"^(part|expect|why|note):[ \t]*(.*(?:\n[ \t]+\S.*)*)", re.M)
_EDIT = re.compile(
    r"^```old (?P<file>\S+\.py) (?P<scope>[A-Za-z_][\w.]*)\n(?P<old>.*?)^```\n"
    r"^```new\n(?P<new>.*?)^```$",
    re.M | re.S,
)
_LAYOUT = {
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.COMMENT,
    tokenize.ENDMARKER,
}
_LITERAL = {tokenize.STRING, tokenize.NUMBER, getattr(tokenize, "FSTRING_START", -1)}
_CLOSING = (")", "]", "}")


class NotApplicable(ValueError):
    """An entry whose edit no longer applies to the reference: rebase it."""


@dataclass(frozen=True)
class _Token:
    """A token that counts in a match: ``key`` is what must be equal."""

    key: str
    start: tuple[int, int]  # (line, column), as tokenize gives them
    end: tuple[int, int]
    optional: bool  # a comma before a closing bracket (or ending an old text)


def _key(token: tokenize.TokenInfo) -> str:
    if token.type in _LITERAL:
        try:
            return repr(ast.literal_eval(token.string))
        except (ValueError, SyntaxError):  # an f-string
            return token.string.replace("'", '"')
    if token.type == getattr(tokenize, "FSTRING_END", -1):
        return token.string.replace("'", '"')
    return token.string


def _significant(tokens: list[tokenize.TokenInfo]) -> list[_Token]:
    kept = [t for t in tokens if t.type not in _LAYOUT]
    for token in kept:
        if token.type == tokenize.ERRORTOKEN:
            raise ValueError(f"not Python: {token.line.strip()!r}")
    return [
        _Token(
            _key(t),
            t.start,
            t.end,
            t.string == "," and (i + 1 == len(kept) or kept[i + 1].string in _CLOSING),
        )
        for i, t in enumerate(kept)
    ]


@dataclass(frozen=True)
class _Module:
    """What edits need of a module's text: its tokens, solution regions and the line
    spans (first, last) of its functions, methods and classes by qualified name."""

    tokens: tuple[_Token, ...]
    regions: tuple[Region, ...]
    scopes: dict[str, list[tuple[int, int]]]


@lru_cache(maxsize=32)
def _module(source: str, filename: str) -> _Module:
    """The same text serves many edits: read once."""
    scopes: dict[str, list[tuple[int, int]]] = {}

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = prefix + child.name
                scopes.setdefault(name, []).append((child.lineno, child.end_lineno or 0))
                walk(child, f"{name}.")
            elif isinstance(child, ast.stmt | ast.excepthandler | ast.match_case):
                walk(child, prefix)

    walk(ast.parse(source, filename), "")
    tokens = _significant(list(tokenize.generate_tokens(io.StringIO(source).readline)))
    return _Module(tuple(tokens), tuple(regions(source, filename)), scopes)


def _fragment(text: str) -> list[_Token]:
    """The tokens of an old text, any run of lines of a module, with positions in ``text``.

    The text is read after as many opening brackets as it could close, so that tokenize
    reads none of its lines as a statement (whose indentation it would check) and an
    unbalanced bracket is no error; the brackets stay open, hence the TokenError at the end.
    """
    depth = sum(map(text.count, _CLOSING)) + 1
    padded = "(" * depth + text
    tokens: list[tokenize.TokenInfo] = []
    with contextlib.suppress(tokenize.TokenError):
        for token in tokenize.generate_tokens(io.StringIO(padded).readline):
            tokens.append(token)
    row, column = tokens[-1].end if tokens else (1, 0)
    unread = padded[sum(len(line) + 1 for line in padded.split("\n")[: row - 1]) + column :]
    if unread.strip():  # an unterminated string
        raise ValueError(f"not Python tokens from: {unread.strip()[:40]!r}")
    found = _significant(tokens[depth:])
    return [
        _Token(t.key, (t.start[0], t.start[1] - (t.start[0] == 1) * depth), t.end, t.optional)
        for t in found
    ]


def _shift(lines: list[str], by: int) -> list[str]:
    """``lines`` moved ``by`` columns right (left when negative); blank lines stay blank."""
    if by < 0 and any(line.strip() and line[:-by].strip() for line in lines):
        raise NotApplicable(f"the new text cannot move {-by} columns left")
    return [(" " * by + line if by >= 0 else line[-by:]) if line.strip() else "" for line in lines]


@dataclass(frozen=True)
class Edit:
    """Replace ``old`` (occurring once in ``scope``'s solution regions) by ``new`` in
    ``file``; ``scope`` is a qualified name, such as ``Adam.update``."""

    file: str
    scope: str
    old: str
    new: str

    def apply(self, source: str) -> str:
        """``source`` with the edit made (see the module docstring); :class:`NotApplicable`
        with the reason when the scope or the old text is not found exactly once."""
        module = _module(source, self.file)
        tokens, where = module.tokens, f"{self.scope} ({self.file})"
        spans = module.scopes.get(self.scope, [])
        if len(spans) != 1:
            raise NotApplicable(
                f"{self.file} defines {self.scope} {len(spans)} times"
                if spans
                else f"{self.file} has no function, method or class {self.scope}"
            )
        (scope_first, scope_last) = spans[0]
        old = _fragment(self.old)
        want = [t.key for t in old if not t.optional]
        matches = []
        for region in module.regions:
            if region.end < scope_first or region.begin > scope_last:
                continue
            inside = [
                i
                for i, t in enumerate(tokens)
                if not t.optional
                and region.holds(t.start[0])
                and scope_first <= t.start[0] <= scope_last
            ]
            keys = [tokens[i].key for i in inside]
            matches += [
                (inside[k], inside[k + len(want) - 1], region)
                for k in range(len(keys) - len(want) + 1)
                if keys[k : k + len(want)] == want
            ]
        if not matches:
            raise NotApplicable(f"the old text is not in the solution regions of {where}")
        if len(matches) > 1:
            raise NotApplicable(f"the old text occurs {len(matches)} times in {where}, not once")
        first, last, region = matches[0]
        if old[-1].optional and last + 1 < len(tokens) and tokens[last + 1].key == ",":
            last += 1  # the old text's last comma, before a bracket in the reference
        lines = source.split("\n")
        # the old text's comment lines before its first token and after its last one
        above = old[0].start[0] - 1
        below = len(self.old.split("\n")) - 1 - old[-1].end[0]
        top, bottom = tokens[first].start[0], tokens[last].end[0]
        while above and region.holds(top - 1) and _comment(lines[top - 2]):
            top, above = top - 1, above - 1
        while below and region.holds(bottom + 1) and _comment(lines[bottom]):
            bottom, below = bottom + 1, below - 1
        return _splice(lines, tokens[first], tokens[last], (top, bottom), old[0].start[1], self.new)


def _comment(line: str) -> bool:
    return not line.strip() or line.lstrip().startswith("#")


def _splice(
    lines: list[str], first: _Token, last: _Token, rows: tuple[int, int], column: int, new: str
) -> str:
    """The module of ``lines`` with the tokens ``first`` to ``last`` replaced by ``new``,
    whose first token was at ``column``: with whole lines ``rows`` (first, last) where the
    match covers whole lines, else from ``first`` or to ``last``."""
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    source = "\n".join(lines)
    begin = starts[first.start[0] - 1] + first.start[1]
    end = starts[last.end[0] - 1] + last.end[1]
    line_begin, line_end = starts[rows[0] - 1], starts[rows[1]] - 1
    body = _shift(new.splitlines(), first.start[1] - column)
    rest = source[end : starts[last.end[0]] - 1].strip()
    start = line_begin if not source[starts[first.start[0] - 1] : begin].strip() else begin
    stop = line_end if not rest or rest.startswith("#") else end
    if start == begin and body:
        body[0] = body[0].lstrip()
    if not body and (start, stop) == (line_begin, line_end):
        stop += 1  # the lines go, with their line break
    return source[:start] + "\n".join(body) + source[stop:]


@dataclass(frozen=True)
class Mistake(KnownMistake):
    """A named variant of the reference (see the module docstring)."""

    expect: str = "fail"
    edits: tuple[Edit, ...] = ()

    @property
    def is_mistake(self) -> bool:
        """A real mistake (loses points), not an equivalent form (earns full marks)."""
        return self.expect == "fail"

    def apply(self, files: dict[str, str]) -> dict[str, str]:
        """The files (name -> text) with every edit made; :class:`NotApplicable`, naming
        this entry and why, when an edit does not apply or its module no longer compiles."""
        files = dict(files)
        for edit in self.edits:
            if edit.file not in files:
                raise NotApplicable(f"{self.name}: there is no module {edit.file}")
            try:
                files[edit.file] = edit.apply(files[edit.file])
                compile(files[edit.file], edit.file, "exec")
            except NotApplicable as problem:
                raise NotApplicable(f"{self.name}: {problem}") from None
            except SyntaxError as problem:
                raise NotApplicable(
                    f"{self.name}: {edit.file} with the edit does not compile "
                    f"({problem.msg}, line {problem.lineno})"
                ) from None
        return files


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
        edits = tuple(Edit(m["file"], m["scope"], m["old"], m["new"]) for m in _EDIT.finditer(body))
        if not edits or len(edits) != body.count("```old"):
            raise ValueError(
                f"mistake {entry['name']}: each edit is a ```old <file> <scope> block "
                "followed by a ```new block"
            )
        for edit in edits:
            try:
                if not [t for t in _fragment(edit.old) if not t.optional]:
                    raise ValueError("no code")
            except ValueError as problem:
                raise ValueError(f"mistake {entry['name']}: its old text: {problem}") from None
        mistakes.append(
            Mistake(entry["name"], fields["part"], fields["why"], fields["expect"], edits)
        )
    return mistakes


def load(path: Path) -> list[Mistake]:
    """The entries of one MISTAKES.md file."""
    return parse(path.read_text(encoding="utf-8"))
