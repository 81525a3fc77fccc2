"""ctypes classes made from BTF (``Btf.ctype``, ``Map.typed()``, ``RingBuffer.add(event="x")``).

Layouts are checked against bpftool's own reading of the BTF (not our parser),
and against where the compiled program finds the fields (PROG_TEST_RUN).
"""

from __future__ import annotations

import ctypes
import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

import bpfman
from bpfman import BpfError
from bpfman.btf import check_ctype
from bpfman.object import ObjectSpec

PKT = bytes(64)


@pytest.fixture
def spec(bpf_obj) -> Iterator[ObjectSpec]:
    with bpfman.open(bpf_obj("btftypes")) as s:
        yield s


def bpftool_types(path: str) -> dict[int, dict[str, Any]]:
    out = subprocess.run(
        ["bpftool", "-j", "btf", "dump", "file", path], capture_output=True, text=True, check=True
    ).stdout
    return {t["id"]: t for t in json.loads(out)["types"]}


def _size(types: dict[int, dict[str, Any]], tid: int) -> int:
    t = types[tid]
    if t["kind"] in ("TYPEDEF", "CONST", "VOLATILE", "RESTRICT"):
        return _size(types, t["type_id"])
    if t["kind"] == "ARRAY":
        return int(t["nr_elems"]) * _size(types, t["type_id"])
    if t["kind"] == "PTR":
        return 8
    return int(t["size"])


def _resolved(types: dict[int, dict[str, Any]], tid: int) -> dict[str, Any]:
    t = types[tid]
    while t["kind"] in ("TYPEDEF", "CONST", "VOLATILE", "RESTRICT"):
        t = types[t["type_id"]]
    return t


def assert_layout(types: dict[int, dict[str, Any]], tid: int, cls: Any, path: str) -> int:
    """Every named member at bpftool's offset with bpftool's size, recursively; returns a count."""
    t = _resolved(types, tid)
    assert ctypes.sizeof(cls) == _size(types, tid), path
    checked = 1
    if t["kind"] == "ARRAY" and t["nr_elems"]:
        checked += assert_layout(types, t["type_id"], cls._type_, path + "[]")
    for m in t.get("members", ()):
        if m["name"] == "(anon)":  # anonymous: its members are reached through the outer class
            sub = _resolved(types, m["type_id"])
            for inner in sub["members"]:
                desc = getattr(cls, inner["name"])
                assert desc.offset * 8 == m["bits_offset"] + inner["bits_offset"], path
            continue
        desc = getattr(cls, m["name"])
        assert desc.offset * 8 == m["bits_offset"], f"{path}.{m['name']}"
        assert desc.size == _size(types, m["type_id"]), f"{path}.{m['name']}"
        field = dict(cls._fields_)[m["name"]]
        checked += assert_layout(types, m["type_id"], field, f"{path}.{m['name']}")
    return checked


def test_ctype_layouts_match_bpftool(spec, bpf_obj) -> None:
    types = bpftool_types(bpf_obj("btftypes"))
    btf = spec.btf
    assert btf is not None
    checked = 0
    for name in ("zoo", "holder", "value", "packed_rec", "aligned_rec", "point", "pair16_t"):
        tid = btf.named(name).id
        cls = btf.ctype(name)
        checked += assert_layout(types, tid, cls, name)
        check_ctype(btf, tid, cls, name)  # and what typed views check
    assert checked > 40


def test_ctype_shapes(spec) -> None:
    btf = spec.btf
    zoo = btf.ctype("zoo")
    assert btf.ctype("struct zoo") is zoo and btf.ctype(btf.named("zoo").id) is zoo
    z = zoo()
    z.word = 0x01020304  # the anonymous union's members are the zoo's
    assert list(z.bytes) == [4, 3, 2, 1]
    z.name = b"abcde"
    assert z.name == b"abcde" and zoo.name.size == 5  # char arrays are bytes
    assert zoo.stamp.offset == 8 and zoo.tail.offset == 132 and ctypes.sizeof(zoo) == 136
    z.corners[1][2].y = -5
    assert z.corners[1][2].y == -5 and len(z.corners) == 2 and len(z.corners[0]) == 3
    assert dict(zoo._fields_)["ptr"] is ctypes.c_uint64  # a kernel address is a number
    assert dict(zoo._fields_)["ratio"] is ctypes.c_double
    assert dict(zoo._fields_)["flag"] is ctypes.c_bool
    assert dict(zoo._fields_)["small"] is ctypes.c_int8
    assert btf.ctype("color") is ctypes.c_uint32 and btf.ctype("enum big") is ctypes.c_uint64
    assert btf.ctype("__u32") is ctypes.c_uint32
    pair = btf.ctype("pair16_t")  # a typedef names the anonymous struct behind it
    assert pair.__name__ == "pair16_t"
    assert dict(dict(zoo._fields_)["nested"]._fields_)["pair"] is pair
    packed = btf.ctype("packed_rec")
    assert ctypes.sizeof(packed) == 11 and packed.b.offset == 1 and packed.c.offset == 9
    holder = btf.ctype("holder")
    assert holder.al.offset == 32 and holder.last.offset == 64 and ctypes.sizeof(holder) == 96


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("with_bits", "struct with_bits: field a is a bitfield (3 bits)"),
        ("task_struct", "struct task_struct is an incomplete type"),
        ("nope", "no type named 'nope'"),
        ("copy_fields", "no type named 'copy_fields'"),
    ],
)
def test_ctype_refusals_are_clear(spec, name: str, message: str) -> None:
    with pytest.raises(BpfError, match=message.replace("(", r"\(").replace(")", r"\)")):
        spec.btf.ctype(name)


def test_typed_without_types_uses_btf_and_the_program_agrees(bpf_obj) -> None:
    with bpfman.load(bpf_obj("btftypes")) as obj:
        values = obj.maps["values"].typed()
        point, value = values.key_type, values.value_type
        assert (point.__name__, value.__name__) == ("point", "value")
        v = value()
        v.pt.y = -7
        v.u.halves[1] = 0xABCD
        v.p.b = 0x1122334455667788
        v.p.c = 0x3344
        v.after_packed = 0x5A
        v.grid[1][2] = 0x6B
        values[point(1, -2)] = v
        assert values[point(1, -2)].p.b == 0x1122334455667788
        obj.programs["copy_fields"].test_run(PKT)
        seen = obj.maps["seen"].typed()
        assert seen.key_type is ctypes.c_uint32 and seen.value_type is ctypes.c_uint64
        assert [seen[i] for i in range(6)] == [
            (-7) & (2**64 - 1), 0xABCD, 0x1122334455667788, 0x3344, 0x5A, 0x6B,
        ]  # fmt: skip
        raw = obj.maps["seen"].typed(value=None)  # None keeps bytes, the key is still typed
        assert raw[0] == (2**64 - 7).to_bytes(8, "little") and raw.key_type is ctypes.c_uint32


def test_typed_without_btf_keeps_bytes() -> None:
    with bpfman.Map.create(bpfman.MapType.HASH, 4, 8, 4) as m:
        t = m.typed()
        t[b"abcd"] = b"12345678"
        assert t.key_type is None and t[b"abcd"] == b"12345678"
