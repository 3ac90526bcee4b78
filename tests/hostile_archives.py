"""Builders of ordinary, odd and hostile submissions, made at test time.

Nothing binary is committed: every archive is built here with `zipfile`, `tarfile` or,
where `zipfile` refuses to write the lie, raw bytes (`raw_zip`).
"""

from __future__ import annotations

import io
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache

MiB = 1 << 20
Source = bytes | str


def _bytes(data: Source) -> bytes:
    return data.encode() if isinstance(data, str) else data


WHEN = (2025, 3, 1, 12, 0, 0)  # every member's time in `zip_of`, unless it is given one


def zip_of(
    files: Mapping[str, Source],
    compression: int = zipfile.ZIP_DEFLATED,
    times: Mapping[str, tuple[int, int, int, int, int, int]] | None = None,
) -> bytes:
    """A zip with the given member names and contents, as `zipfile` writes it, each member
    dated `WHEN` or its time in ``times``: the same bytes at every run."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, (times or {}).get(name, WHEN))
            info.compress_type = compression
            info.external_attr = 0o644 << 16
            archive.writestr(info, _bytes(data))
    return out.getvalue()


def zip_with_symlink(name: str, target: str, files: Mapping[str, Source] | None = None) -> bytes:
    """A zip whose member ``name`` has the Unix mode of a symbolic link to ``target``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for other, data in (files or {}).items():
            archive.writestr(other, _bytes(data))
        link = zipfile.ZipInfo(name)
        link.create_system = 3  # Unix
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, target)
    return out.getvalue()


@dataclass
class Entry:
    """One member of `raw_zip`, with every field a liar might change."""

    name: bytes
    data: bytes = b""
    deflate: bool = False
    flags: int = 0  # bit 0: encrypted; bit 11: the name is UTF-8
    mode: int = 0  # Unix mode stored in the external attributes (0: none)
    size: int | None = None  # declared uncompressed size (default: the real one)
    crc: int | None = None  # declared CRC-32 (default: the real one)
    payload: bytes | None = None  # the stored bytes (default: data, deflated if asked)
    offset: int | None = None  # central directory only, pointing at this local offset


def _deflate(chunks: Iterable[bytes]) -> bytes:
    packer = zlib.compressobj(1, zlib.DEFLATED, -15)
    return b"".join(packer.compress(chunk) for chunk in chunks) + packer.flush()


def raw_zip(entries: Sequence[Entry]) -> bytes:
    """A zip written byte by byte: local headers and data, central directory, end record."""
    body, central = bytearray(), bytearray()
    for entry in entries:
        payload = entry.payload
        if payload is None:
            payload = _deflate([entry.data]) if entry.deflate else entry.data
        method = zipfile.ZIP_DEFLATED if entry.deflate else zipfile.ZIP_STORED
        crc = zlib.crc32(entry.data) if entry.crc is None else entry.crc
        size = len(entry.data) if entry.size is None else entry.size
        fields = (entry.flags, method, 0, 0x21, crc, len(payload), size, len(entry.name))
        offset = entry.offset
        if offset is None:
            offset = len(body)
            body += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, *fields, 0)
            body += entry.name + payload
        central += struct.pack(
            "<4s6H3L5H2L", b"PK\x01\x02", 0x314, 20, *fields, 0, 0, 0, 0, entry.mode << 16, offset
        )
        central += entry.name
    count = len(entries)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(central), len(body), 0)
    return bytes(body + central + end)


@cache
def zeros_deflated(size: int) -> tuple[bytes, int]:
    """``size`` zero bytes deflated, and their CRC-32 (built chunk by chunk)."""
    chunk = bytes(MiB)
    count, rest = divmod(size, MiB)
    chunks = [chunk] * count + [bytes(rest)]
    crc = 0
    for piece in chunks:
        crc = zlib.crc32(piece, crc)
    return _deflate(chunks), crc


def zip_bomb(
    name: str = "data.bin", size: int = 200 * MiB, extra: Mapping[str, Source] | None = None
) -> bytes:
    """One highly compressible member declaring ``size`` bytes (200 MiB -> about 1 MB)."""
    payload, crc = zeros_deflated(size)
    entries = [Entry(name.encode(), deflate=True, size=size, crc=crc, payload=payload)]
    entries += [Entry(other.encode(), _bytes(data)) for other, data in (extra or {}).items()]
    return raw_zip(entries)


def overlapping_bomb(copies: int = 10, size: int = 20 * MiB) -> bytes:
    """CVE-2024-0450: ``copies`` central-directory entries sharing one local entry's data.

    Every entry names the same local header, so each one unpacks ``size`` bytes from
    the same compressed data; Python 3.11.7 reads every one of them without complaint.
    """
    payload, crc = zeros_deflated(size)
    first = Entry(b"data.bin", deflate=True, size=size, crc=crc, payload=payload)
    copy = Entry(b"data.bin", deflate=True, size=size, crc=crc, payload=payload, offset=0)
    return raw_zip([first] + [copy] * (copies - 1))


def lying_size(
    name: str = "conv.py", real: int = 3 * MiB, declared: int = 100
) -> tuple[bytes, bytes]:
    """A member whose headers declare ``declared`` bytes while its data unpacks to ``real``.

    Returns the zip and the real data. The declared CRC is that of the real data, so a
    reader that stops at the declared size sees a CRC error.
    """
    data = b"#" * real
    return raw_zip([Entry(name.encode(), data, deflate=True, size=declared)]), data


def encrypted(name: str = "conv.py") -> bytes:
    """A member flagged as encrypted (bit 0); real encryption is not needed to test it."""
    return raw_zip([Entry(name.encode(), b"x = 1\n", flags=0x1)])


def truncated() -> bytes:
    """The first half of a valid zip."""
    whole = zip_of({"cnn/conv.py": "x = 1\n" * 200, "cnn/pooling.py": "y = 2\n" * 200})
    return whole[: len(whole) // 2]


def empty_zip() -> bytes:
    """A valid zip with no member (just the end record)."""
    return zip_of({})


def tar_of(files: Mapping[str, Source]) -> bytes:
    """A tar archive (to be renamed ``.zip``)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(_bytes(data))
            archive.addfile(info, io.BytesIO(_bytes(data)))
    return out.getvalue()


def many_entries(count: int = 5000) -> bytes:
    """``count`` tiny members, plus a real ``conv.py``."""
    return raw_zip([Entry(b"conv.py", b"x = 1\n")] + [Entry(b"f%d.txt" % i) for i in range(count)])


def long_name(length: int = 4096) -> bytes:
    """A member whose name is ``length`` characters long, plus a real ``conv.py``."""
    return zip_of({"conv.py": "x = 1\n", "a" * (length - 3) + ".py": "y = 2\n"})


def deep_name(levels: int = 40) -> bytes:
    """A member nested ``levels`` folders deep, plus a real ``conv.py``."""
    return zip_of({"conv.py": "x = 1\n", "d/" * levels + "x.py": "y = 2\n"})


def cp949_names(source: bytes) -> bytes:
    """Names as Korean Windows tools write them: cp949 bytes without the UTF-8 flag."""
    return raw_zip(
        [
            Entry("과제/conv.py".encode("cp949"), source),
            Entry("과제/보고서.txt".encode("cp949"), b"report"),
        ]
    )


def bad_utf8_name() -> bytes:
    """A name flagged as UTF-8 whose bytes are not (cp949 bytes with bit 11 set)."""
    return raw_zip([Entry("과제/conv.py".encode("cp949"), b"x = 1\n", flags=0x800)])


def nul_in_name() -> bytes:
    """A member whose name hides a path after a NUL (zipfile cuts it at the NUL)."""
    return raw_zip([Entry(b"conv.py\x00../../evil.py", b"x = 1\n")])


def duplicate(name: str = "conv.py") -> bytes:
    """The same member name twice, with different contents."""
    return raw_zip([Entry(name.encode(), b"x = 1\n"), Entry(name.encode(), b"x = 2\n")])
