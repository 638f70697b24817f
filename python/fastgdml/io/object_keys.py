"""Decoding the pickled object keys of sGDML model files without running pickle.

The sGDML format stores a few keys as NumPy object arrays, which ``np.save`` writes as a pickle of the whole
array: ``f_err`` and ``e_err`` (a dict of floats such as ``{'mae': 0.4, 'rmse': 0.6}``), ``md5_test`` (None until
tested, or a str), and in newer files ``n_inducing_pts_init`` and ``interact_cut_off`` (None or a number).
Unpickling such a stream, even with an allow-list of classes, lets the file drive constructors: NumPy's dtype
and array reconstruction take their state from the file and can turn raw bytes into object pointers.

So nothing here calls ``pickle``. :func:`decode_object_array` reads the opcode stream with
:func:`pickletools.genops` (a parser: it builds no objects), runs a small stack machine in which every global is
an inert :class:`_Global` record and every call an inert :class:`_Call` record, and then matches the result
against the one shape ``np.save`` writes for these keys: ``ndarray`` reconstruction whose state is
``(version, shape, dtype('O'), fortran, [item, ...])``. Each item must be None, a str (bytes are decoded as
UTF-8), a real number, or a dict of str to real numbers; NumPy scalars inside (``numpy.float64(0.4)``) are
decoded from their bytes by :mod:`struct`, never by NumPy. Anything else raises :class:`ObjectKeyError`.

Limits: at most ``MAX_OPCODES`` opcodes, ``MAX_ITEMS`` array items and ``MAX_DICT`` dict entries; containers
built by the stream are bounded by the stream itself (which the caller caps at ``MAX_STREAM_BYTES``).
"""
from __future__ import annotations

import math
import pickletools
import struct
from typing import Any, List, Tuple

MAX_STREAM_BYTES = 1 << 20
MAX_OPCODES = 100_000
MAX_ITEMS = 1000
MAX_DICT = 64
MAX_STR = 4096

# Globals that np.save's pickles of object arrays name. They are recorded, never imported or called.
_KNOWN_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy._core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy.core.multiarray", "scalar"): "scalar",
    ("numpy._core.multiarray", "scalar"): "scalar",
    ("numpy", "ndarray"): "ndarray",
    ("numpy", "dtype"): "dtype",
    ("_codecs", "encode"): "encode",  # how protocol 2 writes bytes under Python 3
}


class ObjectKeyError(ValueError):
    """An object key whose pickle is not one of the shapes the sGDML format uses."""


class _Global:
    __slots__ = ("kind",)

    def __init__(self, kind: str):
        self.kind = kind


class _Call:
    """``func(*args)`` as written in the stream, with the state of a later BUILD; never evaluated."""

    __slots__ = ("func", "args", "state", "built")

    def __init__(self, func: _Global, args: tuple):
        self.func, self.args, self.state, self.built = func, args, None, False


class _Mark:
    pass


_MARK = _Mark()

# Opcodes that push one constant argument as it is.
_PUSH_ARG = {"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT", "UNICODE",
             "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "SHORT_BINBYTES", "BINBYTES", "BINBYTES8",
             "STRING", "BINSTRING", "SHORT_BINSTRING"}
_PUSH_CONST = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}


def _pop_mark(stack: list) -> list:
    for i in range(len(stack) - 1, -1, -1):
        if stack[i] is _MARK:
            items = stack[i + 1:]
            del stack[i:]
            return items
    raise ObjectKeyError("MARK missing")


def _run(data: bytes) -> Any:
    """The value the pickle ``data`` describes, with globals and calls as inert records."""
    stack: list = []
    memo: dict = {}
    count = 0
    for op, arg, _pos in pickletools.genops(data):
        count += 1
        if count > MAX_OPCODES:
            raise ObjectKeyError(f"more than {MAX_OPCODES} pickle opcodes")
        name = op.name
        if name in ("PROTO", "FRAME"):
            continue
        if name == "STOP":
            if len(stack) != 1:
                raise ObjectKeyError("malformed pickle (stack at STOP)")
            return stack[0]
        if name in _PUSH_ARG:
            if name == "INT" and arg in (True, False):  # protocol 0 writes booleans as INT 01 / 00
                arg = bool(arg)
            if name in ("STRING", "BINSTRING", "SHORT_BINSTRING") and isinstance(arg, str):
                arg = arg.encode("latin-1")  # Python 2 str: bytes
            stack.append(arg)
        elif name in _PUSH_CONST:
            stack.append(_PUSH_CONST[name])
        elif name == "MARK":
            stack.append(_MARK)
        elif name == "POP":
            stack.pop()
        elif name == "POP_MARK":
            _pop_mark(stack)
        elif name == "DUP":
            stack.append(stack[-1])
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[arg] = stack[-1]
        elif name == "MEMOIZE":
            memo[len(memo)] = stack[-1]
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            if arg not in memo:
                raise ObjectKeyError(f"memo entry {arg} missing")
            stack.append(memo[arg])
        elif name == "EMPTY_TUPLE":
            stack.append(())
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            k = int(name[-1])
            if len(stack) < k or any(v is _MARK for v in stack[-k:]):
                raise ObjectKeyError("malformed pickle (tuple)")
            items = tuple(stack[-k:])
            del stack[-k:]
            stack.append(items)
        elif name == "TUPLE":
            stack.append(tuple(_pop_mark(stack)))
        elif name == "EMPTY_LIST":
            stack.append([])
        elif name == "LIST":
            stack.append(list(_pop_mark(stack)))
        elif name == "APPEND":
            value = stack.pop()
            _as(stack[-1], list, "APPEND").append(value)
        elif name == "APPENDS":
            items = _pop_mark(stack)
            _as(stack[-1], list, "APPENDS").extend(items)
        elif name == "EMPTY_DICT":
            stack.append({})
        elif name == "DICT":
            items = _pop_mark(stack)
            stack.append(_pairs({}, items))
        elif name == "SETITEM":
            value, key = stack.pop(), stack.pop()
            _pairs(_as(stack[-1], dict, "SETITEM"), [key, value])
        elif name == "SETITEMS":
            items = _pop_mark(stack)
            _pairs(_as(stack[-1], dict, "SETITEMS"), items)
        elif name in ("GLOBAL", "STACK_GLOBAL"):
            if name == "GLOBAL":
                module, _, attr = arg.partition(" ")
            else:
                attr, module = stack.pop(), stack.pop()
                if not (isinstance(module, str) and isinstance(attr, str)):
                    raise ObjectKeyError("malformed pickle (global name)")
            kind = _KNOWN_GLOBALS.get((module, attr))
            if kind is None:
                raise ObjectKeyError(f"refusing to load {module[:80]}.{attr[:80]}: not part of an sGDML object key")
            stack.append(_Global(kind))
        elif name == "REDUCE":
            args, func = stack.pop(), stack.pop()
            if not isinstance(func, _Global) or not isinstance(args, tuple):
                raise ObjectKeyError("malformed pickle (call)")
            stack.append(_Call(func, args))
        elif name == "BUILD":
            state = stack.pop()
            target = stack[-1]
            if not isinstance(target, _Call) or target.built:
                raise ObjectKeyError("malformed pickle (state of something that is not a NumPy object)")
            target.state, target.built = state, True
        else:  # PERSID, INST, OBJ, NEWOBJ, EXT*, buffers, FROZENSET, ...: never in these keys
            raise ObjectKeyError(f"pickle opcode {name} is not used by sGDML object keys")
    raise ObjectKeyError("pickle has no STOP")


def _as(value, kind, opcode: str):
    if not isinstance(value, kind):
        raise ObjectKeyError(f"malformed pickle ({opcode} on a {type(value).__name__})")
    return value


def _pairs(target: dict, items: list) -> dict:
    if len(items) % 2:
        raise ObjectKeyError("malformed pickle (odd dict items)")
    if len(target) + len(items) // 2 > MAX_DICT:
        raise ObjectKeyError(f"dict with more than {MAX_DICT} entries")
    for key, value in zip(items[::2], items[1::2]):
        if not isinstance(key, (str, bytes, int, float, bool)) or key is None:
            raise ObjectKeyError("dict key is not a string")
        target[key] = value
    return target


# -- matching the decoded stream against the format -------------------------------------------------------
def _dtype_code(call) -> Tuple[str, str]:
    """(type code, byte order) of a dtype record ``dtype('f8', False, True)`` with its BUILD state."""
    if not (isinstance(call, _Call) and call.func.kind == "dtype" and len(call.args) >= 1):
        raise ObjectKeyError("expected a dtype")
    code = call.args[0]
    if isinstance(code, bytes):
        code = code.decode("latin-1")
    if not isinstance(code, str):
        raise ObjectKeyError("malformed dtype")
    order = "|"
    state = call.state
    if state is not None:
        # (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
        if not (isinstance(state, tuple) and len(state) >= 8 and isinstance(state[1], (str, bytes))
                and state[2] is None and state[3] is None and state[4] is None):
            raise ObjectKeyError("dtype with fields, subarrays or an unknown state")
        order = state[1].decode("latin-1") if isinstance(state[1], bytes) else state[1]
    return code, order


_STRUCT = {"f2": "e", "f4": "f", "f8": "d", "i1": "b", "i2": "h", "i4": "i", "i8": "q",
           "u1": "B", "u2": "H", "u4": "I", "u8": "Q", "b1": "?"}


def _scalar(call: _Call) -> float:
    """A NumPy scalar record ``scalar(dtype, raw bytes)`` of a real type, decoded with struct."""
    if len(call.args) != 2:
        raise ObjectKeyError("malformed NumPy scalar")
    code, order = _dtype_code(call.args[0])
    raw = _bytes(call.args[1])
    fmt = _STRUCT.get(code)
    if fmt is None or not isinstance(raw, bytes) or len(raw) != struct.calcsize(fmt):
        raise ObjectKeyError(f"NumPy scalar of type {code[:16]!r} is not a real number")
    if order not in ("<", ">", "|", "="):
        raise ObjectKeyError("NumPy scalar with an unknown byte order")
    return float(struct.unpack((">" if order == ">" else "<") + fmt, raw)[0])


def _bytes(value):
    """Raw bytes as the protocols write them: bytes, a Python 2 str, or (protocol < 3 under Python 3)
    ``_codecs.encode(text, 'latin1')``, evaluated here by str.encode."""
    if isinstance(value, _Call) and value.func.kind == "encode":
        if not (len(value.args) == 2 and isinstance(value.args[0], str) and value.args[1] in ("latin1", "latin-1")):
            raise ObjectKeyError("malformed bytes")
        return value.args[0].encode("latin-1")
    if isinstance(value, str):
        return value.encode("latin-1")
    return value


def _number(value) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int):
        return float(value) if abs(value) < 2 ** 1024 else math.inf
    if isinstance(value, float):
        return value
    if isinstance(value, _Call) and value.func.kind == "scalar":
        return _scalar(value)
    raise ObjectKeyError(f"a {type(value).__name__.lstrip('_')} where a number belongs")


def _text(value) -> str:
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise ObjectKeyError("a string is not UTF-8") from None
    if not isinstance(value, str) or len(value) > MAX_STR:
        raise ObjectKeyError("expected a string")
    return value


def _item(value):
    """One array item: None, str, a real number or a dict of str -> float (the shapes of the format)."""
    if value is None:
        return None
    if isinstance(value, _Call) and value.func.kind == "encode":
        value = _bytes(value)
    if isinstance(value, (str, bytes)):
        return _text(value)
    if isinstance(value, dict):
        return {_text(k): _number(v) for k, v in value.items()}
    if isinstance(value, (bool, int, float, _Call)):
        return _number(value)
    raise ObjectKeyError(f"an item is a {type(value).__name__}, not None, a string, a number or a dict of numbers")


def decode_object_array(data: bytes, count: int) -> List[Any]:
    """The ``count`` items of a pickled object array (``np.save`` format), as plain Python values.

    Raises :class:`ObjectKeyError` for anything but the shapes described in the module docstring.
    """
    if len(data) > MAX_STREAM_BYTES:
        raise ObjectKeyError(f"pickle of {len(data)} bytes (the format's object keys take a few hundred)")
    if count > MAX_ITEMS:
        raise ObjectKeyError(f"object array of {count} items (the format's object keys hold one)")
    try:
        top = _run(data)
    except ObjectKeyError:
        raise
    except (ValueError, IndexError, KeyError, TypeError, EOFError, OverflowError, UnicodeDecodeError,
            RecursionError, MemoryError) as exc:  # genops on malformed or truncated streams, stack underflow
        raise ObjectKeyError(f"malformed pickle ({type(exc).__name__})") from None
    # _reconstruct(ndarray, (0,), b'b') with state (1, shape, dtype, fortran, [items])
    if not (isinstance(top, _Call) and top.func.kind == "reconstruct" and top.args
            and isinstance(top.args[0], _Global) and top.args[0].kind == "ndarray"):
        raise ObjectKeyError("not a pickled NumPy array")
    state = top.state
    if not (isinstance(state, tuple) and len(state) == 5 and isinstance(state[1], tuple)):
        raise ObjectKeyError("NumPy array without its state")
    code, _ = _dtype_code(state[2])
    if not code.startswith("O"):
        raise ObjectKeyError(f"array of dtype {code[:16]!r} where an object array belongs")
    items = state[4]
    if not isinstance(items, list) or len(items) != count:
        raise ObjectKeyError(f"object array with {len(items) if isinstance(items, list) else 'no'} items, "
                             f"its header says {count}")
    return [_item(v) for v in items]
