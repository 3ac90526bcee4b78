"""Plain-data transport across the sandbox boundary: JSON plus one ``.npy`` per array.

A *plain* value is a tree of ``None``, ``bool``, ``int``, ``float``, ``str``, ``list``,
``tuple``, ``dict`` (``str`` keys), numeric NumPy arrays (dtype kinds ``b i u f c``) and
numeric NumPy scalars. Nothing else crosses, and nothing is ever unpickled.

* :func:`dump` writes a plain tree to ``folder/data.json`` + ``folder/a<i>.npy``.
* :func:`load` reads it back defensively, for data written by an untrusted process:
  files opened relative to the folder with ``O_NOFOLLOW``, regular files only, size caps,
  every ``.npy`` header validated before any array byte is read, JSON size/depth/node
  caps. Any violation raises :class:`PlainDataError` with a short message.
* :func:`to_plain` (child side only) converts a student's return value into a plain tree:
  torch tensors, NumPy scalars and ndarray subclasses, tuples, dict subclasses, ...
  It calls methods of arbitrary objects, so it must never run in the grading parent.

The JSON encoding tags everything that JSON cannot say by itself::

    {"format": "plain", "version": 1, "root": NODE}
    NODE := null | true | false | <int> | <float> | "<str>" | [NODE, ...]
          | {"dict": {"<key>": NODE, ...}} | {"tuple": [NODE, ...]}
          | {"float": "nan" | "inf" | "-inf"}
          | {"array": "a<i>.npy"} | {"scalar": "a<i>.npy"}   (scalar = 0-d array file)
"""

from __future__ import annotations

import ast
import io
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
VERSION = 1
DATA_FILE = "data.json"
NUMERIC_KINDS = frozenset("biufc")
_ARRAY_NAME = re.compile(r"a[0-9]{1,6}\.npy")
_NPY_MAGIC = b"\x93NUMPY"

# Default caps for load(); callers pass their own for their direction.
MAX_BYTES = 256 << 20  # all array data together
MAX_ARRAYS = 256
MAX_JSON_BYTES = 4 << 20
MAX_DEPTH = 32
MAX_NODES = 200_000
MAX_NDIM = 32
MAX_HEADER = 4096


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
    for i, arr in enumerate(arrays):
        path = os.path.join(folder, f"a{i}.npy")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o644)
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, arr, allow_pickle=False)
    text = json.dumps({"format": FORMAT, "version": VERSION, "root": root},
                      ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    path = os.path.join(folder, DATA_FILE)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
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
        return {"array": f"a{len(arrays) - 1}.npy"}
    if isinstance(obj, np.generic) and t.__module__ == "numpy":
        _check_dtype(obj.dtype)
        arrays.append(np.asarray(obj))
        return {"scalar": f"a{len(arrays) - 1}.npy"}
    raise PlainDataError(f"not plain data: {t.__module__}.{t.__qualname__}")


def _check_dtype(dtype: np.dtype) -> None:
    if (dtype.kind not in NUMERIC_KINDS or dtype.hasobject or dtype.fields is not None
            or dtype.subdtype is not None or dtype.itemsize == 0):
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

    ``max_bytes`` caps the array data in total, ``max_arrays`` the number of array files,
    ``max_json_bytes`` the size of ``data.json``; ``max_depth``/``max_nodes`` the tree.
    Raises :class:`PlainDataError` (never another exception type for bad data).
    """
    try:
        dir_fd = os.open(os.fspath(folder),
                         os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise PlainDataError("no output was written") from None
    except OSError as exc:
        raise PlainDataError(f"output folder unusable ({exc.strerror})") from None
    try:
        raw = _read_regular(dir_fd, DATA_FILE, max_json_bytes)
        try:
            doc = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
        except (ValueError, RecursionError) as exc:
            raise PlainDataError(f"{DATA_FILE} is not valid JSON ({type(exc).__name__})") from None
        if (type(doc) is not dict or doc.get("format") != FORMAT or doc.get("version") != VERSION
                or "root" not in doc):
            raise PlainDataError(f"{DATA_FILE} is not a plain-data document")
        state = _DecodeState(dir_fd, max_bytes, max_arrays, max_depth, max_nodes)
        return state.decode(doc["root"], 0)
    finally:
        os.close(dir_fd)


def _no_constant(name: str) -> Any:
    raise ValueError(f"bare {name}")


class _DecodeState:
    def __init__(self, dir_fd: int, max_bytes: int, max_arrays: int, max_depth: int,
                 max_nodes: int) -> None:
        self.dir_fd = dir_fd
        self.bytes_left = max_bytes
        self.max_arrays = max_arrays
        self.max_depth = max_depth
        self.nodes_left = max_nodes
        self.seen: set[str] = set()

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
        if tag in ("array", "scalar") and type(value) is str:
            arr = self.array(value)
            if tag == "array":
                return arr
            if arr.ndim != 0:
                raise PlainDataError("scalar file holds an array")
            return arr[()]
        raise PlainDataError("malformed data node")

    def array(self, name: str) -> np.ndarray:
        if not _ARRAY_NAME.fullmatch(name):
            raise PlainDataError("bad array file name")
        if name in self.seen:
            raise PlainDataError("array file referenced twice")
        self.seen.add(name)
        if len(self.seen) > self.max_arrays:
            raise PlainDataError(f"more than {self.max_arrays} arrays")
        arr = read_npy(self.dir_fd, name, max_bytes=self.bytes_left)
        self.bytes_left -= arr.nbytes
        return arr


def _open_regular(dir_fd: int | None, name: str, max_bytes: int) -> tuple[int, int]:
    """Open ``name`` without following links or blocking on FIFOs; (fd, size) of a regular file."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
    base = os.path.basename(name)
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except FileNotFoundError:
        raise PlainDataError(f"{base} is missing") from None
    except OSError as exc:
        if exc.errno == 40:  # ELOOP: the name is a symbolic link
            raise PlainDataError(f"{base} is a symbolic link") from None
        raise PlainDataError(f"{base} cannot be opened ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise PlainDataError(f"{base} is not a regular file")
        if st.st_size > max_bytes:
            raise PlainDataError(f"{base} is too large "
                                 f"({st.st_size} bytes, limit {max_bytes})")
    except BaseException:
        os.close(fd)
        raise
    return fd, st.st_size


def _read_regular(dir_fd: int | None, name: str, max_bytes: int) -> bytes:
    fd, size = _open_regular(dir_fd, name, max_bytes)
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(size + 1)  # never pre-allocate the cap itself
    if len(data) != size:
        raise PlainDataError(f"{name} changed while being read")
    return data


def read_npy(dir_fd: int | None, name: str, *, max_bytes: int = MAX_BYTES,
             max_header: int = MAX_HEADER) -> np.ndarray:
    """Read one ``.npy`` file safely: header validated first, never unpickled.

    ``name`` is relative to ``dir_fd`` (or a path when ``dir_fd`` is None). Returns a
    native-byte-order base-class ``ndarray`` of a numeric dtype.
    """
    base = os.path.basename(name)
    fd, size = _open_regular(dir_fd, name, max_header + 16 + max(max_bytes, 0))
    with os.fdopen(fd, "rb") as fh:
        shape, fortran, dtype, offset = _npy_header(fh, size, base, max_header)
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes > max_bytes:
            raise PlainDataError(f"{base}: array too large ({nbytes} bytes, limit {max_bytes})")
        if size != offset + nbytes:
            raise PlainDataError(f"{base}: file size does not match its header")
        buf = np.empty(nbytes, dtype=np.uint8)
        view = memoryview(buf)
        got = 0
        while got < nbytes:
            n = fh.readinto(view[got:])
            if not n:
                break
            got += n
        if got != nbytes or fh.read(1):
            raise PlainDataError(f"{base}: file size does not match its header")
    arr = buf.view(dtype).reshape(shape, order="F" if fortran else "C")
    if fortran or not dtype.isnative:
        arr = arr.astype(dtype.newbyteorder("="), order="C")
    return arr


def _npy_header(fh: io.BufferedReader, size: int, base: str,
                max_header: int) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """Parse and validate an ``.npy`` header by hand; never constructs an object dtype."""
    head = fh.read(8)
    if len(head) < 8 or head[:6] != _NPY_MAGIC:
        raise PlainDataError(f"{base}: not an .npy file")
    major, minor = head[6], head[7]
    if (major, minor) == (1, 0):
        raw = fh.read(2)
        hlen = int.from_bytes(raw, "little") if len(raw) == 2 else -1
        offset = 10
    elif (major, minor) in ((2, 0), (3, 0)):
        raw = fh.read(4)
        hlen = int.from_bytes(raw, "little") if len(raw) == 4 else -1
        offset = 12
    else:
        raise PlainDataError(f"{base}: unsupported .npy version {major}.{minor}")
    if hlen < 0 or hlen > max_header or offset + hlen > size:
        raise PlainDataError(f"{base}: .npy header too large or truncated")
    header = fh.read(hlen)
    if len(header) != hlen:
        raise PlainDataError(f"{base}: .npy header truncated")
    offset += hlen
    try:
        text = header.decode("utf-8" if major == 3 else "latin1")
        # The header is a Python dict literal of str/bool/int/tuple only; literal_eval
        # on a few KiB cannot execute code. Deep nesting is refused below by the type checks.
        meta = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, UnicodeDecodeError):
        raise PlainDataError(f"{base}: malformed .npy header") from None
    if type(meta) is not dict or set(meta) != {"descr", "fortran_order", "shape"}:
        raise PlainDataError(f"{base}: malformed .npy header")
    descr, fortran, shape = meta["descr"], meta["fortran_order"], meta["shape"]
    if type(descr) is not str or type(fortran) is not bool or type(shape) is not tuple:
        raise PlainDataError(f"{base}: malformed .npy header")
    if len(shape) > MAX_NDIM or any(type(d) is not int or d < 0 for d in shape):
        raise PlainDataError(f"{base}: bad array shape in .npy header")
    if not re.fullmatch(r"[<>|=][biufc][0-9]{1,2}", descr):
        raise PlainDataError(f"{base}: array dtype {descr!r} is not numeric")
    try:
        dtype = np.dtype(descr)
    except TypeError:
        raise PlainDataError(f"{base}: unknown dtype {descr!r}") from None
    _check_dtype(dtype)
    for d in shape:  # refuse absurd products before multiplying big ints
        if d > 1 << 62:
            raise PlainDataError(f"{base}: bad array shape in .npy header")
    if math.prod(shape) > 1 << 62:
        raise PlainDataError(f"{base}: bad array shape in .npy header")
    return shape, fortran, dtype, offset


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
        raise TypeError(f"output must be a dense CPU tensor ({type(exc).__name__}: "
                        f"{str(exc)[:200]})") from None
    if type(arr) is not np.ndarray:
        arr = np.asarray(arr).view(np.ndarray).copy()
    _child_check_array(arr)
    return arr
