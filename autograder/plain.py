"""Plain-data transport across the sandbox boundary: one JSON document and one array blob.

A *plain* value is a tree of ``None``, ``bool``, ``int``, ``float``, ``str``, ``list``,
``tuple``, ``dict`` (``str`` keys), numeric NumPy arrays (dtype kinds ``b i u f c``) and
numeric NumPy scalars. Nothing else crosses, and nothing is ever unpickled.

* :func:`dump` writes a plain tree to ``folder/data.json`` and, when it holds arrays,
  ``folder/arrays.bin``.
* :func:`load` reads it back defensively, for data written by an untrusted process:
  files opened relative to the folder with ``O_NOFOLLOW``, regular files only, size caps;
  every array's dtype and shape validated before its bytes are used; JSON size, depth and
  node caps. Any violation raises :class:`PlainDataError` with a short message.
* :func:`to_plain` (child side only) converts a student's return value into a plain tree:
  torch tensors, NumPy scalars and ndarray subclasses, tuples, dict subclasses, ...
  It calls methods of arbitrary objects, so it must never run in the grading parent.

The JSON encoding tags everything that JSON cannot say by itself::

    {"format": "plain", "version": 2, "root": NODE}
    NODE := null | true | false | <int> | <float> | "<str>" | [NODE, ...]
          | {"dict": {"<key>": NODE, ...}} | {"tuple": [NODE, ...]}
          | {"float": "nan" | "inf" | "-inf"}
          | {"array": ["<dtype>", [<dim>, ...]]} | {"scalar": "<dtype>"}

``arrays.bin`` holds the arrays' bytes (C order, in the dtype's byte order) in the order
their nodes come in the document, each starting at a multiple of :data:`ALIGN` bytes.
Offsets are not written: the reader derives them, so arrays can never overlap, and the
blob must end exactly after the last one. One file for all arrays keeps a call with many
small arrays cheap (a few system calls, not a few per array).
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import sys
from typing import Any

import numpy as np

__all__ = ["PlainDataError", "dump", "load", "to_plain"]

FORMAT = "plain"
VERSION = 2
DATA_FILE = "data.json"
ARRAYS_FILE = "arrays.bin"
ALIGN = 64
NUMERIC_KINDS = frozenset("biufc")
_DTYPE = re.compile(r"[<>|=][biufc][0-9]{1,2}")

# Default caps for load(); callers pass their own for their direction.
MAX_BYTES = 256 << 20  # all array data together
MAX_ARRAYS = 256
MAX_JSON_BYTES = 4 << 20
MAX_DEPTH = 32
MAX_NODES = 200_000
MAX_NDIM = 32


def _flag(name: str) -> int:
    """``os.<name>``, or 0 where the platform has no such flag (Windows: O_NOFOLLOW...)."""
    return getattr(os, name, 0)


# O_BINARY (Windows only): no newline translation of the bytes written and read.
_OPEN = (
    os.O_RDONLY
    | _flag("O_NOFOLLOW")
    | _flag("O_NONBLOCK")
    | _flag("O_CLOEXEC")
    | _flag("O_NOCTTY")
    | _flag("O_BINARY")
)
_CREATE = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_TRUNC
    | _flag("O_NOFOLLOW")
    | _flag("O_CLOEXEC")
    | _flag("O_BINARY")
)
# Where files cannot be opened relative to a directory descriptor (Windows), load() opens
# them by path in the folder.
_DIR_FD = os.open in os.supports_dir_fd and hasattr(os, "O_DIRECTORY")


_PADS = [bytes(n) for n in range(ALIGN)]


class PlainDataError(ValueError):
    """Data that is not plain, is malformed, or exceeds a cap. ``str()`` is a short reason."""


# --------------------------------------------------------------------------- dump


def dump(obj: Any, folder: str | os.PathLike[str]) -> None:
    """Write the plain tree ``obj`` into ``folder`` (created if missing).

    Only exact plain types are accepted (subclasses are refused: convert them with
    :func:`to_plain` first); raises :class:`PlainDataError` otherwise.
    """
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    arrays: list[np.ndarray] = []
    root = _encode(obj, arrays, 0)
    if arrays:
        with os.fdopen(os.open(os.path.join(folder, ARRAYS_FILE), _CREATE, 0o644), "wb") as fh:
            position = 0
            for arr in arrays:
                pad = -position % ALIGN
                if pad:
                    fh.write(_PADS[pad])
                # an ndarray is a buffer (numpy's stubs say so from Python 3.12 on)
                fh.write(arr if arr.flags.c_contiguous else np.ascontiguousarray(arr))  # type: ignore[arg-type]
                position += pad + arr.nbytes
    text = json.dumps(
        {"format": FORMAT, "version": VERSION, "root": root},
        ensure_ascii=True,
        allow_nan=False,
        separators=(",", ":"),
    )
    with os.fdopen(
        os.open(os.path.join(folder, DATA_FILE), _CREATE, 0o644), "w", encoding="ascii"
    ) as fh:
        fh.write(text)


def _encode(obj: Any, arrays: list[np.ndarray], depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise PlainDataError(f"data nested deeper than {MAX_DEPTH} levels")
    t = type(obj)
    if obj is None or t is bool or t is str:
        return obj
    if t is int:
        if obj.bit_length() > 4096:
            raise PlainDataError("integer too large")
        return obj
    if t is float:
        if math.isfinite(obj):
            return obj
        return {"float": "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")}
    if t is list:
        return [_encode(x, arrays, depth + 1) for x in obj]
    if t is tuple:
        return {"tuple": [_encode(x, arrays, depth + 1) for x in obj]}
    if t is dict:
        out = {}
        for k, v in obj.items():
            if type(k) is not str:
                raise PlainDataError(f"dict keys must be str, got {type(k).__name__}")
            out[k] = _encode(v, arrays, depth + 1)
        return {"dict": out}
    if t is np.ndarray:
        _check_dtype(obj.dtype)
        arrays.append(obj)
        return {"array": [obj.dtype.str, list(obj.shape)]}
    if isinstance(obj, np.generic) and t.__module__ == "numpy":
        _check_dtype(obj.dtype)
        arrays.append(np.asarray(obj))
        return {"scalar": obj.dtype.str}
    raise PlainDataError(f"not plain data: {t.__module__}.{t.__qualname__}")


def _check_dtype(dtype: np.dtype) -> None:
    if (
        dtype.kind not in NUMERIC_KINDS
        or dtype.hasobject
        or dtype.fields is not None
        or dtype.subdtype is not None
        or dtype.itemsize == 0
    ):
        raise PlainDataError(f"array dtype {dtype.str!r} is not numeric")


# --------------------------------------------------------------------------- load


def load(
    folder: str | os.PathLike[str],
    *,
    max_bytes: int = MAX_BYTES,
    max_arrays: int = MAX_ARRAYS,
    max_json_bytes: int = MAX_JSON_BYTES,
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
) -> Any:
    """Decode what :func:`dump` wrote in ``folder``; safe on data from an untrusted writer.

    ``max_bytes`` caps the array data in total, ``max_arrays`` the number of arrays,
    ``max_json_bytes`` the size of ``data.json``; ``max_depth``/``max_nodes`` the tree.
    Raises :class:`PlainDataError` (never another exception type for bad data).
    """
    try:
        where = _open_folder(os.fspath(folder))
    except FileNotFoundError:
        raise PlainDataError("no output was written") from None
    except OSError as exc:
        raise PlainDataError(f"output folder unusable ({exc.strerror})") from None
    try:
        raw = _read_regular(where, DATA_FILE, max_json_bytes)
        try:
            doc = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
        except (ValueError, RecursionError) as exc:
            raise PlainDataError(f"{DATA_FILE} is not valid JSON ({type(exc).__name__})") from None
        if (
            type(doc) is not dict
            or doc.get("format") != FORMAT
            or doc.get("version") != VERSION
            or "root" not in doc
        ):
            raise PlainDataError(f"{DATA_FILE} is not a plain-data document")
        blob = _read_blob(where, max_bytes + ALIGN * max(max_arrays, 0))
        state = _DecodeState(blob, max_bytes, max_arrays, max_depth, max_nodes)
        value = state.decode(doc["root"], 0)
        if state.position != len(blob):
            raise PlainDataError(f"{ARRAYS_FILE} does not match the arrays of {DATA_FILE}")
        return value
    finally:
        if isinstance(where, int):
            os.close(where)


def _open_folder(path: str) -> int | str:
    """A descriptor of the folder (not followed if a link), or its path without dir_fd."""
    if _DIR_FD:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    if not os.path.isdir(path):
        raise FileNotFoundError(path)
    return path


def _no_constant(name: str) -> Any:
    raise ValueError(f"bare {name}")


def _read_blob(where: int | str, cap: int) -> bytearray:
    """The bytes of ``arrays.bin`` (empty when there is none), writable for the arrays."""
    try:
        fd, size = _open_regular(where, ARRAYS_FILE, cap)
    except _Missing:
        return bytearray()
    with os.fdopen(fd, "rb") as fh:
        blob = bytearray(size)
        got = fh.readinto(blob)
        if got != size or fh.read(1):
            raise PlainDataError(f"{ARRAYS_FILE} changed while being read")
    return blob


class _DecodeState:
    def __init__(
        self, blob: bytearray, max_bytes: int, max_arrays: int, max_depth: int, max_nodes: int
    ) -> None:
        self.blob = blob
        self.position = 0
        self.bytes_left = max_bytes
        self.arrays_left = max_arrays
        self.max_depth = max_depth
        self.nodes_left = max_nodes

    def decode(self, node: Any, depth: int) -> Any:
        if depth > self.max_depth:
            raise PlainDataError(f"data nested deeper than {self.max_depth} levels")
        self.nodes_left -= 1
        if self.nodes_left < 0:
            raise PlainDataError("data has too many items")
        t = type(node)
        if node is None or t in (bool, int, float, str):
            return node
        if t is list:
            return [self.decode(x, depth + 1) for x in node]
        if t is not dict or len(node) != 1:
            raise PlainDataError("malformed data node")
        ((tag, value),) = node.items()
        if tag == "dict" and type(value) is dict:
            return {k: self.decode(v, depth + 1) for k, v in value.items()}
        if tag == "tuple" and type(value) is list:
            return tuple(self.decode(x, depth + 1) for x in value)
        if tag == "float" and value in ("nan", "inf", "-inf"):
            return float(value)
        if tag == "array" and type(value) is list and len(value) == 2:
            return self.array(value[0], value[1])
        if tag == "scalar":
            return self.array(value, [])[()]
        raise PlainDataError("malformed data node")

    def array(self, descr: Any, shape: Any) -> np.ndarray:
        """The next array of the blob, once its dtype and shape passed every check."""
        self.arrays_left -= 1
        if self.arrays_left < 0:
            raise PlainDataError("too many arrays")
        dtype = _DTYPES.get(descr) if type(descr) is str else None
        if dtype is None:
            dtype = _numeric_dtype(descr)
        if (
            type(shape) is not list
            or len(shape) > MAX_NDIM
            or any(type(d) is not int or not 0 <= d <= 1 << 62 for d in shape)
        ):
            raise PlainDataError("bad array shape")
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        if nbytes > self.bytes_left:
            raise PlainDataError(f"arrays too large (limit {self.bytes_left} bytes left)")
        self.bytes_left -= nbytes
        start = self.position + -self.position % ALIGN
        if start + nbytes > len(self.blob):
            raise PlainDataError(f"{ARRAYS_FILE} is shorter than its arrays")
        self.position = start + nbytes
        try:  # numpy refuses shapes whose nonzero dimensions overflow, even of size 0
            arr = np.frombuffer(self.blob, dtype, count, start).reshape(shape)
        except ValueError:
            raise PlainDataError(f"bad array shape {shape[:MAX_NDIM]}") from None
        return arr if dtype.isnative else arr.astype(dtype.newbyteorder("="))


_DTYPES: dict[str, np.dtype] = {}  # descriptions already checked, and their dtypes


def _numeric_dtype(descr: Any) -> np.dtype:
    """The dtype a description names, once it is checked to be numeric (remembered)."""
    if type(descr) is not str or not _DTYPE.fullmatch(descr):
        raise PlainDataError(f"array dtype {str(descr)[:40]!r} is not numeric")
    try:
        dtype = np.dtype(descr)
    except TypeError:
        raise PlainDataError(f"unknown array dtype {descr!r}") from None
    _check_dtype(dtype)
    _DTYPES[descr] = dtype
    return dtype


class _Missing(PlainDataError):
    pass


def _open_regular(where: int | str, name: str, max_bytes: int) -> tuple[int, int]:
    """Open ``name`` in the folder ``where`` (see :func:`_open_folder`) without following
    links or blocking on FIFOs; (fd, size) of a regular file."""
    try:
        if isinstance(where, int):
            fd = os.open(name, _OPEN, dir_fd=where)
        else:
            fd = os.open(os.path.join(where, name), _OPEN)
    except FileNotFoundError:
        raise _Missing(f"{name} is missing") from None
    except OSError as exc:
        if exc.errno == 40:  # ELOOP: the name is a symbolic link
            raise PlainDataError(f"{name} is a symbolic link") from None
        raise PlainDataError(f"{name} cannot be opened ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise PlainDataError(f"{name} is not a regular file")
        if st.st_size > max_bytes:
            raise PlainDataError(f"{name} is too large ({st.st_size} bytes, limit {max_bytes})")
    except BaseException:
        os.close(fd)
        raise
    return fd, st.st_size


def _read_regular(where: int | str, name: str, max_bytes: int) -> bytes:
    fd, size = _open_regular(where, name, max_bytes)
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(size + 1)  # never pre-allocate the cap itself
    if len(data) != size:
        raise PlainDataError(f"{name} changed while being read")
    return data


# --------------------------------------------------------------------------- to_plain (child)


def to_plain(obj: Any, *, _depth: int = 0) -> Any:
    """Convert a value returned by student code into a plain tree (CHILD PROCESS ONLY).

    Accepts numbers, strings, None, lists/tuples/dicts of those, NumPy arrays and
    scalars (subclasses are copied into base ``ndarray``), and torch tensors (detached,
    moved to the CPU, copied). Raises ``TypeError`` with a student-facing message for
    anything else. It calls methods of the object (``__int__``, ``detach`` ...), which is
    why it must only run in the sandboxed child.
    """
    if _depth > MAX_DEPTH:
        raise TypeError(f"output is nested deeper than {MAX_DEPTH} levels")
    # NumPy first: np.float64 is a float subclass and np.complex128 a complex subclass.
    if type(obj) is np.ndarray:  # already plain: its bytes are written as they are
        _child_check_array(obj)
        return obj
    if isinstance(obj, np.ndarray):
        arr = np.asarray(obj).view(np.ndarray).copy()
        _child_check_array(arr)
        return arr
    if isinstance(obj, np.generic):
        arr = np.asarray(obj).view(np.ndarray).copy()
        _child_check_array(arr)
        return arr[()]
    if obj is None:
        return None
    if isinstance(obj, bool):
        return bool(obj)
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj)
    if isinstance(obj, str):
        return str.__str__(obj)
    if isinstance(obj, complex):
        return np.complex128(obj)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.Tensor):
        return _tensor_to_numpy(torch, obj)
    if isinstance(obj, list | tuple):
        if len(obj) > MAX_NODES:
            raise TypeError("output has too many items")
        items = [to_plain(x, _depth=_depth + 1) for x in obj]
        return items if isinstance(obj, list) else tuple(items)
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise TypeError(f"output dict keys must be str, got {type(k).__name__}")
            out[str.__str__(k)] = to_plain(v, _depth=_depth + 1)
        return out
    raise TypeError(f"output must be a number or a numeric array, got {type(obj)!r}")


def _child_check_array(arr: np.ndarray) -> None:
    try:
        _check_dtype(arr.dtype)
    except PlainDataError:
        raise TypeError(f"output must be a numeric array, got dtype {arr.dtype}") from None


def _tensor_to_numpy(torch: Any, t: Any) -> np.ndarray:
    try:
        if t.layout != torch.strided:
            raise TypeError(f"output must be a dense CPU tensor, got layout {t.layout}")
        if t.device.type == "meta":
            raise TypeError("output must be a dense CPU tensor, got a meta tensor")
        t = t.detach().cpu().resolve_conj().resolve_neg()
        if t.dtype == torch.bfloat16:
            raise TypeError("output tensor dtype torch.bfloat16 has no NumPy equivalent")
        arr = np.array(t.numpy(), copy=True)
    except TypeError:
        raise
    except Exception as exc:
        raise TypeError(
            f"output must be a dense CPU tensor ({type(exc).__name__}: {str(exc)[:200]})"
        ) from None
    if type(arr) is not np.ndarray:
        arr = np.asarray(arr).view(np.ndarray).copy()
    _child_check_array(arr)
    return arr
