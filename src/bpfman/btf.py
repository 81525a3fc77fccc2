"""BTF (BPF Type Format) parsed from its raw bytes, and ctypes checked against it.

Pure Python over the raw blob (``btf__raw_data``), so it is unit-testable
without a kernel. ``check_ctype`` compares a ctypes type with a BTF type:
size, and for structs every field's name, offset and size, recursively
through nested structs, unions and arrays.
"""

from __future__ import annotations

import ctypes
import struct
from dataclasses import dataclass, field

from bpfman.errors import BpfError

BTF_MAGIC = 0xEB9F

KIND_INT = 1
KIND_PTR = 2
KIND_ARRAY = 3
KIND_STRUCT = 4
KIND_UNION = 5
KIND_ENUM = 6
KIND_FWD = 7
KIND_TYPEDEF = 8
KIND_VOLATILE = 9
KIND_CONST = 10
KIND_RESTRICT = 11
KIND_FUNC = 12
KIND_FUNC_PROTO = 13
KIND_VAR = 14
KIND_DATASEC = 15
KIND_FLOAT = 16
KIND_DECL_TAG = 17
KIND_TYPE_TAG = 18
KIND_ENUM64 = 19

KIND_NAMES = {
    0: "void",
    KIND_INT: "int",
    KIND_PTR: "ptr",
    KIND_ARRAY: "array",
    KIND_STRUCT: "struct",
    KIND_UNION: "union",
    KIND_ENUM: "enum",
    KIND_FWD: "fwd",
    KIND_TYPEDEF: "typedef",
    KIND_VOLATILE: "volatile",
    KIND_CONST: "const",
    KIND_RESTRICT: "restrict",
    KIND_FUNC: "func",
    KIND_FUNC_PROTO: "func_proto",
    KIND_VAR: "var",
    KIND_DATASEC: "datasec",
    KIND_FLOAT: "float",
    KIND_DECL_TAG: "decl_tag",
    KIND_TYPE_TAG: "type_tag",
    KIND_ENUM64: "enum64",
}

_MODIFIERS = (KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT, KIND_TYPE_TAG)
# what ``Btf.named`` looks for, in order, and what ``struct x``/``union x``/``enum x`` narrow to
_LOOKUP_ORDER = (
    KIND_STRUCT,
    KIND_UNION,
    KIND_ENUM,
    KIND_ENUM64,
    KIND_TYPEDEF,
    KIND_INT,
    KIND_FLOAT,
    KIND_FWD,
)
_TAGS = {
    "struct": (KIND_STRUCT, KIND_FWD),
    "union": (KIND_UNION, KIND_FWD),
    "enum": (KIND_ENUM, KIND_ENUM64),
}


@dataclass
class Member:
    name: str
    type_id: int
    bit_offset: int
    bitfield_size: int = 0


@dataclass
class BtfType:
    id: int
    kind: int
    name: str
    size_or_type: int
    vlen: int
    kind_flag: bool
    members: list[Member] = field(default_factory=list)  # struct/union/datasec(var id)
    # int: (encoding, bit offset, bits); array: (elem type, index type, nelems)
    extra: tuple[int, ...] = ()
    # datasec entries: (var type id, offset, size)
    vars: list[tuple[int, int, int]] = field(default_factory=list)
    # enum/enum64: (name, value) of each enumerator
    enumerators: list[tuple[str, int]] = field(default_factory=list)

    @property
    def kind_name(self) -> str:
        return KIND_NAMES.get(self.kind, str(self.kind))

    def describe(self) -> str:
        return f"{self.kind_name} {self.name}".strip() if self.name else self.kind_name


@dataclass
class Variable:
    """A global variable found in a data section."""

    name: str
    section: str
    offset: int
    size: int
    type_id: int


class Btf:
    """Types of one BTF blob, by id (id 0 is void)."""

    def __init__(self, raw: bytes) -> None:
        if len(raw) < 24:
            raise BpfError("BTF data too short")
        magic, _version, _flags, hdr_len = struct.unpack_from("<HBBI", raw, 0)
        if magic != BTF_MAGIC:
            raise BpfError("not BTF data (bad magic)")
        type_off, type_len, str_off, str_len = struct.unpack_from("<IIII", raw, 8)
        self._strings = raw[hdr_len + str_off : hdr_len + str_off + str_len]
        self.types: list[BtfType] = [BtfType(0, 0, "", 0, 0, False)]
        self._parse(raw[hdr_len + type_off : hdr_len + type_off + type_len])
        self._by_name: dict[str, list[BtfType]] = {}
        for t in self.types:
            if t.name:
                self._by_name.setdefault(t.name, []).append(t)

    def _str(self, off: int) -> str:
        end = self._strings.find(b"\0", off)
        return self._strings[off:end].decode(errors="replace")

    def _parse(self, data: bytes) -> None:
        pos = 0
        tid = 1
        while pos + 12 <= len(data):
            name_off, info, size_or_type = struct.unpack_from("<III", data, pos)
            pos += 12
            vlen = info & 0xFFFF
            kind = (info >> 24) & 0x1F
            kflag = bool(info >> 31)
            t = BtfType(tid, kind, self._str(name_off), size_or_type, vlen, kflag)
            if kind == KIND_INT:
                (v,) = struct.unpack_from("<I", data, pos)
                t.extra = ((v >> 24) & 0xF, (v >> 16) & 0xFF, v & 0xFF)
                pos += 4
            elif kind == KIND_ARRAY:
                t.extra = struct.unpack_from("<III", data, pos)
                pos += 12
            elif kind in (KIND_STRUCT, KIND_UNION):
                for _ in range(vlen):
                    m_name, m_type, m_off = struct.unpack_from("<III", data, pos)
                    pos += 12
                    if kflag:
                        member = Member(self._str(m_name), m_type, m_off & 0xFFFFFF, m_off >> 24)
                        t.members.append(member)
                    else:
                        t.members.append(Member(self._str(m_name), m_type, m_off))
            elif kind == KIND_ENUM:
                fmt = "<Ii" if kflag else "<II"  # kind_flag: signed values
                for _ in range(vlen):
                    e_name, e_val = struct.unpack_from(fmt, data, pos)
                    t.enumerators.append((self._str(e_name), e_val))
                    pos += 8
            elif kind == KIND_ENUM64:
                for _ in range(vlen):
                    e_name, lo, hi = struct.unpack_from("<III", data, pos)
                    value = hi << 32 | lo
                    if kflag and value >= 1 << 63:
                        value -= 1 << 64
                    t.enumerators.append((self._str(e_name), value))
                    pos += 12
            elif kind == KIND_FUNC_PROTO:
                pos += 8 * vlen
            elif kind in (KIND_VAR, KIND_DECL_TAG):
                pos += 4
            elif kind == KIND_DATASEC:
                for _ in range(vlen):
                    t.vars.append(struct.unpack_from("<III", data, pos))
                    pos += 12
            self.types.append(t)
            tid += 1

    # ------------------------------------------------------------------ queries

    def __getitem__(self, type_id: int) -> BtfType:
        return self.types[type_id]

    def find(self, name: str, kind: int | None = None) -> BtfType | None:
        for t in self._by_name.get(name, ()):
            if kind is None or t.kind == kind:
                return t
        return None

    def named(self, name: str) -> BtfType:
        """The type a C programmer means by *name*: ``"exec_event"``, ``"struct exec_event"``,
        ``"u32"``, ``"enum color"`` (structs, unions and enums before typedefs and ints)."""
        words = name.split()
        kinds: tuple[int, ...] = _LOOKUP_ORDER
        if len(words) == 2 and words[0] in _TAGS:
            kinds, name = _TAGS[words[0]], words[1]
        for kind in kinds:
            t = self.find(name, kind)
            if t is not None:
                return t
        raise BpfError(f"no type named {name!r} in this BTF")

    def ctype(self, name: str | int) -> type:
        """A ctypes type with the layout of the BTF type *name* (or type id).

        Structs and unions become ``ctypes.Structure``/``Union`` classes (nested
        types and arrays included, padding and packing as in BTF), enums and
        ints the ctypes integer of their size and sign, pointers ``c_uint64``
        (an address in the kernel), typedefs what they name. Bitfields and
        incomplete types raise ``BpfError``. The same type gives the same class.
        """
        from bpfman import btfctypes

        t = self[name] if isinstance(name, int) else self.named(name)
        return btfctypes.ctype_of(self, t.id)

    def resolve(self, type_id: int) -> BtfType:
        """The type behind typedefs and qualifiers."""
        t = self.types[type_id]
        while t.kind in _MODIFIERS:
            t = self.types[t.size_or_type]
        return t

    def size_of(self, type_id: int) -> int:
        t = self.resolve(type_id)
        if t.kind in (KIND_INT, KIND_STRUCT, KIND_UNION, KIND_ENUM, KIND_ENUM64, KIND_FLOAT):
            return t.size_or_type
        if t.kind == KIND_DATASEC:
            return t.size_or_type
        if t.kind == KIND_PTR:
            return 8
        if t.kind == KIND_ARRAY:
            return t.extra[2] * self.size_of(t.extra[0])
        if t.kind == KIND_VAR:
            return self.size_of(t.size_or_type)
        return 0

    def is_signed(self, type_id: int) -> bool:
        t = self.resolve(type_id)
        return t.kind == KIND_INT and bool(t.extra[0] & 1)

    def type_name(self, type_id: int) -> str:
        t = self.types[type_id]
        if t.kind in _MODIFIERS and not t.name:
            return self.type_name(t.size_or_type)
        if t.kind == KIND_ARRAY:
            return f"{self.type_name(t.extra[0])}[{t.extra[2]}]"
        if t.kind == KIND_PTR:
            return f"{self.type_name(t.size_or_type)} *"
        if t.kind in (KIND_STRUCT, KIND_UNION, KIND_ENUM) and t.name:
            return f"{t.kind_name} {t.name}"
        return t.name or t.kind_name

    def variables(self) -> list[Variable]:
        """Every global variable of every data section (.data, .rodata, .bss, ...)."""
        out: list[Variable] = []
        for t in self.types:
            if t.kind != KIND_DATASEC:
                continue
            for var_id, offset, size in t.vars:
                var = self.types[var_id]
                if var.kind != KIND_VAR:
                    continue
                out.append(Variable(var.name, t.name, offset, size, var.size_or_type))
        return out


# ---------------------------------------------------------------------- ctypes checks


def check_ctype(btf: Btf, type_id: int, ctype: type, what: str) -> None:
    """Raise ``BpfError`` if *ctype* does not have the layout of BTF type *type_id*."""
    problem = _mismatch(btf, type_id, ctype, ctype.__name__)
    if problem:
        target = btf.type_name(type_id)
        raise BpfError(f"{what} {ctype.__name__} does not match BTF {target}: {problem}")


def _mismatch(btf: Btf, type_id: int, ctype: type, path: str) -> str:
    t = btf.resolve(type_id)
    want = btf.size_of(type_id)
    have = ctypes.sizeof(ctype)
    if want != have:
        return f"{path} is {have} bytes, BTF {btf.type_name(type_id)} is {want}"
    if t.kind in (KIND_STRUCT, KIND_UNION):
        fields = getattr(ctype, "_fields_", None)
        if fields is None:
            return ""  # a plain byte-compatible type of the right size
        bmembers = [m for m in t.members if m.name]
        bnames = {m.name for m in bmembers}
        # ctypes fields named _x that BTF does not have are padding or private
        cfields = [f for f in fields if f[0] in bnames or not f[0].startswith("_")]
        if [f[0] for f in cfields] != [m.name for m in bmembers]:
            return (
                f"{path} has fields {[f[0] for f in cfields]}, BTF has {[m.name for m in bmembers]}"
            )
        for f, m in zip(cfields, bmembers, strict=True):
            desc = getattr(ctype, f[0])
            sub = f"{path}.{f[0]}"
            if m.bitfield_size:
                continue
            if m.bit_offset % 8 == 0 and desc.offset != m.bit_offset // 8:
                return f"{sub} is at offset {desc.offset}, BTF at {m.bit_offset // 8}"
            problem = _mismatch(btf, m.type_id, f[1], sub)
            if problem:
                return problem
        return ""
    if t.kind == KIND_ARRAY:
        elem_t, _idx, nelems = t.extra
        length = getattr(ctype, "_length_", None)
        elem_c = getattr(ctype, "_type_", None)
        if length is None or not isinstance(elem_c, type):
            return ""  # e.g. c_char * n vs char[n]: the size check suffices
        if length != nelems:
            return f"{path} has {length} elements, BTF has {nelems}"
        return _mismatch(btf, elem_t, elem_c, f"{path}[]")
    return ""
