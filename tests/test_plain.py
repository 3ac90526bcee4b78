"""autograder.plain: the plain-data transport, and its defences against hostile files."""

from __future__ import annotations

import enum
import json
import math
import os
from collections import OrderedDict, namedtuple
from pathlib import Path

import numpy as np
import pytest

from autograder import plain
from autograder.plain import PlainDataError


def roundtrip(obj, tmp_path: Path):
    plain.dump(obj, tmp_path / "d")
    return plain.load(tmp_path / "d")


def write_data(folder: Path, root) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.json").write_text(json.dumps({"format": "plain", "version": 2, "root": root}))


def one_array_folder(tmp_path: Path, node, blob: bytes) -> Path:
    folder = tmp_path / "evil"
    write_data(folder, node)
    (folder / "arrays.bin").write_bytes(blob)
    return folder


# --------------------------------------------------------------------------- round trips


def test_roundtrip_keeps_types_values_and_dtypes(tmp_path):
    obj = {
        "none": None,
        "bools": [True, False],
        "int": -(2**70),
        "float": 2.5,
        "str": "héllo",
        "nan": math.nan,
        "inf": [math.inf, -math.inf],
        "tuple": (1, (2, "x")),
        "empty": {},
        "nested": {"a": [{"b": np.arange(3, dtype=np.int16)}]},
        "f32": np.float32(1.5),
        "i64": np.int64(7),
        "b": np.bool_(True),
        "c": np.complex64(1 - 2j),
        "arr": np.linspace(0, 1, 12).reshape(3, 4),
        "zero_d": np.array(3.0),
        "empty_arr": np.zeros((0, 5), dtype=np.float32),
        "u8": np.arange(4, dtype=np.uint8),
        "f16": np.ones(2, dtype=np.float16),
        "mask": np.array([True, False]),
    }
    back = roundtrip(obj, tmp_path)
    assert back.keys() == obj.keys()
    assert back["tuple"] == (1, (2, "x")) and isinstance(back["tuple"][1], tuple)
    assert math.isnan(back["nan"]) and back["inf"] == [math.inf, -math.inf]
    assert back["int"] == -(2**70) and back["str"] == "héllo" and back["none"] is None
    for key in ("f32", "i64", "b", "c"):
        assert type(back[key]) is type(obj[key]) and back[key] == obj[key]
    for key in ("arr", "zero_d", "empty_arr", "u8", "f16", "mask"):
        assert type(back[key]) is np.ndarray
        assert back[key].dtype == obj[key].dtype and back[key].shape == obj[key].shape
        np.testing.assert_array_equal(back[key], obj[key])
    assert back["nested"]["a"][0]["b"].dtype == np.int16


def test_fortran_order_and_big_endian_come_back_native_and_c_ordered(tmp_path):
    f = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    be = np.arange(4, dtype=">i4")
    back = roundtrip({"f": f, "be": be}, tmp_path)
    np.testing.assert_array_equal(back["f"], f)
    assert back["f"].flags.c_contiguous
    np.testing.assert_array_equal(back["be"], be)
    assert back["be"].dtype.isnative and back["be"].dtype == np.int32


@pytest.mark.parametrize(
    "bad",
    [
        np.array([object()]),
        np.array(["text"]),
        np.array([b"x"]),
        np.array(["2020-01-01"], dtype="datetime64[D]"),
        np.zeros(2, dtype=[("a", "f8")]),
        np.arange(2.0).view(type("Sub", (np.ndarray,), {})),
        {1: "non-str key"},
        {1, 2},
        object(),
        b"bytes",
        1 + 2j,
        type("S", (str,), {})("str subclass"),
        OrderedDict(a=1),
    ],
)
def test_dump_refuses_anything_not_exactly_plain(tmp_path, bad):
    with pytest.raises(PlainDataError):
        plain.dump({"x": bad}, tmp_path / "d")


# --------------------------------------------------------------------------- hostile folders


def test_missing_folder_or_data_file(tmp_path):
    with pytest.raises(PlainDataError, match="no output"):
        plain.load(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PlainDataError, match="missing"):
        plain.load(tmp_path / "empty")


def test_symlinked_folder_and_data_file_are_refused(tmp_path):
    real = tmp_path / "real"
    plain.dump({"a": 1}, real)
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(PlainDataError):
        plain.load(tmp_path / "link")
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"format": "plain", "version": 2, "root": "SECRET"}))
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "data.json").symlink_to(secret)
    with pytest.raises(PlainDataError, match="symbolic link"):
        plain.load(folder)


def test_fifo_data_file_is_refused_without_blocking(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    os.mkfifo(folder / "data.json")
    with pytest.raises(PlainDataError, match="not a regular file"):
        plain.load(folder)


@pytest.mark.parametrize(
    "text, match",
    [
        ("{not json", "not valid JSON"),
        ('{"format": "plain", "version": 2, "root": NaN}', "not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON|not a plain-data"),
        ('{"format": "other", "version": 2, "root": 1}', "not a plain-data"),
        ('{"format": "plain", "version": 2, "root": {"dict": {}, "tuple": []}}', "malformed"),
        ('{"format": "plain", "version": 2, "root": {"object": "x"}}', "malformed"),
        ('{"format": "plain", "version": 2, "root": {"float": "1e308"}}', "malformed"),
        ('{"format": "plain", "version": 2, "root": "\\udcff\\ud800"}', ""),
    ],
)
def test_malformed_json_is_refused(tmp_path, text, match):
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "data.json").write_text(text)
    if match:
        with pytest.raises(PlainDataError, match=match):
            plain.load(folder)
    else:  # lone surrogates decode to a str: still plain data, never a crash
        assert isinstance(plain.load(folder), str)


def test_json_caps_size_depth_and_nodes(tmp_path):
    folder = tmp_path / "f"
    write_data(folder, [0] * 1000)
    with pytest.raises(PlainDataError, match="too large"):
        plain.load(folder, max_json_bytes=100)
    with pytest.raises(PlainDataError, match="too many items"):
        plain.load(folder, max_nodes=100)
    deep: object = 1
    for _ in range(50):
        deep = [deep]
    write_data(folder, deep)
    with pytest.raises(PlainDataError, match="deeper"):
        plain.load(folder)


def test_arrays_share_one_blob_in_tree_order_and_never_overlap(tmp_path):
    """The reader derives every offset (aligned, in document order): two nodes cannot
    name the same bytes, and a blob longer or shorter than its arrays is refused."""
    folder = tmp_path / "f"
    plain.dump({"a": np.arange(3.0), "b": [np.ones(2, dtype=np.int8), np.float32(2)]}, folder)
    assert sorted(os.listdir(folder)) == ["arrays.bin", "data.json"]
    assert (folder / "arrays.bin").stat().st_size == 2 * plain.ALIGN + 4
    back = plain.load(folder)
    back["a"][0] = 99.0  # writable, and no other array moves
    np.testing.assert_array_equal(back["b"][0], [1, 1])
    blob = (folder / "arrays.bin").read_bytes()
    for extra in (blob + b"\0", blob[:-1]):
        (folder / "arrays.bin").write_bytes(extra)
        with pytest.raises(PlainDataError, match=r"does not match|shorter"):
            plain.load(folder)


def test_too_many_arrays(tmp_path):
    folder = tmp_path / "f"
    plain.dump([np.zeros(3), np.zeros(3), np.zeros(3)], folder)
    with pytest.raises(PlainDataError, match="too many arrays"):
        plain.load(folder, max_arrays=2)


def test_total_array_bytes_are_capped(tmp_path):
    folder = tmp_path / "f"
    plain.dump([np.zeros(100), np.zeros(100)], folder)
    assert len(plain.load(folder, max_bytes=1600)) == 2
    with pytest.raises(PlainDataError, match="too large"):
        plain.load(folder, max_bytes=1000)


def test_pickle_payload_is_refused_before_unpickling(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    folder = tmp_path / "f"
    write_data(folder, {"array": ["|O", [1]]})
    with open(folder / "arrays.bin", "wb") as fh:
        np.save(fh, np.array([Evil()], dtype=object), allow_pickle=True)
    with pytest.raises(PlainDataError, match="not numeric"):
        plain.load(folder)
    assert not marker.exists()


def test_blob_symlink_and_fifo_are_refused(tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(3.0).tobytes())
    folder = tmp_path / "f"
    write_data(folder, {"array": ["<f8", [3]]})
    (folder / "arrays.bin").symlink_to(secret)
    with pytest.raises(PlainDataError, match="symbolic link"):
        plain.load(folder)
    (folder / "arrays.bin").unlink()
    os.mkfifo(folder / "arrays.bin")
    with pytest.raises(PlainDataError, match="not a regular file"):
        plain.load(folder)


@pytest.mark.parametrize(
    "node, blob, match",
    [
        ({"array": ["<f8", [10**12]]}, b"\0" * 64, "too large"),
        ({"array": ["<f8", [3]]}, b"\0" * 16, "shorter"),
        ({"array": ["<f8", [2]]}, b"\0" * 17, "does not match"),
        ({"array": ["<f8", [1] * 40]}, b"\0" * 8, "shape"),
        ({"array": ["<f8", [0, 1 << 62, 1 << 62]]}, b"", "shape"),  # size 0, numpy's overflow
        ({"array": ["<f8", [0, 1 << 40, 1 << 40, 1 << 40]]}, b"", "shape"),
        ({"array": ["<f8", [-1]]}, b"", "shape"),
        ({"array": ["<f8", [2.0]]}, b"\0" * 16, "shape"),
        ({"array": ["<f8", [True]]}, b"\0" * 8, "shape"),
        ({"array": ["<f8", 2]}, b"\0" * 16, "shape"),
        ({"array": ["|O", [1]]}, b"\0" * 8, "not numeric"),
        ({"array": ["<U5", [1]]}, b"\0" * 20, "not numeric"),
        ({"array": ["<M8[D]", [1]]}, b"\0" * 8, "not numeric"),
        ({"array": ["<f3", [1]]}, b"\0" * 8, "unknown array dtype"),
        ({"array": [["<f8"], [1]]}, b"\0" * 8, "not numeric"),
        ({"array": ["<f8", [1], "extra"]}, b"\0" * 8, "malformed"),
        ({"scalar": ["<f8"]}, b"\0" * 8, "not numeric"),
    ],
)
def test_array_nodes_are_validated_before_their_bytes_are_used(tmp_path, node, blob, match):
    with pytest.raises(PlainDataError, match=match):
        plain.load(one_array_folder(tmp_path, node, blob))


def test_hand_made_arrays_load_in_any_byte_order(tmp_path):
    for descr in ("<f8", ">f8", "=f8"):
        blob = np.arange(3, dtype=descr).tobytes()
        folder = one_array_folder(tmp_path, {"array": [descr, [3]]}, blob)
        back = plain.load(folder)
        np.testing.assert_array_equal(back, [0.0, 1.0, 2.0])
        assert back.dtype.isnative


# --------------------------------------------------------------------------- to_plain (child side)


class Liar:
    def __eq__(self, other):
        return True

    def __array__(self, dtype=None, copy=None):
        return np.ones(3)

    def __array_function__(self, *a, **k):
        return True


class Sneaky(np.ndarray):
    def __array_ufunc__(self, *a, **k):
        return True

    def __eq__(self, other):
        return True


class Color(enum.IntEnum):
    RED = 3


def test_to_plain_converts_containers_scalars_and_subclasses():
    Point = namedtuple("Point", "x y")
    sub = np.arange(4.0).view(Sneaky)
    out = plain.to_plain(
        {
            "p": Point(1, 2.0),
            "c": Color.RED,
            "sub": sub,
            "f": np.float32(2),
            "od": OrderedDict(k=[True, None, "s"]),
            "z": 1j,
        }
    )
    assert out["p"] == (1, 2.0) and type(out["p"]) is tuple
    assert type(out["c"]) is int and out["c"] == 3
    assert type(out["sub"]) is np.ndarray and out["sub"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert not np.shares_memory(out["sub"], sub)
    assert type(out["f"]) is np.float32
    assert type(out["od"]) is dict and out["od"]["k"] == [True, None, "s"]
    assert type(out["z"]) is np.complex128


def test_to_plain_output_is_dumpable(tmp_path):
    out = plain.to_plain([np.arange(2.0).view(Sneaky), (np.int8(1),), {"a": Color.RED}])
    back = roundtrip(out, tmp_path)
    assert back[0].tolist() == [0.0, 1.0] and back[1] == (1,) and back[2] == {"a": 3}


def _nested(depth: int) -> list:
    value: list = [1]
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "bad, match",
    [
        (Liar(), "output must be a number or a numeric array, got <class"),
        (np.array([object()]), "numeric array, got dtype object"),
        (np.array(["a"]), "numeric array"),
        ({1: 2}, "keys must be str"),
        (lambda: 1, "output must be a number"),
        (_nested(40), "nested"),
    ],
)
def test_to_plain_rejects_with_a_clear_type_error(bad, match):
    with pytest.raises(TypeError, match=match):
        plain.to_plain(bad)


def test_to_plain_converts_torch_tensors():
    torch = pytest.importorskip("torch")
    t = torch.arange(6.0, requires_grad=True).reshape(2, 3) * 2
    out = plain.to_plain(
        {
            "t": t,
            "i": torch.tensor([1, 2], dtype=torch.int64),
            "size": torch.Size([2, 3]),
            "p": torch.nn.Parameter(torch.ones(2)),
        }
    )
    assert type(out["t"]) is np.ndarray and out["t"].dtype == np.float32
    np.testing.assert_array_equal(out["t"], np.arange(6.0).reshape(2, 3) * 2)
    assert out["i"].dtype == np.int64 and out["size"] == (2, 3)
    assert type(out["p"]) is np.ndarray
    with pytest.raises(TypeError, match="bfloat16"):
        plain.to_plain(torch.ones(2, dtype=torch.bfloat16))
    with pytest.raises(TypeError, match="dense CPU tensor"):
        plain.to_plain(torch.ones(2).to_sparse())
    with pytest.raises(TypeError, match="dense CPU tensor"):
        plain.to_plain(torch.ones(2, device="meta"))
