"""Codecs between Python values and the bytes of map keys and values.

A codec converts one key or value at a time through its own buffer (``put``
writes a value into ``buf``, ``get`` reads it back: the path of single
lookups, no allocation) and many at a time through contiguous bytes
(``pack``/``unpack``: the path of batch operations, C-speed conversions).

What a typed view returns, by the ctypes type it was given:

- a simple type (``c_uint32``, ``c_int64``, ``c_double``, ``c_bool``,
  ``c_char``): the Python value (``int``, ``float``, ``bool``, ``bytes``), as
  ctypes itself returns when an array of that type is indexed;
- a ``Structure``, ``Union`` or array type: a new instance (a copy);
- per-CPU maps: a list of those, one per possible CPU.

It accepts the Python value or an instance of the type; structs also take a
tuple of field values, and every type takes ``bytes`` of the exact size.
``make_codec`` checks a ctypes type against the map's BTF first.

Pure Python over ctypes: unit-testable without a kernel.
"""

from __future__ import annotations

import array
import ctypes
import functools
import struct
from collections.abc import Sequence
from typing import Any

from bpfman.btf import Btf, check_ctype
from bpfman.errors import BpfError

# struct/array/memoryview format characters of ctypes' simple types
_INT_FORMATS = "bBhHiIlLqQ"
_FORMATS = _INT_FORMATS + "fd?c"
_ARRAY_FORMATS = _INT_FORMATS + "fd"
_BYTES_LIKE = (bytes, bytearray, memoryview)
_CDATA = (ctypes._SimpleCData, ctypes.Structure, ctypes.Union, ctypes.Array)


def int_range(size: int, signed: bool) -> tuple[int, int]:
    """The integers a *size*-byte (un)signed C integer holds."""
    bits = 8 * size
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


def out_of_range(what: str, value: int, size: int, signed: bool) -> BpfError:
    """The one message for an integer a C integer type cannot hold (globals and typed maps)."""
    lo, hi = int_range(size, signed)
    kind = f"{'s' if signed else 'u'}{8 * size}"
    return BpfError(f"{what}: {value} is out of range for {kind} ({lo}..{hi})")


def int_bytes(value: int, size: int, signed: bool, what: str) -> bytes:
    """*value* as a *size*-byte little-endian C integer, or ``out_of_range``."""
    lo, hi = int_range(size, signed)
    if not lo <= value <= hi:
        raise out_of_range(what, value, size, signed)
    return value.to_bytes(size, "little", signed=signed)


class Codec:
    """Base codec: ``size`` bytes per item, one item at a time through ``buf``."""

    size: int
    buf: Any  # a ctypes object of max(size, 1) bytes
    addr: int  # its address, 0 when size is 0 (keyless maps: NULL)
    what: str

    def put(self, value: Any) -> None:
        raise NotImplementedError

    def get(self) -> Any:
        raise NotImplementedError

    def pack(self, items: Sequence[Any], stride: int) -> bytes:
        """*items* laid out every *stride* (>= size) bytes, zero padded."""
        raise NotImplementedError

    def unpack(self, data: memoryview, count: int, stride: int) -> list[Any]:
        """*count* items found every *stride* bytes of *data* (a byte memoryview)."""
        raise NotImplementedError

    def decode(self, raw: bytes) -> Any:
        return self.unpack(memoryview(raw), 1, self.size)[0]

    def encode(self, value: Any) -> bytes:
        return self.pack([value], self.size)

    def _bytes_of(self, value: Any) -> bytes:
        """*value* as exactly ``size`` bytes when it is bytes-like, else a clear error."""
        if isinstance(value, _BYTES_LIKE):
            raw = bytes(value)
            if len(raw) != self.size:
                raise BpfError(f"{self.what} is {len(raw)} bytes, expected {self.size}")
            return raw
        raise BpfError(f"{self.what}: cannot use a {type(value).__name__} value")


_BLOCK = 1024


@functools.lru_cache(maxsize=64)
def _block(item: str, count: int) -> struct.Struct:
    return struct.Struct("=" + item * count)


def _pad(chunks: list[bytes], size: int, stride: int) -> bytes:
    if stride == size:
        return b"".join(chunks)
    pad = bytes(stride - size)
    return b"".join(c + pad for c in chunks)


def _rows(data: memoryview, count: int, size: int, stride: int) -> bytes:
    """The *count* items of *data* as contiguous bytes (dropping padding)."""
    raw = data[: count * stride].tobytes()
    if stride == size:
        return raw
    return b"".join([raw[o : o + size] for o in range(0, count * stride, stride)])


class BytesCodec(Codec):
    """Untyped: ``bytes`` out; ints (little-endian), bytes or ctypes instances in."""

    def __init__(self, size: int, what: str) -> None:
        self.size = size
        self.what = what
        self.buf = ctypes.create_string_buffer(max(size, 1))
        self.addr = ctypes.addressof(self.buf) if size else 0
        # ints of the common sizes go in through a ctypes view of the buffer: no copy
        uint = {1: ctypes.c_uint8, 2: ctypes.c_uint16, 4: ctypes.c_uint32, 8: ctypes.c_uint64}
        self._int = uint[size].from_buffer(self.buf) if size in uint else None

    def _raw(self, value: Any) -> bytes:
        if type(value) is bytes and len(value) == self.size:
            return value
        if isinstance(value, int):
            try:
                return value.to_bytes(self.size, "little", signed=value < 0)
            except OverflowError:
                raise BpfError(f"{self.what}: {value} does not fit in {self.size} bytes") from None
        if isinstance(value, _CDATA):
            value = bytes(value)
        return self._bytes_of(value)

    def put(self, value: Any) -> None:
        view = self._int
        if view is not None and type(value) is int:
            view.value = value
            if view.value == value:
                return
        self.buf.raw = self._raw(value)  # a C memcpy, size checked by _raw

    def get(self) -> bytes:
        return self.buf.raw  # type: ignore[no-any-return]

    def pack(self, items: Sequence[Any], stride: int) -> bytes:
        return _pad([self._raw(v) for v in items], self.size, stride)

    def unpack(self, data: memoryview, count: int, stride: int) -> list[Any]:
        # struct unpacks a block of items per call: no Python-level loop per item
        item = f"{self.size}s{stride - self.size}x" if stride > self.size else f"{self.size}s"
        block = _block(item, _BLOCK)
        out: list[Any] = []
        full, rest = divmod(count, _BLOCK)
        for i in range(full):
            out += block.unpack_from(data, i * _BLOCK * stride)
        if rest:
            out += _block(item, rest).unpack_from(data, full * _BLOCK * stride)
        return out


class ScalarCodec(Codec):
    """A simple ctypes type: Python values out, Python values or instances in."""

    def __init__(self, ctype: Any, what: str) -> None:
        self.ctype = ctype
        self.size = ctypes.sizeof(ctype)
        self.what = what
        self.buf = ctype()
        self.addr = ctypes.addressof(self.buf)
        fmt = ctype._type_
        native = getattr(ctype, "__ctype_le__", ctype) is ctype
        self._fmt: Any = fmt if native else ""  # memoryview/array format when byte order is native
        self._exact = fmt in _INT_FORMATS  # ctypes truncates silently: check ints round-trip

    def _coerce(self, value: Any) -> Any:
        if isinstance(value, ctypes._SimpleCData):
            return value.value
        if isinstance(value, _BYTES_LIKE):
            return self.ctype.from_buffer_copy(self._bytes_of(value)).value
        raise BpfError(f"{self.what}: cannot use a {type(value).__name__} as {self.ctype.__name__}")

    def put(self, value: Any) -> None:
        buf = self.buf
        try:
            buf.value = value
        except TypeError:
            buf.value = value = self._coerce(value)
        if self._exact and buf.value != value:
            if isinstance(value, int):
                raise out_of_range(self.what, value, self.size, self.ctype._type_.islower())
            raise BpfError(f"{self.what}: {value!r} does not fit in {self.ctype.__name__}")

    def get(self) -> Any:
        return self.buf.value

    def pack(self, items: Sequence[Any], stride: int) -> bytes:
        step = stride // self.size if stride % self.size == 0 else 0
        if self._fmt in _ARRAY_FORMATS and step:
            try:
                if step == 1:
                    return array.array(self._fmt, items).tobytes()
                flat = [0] * (len(items) * step)
                flat[::step] = items
                return array.array(self._fmt, flat).tobytes()
            except (TypeError, OverflowError):
                pass  # ctypes instances, bytes or out-of-range values: one by one below
        chunks = []
        for v in items:
            self.put(v)
            chunks.append(bytes(self.buf))
        return _pad(chunks, self.size, stride)

    def unpack(self, data: memoryview, count: int, stride: int) -> list[Any]:
        size = self.size
        if self._fmt and stride % size == 0:
            view = data[: count * stride].cast(self._fmt)
            step = stride // size
            return (view if step == 1 else view[::step]).tolist()
        rows = _rows(data, count, size, stride)
        return (self.ctype * count).from_buffer_copy(rows)[:]  # type: ignore[no-any-return]


class StructCodec(Codec):
    """A Structure, Union or array type: instances (copies) out; instances, tuples, bytes in."""

    def __init__(self, ctype: Any, what: str) -> None:
        self.ctype = ctype
        self.size = ctypes.sizeof(ctype)
        self.what = what
        self.buf = ctype()
        self.addr = ctypes.addressof(self.buf)

    def _instance(self, value: Any) -> Any:
        if isinstance(value, self.ctype):
            return value
        if isinstance(value, tuple) and not issubclass(self.ctype, ctypes.Array):
            try:
                return self.ctype(*value)
            except (TypeError, ValueError) as e:
                raise BpfError(f"{self.what}: cannot make {self.ctype.__name__}: {e}") from None
        if isinstance(value, (list, tuple)) and issubclass(self.ctype, ctypes.Array):
            return self.ctype(*value)
        return self.ctype.from_buffer_copy(self._bytes_of(value))

    def put(self, value: Any) -> None:
        inst = self._instance(value)  # kept alive until the copy is done
        ctypes.memmove(self.addr, ctypes.addressof(inst), self.size)

    def get(self) -> Any:
        return self.ctype.from_buffer_copy(self.buf)

    def pack(self, items: Sequence[Any], stride: int) -> bytes:
        if (
            stride == self.size
            and isinstance(items, ctypes.Array)
            and getattr(items, "_type_", None) is self.ctype
        ):
            return bytes(items)  # already laid out: (T * n) array
        return _pad([bytes(self._instance(v)) for v in items], self.size, stride)

    def unpack(self, data: memoryview, count: int, stride: int) -> list[Any]:
        rows = _rows(data, count, self.size, stride)
        return (self.ctype * count).from_buffer_copy(rows)[:]  # type: ignore[no-any-return]


class PerCpuCodec(Codec):
    """One value per possible CPU, each in an 8-byte aligned slot: lists out.

    Writes take a list with one value per CPU, or a single value for every CPU.
    """

    def __init__(self, inner: Codec, ncpus: int) -> None:
        self.inner = inner
        self.ncpus = ncpus
        self.slot = (inner.size + 7) // 8 * 8
        self.size = self.slot * ncpus
        self.what = inner.what
        self.buf = ctypes.create_string_buffer(max(self.size, 1))
        self.addr = ctypes.addressof(self.buf)

    def _flat(self, items: Sequence[Any]) -> list[Any]:
        n = self.ncpus
        flat: list[Any] = []
        for v in items:
            if isinstance(v, list) or (
                isinstance(v, tuple) and not isinstance(self.inner, StructCodec)
            ):
                if len(v) != n:
                    raise BpfError(f"{self.what} is per-CPU: give {n} values, got {len(v)}")
                flat.extend(v)
            else:
                flat.extend([v] * n)
        return flat

    def put(self, value: Any) -> None:
        ctypes.memmove(self.addr, self.pack([value], self.size), self.size)

    def get(self) -> list[Any]:
        return self.inner.unpack(memoryview(self.buf).cast("B"), self.ncpus, self.slot)

    def pack(self, items: Sequence[Any], stride: int) -> bytes:
        raw = self.inner.pack(self._flat(items), self.slot)
        return _pad(
            [raw[o : o + self.size] for o in range(0, len(raw), self.size)], self.size, stride
        )

    def unpack(self, data: memoryview, count: int, stride: int) -> list[Any]:
        n = self.ncpus
        if stride == self.size:
            flat = self.inner.unpack(data, count * n, self.slot)
        else:
            flat = self.inner.unpack(
                memoryview(_rows(data, count, self.size, stride)), count * n, self.slot
            )
        return [flat[i : i + n] for i in range(0, count * n, n)]


class NoKeyCodec(Codec):
    """The key of queue and stack maps: none (a NULL pointer); using one is an error."""

    def __init__(self, message: str) -> None:
        self.size = 0
        self.what = message
        self.buf = ctypes.create_string_buffer(1)
        self.addr = 0

    def put(self, value: Any) -> None:
        raise BpfError(self.what)

    def pack(self, items: Sequence[Any], stride: int) -> bytes:
        raise BpfError(self.what)


def _codec_for(ctype: Any, what: str) -> Codec:
    if not isinstance(ctype, type) or not issubclass(ctype, _CDATA):
        raise BpfError(f"{what}: {ctype!r} is not a ctypes type")
    if issubclass(ctype, ctypes._SimpleCData):
        if getattr(ctype, "_type_", "") not in _FORMATS:
            raise BpfError(f"{what}: ctypes type {ctype.__name__} cannot be stored in a map")
        return ScalarCodec(ctype, what)
    return StructCodec(ctype, what)


def make_codec(
    ctype: Any, size: int, btf: Btf | None, type_id: int, what: str, ncpus: int = 0
) -> Codec:
    """The codec of a map's keys or values: bytes when *ctype* is None.

    *ctype* is checked against BTF type *type_id* when the map has BTF (every
    field's name, offset and size), and against *size* always. *ncpus* > 0
    makes a per-CPU value codec.
    """
    if ctype is None:
        codec: Codec = BytesCodec(size, what)
    else:
        codec = _codec_for(ctype, what)
        if btf is not None and type_id:
            check_ctype(btf, type_id, ctype, what)
        if codec.size != size:
            raise BpfError(f"{what}: {ctype.__name__} is {codec.size} bytes, the map's are {size}")
    return PerCpuCodec(codec, ncpus) if ncpus else codec


__all__ = [
    "BytesCodec",
    "Codec",
    "NoKeyCodec",
    "PerCpuCodec",
    "ScalarCodec",
    "StructCodec",
    "make_codec",
]
