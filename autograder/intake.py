"""Intake: turn a folder of submissions into clean, bounded, per-student inputs.

Every entry of the submissions folder except hidden ones is read, whatever it is: a
folder, a zip file, a broken archive, a stray PDF, a symbolic link; each student id
(the entry's name less ``.zip`` and a browser's `` (1)``) becomes exactly one
`Submission`, the newest entry where a student has several (a re-download). A bad entry
is never an exception; it is a row whose `status` says why it earned nothing (see
`Status`). Only the instructor's own mistakes raise (`IntakeError`: no submissions
folder, course files missing).

Nothing here runs or imports student code, and no student file name is ever used to
write anything. Only the graded modules of the manifest (an ASCII whitelist such as
``conv.py``) are read, found under their own name or the names uploads give them
(``Conv.py``, ``conv (1).py``, ``conv - 복사본.py``: `_module_of`), into memory, with byte
caps, and written back only under the module's own name; every other file is only
listed in a note. Archives are read with `zipfile` from memory (never ``extractall``),
after checks on size, entry count, declared unpacked size and member names; folders are
walked without following symbolic links, and files are opened with ``O_NOFOLLOW``
(every path component) and ``O_NONBLOCK`` so a named pipe cannot hang the batch.
`materialize` then writes one student's package, with the course's given modules,
into a fresh folder for the sandboxed grader.
"""

from __future__ import annotations

import codecs
import collections
import errno
import functools
import hashlib
import io
import os
import re
import stat
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from autograder.course import Assignment

MiB = 1 << 20

# Caps. A legitimate submission is a handful of small .py files, so every cap is far above
# it and far below what would hurt the grader.
MAX_ARCHIVE_BYTES = 20 * MiB  # size of a submitted .zip file (it is read into memory once)
MAX_ENTRIES = 2000  # members of a zip; entries walked in a folder
MAX_UNPACKED_BYTES = 50 * MiB  # sum of the sizes a zip's members declare
MAX_FILE_BYTES = 1 * MiB  # one taken module, enforced while reading
MAX_NAME_CHARS = 1024  # length of one member name of a zip
MAX_NAME_DEPTH = 32  # path components of one member name of a zip
MAX_FOLDER_DEPTH = 3  # folders nested deeper than this in a submission are not looked into
MAX_ID_CHARS = 64  # characters of a safe id
MAX_ID_BYTES = 192  # its UTF-8 bytes (64 Hangul; a file name holds 255)

# Names skipped silently wherever they appear (besides every name starting with ".").
JUNK = frozenset({"__MACOSX", "__pycache__", ".ipynb_checkpoints"})
# Members that are archives themselves: never opened, but worth telling the student.
_ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".alz", ".egg")
_MAX_LISTED = 5  # names shown in one note


class IntakeError(Exception):
    """The instructor's own error (missing submissions folder, missing course file)."""


class Status(StrEnum):
    """Every status a submission can have; the value is the gradebook's text.

    Some statuses carry a detail: ``could not read your archive (encrypted)``,
    ``rejected archive: unsafe path ../x.py``. Anything but `OK` earns nothing.
    """

    OK = "ok"
    NO_MODULE = "no graded module found"
    NOT_A_SUBMISSION = "not a folder or a zip file"
    UNREADABLE = "could not read your submission"
    BAD_ARCHIVE = "could not read your archive"
    ARCHIVE_TOO_LARGE = "archive too large"
    FOLDER_TOO_LARGE = "folder too large"
    REJECTED = "rejected archive"


@dataclass
class Submission:
    """One student's entry of the submissions folder, read (the newest, see `collect`).

    ``files`` maps graded module names (``conv.py``) to UTF-8 source; it is empty unless
    ``kind`` is `Status.OK`. ``notes`` are short sentences for the student and the TA.
    ``sha256`` is that of the archive's bytes, or, for a folder, of the taken files
    (name and original bytes, see `_folder_digest`); ``None`` when nothing was read.
    ``superseded`` names the older entries of the same student, not graded (`collect`).
    """

    student: str
    safe_id: str
    source: Path
    kind: Status = Status.OK
    detail: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sha256: str | None = None
    superseded: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """The gradebook's ``status``: ``ok`` or a short reason."""
        if not self.detail:
            return self.kind.value
        if self.kind is Status.REJECTED:
            return f"{self.kind.value}: {self.detail}"
        return f"{self.kind.value} ({self.detail})"

    @property
    def ok(self) -> bool:
        return self.kind is Status.OK


class _Fail(Exception):
    """Stops reading one submission with a status."""

    def __init__(self, kind: Status, detail: str = "", note: str | None = None) -> None:
        super().__init__(kind, detail)
        self.kind, self.detail, self.note = kind, detail, note


@dataclass(frozen=True)
class _Member:
    """A regular file of a submission: its path parts, its name for people, a handle, the
    graded module its name stands for (see `_module_of`) and when it was last changed."""

    parts: tuple[str, ...]
    shown: str
    ref: Any  # zipfile.ZipInfo for an archive, None for a folder (parts locate it)
    module: str | None
    mtime: tuple[int, ...]  # a zip's (year, month, day, hour, minute, second); a folder's (ns,)


# ---------------------------------------------------------------------------- ids


# What a browser appends to a file downloaded a second time, before its extension: Chrome,
# Edge and Firefox write "20251234 (1).zip", older Firefox "20251234(1).zip".
_DOWNLOAD_SUFFIX = r" ?\((\d{1,4})\)"
_DOWNLOADED = re.compile(rf"(.+?){_DOWNLOAD_SUFFIX}")


def _file_name(name: str) -> str:
    """A name from the file system as text.

    A name whose bytes are not UTF-8 (Korean Windows tools and LMS downloads write cp949,
    and unzip keeps those bytes) is decoded as cp949, or else with replacement characters.
    """
    raw = os.fsencode(name)
    for encoding in ("utf-8", "cp949"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", "replace")


def _entry_name(entry: Path) -> str:
    """An entry's name as text (`_file_name`), less ``.zip`` (any case): an id is text."""
    name = _file_name(entry.name)
    return name[:-4] if name.lower().endswith(".zip") and len(name) > 4 else name


def _copy_number(entry: Path) -> int:
    """1 for ``20251234 (1).zip``, 0 for an entry without a download suffix."""
    match = _DOWNLOADED.fullmatch(_entry_name(entry))
    return int(match.group(2)) if match else 0


def student_id(entry: Path) -> str:
    """The student id: the folder's name, or the zip's name without ``.zip``, less a
    browser's duplicate-download suffix (``20251234 (1).zip`` is ``20251234``)."""
    name = _entry_name(entry)
    match = _DOWNLOADED.fullmatch(name)
    return match.group(1) if match else name


_HASHED = 9  # characters and bytes taken by "-" and the 8 hex digits of a hash


def _short_hash(*parts: object) -> str:
    text = "\0".join(map(str, parts))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def _safe_char(char: str) -> bool:
    """Letters of any script (with their combining marks), decimal digits, ``._-``."""
    category = unicodedata.category(char)
    return char in "._-" or category[0] in "LM" or category == "Nd"


def _base(student: str, room: int = 0) -> str:
    """``student`` in NFC with each run of other characters as one ``_``, leading and
    trailing ``._-`` dropped, cut to leave ``room`` characters and bytes for a suffix."""
    text = "".join(c if _safe_char(c) else "\0" for c in unicodedata.normalize("NFC", student))
    base = re.sub("\0+", "_", text).strip("._-")[: MAX_ID_CHARS - room]
    while len(base.encode()) > MAX_ID_BYTES - room:
        base = base[:-1]
    return base.rstrip("._-") or "student"


def safe_id(student: str) -> str:
    """A file-name-safe form of ``student``: letters of any script, digits, ``-``, ``_``, ``.``.

    Runs of other characters become one ``_`` (``kim minji`` gives ``kim_minji``), leading
    and trailing ``._-`` are dropped, an empty result becomes ``student``, and long ids are
    cut to `MAX_ID_CHARS` characters and `MAX_ID_BYTES` bytes of UTF-8 (a file name holds
    255 bytes); the text is in NFC, so the same Hangul name from macOS and from Windows is
    one name. Never empty, never ``.`` or ``..``, never starting with ``.`` or ``-``. Two
    ids can give the same safe id: `unique_safe_ids` tells them apart in a batch.
    """
    return _base(student)


def _file_key(name: str) -> str:
    """What a case-insensitive, normalization-insensitive file system compares."""
    return unicodedata.normalize("NFC", name).casefold()


def unique_safe_ids(students: Iterable[str]) -> list[str]:
    """`safe_id` of each student, made distinct across the batch, in the given order.

    Safe ids are compared ignoring case (and Unicode normalization), so the files stay
    apart on a case-insensitive file system too (``Kim`` and ``kim``). An id whose safe id
    collides with no other keeps it. In a group that collides, an id that is its own safe
    id keeps it (the first such in order, for ``Kim`` and ``kim``), and every other gets
    ``-`` and 8 hex digits of the SHA-256 of its id (with a counter, should that be taken
    too): ``kim minji`` beside ``kim_minji`` is ``kim_minji-<hash>``, whatever their order,
    and a student gets the same file name in every batch with the same neighbours.
    """
    students = list(students)
    result = [safe_id(student) for student in students]
    counts = collections.Counter(_file_key(name) for name in result)
    taken: set[str] = set()
    collided = []
    for i, (student, name) in enumerate(zip(students, result, strict=True)):
        key = _file_key(name)
        if counts[key] == 1 or (student == name and key not in taken):
            taken.add(key)
        else:
            collided.append(i)
    for i in collided:
        base, n = _base(students[i], _HASHED), 1
        candidate = f"{base}-{_short_hash(students[i])}"
        while _file_key(candidate) in taken:
            n += 1
            candidate = f"{base}-{_short_hash(students[i], n)}"
        taken.add(_file_key(candidate))
        result[i] = candidate
    return result


# ----------------------------------------------------------------- the batch


def collect(folder: Path, assignment: Assignment) -> list[Submission]:
    """Read every entry of ``folder`` except hidden ones: one `Submission` per student.

    Each entry is read, whatever it is; symbolic links are never followed. Entries that
    give the same student id (``20251234.zip`` and its re-download ``20251234 (1).zip``)
    are one student: the newest entry is graded (`_newest`). In the order of the entries'
    names. Raises `IntakeError` only when ``folder`` itself cannot be listed.
    """
    try:
        names = sorted(name for name in os.listdir(folder) if not name.startswith("."))
    except OSError as error:
        raise IntakeError(
            f"cannot list the submissions folder {folder}: {error.strerror}"
        ) from None
    submissions = _newest([_read_entry(folder / name, assignment) for name in names])
    for submission, unique in zip(
        submissions, unique_safe_ids(s.student for s in submissions), strict=True
    ):
        submission.safe_id = unique
    return submissions


def _newest(submissions: list[Submission]) -> list[Submission]:
    """One submission per student id, in the given order: the newest entry (by its mtime,
    then by its download number, ``(2)`` after ``(1)``), whose notes and ``superseded``
    name the others."""
    by_student: dict[str, list[Submission]] = {}
    for submission in submissions:
        by_student.setdefault(submission.student, []).append(submission)
    newest = {student: max(entries, key=_entry_age) for student, entries in by_student.items()}
    kept = []
    for submission in submissions:
        if submission is not newest[submission.student]:
            continue
        entries = by_student[submission.student]
        older = [_show(s.source.name) for s in entries if s is not submission]
        if older:
            submission.superseded = sorted(older)
            submission.notes.insert(
                0,
                f"graded {_show(submission.source.name)}, the newest of "
                f"{len(entries)} entries for {_show(submission.student)}"
                f"; not graded: {_listing(older)}",
            )
        kept.append(submission)
    return kept


def _entry_age(submission: Submission) -> tuple[int, int, str]:
    try:
        mtime = os.lstat(submission.source).st_mtime_ns
    except OSError:
        mtime = 0
    return mtime, _copy_number(submission.source), submission.source.name


def _read_entry(path: Path, assignment: Assignment) -> Submission:
    try:
        is_folder = stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        is_folder = False  # read_zip reports why it cannot be read
    try:
        return read_folder(path, assignment) if is_folder else read_zip(path, assignment)
    except Exception as error:  # a bug of ours must not cost the batch or the row
        submission = _new(path)
        submission.kind, submission.detail = Status.UNREADABLE, "unexpected error"
        submission.notes.append(f"intake error, please tell the instructor: {_show(repr(error))}")
        return submission


def _new(path: Path) -> Submission:
    student = student_id(path)
    return Submission(student=student, safe_id=safe_id(student), source=path)


def _finish(submission: Submission, read: Callable[[Submission], None]) -> Submission:
    """Run ``read`` on the submission; a `_Fail` becomes its status and drops its files."""
    try:
        read(submission)
    except _Fail as fail:
        submission.kind, submission.detail, submission.files = fail.kind, fail.detail, {}
        if fail.note:
            submission.notes.append(fail.note)
    except OSError as error:
        submission.kind, submission.files = Status.UNREADABLE, {}
        submission.detail = _os_reason(error)
    return submission


def _os_reason(error: OSError) -> str:
    return (error.strerror or type(error).__name__).lower()


# ----------------------------------------------------------------------- zips


def read_zip(path: Path, assignment: Assignment) -> Submission:
    """Read a submission that is not a folder: a zip (by content) or something else."""
    return _finish(_new(path), lambda submission: _read_zip(submission, assignment))


def _read_zip(submission: Submission, assignment: Assignment) -> None:
    path = submission.source
    data = _read_file(path)
    submission.sha256 = hashlib.sha256(data).hexdigest()
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise _not_a_zip(path.name, data)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except UnicodeDecodeError:
        raise _Fail(Status.BAD_ARCHIVE, "its file names are not valid UTF-8") from None
    except Exception as error:  # zipfile raises many types on hostile input
        raise _Fail(Status.BAD_ARCHIVE, "corrupt", f"zipfile: {_show(str(error))}") from None
    with archive:
        members = _zip_members(archive, assignment, submission.notes)
        _take(submission, members, assignment, lambda member: _read_member(archive, member))


def _read_file(path: Path) -> bytes:
    """The bytes of a regular file that is not a link, at most `MAX_ARCHIVE_BYTES`."""
    mode = os.lstat(path).st_mode
    if not stat.S_ISREG(mode):
        raise _Fail(Status.NOT_A_SUBMISSION, _file_type(mode))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.EMLINK):  # replaced by a link meanwhile
            raise _Fail(Status.NOT_A_SUBMISSION, "symbolic link") from None
        raise
    try:
        return _read_capped(fd, MAX_ARCHIVE_BYTES, Status.ARCHIVE_TOO_LARGE, path.name)
    finally:
        os.close(fd)


def _read_capped(fd: int, cap: int, kind: Status, name: str) -> bytes:
    """Read a regular file's fd, failing with ``kind`` beyond ``cap`` bytes."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):  # it changed since it was listed
        raise _Fail(Status.UNREADABLE, f"{_show(name)} is not a regular file")
    if info.st_size > cap:
        raise _Fail(kind, _too_big(name, info.st_size, cap))
    chunks, size = [], 0
    while size <= cap:
        chunk = os.read(fd, min(cap + 1 - size, MiB))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > cap:  # it grew after fstat
        raise _Fail(kind, _too_big(name, size, cap))
    return b"".join(chunks)


def _too_big(name: str, size: float, cap: int) -> str:
    if _mib(size) == _mib(cap):
        return f"{_show(name)} is over the limit of {_mib(cap)}"
    return f"{_show(name)} is {_mib(size)}; the limit is {_mib(cap)}"


def _file_type(mode: int) -> str:
    for test, what in (
        (stat.S_ISLNK, "symbolic link"),
        (stat.S_ISFIFO, "named pipe"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "device"),
        (stat.S_ISBLK, "device"),
    ):
        if test(mode):
            return what
    return ""


_MAGIC = (
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
    (b"\x1f\x8b", "a gzip file"),
    (b"ALZ\x01", "an ALZip archive"),
    (b"%PDF", "a PDF document"),
)


def _not_a_zip(name: str, data: bytes) -> _Fail:
    """The status of a file that is not a zip, with a hint for the student where possible."""
    damaged = data[:4] == b"PK\x03\x04"  # the start of a zip whose end is missing or broken
    if not name.lower().endswith(".zip"):
        return _Fail(Status.NOT_A_SUBMISSION, "a damaged zip file" if damaged else _guess(data))
    if not data:
        return _Fail(Status.BAD_ARCHIVE, "empty file")
    if damaged:
        return _Fail(Status.BAD_ARCHIVE, "truncated or corrupt")
    what = _guess(data)
    return _Fail(Status.BAD_ARCHIVE, f"not a zip file: it is {what}" if what else "not a zip file")


def _guess(data: bytes) -> str:
    """What a file that is not a zip seems to be ("" if nothing familiar)."""
    if data[257:262] == b"ustar":
        return "a tar archive"
    return next((what for magic, what in _MAGIC if data.startswith(magic)), "")


def _zip_members(
    archive: zipfile.ZipFile, assignment: Assignment, notes: list[str]
) -> list[_Member]:
    """The archive's regular files, after the checks that reject an archive as a whole."""
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise _Fail(Status.ARCHIVE_TOO_LARGE, f"{len(infos)} files; the limit is {MAX_ENTRIES}")
    members: list[_Member] = []
    others: list[str] = []
    seen: set[tuple[str, ...]] = set()
    declared = 0
    for info in infos:
        decoded = _member_name(info)
        shown = _show(decoded)
        parts = _member_parts(info.orig_filename, shown)
        declared += info.file_size
        ftype = stat.S_IFMT(info.external_attr >> 16)
        if not parts or info.orig_filename.endswith(("/", "\\")) or ftype == stat.S_IFDIR:
            continue  # a folder entry
        if _is_junk(parts):
            continue
        # the name as its tool wrote it: "conv - 복사본.py" from Korean Windows is cp949
        module = _module_of(re.split(r"[/\\]", decoded)[-1], assignment.graded)
        if ftype not in (0, stat.S_IFREG):  # 0: made on a system without Unix modes
            if module:
                what = "a symbolic link" if ftype == stat.S_IFLNK else "not a regular file"
                raise _Fail(Status.REJECTED, f"{shown} is {what}")
            others.append(shown)
            continue
        if module:
            if parts in seen:
                raise _Fail(Status.REJECTED, f"{shown} appears twice")
            seen.add(parts)
        members.append(_Member(parts, shown, info, module, info.date_time))
    if declared > MAX_UNPACKED_BYTES:
        raise _Fail(
            Status.ARCHIVE_TOO_LARGE,
            f"it unpacks to {_mib(declared)}; the limit is {_mib(MAX_UNPACKED_BYTES)}",
        )
    if others:
        notes.append(
            f"ignored {_count(others, 'link or special file', 'links or special files')}"
            f" (never read): {_listing(others)}"
        )
    return members


_DRIVE = re.compile(r"[A-Za-z]:")


def _member_parts(name: str, shown: str) -> tuple[str, ...]:
    """Split a member name into path parts; reject names that could point outside.

    A backslash counts as a separator (Windows tools write ``cnn\\conv.py``), so
    ``..\\x.py`` is caught like ``../x.py``; ``.`` and empty parts are dropped.
    """
    if len(name) > MAX_NAME_CHARS:
        raise _Fail(
            Status.REJECTED,
            f"a file name is too long ({len(name)} characters; the limit is {MAX_NAME_CHARS})",
        )
    if "\0" in name:
        raise _Fail(Status.REJECTED, f"unsafe path {shown} (NUL character)")
    raw = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or _DRIVE.match(raw[0]):
        raise _Fail(Status.REJECTED, f"unsafe path {shown}")
    # ".." and what Windows reads as "..": "...", ". .", ".. "
    if any(part.rstrip(". ") == "" and part not in ("", ".") for part in raw):
        raise _Fail(Status.REJECTED, f"unsafe path {shown}")
    parts = tuple(part for part in raw if part not in ("", "."))
    if len(parts) > MAX_NAME_DEPTH:
        raise _Fail(
            Status.REJECTED,
            f"a path is too deep ({len(parts)} levels; the limit is {MAX_NAME_DEPTH})",
        )
    return parts


def _member_name(info: zipfile.ZipInfo) -> str:
    """A member's name as its tool wrote it, for people and for `_module_of`.

    Without the UTF-8 flag, `zipfile` decodes names as cp437; Korean Windows tools write
    cp949 there, so try UTF-8 and cp949 first. Never used as a path: paths are checked on
    the name as stored (`_member_parts`), and a name only ever picks a graded module.
    """
    name = info.orig_filename
    if info.flag_bits & 0x800:
        return name
    try:
        raw = name.encode("cp437")
    except UnicodeEncodeError:
        return name
    for encoding in ("utf-8", "cp949"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            pass
    return name


def _read_member(archive: zipfile.ZipFile, member: _Member) -> bytes:
    info: zipfile.ZipInfo = member.ref
    if info.flag_bits & 0x41:  # bit 0: encrypted, bit 6: strong encryption
        raise _Fail(Status.BAD_ARCHIVE, "encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        # bzip2 and lzma members are decompressed by zipfile without an output cap
        raise _Fail(
            Status.BAD_ARCHIVE,
            f"{member.shown} uses an unsupported compression method; zip it again",
        )
    if info.file_size > MAX_FILE_BYTES:
        raise _Fail(
            Status.ARCHIVE_TOO_LARGE, _too_big(member.shown, info.file_size, MAX_FILE_BYTES)
        )
    try:
        with archive.open(info) as stream:
            # zipfile stops at the declared size (<= the cap) and then checks the CRC
            data = stream.read(MAX_FILE_BYTES + 1)
    except Exception as error:  # BadZipFile (bad CRC), EOFError, zlib.error, ...
        raise _Fail(
            Status.BAD_ARCHIVE,
            f"{member.shown} is corrupt",
            f"zipfile: {_show(str(error) or type(error).__name__)}",
        ) from None
    if len(data) > MAX_FILE_BYTES:
        raise _Fail(Status.ARCHIVE_TOO_LARGE, _too_big(member.shown, len(data), MAX_FILE_BYTES))
    return data


# -------------------------------------------------------------------- folders


def read_folder(path: Path, assignment: Assignment) -> Submission:
    """Read a submission folder, never following a symbolic link."""
    return _finish(_new(path), lambda submission: _read_folder(submission, assignment))


def _read_folder(submission: Submission, assignment: Assignment) -> None:
    root = submission.source
    if not stat.S_ISDIR(mode := os.lstat(root).st_mode):
        raise _Fail(Status.NOT_A_SUBMISSION, _file_type(mode))
    members = _folder_members(root, assignment, submission.notes)
    raw: dict[str, bytes] = {}

    def read(member: _Member) -> bytes:
        fd = _open_beneath(root, member.parts)
        try:
            data = _read_capped(fd, MAX_FILE_BYTES, Status.FOLDER_TOO_LARGE, member.shown)
        finally:
            os.close(fd)
        raw[member.parts[-1]] = data
        return data

    _take(submission, members, assignment, read)
    submission.sha256 = _folder_digest(raw)


def _folder_members(root: Path, assignment: Assignment, notes: list[str]) -> list[_Member]:
    members: list[_Member] = []
    others: list[str] = []
    walked, too_deep = 0, False
    pending: list[tuple[str, ...]] = [()]
    while pending:
        folder = pending.pop()
        fd = _open_beneath(root, folder, directory=True)
        try:
            with os.scandir(fd) as entries:
                for entry in entries:
                    walked += 1
                    if walked > MAX_ENTRIES:
                        raise _Fail(Status.FOLDER_TOO_LARGE, f"more than {MAX_ENTRIES} files")
                    parts = (*folder, entry.name)
                    if _is_junk(parts):
                        continue
                    shown = _show("/".join(map(_file_name, parts)))  # cp949 bytes as Hangul
                    if entry.is_dir(follow_symlinks=False):
                        if len(parts) <= MAX_FOLDER_DEPTH:
                            pending.append(parts)
                        else:
                            too_deep = True
                    elif entry.is_file(follow_symlinks=False):
                        module = _module_of(_file_name(entry.name), assignment.graded)
                        mtime = (entry.stat(follow_symlinks=False).st_mtime_ns,)
                        members.append(_Member(parts, shown, None, module, mtime))
                    else:  # symbolic link (to anything), named pipe, socket, device
                        others.append(shown)
        finally:
            os.close(fd)
    if others:
        notes.append(
            f"ignored {_count(others, 'link or special file', 'links or special files')}"
            f" (never read): {_listing(others)}"
        )
    if too_deep:
        notes.append(f"folders nested more than {MAX_FOLDER_DEPTH} levels deep were not searched")
    return members


def _open_beneath(root: Path, parts: Sequence[str], *, directory: bool = False) -> int:
    """Open ``root/parts...`` refusing a symbolic link at every step; a file without blocking."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(root, flags | os.O_DIRECTORY)
    try:
        for i, part in enumerate(parts):
            is_file = i == len(parts) - 1 and not directory
            step = flags | (os.O_NONBLOCK if is_file else os.O_DIRECTORY)
            fd, parent = os.open(part, step, dir_fd=fd), fd
            os.close(parent)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _folder_digest(raw: dict[str, bytes]) -> str:
    """SHA-256 over the taken files: name, NUL, size, NUL, original bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(raw):
        digest.update(f"{name}\0{len(raw[name])}\0".encode("utf-8", "surrogateescape"))
        digest.update(raw[name])
    return digest.hexdigest()


# ----------------------------------------------------------- choosing modules


def _is_junk(parts: tuple[str, ...]) -> bool:
    return any(part.startswith(".") or part in JUNK for part in parts)


def _rank(parts: tuple[str, ...], package: str) -> tuple[int, int] | None:
    """Where a module may be: ``conv.py``, ``cnn/conv.py``, ``x/conv.py``, ``x/cnn/conv.py``.

    Smaller is better: shallower first, then the package folder at equal depth.
    ``None`` for any other place.
    """
    depth = len(parts) - 1
    if depth == 0:
        return (0, 0)
    if depth == 1:
        return (1, 0 if parts[0] == package else 1)
    if depth == 2 and parts[1] == package:
        return (2, 0)
    return None


# What browsers and file managers add to the name of a second copy, before the extension:
# a download suffix (Chrome, Edge, Firefox: "conv (1).py", older Firefox "conv(1).py"),
# Safari's "conv-1.py", Windows Explorer's "conv - Copy.py", "conv - Copy (2).py" (Korean
# Windows: "conv - 복사본.py"), macOS Finder's "conv copy.py", "conv copy 2.py" (Korean:
# "conv 복사본.py") and its "keep both" "conv 2.py".
_COPY_SUFFIX = (
    rf"(?:{_DOWNLOAD_SUFFIX}|-\d{{1,4}}| \d{{1,4}}"
    rf"|(?: -)? (?:copy|복사본)(?:{_DOWNLOAD_SUFFIX}| \d{{1,4}})?)"
)


@functools.cache
def _variants(module: str) -> re.Pattern[str]:
    stem = re.escape(module.removesuffix(".py"))
    return re.compile(rf"{stem}{_COPY_SUFFIX}?\.py", re.IGNORECASE | re.ASCII)


def _module_of(name: str, graded: Sequence[str]) -> str | None:
    """The graded module a file name stands for, if any: its own name, or that name in
    another letter case or with a copy's suffix (`_COPY_SUFFIX`).

    ``Conv.py``, ``conv (1).py``, ``conv(1).py`` and ``conv - 복사본.py`` stand for
    ``conv.py``; ``numpy (1).py`` and ``conv_old.py`` for nothing. Only ASCII letters change
    case; the name is compared in NFC (macOS writes NFD).
    Graded names are identifiers and every suffix starts with a space, ``(`` or ``-``, so a
    name stands for one module at most. Only the name counts: the path is checked apart.
    """
    if name in graded:
        return name
    text = unicodedata.normalize("NFC", name)
    return next((module for module in graded if _variants(module).fullmatch(text)), None)


def _pick(members: list[_Member], assignment: Assignment, notes: list[str]) -> dict[str, _Member]:
    """Choose, for each graded module, the one file to grade, explaining surprises in notes.

    The candidates are the files whose name stands for the module (`_module_of`) at a
    place `_rank` allows. The best place wins; at the same place, the newest file (a zip
    member's time, a file's mtime), then the module's own name over a variant. Files that
    tie on all three are not guessed between.
    """
    package = assignment.package
    where = f"at the top of your submission or in {package}/"
    chosen: dict[str, _Member] = {}
    for module in assignment.graded:
        found = sorted((m for m in members if m.module == module), key=lambda m: m.parts)
        placed = [(m, rank) for m in found if (rank := _rank(m.parts, package)) is not None]
        if not placed:
            if found:
                notes.append(
                    f"{module}: found only at {_listing([m.shown for m in found])},"
                    f" too deep; put it {where}"
                )
            continue
        best_rank = min(rank for _, rank in placed)
        here = [(m.mtime, m.parts[-1] == module, m) for m, rank in placed if rank == best_rank]
        newest = max(time for time, _, _ in here)
        exact = any(own for time, own, _ in here if time == newest)
        tied = [m for time, own, m in here if (time, own) == (newest, exact)]
        if len(tied) > 1:
            notes.append(
                f"{module}: found {_listing([m.shown for m in tied])}; could not tell"
                f" which one to grade, so none was graded; keep one copy {where}"
            )
            continue
        [best] = tied
        chosen[module] = best
        renamed = best.parts[-1] != module
        rest = [m.shown for m in found if m is not best]
        note = f"{module}: graded {best.shown}" + (f" as {module}" if renamed else "")
        if len(here) > 1 and all(time < newest for time, _, m in here if m is not best):
            notes.append(f"{note}, the newest; ignored the other copies: {_listing(rest)}")
        elif rest:
            notes.append(f"{note}; ignored the other copies: {_listing(rest)}")
        elif renamed:
            notes.append(note)
    ignored = [m.shown for m in members if m.module is None]
    if ignored:
        notes.append(
            f"ignored {_count(ignored, 'other file', 'other files')}"
            f" (only the graded modules are taken): {_listing(ignored)}"
        )
    archives = [m.shown for m in members if m.parts[-1].lower().endswith(_ARCHIVE_SUFFIXES)]
    if archives:
        notes.append(f"archives inside your submission are not opened: {_listing(archives)}")
    return chosen


def _take(
    submission: Submission,
    members: list[_Member],
    assignment: Assignment,
    read: Callable[[_Member], bytes],
) -> None:
    """Read the chosen modules into ``submission.files`` as UTF-8 and set the status."""
    notes = submission.notes
    for module, member in _pick(members, assignment, notes).items():
        submission.files[module] = _source_to_utf8(module, read(member), notes)
    if not submission.files:
        notes.append(
            f"expected {', '.join(assignment.graded)} at the top of your submission"
            f" or in {assignment.package}/"
        )
        raise _Fail(Status.NO_MODULE)
    missing = [module for module in assignment.graded if module not in submission.files]
    if missing:
        notes.append(f"not submitted: {', '.join(missing)}")


# --------------------------------------------------------------- source text

_COOKIE = re.compile(rb"^([ \t\f]*#.*?coding[:=][ \t]*)([-\w.]+)")


def _declared_encoding(data: bytes) -> str | None:
    """The PEP 263 ``coding:`` declaration of the first two lines, if any."""
    for line in data.split(b"\n", 2)[:2]:
        if match := _COOKIE.match(line):
            return match.group(2).decode("ascii", "replace")
    return None


def _redeclare_utf8(data: bytes) -> bytes:
    """Rewrite a ``coding:`` declaration to utf-8 after the text was converted to UTF-8."""
    lines = data.split(b"\n", 2)
    for i in range(min(2, len(lines))):
        if _COOKIE.match(lines[i]):
            lines[i] = _COOKIE.sub(rb"\g<1>utf-8", lines[i], count=1)
            break
    return b"\n".join(lines)


def _source_to_utf8(name: str, data: bytes, notes: list[str]) -> bytes:
    """Return a module's source as UTF-8 bytes, noting any conversion.

    UTF-8 is kept (a BOM is dropped); UTF-16 with a BOM, the encoding a ``coding:``
    line declares, and then cp949 (Korean Windows, a superset of euc-kr) are converted,
    with the declaration rewritten to utf-8. Anything else is kept as is with a note:
    Python will then report the problem when it imports the module.
    """
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = [("utf-16", "UTF-16")]
    elif _is_utf8(data):
        candidates = []
    else:
        declared = _declared_encoding(data)
        candidates = [(declared, declared)] if declared else []
        candidates.append(("cp949", "cp949 (Korean Windows)"))
    for encoding, label in candidates:
        try:
            converted = data.decode(encoding).encode("utf-8")
        except (UnicodeError, LookupError):
            continue
        data = _redeclare_utf8(converted)
        notes.append(f"{name} was saved as {label}; converted to UTF-8")
        break
    else:
        if candidates:
            notes.append(f"could not decode {name} as UTF-8; graded as is")
    if b"\0" in data:
        notes.append(f"{name} contains null bytes; Python cannot import it")
    return data


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# ---------------------------------------------------------------- writing out


def materialize(submission: Submission, assignment: Assignment, dest: Path) -> Path:
    """Write the package the grader imports, ``dest/<package>/``, and return ``dest``.

    It holds the student's graded modules and, from the course's generated student package
    (``assignment.stub_dir``), the given modules and the stub of every graded module the
    student did not submit. ``dest/<package>`` must not exist yet: it is always a fresh
    folder (mode 0o755, files 0o644, whatever the umask). A submission that is not ok has no
    files, so it becomes the bare stubs. Raises `IntakeError` if the course lacks a module.
    """
    package = dest / assignment.package
    if not dest.exists():
        dest.mkdir(parents=True)
        os.chmod(dest, 0o755)
    package.mkdir()
    os.chmod(package, 0o755)
    for name in (*assignment.given, *assignment.graded):
        if name in submission.files:
            source = submission.files[name]
        else:
            try:
                source = (assignment.stub_dir / name).read_bytes()
            except OSError as error:
                raise IntakeError(
                    f"module {name} of {assignment.name} is missing from the "
                    f"course's student package: {error}"
                ) from None
        _write(package / name, source)
    return dest


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb", closefd=False) as out:
            out.write(data)
    finally:
        os.close(fd)


# -------------------------------------------------------------------- display


def _show(name: str, limit: int = 80) -> str:
    """A name safe to print: non-printable characters become ``?``, long ones are cut."""
    text = "".join(c if c.isprintable() else "?" for c in name[: limit + 1])
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _listing(names: list[str]) -> str:
    shown = ", ".join(sorted(names)[:_MAX_LISTED])
    more = len(names) - _MAX_LISTED
    return f"{shown} and {more} more" if more > 0 else shown


def _count(items: list[str], one: str, many: str) -> str:
    return f"{len(items)} {one if len(items) == 1 else many}"


def _mib(size: float) -> str:
    """``200 MiB``, ``2.5 MiB``."""
    return f"{size / MiB:.1f}".removesuffix(".0") + " MiB"
