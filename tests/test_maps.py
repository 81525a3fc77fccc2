"""Maps: dict access, typed views checked against BTF, per-CPU, batches, queues, pins."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from ctypes import c_char, c_uint8, c_uint16, c_uint32, c_uint64

import pytest

import bpfman
from bpfman._libbpf import bpf_map_batch_opts, lib, opts
from bpfman.errors import ENOTSUPP
from bpfman.kinds import MapType
from bpfman.map import BPF_EXIST, BPF_NOEXIST, Map, possible_cpus
from bpfman.typed import BytesCodec, PerCpuCodec, ScalarCodec, StructCodec


class Inner(ctypes.Structure):
    _fields_ = [("x", c_uint64), ("ports", c_uint16 * 4)]


class Conf(ctypes.Structure):
    _fields_ = [
        ("id", c_uint32),
        ("flags", c_uint8),
        ("limit", c_uint32),
        ("in", Inner),
        ("tag", c_char * 6),
    ]


class Pair(ctypes.Structure):
    _fields_ = [("a", c_uint32), ("b", c_uint32)]


@pytest.fixture
def obj(bpf_obj) -> Iterator[bpfman.Object]:
    with bpfman.load(bpf_obj("maps")) as o:
        yield o


# ---------------------------------------------------------------------- typed views


def test_typed_scalar_view_is_dict_like(obj) -> None:
    counts = obj.maps["counts"].typed(key=ctypes.c_uint32, value=ctypes.c_uint64)
    counts[0] = 10
    counts[c_uint32(7)] = c_uint64(70)  # ctypes instances work as well as ints
    assert counts[0] == 10 and counts[7] == 70
    assert isinstance(counts[0], int)
    assert counts.get(3) is None and counts.get(3, -1) == -1
    assert 7 in counts and 3 not in counts
    assert dict(counts.items()) == {0: 10, 7: 70}
    keys, values = counts.lookup_batch()
    assert dict(zip(keys, values, strict=True)) == {0: 10, 7: 70}
    assert sorted(counts) == [0, 7] and sorted(counts.values()) == [10, 70]
    assert len(counts) == 2
    del counts[7]
    with pytest.raises(KeyError):
        counts[7]
    with pytest.raises(KeyError):
        del counts[7]
    # the untyped map sees the same bytes
    assert obj.maps["counts"][0] == (10).to_bytes(8, "little")
    with pytest.raises(
        bpfman.BpfError, match=r"4294967296 is out of range for u32 \(0..4294967295\)"
    ):
        counts[1 << 32] = 1
    with pytest.raises(bpfman.BpfError, match="cannot use a str"):
        counts["zero"] = 1


def test_update_flags(obj) -> None:
    counts = obj.maps["counts"].typed(ctypes.c_uint32, ctypes.c_uint64)
    counts.update(1, 5, BPF_NOEXIST)
    with pytest.raises(bpfman.BpfError, match="exists") as e:
        counts.update(1, 6, BPF_NOEXIST)
    assert e.value.errno == 17
    with pytest.raises(bpfman.BpfError, match="does not exist"):
        counts.update(2, 6, BPF_EXIST)
    counts.update(1, 7, BPF_EXIST)
    counts[3] = 3  # the flags do not stick to later writes
    assert dict(counts.items()) == {1: 7, 3: 3}


def test_typed_struct_view_nested_struct_and_arrays(obj) -> None:
    settings = obj.maps["settings"].typed(key=ctypes.c_uint32, value=Conf)
    conf = Conf(id=1, flags=2, limit=3, tag=b"hello")
    setattr(conf, "in", Inner(x=1 << 40, ports=(c_uint16 * 4)(80, 443, 8080, 0)))
    settings[1] = conf
    got = settings[1]
    assert isinstance(got, Conf) and got is not conf
    assert (got.id, got.flags, got.limit, got.tag) == (1, 2, 3, b"hello")
    assert getattr(got, "in").x == 1 << 40 and list(getattr(got, "in").ports) == [80, 443, 8080, 0]
    assert settings[0].limit == 0  # arrays hold every index
    assert len(settings) == 2
    keys, values = settings.lookup_batch()
    assert keys == [0, 1] and values[1].limit == 3
    settings[0] = (9, 0, 4)  # a tuple of field values
    assert settings[0].id == 9 and settings[0].limit == 4
    with pytest.raises(bpfman.BpfError, match="cannot be deleted"):
        del settings[0]
    with pytest.raises(bpfman.BpfError, match="index 2 >= max_entries 2"):
        settings[2] = conf
    with pytest.raises(KeyError):
        settings[2]
    pairs = obj.maps["pairs"].typed(key=Pair, value=Pair)
    pairs[Pair(1, 2)] = Pair(3, 4)
    pairs[(5, 6)] = (7, 8)
    assert (pairs[(1, 2)].a, pairs[(1, 2)].b) == (3, 4)
    assert sorted((k.a, k.b, v.a, v.b) for k, v in pairs.items()) == [(1, 2, 3, 4), (5, 6, 7, 8)]


class _PortsPadded(ctypes.Structure):  # ports as u32[2]: same size, other length
    _fields_ = [("x", c_uint64), ("ports", c_uint32 * 2)]


class _PortRenamed(ctypes.Structure):  # same layout, a field of the nested struct renamed
    _fields_ = [("x", c_uint64), ("port", c_uint16 * 4)]


def _conf_with(**change: object) -> type:
    fields = [
        ("id", c_uint32),
        ("flags", c_uint8),
        ("limit", c_uint32),
        ("in", Inner),
        ("tag", c_char * 6),
    ]
    out: list[tuple[str, object]] = []
    for name, ctype in fields:
        if name in change:
            new = change[name]
            out.extend(new if isinstance(new, list) else [(name, new)])
        else:
            out.append((name, ctype))
    return type("BadConf", (ctypes.Structure,), {"_fields_": out})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            c_uint32,
            r"value of map settings c_uint(32)? does not match BTF struct conf: .* is 4 bytes, BTF",
        ),
        (
            _conf_with(id=[("ident", c_uint32)]),
            r"BadConf has fields \['ident', .*BTF has \['id',",
        ),
        (
            _conf_with(id=[("id", c_uint32), ("_gap", c_uint8 * 4)]),
            r"BadConf\.flags is at offset 8, BTF at 4",
        ),
        (
            _conf_with(**{"in": _PortRenamed}),
            r"BadConf\.in has fields \['x', 'port'\], BTF has \['x', 'ports'\]",
        ),
        (_conf_with(**{"in": _PortsPadded}), r"BadConf\.in\.ports has 2 elements, BTF has 4"),
    ],
    ids=["size", "field-name", "offset", "nested-struct", "array-length"],
)
def test_typed_view_btf_mismatch_names_the_field(obj, value: type, message: str) -> None:
    with pytest.raises(bpfman.BpfError, match=message) as e:
        obj.maps["settings"].typed(key=c_uint32, value=value)
    assert "\n" not in str(e.value)


def test_typed_key_mismatch_and_maps_without_btf(obj) -> None:
    with pytest.raises(bpfman.BpfError, match=r"key of map pairs c_uint(32)? does not match BTF"):
        obj.maps["pairs"].typed(key=c_uint32, value=Pair)
    with Map.create(MapType.HASH, 4, 8, 16) as m:  # no BTF: sizes are checked
        with pytest.raises(bpfman.BpfError, match=r"c_u(int16|short) is 2 bytes, the map's are 4"):
            m.typed(key=c_uint16, value=c_uint64)
        t = m.typed(key=c_uint32, value=Pair)
        t[1] = Pair(2, 3)
        assert t[1].b == 3
    with pytest.raises(bpfman.BpfError, match="not a ctypes type"):
        obj.maps["counts"].typed(key=int, value=c_uint64)


# ---------------------------------------------------------------------- per-CPU


def test_percpu_read_write(obj) -> None:
    n = possible_cpus()
    pcpu = obj.maps["pcpu"].typed(key=c_uint32, value=c_uint64)
    pcpu[0] = 5  # one value for every CPU
    assert pcpu[0] == [5] * n
    pcpu[1] = list(range(10, 10 + n))
    assert pcpu[1] == list(range(10, 10 + n))
    assert obj.maps["pcpu"][1] == [(10 + i).to_bytes(8, "little") for i in range(n)]
    with pytest.raises(bpfman.BpfError, match=f"per-CPU: give {n} values, got {n + 1}"):
        pcpu[2] = [1] * (n + 1)
    keys, values = pcpu.lookup_batch()
    assert keys == [0, 1, 2, 3] and values[0] == [5] * n and values[2] == [0] * n

    pairs = obj.maps["pcpu_pairs"].typed(key=c_uint32, value=Pair)
    pairs[1] = [Pair(i, 2 * i) for i in range(n)]
    pairs[2] = Pair(7, 8)
    assert [(p.a, p.b) for p in pairs[1]] == [(i, 2 * i) for i in range(n)]
    assert [(p.a, p.b) for p in pairs[2]] == [(7, 8)] * n
    pairs.update_batch([3, 4], [Pair(1, 1), [Pair(9, i) for i in range(n)]])
    got = dict(pairs.items())
    assert sorted(got) == [1, 2, 3, 4]
    assert [p.b for p in got[4]] == list(range(n)) and [p.a for p in got[3]] == [1] * n


def test_percpu_u32_values_use_padded_slots() -> None:
    codec = PerCpuCodec(ScalarCodec(c_uint32, "v"), 3)
    assert codec.slot == 8 and codec.size == 24
    raw = codec.pack([[1, 2, 3], 4], codec.size)
    assert raw[:8] == b"\1\0\0\0\0\0\0\0" and len(raw) == 48
    assert codec.unpack(memoryview(raw), 2, codec.size) == [[1, 2, 3], [4, 4, 4]]
    structs = StructCodec(Pair, "v")
    assert [
        p.b for p in structs.unpack(memoryview(structs.pack([(1, 2), Pair(3, 4)], 8)), 2, 8)
    ] == [2, 4]


def test_bytes_codec_unpacks_blocks_and_strides() -> None:
    codec = BytesCodec(3, "v")
    items = [i.to_bytes(3, "little") for i in range(2500)]
    assert codec.unpack(memoryview(codec.pack(items, 3)), 2500, 3) == items
    padded = codec.pack(items, 8)
    assert len(padded) == 8 * 2500 and padded[3:8] == bytes(5)
    assert codec.unpack(memoryview(padded), 2500, 8) == items
    assert codec.decode(b"abc") == b"abc" and codec.encode(0x010203) == b"\3\2\1"
    with pytest.raises(bpfman.BpfError, match="is 2 bytes, expected 3"):
        codec.pack([b"ab"], 3)


# ---------------------------------------------------------------------- batches


def test_batch_ops_on_100k_entries(obj) -> None:
    counts = obj.maps["counts"].typed(key=c_uint32, value=c_uint64)
    n = counts.max_entries
    assert n == 100_000
    keys = list(range(n))
    counts.update_batch(keys, [k * 3 for k in keys])
    got_keys, got_values = counts.lookup_batch()
    assert len(got_keys) == n
    assert dict(zip(got_keys, got_values, strict=True)) == {k: k * 3 for k in keys}
    assert len(counts) == n
    raw_keys, raw_values = obj.maps["counts"].lookup_batch()  # bytes, same order
    assert raw_keys == [k.to_bytes(4, "little") for k in got_keys]
    assert raw_values == [v.to_bytes(8, "little") for v in got_values]
    with pytest.raises(bpfman.BpfError, match="map is full"):
        counts[n] = 1
    counts.delete_batch(keys[: n // 2])
    assert len(counts) == n - n // 2
    assert counts.get(0) is None and counts[n - 1] == (n - 1) * 3
    with pytest.raises(KeyError, match=r"^0$"):
        counts.delete_batch([n - 1, 0])
    assert counts.get(n - 1) is None  # deleted before the missing key
    with pytest.raises(bpfman.BpfError, match="2 keys but 1 values"):
        counts.update_batch([1, 2], [1])


def test_batch_fallback_where_the_kernel_has_none() -> None:
    lo = 1  # ifindex of lo: devmap values must be existing interfaces
    with Map.create(MapType.DEVMAP_HASH, 4, 4, 8) as m:
        # probe: the kernel refuses batch commands on this map type
        kb, vb, tok = (ctypes.create_string_buffer(64) for _ in range(3))
        count = c_uint32(8)
        rc = lib.bpf_map_lookup_batch(m.fd, None, tok, kb, vb, count, opts(bpf_map_batch_opts))
        assert -rc == ENOTSUPP
        t = m.typed(key=c_uint32, value=c_uint32)
        t.update_batch([3, 1, 2], [lo, lo, lo])
        keys, values = t.lookup_batch()
        assert sorted(keys) == [1, 2, 3] and values == [lo] * 3
        t.delete_batch([1, 3])
        assert dict(t.items()) == {2: lo}
        with pytest.raises(KeyError):
            t.delete_batch([1])
        assert t._no_batch == {"lookup", "update", "delete"}


# ---------------------------------------------------------------------- queue, stack, freeze


def test_queue_and_stack(obj) -> None:
    queue = obj.maps["queue"].typed(value=c_uint64)
    for v in (1, 2, 3, 4):
        queue.push(v)
    with pytest.raises(bpfman.BpfError, match=r"map is full \(max_entries 4\)"):
        queue.push(5)
    queue.push(5, overwrite=True)  # drops the oldest
    assert queue.peek() == 2
    assert [queue.pop() for _ in range(4)] == [2, 3, 4, 5]
    with pytest.raises(IndexError, match="pop from empty queue map queue"):
        queue.pop()
    with pytest.raises(IndexError):
        queue.peek()
    with pytest.raises(bpfman.BpfError, match="queue map has no keys"):
        queue[0]
    with pytest.raises(bpfman.BpfError, match="queue map has no keys"):
        queue.lookup_batch()
    stack = obj.maps["stack"]  # untyped: bytes
    stack.push(1)
    stack.push(2)
    assert stack.pop() == (2).to_bytes(4, "little")
    assert stack.pop() == (1).to_bytes(4, "little")
    with pytest.raises(bpfman.BpfError, match="only queue and stack maps push"):
        obj.maps["counts"].push(1)


def test_freeze_makes_user_writes_fail() -> None:
    with Map.create(MapType.ARRAY, 4, 8, 2, name="frz") as m:
        m[0] = 5
        assert not m.frozen
        m.freeze()
        assert m.frozen
        with pytest.raises(bpfman.BpfError, match="map is frozen") as e:
            m[0] = 6
        assert e.value.errno == 1
        assert m[0] == (5).to_bytes(8, "little")  # still readable


def test_closed_map_refuses_access(bpf_obj) -> None:
    with bpfman.load(bpf_obj("maps")) as o:
        counts = o.maps["counts"].typed(c_uint32, c_uint64)
    with pytest.raises(bpfman.BpfError, match="its object is closed"):
        counts[0]
    m = Map.create(MapType.HASH, 4, 4, 4)
    m.close()
    with pytest.raises(bpfman.BpfError, match="is closed"):
        m.get(0)


# ---------------------------------------------------------------------- pins and ids


def test_pin_from_pin_and_from_id_with_typed_views(obj, pin_dir: str) -> None:
    settings = obj.maps["settings"]
    settings.typed(c_uint32, Conf)[1] = Conf(id=42, limit=7)
    path = os.path.join(pin_dir, "settings")
    settings.pin(path)
    with Map.from_pin(path) as again:
        assert again.id == settings.id and again.btf is not None  # BTF from the kernel
        assert again.typed(c_uint32, Conf)[1].id == 42
        with pytest.raises(bpfman.BpfError, match=r"BadConf\.in\.ports has 2 elements"):
            again.typed(c_uint32, _conf_with(**{"in": _PortsPadded}))
    with Map.from_id(settings.id) as by_id:
        assert by_id.typed(c_uint32, Conf)[1].limit == 7
        from_btf = by_id.typed()  # types made from the kernel's copy of the map's BTF
        assert from_btf.value_type.__name__ == "conf" and from_btf[1].limit == 7
    settings.unpin()
    assert not os.path.exists(path)
    with pytest.raises(bpfman.BpfError, match="cannot open pin"):
        Map.from_pin(path)


def test_spec_pin_path_reuses_the_pinned_map(bpf_obj, pin_dir: str) -> None:
    path = os.path.join(pin_dir, "counts")
    spec = bpfman.open(bpf_obj("maps"))
    spec.maps["counts"].pin_path = path
    with spec.load() as first:
        first.maps["counts"].typed(c_uint32, c_uint64)[5] = 55
        first_id = first.maps["counts"].id
    assert os.path.exists(path)  # the pin outlives the object
    spec = bpfman.open(bpf_obj("maps"))
    spec.maps["counts"].pin_path = path
    with spec.load() as second:
        counts = second.maps["counts"].typed(c_uint32, c_uint64)
        assert counts.id == first_id and counts[5] == 55
        counts.unpin()
    assert not os.path.exists(path)


# ---------------------------------------------------------------------- the BPF side


def test_bpf_program_sees_user_writes(obj) -> None:
    n = possible_cpus()
    conf = Conf(limit=1234)
    getattr(conf, "in").x = 0xDEADBEEF
    obj.maps["settings"].typed(c_uint32, Conf)[0] = conf
    obj.maps["pcpu"].typed(c_uint32, c_uint64)[0] = 99  # every CPU: whichever runs it
    obj.maps["queue"].push(4321)
    prog = obj.programs["copy_in"]
    assert prog.test_run(bytes(64)).retval == 2  # XDP_PASS
    seen = obj.maps["seen"].typed(c_uint32, c_uint64)
    assert seen.values() == [0xDEADBEEF, 1234, 99, 4321]
    prog.test_run(bytes(64), repeat=4)
    assert seen[3] == (1 << 64) - 1  # the queue was empty
    runs = obj.maps["pcpu"].typed(c_uint32, c_uint64)[1]
    assert len(runs) == n and sum(runs) == 5  # counted per CPU by the program
    assert obj.maps["stack"].typed(value=c_uint32).pop() == 7  # pushed by the program
