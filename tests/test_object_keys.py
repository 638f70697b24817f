"""The object-key decoder (fastgdml.io.object_keys): what np.save writes decodes to the same values as a trusted
unpickle; everything else ends in one error naming the file and key, runs nothing and allocates nothing large.

HOSTILE is a table of crafted pickles (the count goes into SECURITY.md). The streams are written with
pickle.dumps of small stand-in objects whose __reduce__ spells the opcodes an attacker would write (nothing
hostile is shipped), or as raw opcode bytes. The fuzzer at the end runs arbitrary opcode streams in a subprocess.
"""
import io
import math
import os
import pickle
import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import fastgdml
from fastgdml.io.object_keys import MAX_DICT, MAX_ITEMS, MAX_OPCODES, ObjectKeyError, decode_object_array
from fastgdml.cli import main as cli_main
from fastgdml.model import ModelError

from conftest import TOY_PERMS, TOY_Z, make_toy

_mu = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray


class Spell:
    """Pickles as ``func(*args)`` followed by BUILD ``state``: the stream names func as a global."""

    def __init__(self, func, args, state=None):
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        return (self.func, self.args) if self.state is None else (self.func, self.args, self.state)


OBJECT_STATE = (3, "|", None, None, None, -1, -1, 63)


def fake_dtype(code="O8", state=OBJECT_STATE):
    return Spell(np.dtype, (code, False, True), state)


def fake_array(items, shape=(), dtype=None):
    """What np.save pickles for an object array, with every part replaceable."""
    return Spell(_mu._reconstruct, (np.ndarray, (0,), b"b"), (1, shape, dtype or fake_dtype(), False, items))


def fake_scalar(code, raw, state=(3, "<", None, None, None, -1, -1, 0)):
    return Spell(_mu.scalar, (fake_dtype(code, state), raw))


def dumps(obj, protocol=4) -> bytes:
    return pickle.dumps(obj, protocol=protocol)


def npy_with_pickle(stream: bytes, shape=()) -> bytes:
    """An .npy member: an object-array header followed by ``stream``."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False, "shape": shape})
    return buf.getvalue() + stream


def op(*parts) -> bytes:
    """Raw protocol-4 opcodes (for streams that pickle.dumps cannot write)."""
    return b"\x80\x04" + b"".join(p if isinstance(p, bytes) else p.encode("latin-1") for p in parts)


def unicode(s: str) -> bytes:
    b = s.encode()
    return b"\x8c" + bytes([len(b)]) + b


HEAD = unicode("numpy._core.multiarray") + unicode("_reconstruct") + b"\x93"  # STACK_GLOBAL


def nested_lists(depth: int) -> bytes:
    return op(b"]" * depth, b"a" * (depth - 1), b".")


def self_referential_dict() -> bytes:
    d = {}
    d["x"] = d
    return dumps(fake_array([d]))


# name -> (stream, shape in the header or None for (), pattern of the error)
HOSTILE = {
    "os.system call": (dumps(Spell(os.system, ("true",))), r"refusing to load (posix|os)\.system"),
    "builtins.eval": (dumps(Spell(eval, ("1+1",))), r"refusing to load builtins\.eval"),
    "builtins.getattr": (dumps(Spell(getattr, (np.ndarray, "tofile"))), r"refusing to load builtins\.getattr"),
    "builtins.__import__": (dumps(Spell(__import__, ("os",))), r"refusing to load builtins\.__import__"),
    "subprocess.Popen": (dumps(Spell(subprocess.Popen, (["true"],))), r"refusing to load subprocess\.Popen"),
    "numpy.load global": (dumps(Spell(np.load, ("x.npy",))), r"refusing to load numpy.*\.load"),
    "numpy.frombuffer global": (dumps(Spell(np.frombuffer, (b"\0" * 8,))), r"refusing to load numpy.*frombuffer"),
    "protocol 0 os.system": (b"cos\nsystem\n(S'true'\ntR.", r"refusing to load os\.system"),
    "object scalar from raw bytes (pointer)": (dumps(fake_array([{"mae": fake_scalar("O8", b"\x41" * 8)}])),
                                               r"type 'O8' is not a real number"),
    "void scalar with an object field": (
        dumps(fake_array([{"mae": fake_scalar("V8", b"\x41" * 8, (3, "|", None, ("a",), {"a": (np.dtype("O"), 0)},
                                                                  8, 1, 63))}])), r"fields"),
    "float scalar of the wrong length": (dumps(fake_array([{"mae": fake_scalar("f8", b"\0" * 3)}])),
                                         r"not a real number"),
    "scalar with an unknown byte order": (dumps(fake_array([{"mae": fake_scalar("f8", b"\0" * 8,
                                                                                (3, "?", None, None, None, -1, -1, 0))}])),
                                          r"byte order"),
    "complex scalar": (dumps(fake_array([{"mae": fake_scalar("c16", b"\0" * 16)}])), r"not a real number"),
    "datetime scalar": (dumps(fake_array([{"mae": fake_scalar("M8", b"\0" * 8)}])), r"not a real number"),
    "float array where objects belong": (dumps(fake_array(b"\0" * 8, dtype=fake_dtype("f8", (3, "<", None, None,
                                                                                             None, -1, -1, 0)))),
                                         r"dtype 'f8' where an object array belongs"),
    "huge float array (133-byte 2 GB)": (dumps(fake_array(b"", shape=(2 ** 28,), dtype=fake_dtype("f8", (
        3, "<", None, None, None, -1, -1, 0)))), r"where an object array belongs"),
    "structured dtype with an object field": (dumps(fake_array(b"\x41" * 8, dtype=fake_dtype(
        "V8", (3, "|", None, ("a",), {"a": (np.dtype("O"), 0)}, 8, 1, 63)))), r"fields"),
    "dtype with a subarray": (dumps(fake_array([None], dtype=fake_dtype("O8", (3, "|", (np.dtype("O"), (2,)), None,
                                                                                None, -1, -1, 63)))), r"subarrays"),
    "dtype of a string code": (dumps(fake_array([None], dtype=Spell(np.dtype, (5, False, True)))), r"malformed dtype"),
    "header says 2 items, pickle 1": (dumps(fake_array([None])), (2,), r"1 items, its header says 2"),
    "header says 1 item, pickle 2": (dumps(fake_array([None, None])), r"2 items, its header says 1"),
    "too many items": (dumps(fake_array([None] * (MAX_ITEMS + 1), shape=(MAX_ITEMS + 1,))), (MAX_ITEMS + 1,),
                       r"object array of \d+ items"),
    "items not a list": (dumps(fake_array((None,))), r"no items"),
    "state too short": (dumps(Spell(_mu._reconstruct, (np.ndarray, (0,), b"b"), (1, ()))), r"without its state"),
    "no state": (dumps(Spell(_mu._reconstruct, (np.ndarray, (0,), b"b"))), r"without its state"),
    "reconstruct of a dtype, not ndarray": (dumps(Spell(_mu._reconstruct, (np.dtype, (0,), b"b"))),
                                            r"not a pickled NumPy array"),
    "bare dict, no array": (dumps({"mae": 1.0}), r"not a pickled NumPy array"),
    "bare None": (dumps(None), r"not a pickled NumPy array"),
    "an item that is a global (function)": (dumps(fake_array([np.dtype])), r"an item is a _Global"),
    "an item that is a call": (dumps(fake_array([Spell(np.dtype, ("f8",))])), r"Call where a number belongs"),
    "dict value a function": (dumps(fake_array([{"mae": np.ndarray}])), r"Global where a number belongs"),
    "dict value a nested dict": (dumps(fake_array([{"mae": {"x": 1.0}}])), r"dict where a number belongs"),
    "dict value a string": (dumps(fake_array([{"mae": "1.0"}])), r"str where a number belongs"),
    "dict value None": (dumps(fake_array([{"mae": None}])), r"NoneType where a number belongs"),
    "dict value a list": (dumps(fake_array([{"mae": [1.0]}])), r"list where a number belongs"),
    "item a list": (dumps(fake_array([[1.0, 2.0]])), r"an item is a list"),
    "item a tuple": (dumps(fake_array([(1.0,)])), r"an item is a tuple"),
    "item a set": (dumps(fake_array([{1.0}])), r"opcode (EMPTY_SET|ADDITEMS|FROZENSET)"),
    "item a frozenset": (dumps(fake_array([frozenset({1.0})])), r"opcode FROZENSET"),
    "item a bytearray": (pickle.dumps(fake_array([bytearray(b"x")]), protocol=5), r"opcode BYTEARRAY8"),
    "item a complex": (dumps(fake_array([1j])), r"refusing to load builtins\.complex"),
    "dict key an int": (dumps(fake_array([{1: 1.0}])), r"expected a string"),
    "dict key a tuple": (dumps(fake_array([{("a",): 1.0}])), r"dict key is not a string"),
    "dict key a list (unhashable)": (op(HEAD, b"}", b"]", b"K\x01", b"s."), r"dict key is not a string"),
    "too many dict entries": (dumps(fake_array([{f"k{i}": 1.0 for i in range(MAX_DICT + 1)}])),
                              r"more than \d+ entries"),
    "string too long": (dumps(fake_array(["x" * 5000])), r"expected a string"),
    "bytes not UTF-8": (dumps(fake_array([b"\xff\xfe"])), r"not UTF-8"),
    "persistent id (PERSID)": (b"P1\n.", r"opcode PERSID"),
    "persistent id (BINPERSID)": (op(unicode("x"), b"Q."), r"opcode BINPERSID"),
    "extension registry EXT1": (op(b"\x82\x01."), r"opcode EXT1"),
    "extension registry EXT2": (op(b"\x83\x01\x00."), r"opcode EXT2"),
    "extension registry EXT4": (op(b"\x84\x01\x00\x00\x00."), r"opcode EXT4"),
    "INST opcode": (b"(ios\nsystem\nS'true'\n.", r"opcode INST"),
    "OBJ opcode": (op(b"(", HEAD, b"o."), r"opcode OBJ"),
    "NEWOBJ opcode": (op(HEAD, b")", b"\x81."), r"opcode NEWOBJ"),
    "NEWOBJ_EX opcode": (op(HEAD, b")", b"}", b"\x92."), r"opcode NEWOBJ_EX"),
    "NEXT_BUFFER opcode": (b"\x80\x05\x97.", r"opcode NEXT_BUFFER"),
    "READONLY_BUFFER opcode": (b"\x80\x05N\x98.", r"opcode READONLY_BUFFER"),
    "truncated stream": (dumps(fake_array([{"mae": 1.0}]))[:40], r"malformed pickle"),
    "no STOP": (dumps(fake_array([None]))[:-1], r"malformed pickle|no STOP"),
    "empty stream": (b"", r"malformed pickle"),
    "unknown opcode byte": (b"\x80\x04\xff.", r"malformed pickle"),
    "stack underflow on REDUCE": (op(b"R."), r"malformed pickle"),
    "stack underflow on SETITEM": (op(b"}s."), r"malformed pickle"),
    "memo GET of a missing entry": (op(b"h\x07."), r"memo entry 7 missing"),
    "APPENDS without MARK": (op(b"]", b"N", b"e."), r"MARK missing"),
    "TUPLE3 across a MARK": (op(b"(", b"N", b"N", b"\x87."), r"malformed pickle \(tuple\)"),
    "APPEND onto a dict": (op(b"}", b"N", b"a."), r"APPEND on a dict"),
    "SETITEMS onto a list": (op(b"]", b"(", b"N", b"N", b"u."), r"SETITEMS on a list"),
    "odd DICT items": (op(b"(", unicode("a"), b"d."), r"odd dict items"),
    "BUILD on a dict": (op(b"}", b"}", b"b."), r"state of something that is not a NumPy object"),
    "BUILD twice on one call": (op(HEAD, b"(", b"N", b"t", b"R", b"N", b"b", b"N", b"b."),
                                r"state of something that is not a NumPy object"),
    "REDUCE on a string": (op(unicode("os"), b")", b"R."), r"malformed pickle \(call\)"),
    "REDUCE with a list of arguments": (op(HEAD, b"]", b"R."), r"malformed pickle \(call\)"),
    "STACK_GLOBAL of non-strings": (op(b"K\x01", b"K\x02", b"\x93."), r"global name"),
    "GLOBAL of a dotted name": (b"cos.path\njoin\n.", r"refusing to load os\.path\.join"),
    "GLOBAL of numpy internals": (b"cnumpy.core.multiarray\n_reconstruct.__globals__\n.", r"refusing to load"),
    "STOP with two values": (op(b"N", b"N."), r"stack at STOP"),
    "STOP with an empty stack": (op(b"."), r"malformed pickle"),
    "deeply nested lists": (nested_lists(40_000), r"not a pickled NumPy array"),
    "more opcodes than allowed": (op(b"N0" * (MAX_OPCODES // 2 + 1), b"N."), r"more than \d+ pickle opcodes"),
    "self-referential list": (op(b"]", b"\x94", b"h\x00", b"a."), r"not a pickled NumPy array"),
    "list item referring to itself": (op(HEAD, unicode("numpy"), unicode("ndarray"), b"\x93", b"K\x00\x85", b"C\x01b",
                                         b"\x87R", b"(K\x01)", unicode("numpy"), unicode("dtype"), b"\x93",
                                         unicode("O8"), b"\x89\x88\x87R", b"\x89", b"]\x94", b"h\x00", b"a", b"tb."),
                                      r"an item is a list"),
    "dict referring to itself": (self_referential_dict(), r"dict where a number belongs"),
    "huge integer digits (protocol 0)": (b"I" + b"9" * 5000 + b"\n.", r"malformed pickle|not a pickled NumPy array"),
    "pickle larger than 1 MiB": (dumps(fake_array(["x" * 10] * 1)) + b"N" * (1 << 20), r"pickle of \d+ bytes"),
    "_codecs.encode with another codec": (dumps(fake_array([Spell(_mu.scalar, (fake_dtype("f8", (
        3, "<", None, None, None, -1, -1, 0)), Spell(__import__("_codecs").encode, ("abcdefgh", "rot13"))))])),
                                          r"malformed bytes"),
    "copyreg._reconstructor": (dumps(Spell(__import__("copyreg")._reconstructor, (object, object, None))),
                               r"refusing to load copyreg\._reconstructor"),
    "functools.partial": (dumps(Spell(__import__("functools").partial, (print,))), r"refusing to load functools"),
    "pickle.loads inside": (dumps(Spell(pickle.loads, (b"N.",))), r"refusing to load _?pickle\.loads"),
}


@pytest.fixture(scope="module")
def model_arrays():
    R, E, F = make_toy(M=30, seed=3)
    ds = fastgdml.Dataset(R, TOY_Z, F, E=E, name="toy", r_unit="Ang", e_unit="kcal/mol")
    return dict(fastgdml.train(ds, 12, 1.2, lam=1e-6, perms=TOY_PERMS, n_valid=5).arrays, type=np.array("m"))


def write_model(path, arrays, raw: dict) -> str:
    with zipfile.ZipFile(path, "w") as zf:
        for key, value in arrays.items():
            if key in raw:
                continue
            buf = io.BytesIO()
            np.save(buf, np.asarray(value), allow_pickle=True)
            zf.writestr(key + ".npy", buf.getvalue())
        for key, value in raw.items():
            zf.writestr(key + ".npy", value)
    return str(path)


def test_security_md_counts_this_table():
    """SECURITY.md states how many crafted pickles are refused; that number is this table's. (A bare
    len(HOSTILE) >= 80 only restated the literal above it.)"""
    path = os.path.join(os.path.dirname(__file__), "..", "SECURITY.md")
    if not os.path.exists(path):
        pytest.skip("no SECURITY.md next to tests/")
    with open(path, encoding="utf-8") as f:
        stated = re.search(r"`tests/test_object_keys\.py`: (\d+) crafted pickles", f.read())
    assert stated is not None and int(stated.group(1)) == len(HOSTILE), (stated, len(HOSTILE))


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_object_key_is_refused(case, model_arrays, tmp_path, capsys):
    entry = HOSTILE[case]
    stream, pattern = entry[0], entry[-1]
    shape = entry[1] if len(entry) == 3 else ()
    with pytest.raises(ObjectKeyError, match=pattern):
        decode_object_array(stream, int(np.prod(shape)))
    path = write_model(tmp_path / "evil.npz", model_arrays, {"f_err": npy_with_pickle(stream, shape)})
    with pytest.raises(ModelError, match=rf"{path}: key 'f_err' holds a pickled object that is not one of the "
                                         rf"sGDML shapes"):
        fastgdml.Model.load(path)
    assert cli_main(["info", path]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastgdml: error:") and err.count("\n") == 1 and "key 'f_err'" in err, err


TRUSTED_VALUES = {
    "None": None, "str": "d41d8cd98f00b204e9800998ecf8427e", "bytes": b"d41d8cd98f00b204e9800998ecf8427e",
    "dict of floats": {"mae": 0.25, "rmse": 0.5}, "dict of NaN": {"mae": math.nan, "rmse": math.nan},
    "dict of numpy scalars": {"mae": np.float64(1.5), "rmse": np.float32(2.5), "n": np.int64(7)},
    "big-endian scalar": {"mae": np.array(3.25, dtype=">f8")[()]}, "float": 1.25, "int": 12,
    "numpy float": np.float64(-0.5), "dict of ints": {"mae": 1, "rmse": True}, "empty dict": {},
}


def same(a, b) -> bool:
    if isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in b)
    if isinstance(b, bytes):
        return a == b.decode()
    if isinstance(b, (float, np.floating)) and math.isnan(b):
        return math.isnan(a)
    return a == b and (b is None) == (a is None)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("name", sorted(TRUSTED_VALUES))
def test_what_numpy_writes_decodes_to_the_same_values(name, protocol):
    value = TRUSTED_VALUES[name]
    arr = np.empty((), dtype=object)
    arr[()] = value
    (out,) = decode_object_array(pickle.dumps(arr, protocol=protocol), 1)
    assert same(out, value) and type(out) in (type(None), str, float, dict)


def test_object_arrays_of_several_items_and_their_shape(tmp_path, model_arrays):
    arr = np.array([{"mae": 1.0}, None, "x", 2.0], dtype=object).reshape(2, 2)
    assert decode_object_array(pickle.dumps(arr, protocol=3), 4) == [{"mae": 1.0}, None, "x", 2.0]
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    path = write_model(tmp_path / "m.npz", model_arrays, {"f_err": buf.getvalue()})
    back = fastgdml.io.npz.load_npz(path)["f_err"]
    assert back.shape == (2, 2) and back.dtype == object and back[1, 0] == "x"


SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "fixtures")


@pytest.mark.skipif(not os.path.isdir(SHARED), reason="../shared/fixtures (reference models) not present")
def test_reference_models_decode_like_a_trusted_unpickle():
    """The object keys of every sgdml-made model equal what np.load(allow_pickle=True) gives for them (trusted)."""
    checked = 0
    for name in sorted(os.listdir(SHARED)):
        if not name.endswith(".npz"):
            continue
        ours = fastgdml.io.npz.load_npz(os.path.join(SHARED, name))
        with np.load(os.path.join(SHARED, name), allow_pickle=True) as ref:
            for key in ref.files:
                if ref[key].dtype.hasobject:
                    assert same(ours[key].item(), ref[key].item()), (name, key)
                    checked += 1
    assert checked >= 3


def test_object_dtype_outside_the_object_keys_is_refused(tmp_path, model_arrays, capsys):
    evil = io.BytesIO()
    np.save(evil, np.array([1.0, None], dtype=object), allow_pickle=True)
    path = write_model(tmp_path / "m.npz", model_arrays, {"R_desc": evil.getvalue()})
    with pytest.raises(ModelError, match=r"key 'R_desc' holds Python objects"):
        fastgdml.Model.load(path)
    # datasets have no object keys at all, not even the model's
    R, E, F = make_toy(M=5)
    ds = fastgdml.Dataset(R, TOY_Z, F, E=E).to_dict()
    for key, value in (("name", np.array("toy", dtype=object)), ("f_err", np.array({"mae": 1.0}, dtype=object)),
                       ("R", np.array(R.tolist(), dtype=object))):
        buf = io.BytesIO()
        np.save(buf, value, allow_pickle=True)
        path = write_model(tmp_path / f"d_{key}.npz", ds, {key: buf.getvalue()})
        with pytest.raises(fastgdml.dataset.DatasetError, match=rf"key '{key}' holds Python objects"):
            fastgdml.Dataset.load(path)
    # a structured dtype with an object field in the .npy header
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": [("a", "|O")], "fortran_order": False, "shape": ()})
    path = write_model(tmp_path / "s.npz", model_arrays, {"f_err": buf.getvalue() + dumps(fake_array([None]))})
    with pytest.raises(ModelError, match=r"structured dtype with objects"):
        fastgdml.Model.load(path)


FUZZ_CHILD = r'''
import pickle, pickletools, random, sys
from hypothesis import given, settings, strategies as st, HealthCheck
from fastgdml.io.object_keys import decode_object_array, ObjectKeyError
import numpy as np

CODES = [o.code.encode("latin-1") for o in pickletools.opcodes]
arr = np.empty((), dtype=object); arr[()] = {"mae": np.float64(1.5), "rmse": 2.0}
SEEDS = [pickle.dumps(arr, protocol=p) for p in range(6)]
SEEDS += [pickle.dumps(np.array(v, dtype=object), protocol=4) for v in (None, "abc")]
chunk = st.one_of(st.sampled_from(CODES), st.binary(max_size=9),
                  st.sampled_from([b"\x8c\x05numpy", b"\x8c\x07ndarray", b"\x8c\x05dtype", b"\x8c\x02O8", b"\x93",
                                   b"\x8c\x16numpy._core.multiarray", b"\x8c\x0c_reconstruct", b"\x8c\x06scalar",
                                   b"(", b"t", b"R", b"b", b"]", b"}", b"a", b"u", b"K\x01", b"N", b"."]))
streams = st.one_of(
    st.lists(chunk, max_size=60).map(lambda parts: b"\x80\x04" + b"".join(parts)),
    st.tuples(st.sampled_from(SEEDS), st.integers(0, 400), st.binary(min_size=1, max_size=4),
              st.integers(0, 2)).map(lambda t: t[0][:t[1] % len(t[0])] + t[2] + t[0][t[1] % len(t[0]) + t[3]:]),
    st.binary(max_size=200))
count = {"ok": 0, "refused": 0}

@settings(max_examples=int(sys.argv[1]), deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(streams, st.integers(1, 3))
def fuzz(data, n):
    try:
        items = decode_object_array(data, n)
    except ObjectKeyError:
        count["refused"] += 1
        return
    assert len(items) == n
    for it in items:
        assert it is None or type(it) in (str, float) or (
            type(it) is dict and all(type(k) is str and type(v) is float for k, v in it.items())), repr(it)[:200]
    count["ok"] += 1

fuzz()
print("fuzz", count["ok"], count["refused"])
'''


def test_fuzzed_opcode_streams_never_crash_and_decode_only_the_permitted_shapes():
    """Arbitrary opcode streams, mutated real streams and random bytes, in a child process (a crash would show as
    a signal exit status): each is refused with ObjectKeyError or decodes to None, a str, a float or a dict of str
    to float."""
    out = subprocess.run([sys.executable, "-c", FUZZ_CHILD, "3000"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    ok, refused = map(int, out.stdout.split()[1:3])
    assert ok + refused >= 3000 and refused > 0
