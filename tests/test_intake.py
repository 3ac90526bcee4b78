"""Intake: every entry of a submissions folder becomes one clean, bounded row.

Real zip files and folders are built in ``tmp_path`` at test time; the hostile ones come
from `hostile_archives`. No mocks: the assignments are the course's own manifests (one
test points a subclass of the manifest at a temporary solutions and stubs folder).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import signal
import stat
import zipfile
import zlib
from pathlib import Path

import hostile_archives as hostile
import pytest

from autograder import course
from autograder.intake import (
    MAX_ARCHIVE_BYTES,
    MAX_ENTRIES,
    MAX_FILE_BYTES,
    MAX_ID_CHARS,
    IntakeError,
    Status,
    Submission,
    collect,
    materialize,
    read_folder,
    read_zip,
    safe_id,
    student_id,
    unique_safe_ids,
)

CNN = course.load("cnn")  # graded conv.py, pooling.py, kernels.py, params.py, ...; package cnn
CONV = (
    b"def conv_output_size(h, fh, stride=1, pad=0):\n    return (h + 2 * pad - fh) // stride + 1\n"
)
POOL = b"def pool2d(x):\n    return x\n"
SAFE_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


@pytest.fixture
def subs(tmp_path: Path) -> Path:
    folder = tmp_path / "submissions"
    folder.mkdir()
    return folder


@pytest.fixture
def deadline():
    """Fail instead of hanging if intake blocks (on a named pipe, say)."""

    def expired(signum, frame):
        raise TimeoutError("intake blocked")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, 5)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


def put_zip(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def put_tree(folder: Path, name: str, files: dict[str, bytes | str]) -> Path:
    root = folder / name
    root.mkdir()
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    return root


def submit(folder: Path, how: str, files: dict[str, bytes | str]) -> Submission:
    """The same files as a zip or as a folder."""
    if how == "zip":
        return read_zip(put_zip(folder, "20251234.zip", hostile.zip_of(files)), CNN)
    return read_folder(put_tree(folder, "20251234", files), CNN)


def note(submission: Submission, *words: str) -> str:
    """The first note that contains every word (fails if there is none)."""
    found = [n for n in submission.notes if all(w in n for w in words)]
    assert found, f"no note with {words} in {submission.notes}"
    return found[0]


def fails_with(submission: Submission, kind: Status, status: str) -> None:
    """The submission earns nothing, for this reason, and carries no file."""
    assert submission.kind is kind
    assert submission.status == status
    assert submission.files == {}
    assert not submission.ok


# ------------------------------------------------------------------ layouts


@pytest.mark.parametrize("how", ["zip", "folder"])
@pytest.mark.parametrize(
    "layout", ["{m}", "cnn/{m}", "cnn-student/cnn/{m}", "my work/{m}", "과제/{m}"]
)
def test_legal_layouts(subs: Path, how: str, layout: str) -> None:
    files = {layout.format(m="conv.py"): CONV, layout.format(m="pooling.py"): POOL}
    sub = submit(subs, how, files)
    assert sub.status == "ok" and sub.ok
    assert sub.files == {"conv.py": CONV, "pooling.py": POOL}
    assert note(sub, "not submitted") == (
        "not submitted: kernels.py, params.py, simple_convnet.py, resnet.py"
    )
    assert sub.student == "20251234" and sub.safe_id == "20251234"
    assert sub.sha256 is not None and len(sub.sha256) == 64


@pytest.mark.parametrize("how", ["zip", "folder"])
def test_every_module_and_junk_is_silent(subs: Path, how: str) -> None:
    files = {f"cnn/{m}": f"# {m}\n" for m in CNN.graded}
    files |= {
        "__MACOSX/cnn/._conv.py": b"\x00\x05\x16\x07",
        "__MACOSX/conv.py": "bad",
        "cnn/.ipynb_checkpoints/conv-checkpoint.py": "old",
        "cnn/__pycache__/conv.cpython-311.pyc": b"\x00",
        ".DS_Store": b"\x00",
        ".git/config": "x",
    }
    sub = submit(subs, how, files)
    assert sub.status == "ok"
    assert sub.files == {m: f"# {m}\n".encode() for m in CNN.graded}
    assert sub.notes == []


@pytest.mark.parametrize("how", ["zip", "folder"])
def test_shallowest_copy_is_taken(subs: Path, how: str) -> None:
    sub = submit(subs, how, {"conv.py": CONV, "cnn/conv.py": b"old = 1\n"})
    assert sub.files == {"conv.py": CONV}
    assert note(sub, "conv.py: graded") == (
        "conv.py: graded conv.py; ignored the other copies: cnn/conv.py"
    )


@pytest.mark.parametrize("how", ["zip", "folder"])
def test_package_folder_wins_at_equal_depth(subs: Path, how: str) -> None:
    sub = submit(subs, how, {"backup/conv.py": b"old = 1\n", "cnn/conv.py": CONV})
    assert sub.files == {"conv.py": CONV}
    assert "ignored the other copies: backup/conv.py" in note(sub, "conv.py: graded cnn/conv.py")


@pytest.mark.parametrize("how", ["zip", "folder"])
def test_ambiguous_copies_are_not_guessed(subs: Path, how: str) -> None:
    sub = submit(
        subs, how, {"a/conv.py": CONV, "b/conv.py": b"other = 1\n", "cnn/pooling.py": POOL}
    )
    assert sub.status == "ok"
    assert sub.files == {"pooling.py": POOL}
    assert "a/conv.py, b/conv.py" in note(sub, "could not tell which one")
    assert "conv.py" in note(sub, "not submitted")


@pytest.mark.parametrize("how", ["zip", "folder"])
def test_too_deep_and_wrong_case(subs: Path, how: str) -> None:
    sub = submit(subs, how, {"a/b/c/conv.py": CONV, "cnn/Pooling.py": POOL})
    fails_with(sub, Status.NO_MODULE, "no graded module found")
    assert note(sub, "conv.py:") == (
        "conv.py: found only at a/b/c/conv.py, too deep; "
        "put it at the top of your submission or in cnn/"
    )
    assert "rename it to pooling.py" in note(sub, "cnn/Pooling.py", "case-sensitive")
    assert note(sub, "expected conv.py, pooling.py")


@pytest.mark.parametrize("how", ["zip", "folder"])
def test_shadowing_files_are_ignored(subs: Path, how: str) -> None:
    """conftest.py, numpy.py, sitecustomize.py, .pth: never taken, only listed."""
    extra = ["conftest.py", "numpy.py", "sitecustomize.py", "evil.pth", "cnn/__init__.py"]
    sub = submit(subs, how, {"cnn/conv.py": CONV} | {name: "import os\n" for name in extra})
    assert sub.files == {"conv.py": CONV}
    assert note(sub, "ignored") == (
        "ignored 5 other files (only the graded modules are taken): "
        "cnn/__init__.py, conftest.py, evil.pth, numpy.py, sitecustomize.py"
    )


@pytest.mark.parametrize("how", ["zip", "folder"])
def test_nested_archive_is_never_opened(subs: Path, how: str) -> None:
    sub = submit(subs, how, {"inner.zip": hostile.zip_of({"cnn/conv.py": CONV})})
    fails_with(sub, Status.NO_MODULE, "no graded module found")
    assert note(sub, "not opened") == "archives inside your submission are not opened: inner.zip"


def test_ignored_list_is_short(subs: Path) -> None:
    sub = submit(subs, "zip", {"conv.py": CONV} | {f"data/{i}.csv": "1" for i in range(12)})
    assert note(sub, "ignored").endswith(
        "data/0.csv, data/1.csv, data/10.csv, data/11.csv, data/2.csv and 7 more"
    )


def test_windows_backslash_separators(subs: Path) -> None:
    """PowerShell's Compress-Archive writes cnn\\conv.py: a separator, not a trick."""
    sub = read_zip(put_zip(subs, "kim.zip", hostile.zip_of({"cnn\\conv.py": CONV})), CNN)
    assert sub.files == {"conv.py": CONV}


# ---------------------------------------------------------- hostile archives


@pytest.mark.parametrize(
    "name",
    [
        "../../evil.py",
        "/etc/evil.py",
        "cnn/../../evil.py",
        "..\\..\\evil.py",
        "\\\\server\\share\\evil.py",
        "C:/Windows/evil.py",
        "C:evil.py",
        "cnn/.. /evil.py",
        "__MACOSX/../../evil.py",
    ],
)
def test_unsafe_paths_reject_the_archive(subs: Path, name: str) -> None:
    path = put_zip(subs, "slip.zip", hostile.zip_of({"conv.py": CONV, name: "import os\n"}))
    sub = read_zip(path, CNN)
    fails_with(sub, Status.REJECTED, f"rejected archive: unsafe path {name}")
    assert sub.sha256 is not None


def test_nul_in_a_name_rejects_the_archive(subs: Path) -> None:
    sub = read_zip(put_zip(subs, "nul.zip", hostile.nul_in_name()), CNN)
    fails_with(
        sub, Status.REJECTED, "rejected archive: unsafe path conv.py?../../evil.py (NUL character)"
    )


def test_symlink_member_named_like_a_module_rejects(subs: Path) -> None:
    sub = read_zip(
        put_zip(subs, "l.zip", hostile.zip_with_symlink("cnn/conv.py", "/etc/passwd")), CNN
    )
    fails_with(sub, Status.REJECTED, "rejected archive: cnn/conv.py is a symbolic link")


def test_other_symlink_member_is_ignored(subs: Path) -> None:
    data = hostile.zip_with_symlink("secrets", "/etc/passwd", {"conv.py": CONV})
    sub = read_zip(put_zip(subs, "l.zip", data), CNN)
    assert sub.status == "ok" and sub.files == {"conv.py": CONV}
    assert note(sub, "secrets") == "ignored 1 link or special file (never read): secrets"


def test_zip_bomb(subs: Path) -> None:
    data = hostile.zip_bomb(extra={"conv.py": CONV})
    assert len(data) < MAX_ARCHIVE_BYTES // 10  # small on disk, 200 MiB declared
    sub = read_zip(put_zip(subs, "bomb.zip", data), CNN)
    fails_with(
        sub,
        Status.ARCHIVE_TOO_LARGE,
        "archive too large (it unpacks to 200 MiB; the limit is 50 MiB)",
    )


def test_module_bomb_is_stopped_by_the_file_cap(subs: Path) -> None:
    sub = read_zip(
        put_zip(subs, "bomb.zip", hostile.zip_bomb("cnn/conv.py", 2 * MAX_FILE_BYTES)), CNN
    )
    fails_with(
        sub,
        Status.ARCHIVE_TOO_LARGE,
        "archive too large (cnn/conv.py is 2 MiB; the limit is 1 MiB)",
    )


def test_overlapping_entries_bomb(subs: Path) -> None:
    """CVE-2024-0450, which this interpreter may not detect: the declared total stops it."""
    data = hostile.overlapping_bomb(copies=10, size=20 * 2**20)
    assert len(zipfile.ZipFile(put_zip(subs, "probe", data)).infolist()) == 10
    sub = read_zip(put_zip(subs, "overlap.zip", data), CNN)
    fails_with(
        sub,
        Status.ARCHIVE_TOO_LARGE,
        "archive too large (it unpacks to 200 MiB; the limit is 50 MiB)",
    )


def test_lying_size_header_is_a_crc_error(subs: Path) -> None:
    data, _ = hostile.lying_size("conv.py", real=3 * MAX_FILE_BYTES, declared=100)
    sub = read_zip(put_zip(subs, "lie.zip", data), CNN)
    fails_with(sub, Status.BAD_ARCHIVE, "could not read your archive (conv.py is corrupt)")
    assert "CRC" in note(sub, "zipfile")


def test_lying_size_cannot_exceed_what_it_declares(subs: Path) -> None:
    """With a CRC matching the declared prefix, the reader still stops at the declared size."""
    real = b"#" * (3 * MAX_FILE_BYTES)
    entry = hostile.Entry(b"conv.py", real, deflate=True, size=100, crc=zlib.crc32(real[:100]))
    sub = read_zip(put_zip(subs, "lie.zip", hostile.raw_zip([entry])), CNN)
    assert sub.status == "ok" and sub.files == {"conv.py": b"#" * 100}


def test_encrypted(subs: Path) -> None:
    data = hostile.encrypted("cnn/conv.py")
    assert zipfile.ZipFile(put_zip(subs, "probe", data)).infolist()[0].flag_bits & 1
    sub = read_zip(put_zip(subs, "enc.zip", data), CNN)
    fails_with(sub, Status.BAD_ARCHIVE, "could not read your archive (encrypted)")


def test_unsupported_compression(subs: Path) -> None:
    data = hostile.zip_of({"conv.py": CONV}, zipfile.ZIP_BZIP2)
    sub = read_zip(put_zip(subs, "bz.zip", data), CNN)
    fails_with(
        sub,
        Status.BAD_ARCHIVE,
        "could not read your archive "
        "(conv.py uses an unsupported compression method; zip it again)",
    )


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (hostile.truncated(), "could not read your archive (truncated or corrupt)"),
        (b"", "could not read your archive (empty file)"),
        (b"my homework is in the cloud\n", "could not read your archive (not a zip file)"),
        (
            hostile.tar_of({"cnn/conv.py": CONV}),
            "could not read your archive (not a zip file: it is a tar archive)",
        ),
        (
            b"Rar!\x1a\x07\x00" + bytes(100),
            "could not read your archive (not a zip file: it is a RAR archive)",
        ),
    ],
    ids=["truncated", "empty-file", "text", "tar", "rar"],
)
def test_unreadable_archives(subs: Path, data: bytes, status: str) -> None:
    sub = read_zip(put_zip(subs, "20251234.zip", data), CNN)
    fails_with(sub, Status.BAD_ARCHIVE, status)
    assert sub.student == "20251234"


def test_empty_zip(subs: Path) -> None:
    sub = read_zip(put_zip(subs, "e.zip", hostile.empty_zip()), CNN)
    fails_with(sub, Status.NO_MODULE, "no graded module found")


def test_too_many_entries(subs: Path) -> None:
    sub = read_zip(put_zip(subs, "many.zip", hostile.many_entries(5000)), CNN)
    fails_with(
        sub, Status.ARCHIVE_TOO_LARGE, f"archive too large (5001 files; the limit is {MAX_ENTRIES})"
    )


def test_long_name(subs: Path) -> None:
    sub = read_zip(put_zip(subs, "long.zip", hostile.long_name(4096)), CNN)
    fails_with(
        sub,
        Status.REJECTED,
        "rejected archive: a file name is too long (4096 characters; the limit is 1024)",
    )


def test_deep_name(subs: Path) -> None:
    sub = read_zip(put_zip(subs, "deep.zip", hostile.deep_name(40)), CNN)
    fails_with(
        sub, Status.REJECTED, "rejected archive: a path is too deep (41 levels; the limit is 32)"
    )


def test_duplicate_member_rejects(subs: Path) -> None:
    sub = read_zip(put_zip(subs, "dup.zip", hostile.duplicate("cnn/conv.py")), CNN)
    fails_with(sub, Status.REJECTED, "rejected archive: cnn/conv.py appears twice")


def test_archive_file_too_large_is_not_read(subs: Path) -> None:
    path = subs / "big.zip"
    with path.open("wb") as sparse:
        sparse.truncate(MAX_ARCHIVE_BYTES + 2**20)
    sub = read_zip(path, CNN)
    fails_with(
        sub,
        Status.ARCHIVE_TOO_LARGE,
        "archive too large (big.zip is 21 MiB; the limit is 20 MiB)",
    )
    assert sub.sha256 is None


def test_cp949_member_names(subs: Path) -> None:
    """Korean Windows zip tools: cp949 names without the UTF-8 flag; shown decoded."""
    sub = read_zip(put_zip(subs, "kim.zip", hostile.cp949_names(CONV)), CNN)
    assert sub.status == "ok" and sub.files == {"conv.py": CONV}
    assert (
        note(sub, "ignored")
        == "ignored 1 other file (only the graded modules are taken): 과제/보고서.txt"
    )


def test_name_flagged_utf8_that_is_not(subs: Path) -> None:
    sub = read_zip(put_zip(subs, "kim.zip", hostile.bad_utf8_name()), CNN)
    fails_with(
        sub, Status.BAD_ARCHIVE, "could not read your archive (its file names are not valid UTF-8)"
    )


def test_zip_by_content_not_by_name(subs: Path) -> None:
    zipped = read_zip(put_zip(subs, "20251234", hostile.zip_of({"conv.py": CONV})), CNN)
    assert zipped.status == "ok" and zipped.student == "20251234"
    other = read_zip(put_zip(subs, "report.pdf", b"%PDF-1.7\n"), CNN)
    fails_with(other, Status.NOT_A_SUBMISSION, "not a folder or a zip file (a PDF document)")
    damaged = read_zip(put_zip(subs, "20250001", hostile.truncated()), CNN)
    fails_with(damaged, Status.NOT_A_SUBMISSION, "not a folder or a zip file (a damaged zip file)")


def test_archive_hash_is_of_the_bytes(subs: Path) -> None:
    data = hostile.zip_of({"conv.py": CONV})
    assert read_zip(put_zip(subs, "a.zip", data), CNN).sha256 == hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------ folders


def test_folder_symlinks_are_never_followed(subs: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "conv.py").write_bytes(b"SECRET = 1\n")
    root = put_tree(subs, "kim", {"notes.md": "hi"})
    (root / "conv.py").symlink_to("/etc/passwd")
    (root / "cnn").symlink_to(secret)
    (root / "pooling.py").symlink_to(secret / "conv.py")
    sub = read_folder(root, CNN)
    fails_with(sub, Status.NO_MODULE, "no graded module found")
    assert note(sub, "never read") == (
        "ignored 3 links or special files (never read): cnn, conv.py, pooling.py"
    )


def test_folder_fifo_named_like_a_module_does_not_hang(subs: Path, deadline) -> None:
    root = put_tree(subs, "kim", {"cnn/pooling.py": POOL})
    os.mkfifo(root / "conv.py")
    os.mkfifo(root / "cnn" / "conv.py")
    sub = read_folder(root, CNN)
    assert sub.status == "ok" and sub.files == {"pooling.py": POOL}
    assert note(sub, "never read") == (
        "ignored 2 links or special files (never read): cnn/conv.py, conv.py"
    )


def test_folder_deep_nesting(subs: Path) -> None:
    root = put_tree(subs, "kim", {"a/b/c/d/e/f/g/conv.py": CONV})
    sub = read_folder(root, CNN)
    fails_with(sub, Status.NO_MODULE, "no graded module found")
    assert note(sub, "not searched") == "folders nested more than 3 levels deep were not searched"


def test_folder_with_too_many_files(subs: Path) -> None:
    root = put_tree(subs, "kim", {"conv.py": CONV})
    for i in range(MAX_ENTRIES):
        (root / f"{i}.txt").touch()
    sub = read_folder(root, CNN)
    fails_with(sub, Status.FOLDER_TOO_LARGE, f"folder too large (more than {MAX_ENTRIES} files)")


def test_folder_module_too_large(subs: Path) -> None:
    root = put_tree(subs, "kim", {})
    with (root / "conv.py").open("wb") as sparse:
        sparse.truncate(MAX_FILE_BYTES + 1)
    sub = read_folder(root, CNN)
    fails_with(
        sub, Status.FOLDER_TOO_LARGE, "folder too large (conv.py is over the limit of 1 MiB)"
    )


def test_folder_hash_follows_the_taken_files(subs: Path) -> None:
    one = read_folder(put_tree(subs, "a", {"conv.py": CONV, "notes.md": "x"}), CNN)
    same = read_folder(put_tree(subs, "b", {"cnn/conv.py": CONV, "other.md": "y"}), CNN)
    changed = read_folder(put_tree(subs, "c", {"conv.py": CONV + b"# edited\n"}), CNN)
    assert one.sha256 == same.sha256 != changed.sha256


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_module(subs: Path) -> None:
    root = put_tree(subs, "kim", {"conv.py": CONV})
    (root / "conv.py").chmod(0)
    sub = read_folder(root, CNN)
    fails_with(sub, Status.UNREADABLE, "could not read your submission (permission denied)")


# --------------------------------------------------------------- encodings


@pytest.mark.parametrize("how", ["zip", "folder"])
def test_cp949_source_is_converted(subs: Path, how: str) -> None:
    text = "# 합성곱 계층\nNAME = '합성곱'\n"
    sub = submit(subs, how, {"conv.py": text.encode("cp949")})
    assert sub.files == {"conv.py": text.encode()}
    assert note(sub, "cp949") == "conv.py was saved as cp949 (Korean Windows); converted to UTF-8"


def test_utf16_source_is_converted(subs: Path) -> None:
    text = "# 풀링\nx = 1\n"
    sub = submit(subs, "zip", {"conv.py": text.encode("utf-16")})
    assert sub.files == {"conv.py": text.encode()}
    assert note(sub, "UTF-16") == "conv.py was saved as UTF-16; converted to UTF-8"


def test_utf8_bom_is_dropped_silently(subs: Path) -> None:
    sub = submit(subs, "zip", {"conv.py": b"\xef\xbb\xbf" + CONV})
    assert sub.files == {"conv.py": CONV}
    assert not [n for n in sub.notes if "conv.py" in n]


def test_declared_encoding_is_honoured_and_rewritten(subs: Path) -> None:
    """An euc-kr file that says so stays importable once converted to UTF-8."""
    text = "# -*- coding: euc-kr -*-\nNAME = '합성곱'\n"
    sub = submit(subs, "folder", {"conv.py": text.encode("euc-kr")})
    source = sub.files["conv.py"]
    assert source == "# -*- coding: utf-8 -*-\nNAME = '합성곱'\n".encode()
    assert note(sub, "euc-kr") == "conv.py was saved as euc-kr; converted to UTF-8"
    namespace: dict = {}
    exec(compile(source, "conv.py", "exec"), namespace)  # our own bytes, not student code
    assert namespace["NAME"] == "합성곱"


def test_undecodable_source_is_kept_with_a_note(subs: Path) -> None:
    raw = b"x = '\xff\xfe\xff'\n"
    sub = submit(subs, "zip", {"conv.py": raw})
    assert sub.status == "ok" and sub.files == {"conv.py": raw}
    assert note(sub, "could not decode") == "could not decode conv.py as UTF-8; graded as is"


def test_null_bytes_are_noted(subs: Path) -> None:
    sub = submit(subs, "zip", {"conv.py": b"x = 1\x00\n"})
    assert note(sub, "null bytes") == "conv.py contains null bytes; Python cannot import it"


# ---------------------------------------------------------------------- ids


def test_student_id() -> None:
    assert student_id(Path("s/20251234.zip")) == "20251234"
    assert student_id(Path("s/KIM.ZIP")) == "KIM"
    assert student_id(Path("s/김민지 (2).zip")) == "김민지 (2)"
    assert student_id(Path("s/kim_minji")) == "kim_minji"
    assert student_id(Path("s/report.pdf")) == "report.pdf"


@pytest.mark.parametrize(
    "student",
    [
        "kim minji",
        "김민지",
        "../etc/passwd",
        "..",
        ".",
        "",
        "-rf",
        "; rm -rf ~",
        "$(reboot)",
        "a\nb",
        "x" * 300,
        "Ω" * 300,
        ".hidden",
        "\udcff\udcfe",
    ],
)
def test_safe_id_is_safe(student: str) -> None:
    safe = safe_id(student)
    assert SAFE_ID.fullmatch(safe), safe
    assert len(safe) <= MAX_ID_CHARS
    assert safe not in (".", "..")
    assert safe == safe_id(student)  # the same student gets the same name every batch


def test_safe_id_keeps_safe_ids_and_marks_changed_ones() -> None:
    assert safe_id("20251234") == "20251234"
    assert safe_id("kim_minji.v2") == "kim_minji.v2"
    assert re.fullmatch(r"kim_minji-[0-9a-f]{8}", safe_id("kim minji"))
    assert re.fullmatch(r"rm_-rf-[0-9a-f]{8}", safe_id("; rm -rf ~"))
    assert re.fullmatch(r"student-[0-9a-f]{8}", safe_id("김민지"))
    assert safe_id("kim minji") != safe_id("kim_minji") != safe_id("kim-minji")


def test_unique_safe_ids_in_a_batch() -> None:
    impostor = safe_id("kim minji")  # someone names a file after another's safe id
    students = ["kim minji", impostor, "Kim", "kim", "kim"]
    ids = unique_safe_ids(students)
    assert ids[:3] == [impostor, ids[1], "Kim"] and ids[1] != impostor
    assert len({i.lower() for i in ids}) == len(ids)
    assert all(SAFE_ID.fullmatch(i) for i in ids)
    lower_first = unique_safe_ids(["kim", "Kim"])
    assert lower_first[0] == "kim" and lower_first[1].lower() != "kim"


# ------------------------------------------------------------------- collect


def test_collect_gives_every_entry_a_row(subs: Path, tmp_path: Path, deadline) -> None:
    put_zip(subs, "kim minji.zip", hostile.zip_of({"cnn/conv.py": CONV}))
    put_zip(subs, "kim_minji.zip", hostile.zip_of({"conv.py": CONV}))
    put_zip(subs, "; rm -rf ~.zip", hostile.zip_of({"conv.py": CONV}))
    put_zip(subs, "$(touch pwned).zip", b"not a zip")
    put_zip(subs, "slip.zip", hostile.zip_of({"../../evil.py": "x"}))
    put_tree(subs, "김민지", {"cnn/conv.py": CONV})
    put_tree(subs, "Kim", {"conv.py": CONV})
    put_tree(subs, "kim", {"conv.py": CONV})
    put_zip(subs, "kim.zip", hostile.zip_of({"conv.py": CONV}))
    put_zip(subs, "notes.txt", b"hello")
    put_zip(subs, ".DS_Store", b"\x00")
    (subs / ".hidden").mkdir()
    (subs / "link.zip").symlink_to(subs / "kim_minji.zip")
    (subs / "dangling").symlink_to(tmp_path / "nowhere")
    os.mkfifo(subs / "pipe.zip")

    rows = collect(subs, CNN)

    by_student = {(row.student, row.source.name): row for row in rows}
    assert [row.source.name for row in rows] == sorted(
        name for name in os.listdir(subs) if not name.startswith(".")
    )
    statuses = {name: row.status for (_, name), row in by_student.items()}
    assert statuses == {
        "$(touch pwned).zip": "could not read your archive (not a zip file)",
        "; rm -rf ~.zip": "ok",
        "Kim": "ok",
        "dangling": "not a folder or a zip file (symbolic link)",
        "kim": "ok",
        "kim minji.zip": "ok",
        "kim.zip": "ok",
        "kim_minji.zip": "ok",
        "link.zip": "not a folder or a zip file (symbolic link)",
        "notes.txt": "not a folder or a zip file",
        "pipe.zip": "not a folder or a zip file (named pipe)",
        "slip.zip": "rejected archive: unsafe path ../../evil.py",
        "김민지": "ok",
    }
    assert {row.student for row in rows} >= {"kim minji", "kim_minji", "; rm -rf ~", "김민지"}
    ids = [row.safe_id for row in rows]
    assert len({i.lower() for i in ids}) == len(ids)
    assert all(SAFE_ID.fullmatch(i) and len(i) <= MAX_ID_CHARS for i in ids)
    assert by_student["kim_minji", "kim_minji.zip"].safe_id == "kim_minji"


def test_collect_rejects_only_the_instructors_errors(tmp_path: Path) -> None:
    with pytest.raises(IntakeError, match="cannot list the submissions folder"):
        collect(tmp_path / "missing", CNN)
    (tmp_path / "file").write_text("x")
    with pytest.raises(IntakeError):
        collect(tmp_path / "file", CNN)
    (tmp_path / "empty").mkdir()
    assert collect(tmp_path / "empty", CNN) == []


def test_statuses_are_one_vocabulary() -> None:
    assert [s.value for s in Status] == [
        "ok",
        "no graded module found",
        "not a folder or a zip file",
        "could not read your submission",
        "could not read your archive",
        "archive too large",
        "folder too large",
        "rejected archive",
    ]


# ---------------------------------------------------------------- materialize


def test_materialize(subs: Path, tmp_path: Path) -> None:
    sub = submit(subs, "zip", {"cnn/conv.py": CONV, "cnn/pooling.py": POOL, "numpy.py": "x"})
    old = os.umask(0o077)  # the modes must not depend on the caller's umask
    try:
        dest = materialize(sub, CNN, tmp_path / "work" / sub.safe_id)
    finally:
        os.umask(old)
    package = dest / "cnn"
    assert dest == tmp_path / "work" / "20251234"
    assert sorted(p.name for p in package.iterdir()) == sorted({*CNN.given, *CNN.graded})
    assert (package / "conv.py").read_bytes() == CONV
    assert (package / "pooling.py").read_bytes() == POOL
    for name in CNN.given:
        assert (package / name).read_bytes() == (CNN.solution_dir / name).read_bytes()
    for name in set(CNN.graded) - {"conv.py", "pooling.py"}:
        stub = CNN.stub_dir / name
        expected = (
            stub.read_bytes() if stub.is_file() else f'"""{name}: not submitted."""\n'.encode()
        )
        assert (package / name).read_bytes() == expected
    assert stat.S_IMODE(package.stat().st_mode) == 0o755
    assert {stat.S_IMODE(p.stat().st_mode) for p in package.iterdir()} == {0o644}
    with pytest.raises(FileExistsError):
        materialize(sub, CNN, dest)


def test_materialize_optim_reg_reads_through_the_given_link(subs: Path, tmp_path: Path) -> None:
    """solutions/optim_reg/base_layers.py links to ../cnn/layers.py: copied as a file."""
    optim = course.load("optim_reg")
    source = b"class SGD:\n    pass\n"
    sub = read_zip(
        put_zip(subs, "s.zip", hostile.zip_of({"optim_reg/optimizers.py": source})), optim
    )
    assert sub.files == {"optimizers.py": source}
    package = materialize(sub, optim, tmp_path / "out") / "optim_reg"
    assert sorted(p.name for p in package.iterdir()) == sorted({*optim.given, *optim.graded})
    assert not any(p.is_symlink() for p in package.iterdir())
    given = (optim.solution_dir / "base_layers.py").read_bytes()
    assert (package / "base_layers.py").read_bytes() == given
    assert (package / "optimizers.py").read_bytes() == source


def test_materialize_takes_given_modules_and_missing_stubs_from_the_course(
        tmp_path: Path) -> None:
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for name in (*CNN.given, *CNN.graded):
        (stubs / name).write_bytes(f"# course copy of {name}\n".encode())
    assignment = dataclasses.replace(CNN, folder=tmp_path, package="stubs")
    sub = Submission(student="s", safe_id="s", source=tmp_path, files={"conv.py": CONV})

    package = materialize(sub, assignment, tmp_path / "out") / "stubs"

    assert (package / "conv.py").read_bytes() == CONV
    assert (package / "layers.py").read_bytes() == b"# course copy of layers.py\n"
    assert (package / "pooling.py").read_bytes() == b"# course copy of pooling.py\n"
    assert sorted(p.name for p in package.iterdir()) == sorted((*CNN.given, *CNN.graded))
    assert oct(package.stat().st_mode & 0o777) == "0o755"
    (stubs / "__init__.py").unlink()
    with pytest.raises(IntakeError, match=r"__init__\.py"):
        materialize(sub, assignment, tmp_path / "out2")


def test_batch_end_to_end(subs: Path, tmp_path: Path) -> None:
    """collect, then materialize every ok row into its own folder; sources compile."""
    put_zip(subs, "a b.zip", hostile.zip_of({f"hw/cnn/{m}": f"# {m}\n" for m in CNN.graded}))
    put_tree(subs, "c", {"conv.py": "# 한글\n".encode("cp949")})
    put_zip(subs, "d.zip", hostile.zip_bomb())
    rows = collect(subs, CNN)
    assert [row.ok for row in rows] == [True, True, False]
    for row in filter(lambda r: r.ok, rows):
        package = materialize(row, CNN, tmp_path / "work" / row.safe_id) / "cnn"
        for name in CNN.graded:
            compile((package / name).read_bytes(), name, "exec")
