"""Intake: every entry of a submissions folder becomes one clean, bounded row.

Real zip files and folders are built in ``tmp_path`` at test time; the hostile ones come
from `hostile_archives`. No mocks: the assignments are the course's own manifests (one
test points a subclass of the manifest at a temporary solutions and stubs folder).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import os
import re
import signal
import stat
import time
import unicodedata
import zipfile
import zlib
from pathlib import Path

import hostile_archives as hostile
import pytest
from rich.console import Console

from autograder import course, samples
from autograder.intake import (
    MAX_ARCHIVE_BYTES,
    MAX_ENTRIES,
    MAX_FILE_BYTES,
    MAX_ID_BYTES,
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
from release.grade import grade

CNN = course.load("cnn")  # graded conv.py, pooling.py, kernels.py, params.py, ...; package cnn
CONV = (
    b"def conv_output_size(h, fh, stride=1, pad=0):\n    return (h + 2 * pad - fh) // stride + 1\n"
)
POOL = b"def pool2d(x):\n    return x\n"


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


def submit(
    folder: Path,
    how: str,
    files: dict[str, bytes | str],
    times: dict[str, tuple[int, ...]] | None = None,
) -> Submission:
    """The same files as a zip or as a folder, each dated as ``times`` says (as a zip
    member's time or as the file's mtime)."""
    if how == "zip":
        return read_zip(put_zip(folder, "20251234.zip", hostile.zip_of(files, times=times)), CNN)
    root = put_tree(folder, "20251234", files)
    for name, when in (times or {}).items():
        stamp = time.mktime((*when, 0, 0, -1))
        os.utime(root / name, (stamp, stamp))
    return read_folder(root, CNN)


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
    """Same place, same time, both the module's own name: no guess."""
    files = {"a/conv.py": CONV, "b/conv.py": b"other = 1\n", "cnn/pooling.py": POOL}
    sub = submit(subs, how, files, times=dict.fromkeys(files, hostile.WHEN))
    assert sub.status == "ok"
    assert sub.files == {"pooling.py": POOL}
    assert "a/conv.py, b/conv.py" in note(sub, "could not tell which one")
    assert "conv.py" in note(sub, "not submitted")


@pytest.mark.parametrize("how", ["zip", "folder"])
def test_too_deep(subs: Path, how: str) -> None:
    sub = submit(subs, how, {"a/b/c/conv.py": CONV, "x/y/z/Pooling (1).py": POOL})
    fails_with(sub, Status.NO_MODULE, "no graded module found")
    assert note(sub, "conv.py:") == (
        "conv.py: found only at a/b/c/conv.py, too deep; "
        "put it at the top of your submission or in cnn/"
    )
    assert note(sub, "pooling.py:").startswith("pooling.py: found only at x/y/z/Pooling (1).py")
    assert note(sub, "expected conv.py, pooling.py")


# ------------------------------------------------- names that uploads produce

VARIANTS = [
    "Conv.py",  # another letter case
    "CONV.PY",
    "conv (1).py",  # Chrome, Edge, Firefox: a second download
    "conv(1).py",  # older Firefox
    "conv-1.py",  # Safari
    "conv - 복사본.py",  # Korean Windows Explorer: copy and paste in one folder
    "conv - 복사본 (2).py",
    "conv - Copy.py",  # Windows Explorer
    "conv copy.py",  # macOS Finder: Duplicate
    "conv copy 2.py",
    "conv 복사본.py",  # Korean macOS Finder
    unicodedata.normalize("NFD", "conv 복사본 2.py"),  # as macOS writes Hangul
    "conv 2.py",  # macOS Finder: keep both
]


@pytest.mark.parametrize("how", ["zip", "folder"])
@pytest.mark.parametrize("name", VARIANTS)
def test_a_variant_of_a_module_name_is_taken(subs: Path, how: str, name: str) -> None:
    sub = submit(subs, how, {f"cnn/{name}": CONV, "cnn/pooling.py": POOL})
    assert sub.status == "ok"
    assert sub.files == {"conv.py": CONV, "pooling.py": POOL}
    assert note(sub, "conv.py: graded") == f"conv.py: graded cnn/{name} as conv.py"
    assert not [n for n in sub.notes if "ignored" in n or "pooling.py:" in n]


def test_a_variant_named_in_cp949_is_taken(subs: Path) -> None:
    """Korean Windows' zip tools write "conv - 복사본.py" in cp949, without the UTF-8 flag."""
    entry = hostile.Entry("cnn/conv - 복사본.py".encode("cp949"), CONV)
    sub = read_zip(put_zip(subs, "kim.zip", hostile.raw_zip([entry])), CNN)
    assert sub.files == {"conv.py": CONV}
    assert note(sub, "conv.py: graded") == "conv.py: graded cnn/conv - 복사본.py as conv.py"


def test_a_variant_named_in_cp949_on_disk_is_taken(subs: Path) -> None:
    """The same name unzipped on Linux keeps its cp949 bytes."""
    root = put_tree(subs, "kim", {})
    (root / "cnn").mkdir()
    (
        Path(
            os.fsdecode(os.fsencode(root / "cnn") + b"/" + "conv - 복사본.py".encode("cp949"))
        ).write_bytes(CONV)
    )
    sub = read_folder(root, CNN)
    assert sub.files == {"conv.py": CONV}
    assert note(sub, "conv.py: graded") == "conv.py: graded cnn/conv - 복사본.py as conv.py"


@pytest.mark.parametrize("how", ["zip", "folder"])
def test_the_newest_of_two_candidates_is_taken(subs: Path, how: str) -> None:
    old, new = (2025, 3, 1, 9, 0, 0), (2025, 3, 2, 21, 30, 0)
    files = {
        "conv.py": b"old = 1\n",
        "conv (1).py": CONV,
        "Pooling.py": POOL,
        "pooling (1).py": b"stale = 1\n",
    }
    times = {"conv.py": old, "conv (1).py": new, "Pooling.py": new, "pooling (1).py": old}
    sub = submit(subs, how, files, times=times)
    assert sub.files == {"conv.py": CONV, "pooling.py": POOL}
    assert note(sub, "conv.py: graded") == (
        "conv.py: graded conv (1).py as conv.py, the newest; ignored the other copies: conv.py"
    )
    assert note(sub, "pooling.py: graded") == (
        "pooling.py: graded Pooling.py as pooling.py, the newest; "
        "ignored the other copies: pooling (1).py"
    )


@pytest.mark.parametrize("how", ["zip", "folder"])
def test_at_the_same_time_the_modules_own_name_wins(subs: Path, how: str) -> None:
    files = {"cnn/Conv.py": b"other = 1\n", "cnn/conv.py": CONV}
    sub = submit(subs, how, files, times=dict.fromkeys(files, hostile.WHEN))
    assert sub.files == {"conv.py": CONV}
    assert note(sub, "conv.py: graded") == (
        "conv.py: graded cnn/conv.py; ignored the other copies: cnn/Conv.py"
    )


@pytest.mark.parametrize("how", ["zip", "folder"])
def test_the_place_comes_before_the_time(subs: Path, how: str) -> None:
    files = {"conv (1).py": CONV, "cnn/conv.py": b"newer = 1\n"}
    times = {"conv (1).py": (2025, 3, 1, 9, 0, 0), "cnn/conv.py": (2025, 3, 9, 9, 0, 0)}
    sub = submit(subs, how, files, times=times)
    assert sub.files == {"conv.py": CONV}
    assert note(sub, "conv.py: graded") == (
        "conv.py: graded conv (1).py as conv.py; ignored the other copies: cnn/conv.py"
    )


@pytest.mark.parametrize("how", ["zip", "folder"])
def test_variants_let_no_other_file_in(subs: Path, how: str, tmp_path: Path) -> None:
    """Only names of graded modules have variants: what shadows a library, the package's
    own __init__, another extension or a second suffix stays out, and nothing is written
    under a student's file name."""
    others = [
        "numpy (1).py",
        "Conftest.py",
        "conftest (1).py",
        "sitecustomize - 복사본.py",
        "cnn/__init__ (1).py",
        "cnn/Layers.py",
        "conv (1).pyc",
        "conv (1).py.txt",
        "conv (1) (1).py",
        "conv_old.py",
        "conv (1)",
        "cnn/conv (1).py/x.py",
    ]
    sub = submit(subs, how, {"cnn/Pooling (2).py": POOL} | {name: "import os\n" for name in others})
    assert sub.status == "ok" and sub.files == {"pooling.py": POOL}
    assert note(sub, "ignored").startswith(f"ignored {len(others)} other files")
    package = materialize(sub, CNN, tmp_path / "work") / "cnn"
    assert sorted(p.name for p in package.iterdir()) == sorted({*CNN.given, *CNN.graded})
    assert (package / "pooling.py").read_bytes() == POOL
    assert (package / "layers.py").read_bytes() == (CNN.solution_dir / "layers.py").read_bytes()


@pytest.mark.parametrize("name", ["../Conv.py", "cnn/../../conv (1).py", "..\\conv - 복사본.py"])
def test_a_variant_outside_the_package_rejects_the_archive(subs: Path, name: str) -> None:
    sub = read_zip(put_zip(subs, "slip.zip", hostile.zip_of({"pooling.py": POOL, name: CONV})), CNN)
    fails_with(sub, Status.REJECTED, f"rejected archive: unsafe path {name}")


def test_a_variant_that_is_a_link_or_appears_twice_rejects(subs: Path, tmp_path: Path) -> None:
    link = hostile.zip_with_symlink("cnn/Conv (1).py", "/etc/passwd", {"pooling.py": POOL})
    fails_with(
        read_zip(put_zip(subs, "l.zip", link), CNN),
        Status.REJECTED,
        "rejected archive: cnn/Conv (1).py is a symbolic link",
    )
    twice = hostile.duplicate("cnn/conv - 복사본.py")
    fails_with(
        read_zip(put_zip(subs, "d.zip", twice), CNN),
        Status.REJECTED,
        "rejected archive: cnn/conv - 복사본.py appears twice",
    )
    root = put_tree(subs, "kim", {"pooling.py": POOL})
    (root / "Conv.py").symlink_to("/etc/passwd")
    sub = read_folder(root, CNN)
    assert sub.files == {"pooling.py": POOL}
    assert note(sub, "never read") == "ignored 1 link or special file (never read): Conv.py"


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
    assert student_id(Path("s/김민지 (2).zip")) == "김민지"  # a browser's second download
    assert student_id(Path("s/20251234(1).zip")) == "20251234"
    assert student_id(Path("s/kim_minji (12)")) == "kim_minji"
    assert student_id(Path("s/kim_minji")) == "kim_minji"
    assert student_id(Path("s/report.pdf")) == "report.pdf"
    assert student_id(Path("s/report (1).pdf")) == "report (1).pdf"
    assert student_id(Path("s/(1).zip")) == "(1)"


def is_safe(name: str) -> bool:
    """Letters of any script (with marks), decimal digits, ``._-``; not led by ``._-``; in
    NFC; within the caps."""
    allowed = all(
        c in "._-" or unicodedata.category(c)[0] in "LM" or unicodedata.category(c) == "Nd"
        for c in name
    )
    return (
        allowed
        and name != ""
        and name[0] not in "._-"
        and unicodedata.normalize("NFC", name) == name
        and len(name) <= MAX_ID_CHARS
        and len(name.encode()) <= MAX_ID_BYTES
    )


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
        "𠀀" * 70,  # four bytes each in UTF-8
        ".hidden",
        "\udcff\udcfe",
        "kim\u202egnp.exe",  # right-to-left override
        "kim\u200bminji",  # zero-width space
    ],
)
def test_safe_id_is_safe(student: str) -> None:
    safe = safe_id(student)
    assert is_safe(safe), safe
    assert safe not in (".", "..")
    assert safe == safe_id(student)  # the same student gets the same name every batch


def test_safe_id_keeps_letters_of_any_script() -> None:
    assert safe_id("20251234") == "20251234"
    assert safe_id("kim_minji.v2") == "kim_minji.v2"
    assert safe_id("김민지_2025000301") == "김민지_2025000301"
    assert safe_id(unicodedata.normalize("NFD", "김민지")) == "김민지"  # macOS writes NFD
    assert safe_id("Łukasz Żółw") == "Łukasz_Żółw"
    assert safe_id("kim minji") == "kim_minji"  # no hash where nothing collides
    assert safe_id("; rm -rf ~") == "rm_-rf"
    assert safe_id("$$$") == "student"


def test_unique_safe_ids_hash_only_where_ids_collide() -> None:
    students = ["kim minji", "kim_minji", "Kim", "kim", "kim", "김민지 ", "김민지", "이서연"]
    ids = unique_safe_ids(students)
    assert ids[1] == "kim_minji" and re.fullmatch(r"kim_minji-[0-9a-f]{8}", ids[0])
    assert ids[2] == "Kim" and re.fullmatch(r"kim-[0-9a-f]{8}", ids[3])
    assert ids[6] == "김민지" and re.fullmatch(r"김민지-[0-9a-f]{8}", ids[5])
    assert ids[7] == "이서연"
    assert len({i.casefold() for i in ids}) == len(ids)  # apart on any file system
    assert all(map(is_safe, ids))
    apart = [0, 1, 5, 6, 7]  # which of these gets the hash does not depend on the order
    assert unique_safe_ids([students[i] for i in apart][::-1]) == [ids[i] for i in apart][::-1]
    impostor = ids[0]  # someone names a file after another's hashed id
    again = unique_safe_ids(["kim minji", "kim_minji", impostor])
    assert again[2] == impostor and again[0] not in again[1:]
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
    os.utime(subs / "kim", (0, 0))  # the folder kim and kim.zip: one student, the newer

    rows = collect(subs, CNN)

    by_student = {(row.student, row.source.name): row for row in rows}
    assert [row.source.name for row in rows] == sorted(
        name for name in os.listdir(subs) if not name.startswith(".") and name != "kim"
    )
    statuses = {name: row.status for (_, name), row in by_student.items()}
    assert statuses == {
        "$(touch pwned).zip": "could not read your archive (not a zip file)",
        "; rm -rf ~.zip": "ok",
        "Kim": "ok",
        "dangling": "not a folder or a zip file (symbolic link)",
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
    assert by_student["kim", "kim.zip"].superseded == ["kim"]
    ids = [row.safe_id for row in rows]
    assert len({i.casefold() for i in ids}) == len(ids)
    assert all(map(is_safe, ids))
    assert by_student["kim_minji", "kim_minji.zip"].safe_id == "kim_minji"
    assert by_student["김민지", "김민지"].safe_id == "김민지"


def test_a_redownload_is_the_same_student(subs: Path) -> None:
    """``<id> (1).zip`` beside ``<id>.zip``: one row, the newer archive, and it says so;
    at the same mtime, the later download."""
    put_zip(subs, "20251234.zip", hostile.zip_of({"conv.py": b"old = 1\n"}))
    put_zip(subs, "20251234 (1).zip", hostile.zip_of({"conv.py": CONV}))
    put_zip(subs, "20251234(2).zip", hostile.zip_of({"conv.py": b"older = 1\n"}))
    os.utime(subs / "20251234(2).zip", (1, 1))
    put_zip(subs, "2025000 (1).zip", hostile.zip_of({"pooling.py": POOL}))
    put_zip(subs, "2025000 (3).zip", hostile.zip_of({"conv.py": CONV}))
    for name in ("2025000 (1).zip", "2025000 (3).zip"):
        os.utime(subs / name, (1000, 1000))
    rows = collect(subs, CNN)
    assert [(row.student, row.safe_id, row.source.name) for row in rows] == [
        ("2025000", "2025000", "2025000 (3).zip"),
        ("20251234", "20251234", "20251234 (1).zip"),
    ]
    assert rows[1].files == {"conv.py": CONV}
    assert rows[1].superseded == ["20251234(2).zip", "20251234.zip"]
    assert rows[1].notes[0] == (
        "graded 20251234 (1).zip, the newest of 3 entries for 20251234; "
        "not graded: 20251234(2).zip, 20251234.zip"
    )
    assert rows[0].files == {"conv.py": CONV} and rows[0].superseded == ["2025000 (1).zip"]


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


def test_materialize_takes_given_modules_and_missing_stubs_from_the_course(tmp_path: Path) -> None:
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


# ------------------------------------------------------------- the gradebook

OPTIM = course.load("optim_reg")  # graded optimizers.py (62 points) and layers.py (38)
OLD, NEW = (2025, 3, 1, 9, 0, 0), (2025, 3, 2, 21, 0, 0)


@pytest.fixture(scope="module")
def names_batch(tmp_path_factory):
    """Real zips whose names vary as uploads do, graded once by ``release grade``:
    (gradebook rows by student, the feedback folder, the command's messages)."""
    root = tmp_path_factory.mktemp("names")
    subs, out = root / "submissions", root / "out"
    subs.mkdir()
    ref, stub = samples.graded(OPTIM, "reference"), samples.graded(OPTIM, "stubs")
    opt, lay = "optimizers.py", "layers.py"

    def put(name: str, files: dict[str, str], times: dict | None = None) -> None:
        put_zip(subs, name, hostile.zip_of(files, times=times))

    put("case.zip", {"Optimizers.py": ref[opt], "optim_reg/LAYERS.PY": ref[lay]})
    put(
        "suffixes.zip",
        {"optim_reg/optimizers (1).py": ref[opt], "optim_reg/layers(1).py": ref[lay]},
    )
    put("copies.zip", {"hw/optimizers - 복사본.py": ref[opt], "hw/layers copy 2.py": ref[lay]})
    put(
        "newest.zip",
        {opt: stub[opt], "optimizers (1).py": ref[opt], lay: ref[lay], "layers (1).py": stub[lay]},
        times={opt: OLD, "optimizers (1).py": NEW, lay: NEW, "layers (1).py": OLD},
    )
    put("20251234.zip", stub)
    put("20251234 (1).zip", ref)
    os.utime(subs / "20251234.zip", (1, 1))
    put("김민지_2025000301.zip", {"optimizers copy.py": ref[opt]})
    put(
        "hostile.zip",
        {
            opt: ref[opt],
            "numpy (1).py": "raise SystemExit(3)\n",
            "conftest (1).py": "raise SystemExit(3)\n",
            "optim_reg/__init__ (1).py": "raise SystemExit(3)\n",
        },
    )
    put("slip.zip", {opt: ref[opt], "../Layers.py": ref[lay]})
    put_zip(subs, "kim minji.zip", b"not a zip")
    put_zip(subs, "kim_minji.zip", b"not a zip")
    messages = Console(file=io.StringIO(), width=200)
    code = grade(OPTIM, subs, out, console=messages, stdout=Console(file=io.StringIO()))
    assert code == 0, messages.file.getvalue()
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    return rows, out / "feedback", messages.file.getvalue()


@pytest.mark.slow
def test_variant_names_get_their_rows(names_batch) -> None:
    rows, feedback, _ = names_batch
    scores = {student: (float(row["score"]), row["status"]) for student, row in rows.items()}
    assert scores == {
        "20251234": (100, "ok"),
        "case": (100, "ok"),
        "copies": (100, "ok"),
        "hostile": (62, "ok"),
        "kim minji": (0, "could not read your archive (not a zip file)"),
        "kim_minji": (0, "could not read your archive (not a zip file)"),
        "newest": (100, "ok"),
        "slip": (0, "rejected archive: unsafe path ../Layers.py"),
        "suffixes": (100, "ok"),
        "김민지_2025000301": (62, "ok"),
    }
    page = (feedback / "case.md").read_text("utf-8")
    assert "optimizers.py: graded Optimizers.py as optimizers.py" in page
    assert "LAYERS.PY as layers.py" in page  # the folder's "_" is escaped for Markdown
    assert "optimizers.py: graded optimizers (1).py as optimizers.py, the newest" in (
        feedback / "newest.md"
    ).read_text("utf-8")
    assert (
        "ignored 3 other files (only the graded modules are taken): conftest (1).py, "
        "numpy (1).py, optim\\_reg/\\_\\_init\\_\\_ (1).py"
        in (feedback / "hostile.md").read_text("utf-8")
    )


def test_a_redownload_is_one_row_named_in_the_summary(names_batch) -> None:
    rows, feedback, messages = names_batch
    assert [s for s in rows if s.startswith("2025123")] == ["20251234"]
    assert (
        "20251234: graded 20251234 (1).zip (the newest entry); not graded: 20251234.zip" in messages
    )
    assert (feedback / "20251234.md").read_text("utf-8").count(
        "graded 20251234 (1).zip, the newest of 2 entries for 20251234"
    ) == 1


def test_file_names_keep_hangul_and_hash_only_collisions(names_batch) -> None:
    rows, feedback, _ = names_batch
    names = sorted(path.name for path in feedback.iterdir())
    assert "김민지_2025000301.md" in names and "kim_minji.md" in names
    [hashed] = [name for name in names if name.startswith("kim_minji-")]
    assert re.fullmatch(r"kim_minji-[0-9a-f]{8}\.md", hashed)
    assert len(names) == len(rows)
    assert [name for name in names if re.search(r"-[0-9a-f]{8}\.md$", name)] == [hashed]
