"""ctypes types with the layout of BTF types.

A BTF type is first *described* (``Scalar``, ``Array``, ``Record``); the
description is then *built* into ctypes classes at run time (``Btf.ctype``) or
written out as Python source (``bpfman gen python``), so both give the same
layout. A record keeps C's natural alignment when ctypes lays it out as BTF
says; otherwise (packed or over-aligned C types) it is packed with explicit
``_padN`` byte fields so that every field still sits at its BTF offset. Every
record is checked against its BTF size and offsets when described.

Refused, with a ``BpfError`` naming the type and field: bitfields, incomplete
types (forward declarations, void), 128-bit integers and ``long double``.
"""

from __future__ import annotations

import ctypes
import keyword
import re
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bpfman.btf import (
    _MODIFIERS,
    KIND_ARRAY,
    KIND_ENUM,
    KIND_ENUM64,
    KIND_FLOAT,
    KIND_FWD,
    KIND_INT,
    KIND_PTR,
    KIND_STRUCT,
    KIND_UNION,
    Btf,
    BtfType,
    Member,
)
from bpfman.errors import BpfError

INT_SIGNED = 1
INT_CHAR = 2
INT_BOOL = 4


@dataclass(frozen=True)
class Scalar:
    """A ctypes simple type, by its name in the ``ctypes`` module (``"c_uint32"``)."""

    name: str


@dataclass(frozen=True)
class Array:
    elem: Desc
    length: int


@dataclass(eq=False)
class Record:
    """A struct or union: its Python class name, C name, size and fields in order."""

    name: str
    c_name: str
    union: bool
    size: int
    fields: list[tuple[str, Desc]] = field(default_factory=list)
    anonymous: list[str] = field(default_factory=list)
    packed: bool = False


Desc = Scalar | Array | Record

_FLOATS = {4: "c_float", 8: "c_double"}


def _int_scalar(t: BtfType, what: str) -> Scalar:
    encoding, bit_offset, bits = t.extra
    size = t.size_or_type
    if bit_offset or bits != size * 8:
        raise BpfError(f"{what}: a {bits}-bit integer is a bitfield: bitfields are not supported")
    if encoding & INT_BOOL:
        return Scalar("c_bool")
    if size == 1 and (encoding & INT_CHAR or t.name == "char"):
        return Scalar("c_char")  # char arrays read as bytes
    if size not in (1, 2, 4, 8):
        raise BpfError(f"{what}: {size * 8}-bit integers have no ctypes type")
    return Scalar(f"c_{'' if encoding & INT_SIGNED else 'u'}int{size * 8}")


def _enum_scalar(t: BtfType, what: str) -> Scalar:
    size = t.size_or_type
    if size not in (1, 2, 4, 8):
        raise BpfError(f"{what}: a {size}-byte enum has no ctypes type")
    return Scalar(f"c_{'' if t.kind_flag else 'u'}int{size * 8}")


def py_name(name: str) -> str:
    """A C name as a Python identifier (keywords get a trailing underscore)."""
    name = re.sub(r"\W", "_", name)
    return name + "_" if keyword.iskeyword(name) else name


class Describer:
    """Describes the types of one ``Btf``; a type id is described once."""

    def __init__(self, btf: Btf) -> None:
        self.btf = btf
        self.records: list[Record] = []  # every record described, nested ones first
        self.enums: dict[int, BtfType] = {}  # named enums met, by type id
        self._by_id: dict[int, Desc] = {}
        self._names: set[str] = set()
        self._classes: dict[int, type] = {}  # id(Record) -> built class

    def describe(self, type_id: int, hint: str = "") -> Desc:
        desc = self._by_id.get(type_id)
        if desc is None:
            desc = self._describe(type_id, hint)
            self._by_id[type_id] = desc
        return desc

    def _describe(self, type_id: int, hint: str) -> Desc:
        t = self.btf[type_id]
        what = self.btf.type_name(type_id)
        if t.kind in _MODIFIERS:  # a typedef names the anonymous struct it stands for
            return self.describe(t.size_or_type, t.name or hint)
        if t.kind == KIND_INT:
            return _int_scalar(t, what)
        if t.kind in (KIND_ENUM, KIND_ENUM64):
            if t.name:
                self.enums[t.id] = t
            return _enum_scalar(t, what)
        if t.kind == KIND_FLOAT:
            if t.size_or_type not in _FLOATS:
                raise BpfError(f"{what}: a {t.size_or_type}-byte float has no ctypes type")
            return Scalar(_FLOATS[t.size_or_type])
        if t.kind == KIND_PTR:
            return Scalar("c_uint64")  # an address in the kernel: a number to user space
        if t.kind == KIND_ARRAY:
            elem, _index, length = t.extra
            return Array(self.describe(elem, hint), length)
        if t.kind in (KIND_STRUCT, KIND_UNION):
            return self._record(t, hint)
        if t.kind == KIND_FWD:
            what = f"{'union' if t.kind_flag else 'struct'} {t.name}"
            raise BpfError(f"{what} is an incomplete type (declared, not defined, in this BTF)")
        if t.kind == 0:
            raise BpfError("void is not a data type")
        raise BpfError(f"{what} is a {t.kind_name}, not a data type")

    def reserve(self, names: Iterable[str]) -> None:
        """Names no described type may take (they get a ``_2`` suffix)."""
        self._names.update(names)

    def unique(self, name: str) -> str:
        """*name* as a Python identifier no other type of this BTF has taken."""
        base = py_name(name)
        out, n = base, 1
        while out in self._names:
            n += 1
            out = f"{base}_{n}"
        self._names.add(out)
        return out

    def _record(self, t: BtfType, hint: str) -> Record:
        union = t.kind == KIND_UNION
        c_name = f"{t.kind_name} {t.name or '(anon)'}"
        rec = Record(self.unique(t.name or hint or f"anon_{t.id}"), c_name, union, t.size_or_type)
        placed: list[tuple[str, Desc, int]] = []
        for i, m in enumerate(t.members):
            self._refuse_bitfield(t, m, c_name)
            fname = m.name or f"_anon{i}"
            sub = self.describe(m.type_id, f"{rec.name}_{m.name or f'anon{i}'}")
            if not m.name:
                if not isinstance(sub, Record):
                    raise BpfError(f"{c_name}: unnamed member {i} is not a struct or union")
                rec.anonymous.append(fname)
            placed.append((fname, sub, m.bit_offset // 8))
        rec.fields = [(n, d) for n, d, _ in placed]
        if not self._fits(rec, placed):
            rec.packed = True
            rec.fields = self._padded(rec, placed)
            self._classes.pop(id(rec), None)
            if not self._fits(rec, placed):
                raise BpfError(f"{c_name}: no ctypes layout matches its BTF layout")
        self.records.append(rec)
        return rec

    def _refuse_bitfield(self, t: BtfType, m: Member, c_name: str) -> None:
        bits = m.bitfield_size
        if not bits and not t.kind_flag:
            inner = self.btf.resolve(m.type_id)
            if inner.kind == KIND_INT and inner.extra[2] != inner.size_or_type * 8:
                bits = inner.extra[2]
        if bits or m.bit_offset % 8:
            raise BpfError(
                f"{c_name}: field {m.name or '(anon)'} is a bitfield"
                f" ({bits or '?'} bits): ctypes types from BTF do not support bitfields"
            )

    def _padded(self, rec: Record, placed: list[tuple[str, Desc, int]]) -> list[tuple[str, Desc]]:
        pad = Scalar("c_uint8")
        if rec.union:
            out: list[tuple[str, Desc]] = [(n, d) for n, d, _ in placed]
            if max((ctypes.sizeof(self.build(d)) for _, d, _ in placed), default=0) < rec.size:
                out.append(("_pad0", Array(pad, rec.size)))
            return out
        out, pos, n = [], 0, 0
        for name, desc, offset in sorted(placed, key=lambda p: p[2]):
            if offset > pos:
                out.append((f"_pad{n}", Array(pad, offset - pos)))
                n += 1
            out.append((name, desc))
            pos = offset + ctypes.sizeof(self.build(desc))
        if rec.size > pos:
            out.append((f"_pad{n}", Array(pad, rec.size - pos)))
        return out

    def _fits(self, rec: Record, placed: list[tuple[str, Desc, int]]) -> bool:
        cls = self.build(rec)
        if ctypes.sizeof(cls) != rec.size:
            return False
        return all(getattr(cls, name).offset == offset for name, _, offset in placed)

    def build(self, desc: Desc) -> type:
        """The ctypes type of *desc* (one class per record)."""
        if isinstance(desc, Scalar):
            return getattr(ctypes, desc.name)  # type: ignore[no-any-return]
        if isinstance(desc, Array):
            elem: Any = self.build(desc.elem)
            return elem * desc.length  # type: ignore[no-any-return]
        cls = self._classes.get(id(desc))
        if cls is None:
            base = ctypes.Union if desc.union else ctypes.Structure
            ns: dict[str, object] = {"__doc__": f"{desc.c_name} (from BTF)"}
            if desc.packed:
                ns["_pack_"] = 1
            if desc.anonymous:
                ns["_anonymous_"] = list(desc.anonymous)
            ns["_fields_"] = [(n, self.build(d)) for n, d in desc.fields]
            cls = type(desc.name, (base,), ns)
            self._classes[id(desc)] = cls
        return cls


_describers: weakref.WeakKeyDictionary[Btf, Describer] = weakref.WeakKeyDictionary()


def describer(btf: Btf) -> Describer:
    """The one ``Describer`` of *btf* (classes are shared by every caller)."""
    d = _describers.get(btf)
    if d is None:
        d = _describers[btf] = Describer(btf)
    return d


def ctype_of(btf: Btf, type_id: int) -> type:
    d = describer(btf)
    return d.build(d.describe(type_id))


__all__ = ["Array", "Describer", "Record", "Scalar", "ctype_of", "describer", "py_name"]
