"""Maps: dict-like access to a kernel map held by an fd.

``Map`` speaks bytes: keys and values are given as ``int`` (packed
little-endian to the map's size), ``bytes`` or ctypes instances, and read
back as ``bytes``. ``Map.typed(key=, value=)`` gives a ``TypedMap`` that
converts to and from ctypes types checked against the map's BTF (see
``bpfman.typed`` for what it returns); ``Map.typed()`` makes those types from
the map's BTF key and value types. Both have the same operations:

- ``m[k]``, ``m.get(k)``, ``k in m``, ``m[k] = v``, ``del m[k]``, ``len(m)``,
  iteration, ``keys()``, ``values()``, ``items()`` (snapshots, read in
  batches);
- ``lookup_batch()`` -> ``(keys, values)`` lists, ``update_batch(keys,
  values)``, ``delete_batch(keys)``: the kernel's batch commands, or one
  element at a time where the map type has none;
- per-CPU maps read as a list with one value per possible CPU and take such a
  list, or one value for every CPU;
- queue and stack maps: ``push(v)``, ``pop()``, ``peek()``.

A single lookup is one ``bpf()`` syscall on a prepared attr and reused
buffers. Maps are not thread-safe: use one ``Map`` (or view) per thread.
"""

from __future__ import annotations

import ctypes
import errno as _errno
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from bpfman import _libbpf, _sys
from bpfman._handle import FdHandle
from bpfman._libbpf import lib
from bpfman._sys import (
    BPF_MAP_DELETE_ELEM,
    BPF_MAP_GET_NEXT_KEY,
    BPF_MAP_LOOKUP_AND_DELETE_ELEM,
    BPF_MAP_LOOKUP_ELEM,
    BPF_MAP_UPDATE_ELEM,
    map_elem,
)
from bpfman.btf import Btf
from bpfman.errors import ENOTSUPP, BpfError, from_errno
from bpfman.kinds import PERCPU_MAP_TYPES, MapType, name_of
from bpfman.typed import Codec, NoKeyCodec, make_codec

if TYPE_CHECKING:
    from bpfman.object import Object

BPF_ANY = 0
BPF_NOEXIST = 1
BPF_EXIST = 2
BPF_F_NO_PREALLOC = 1

_NO_BATCH = (ENOTSUPP, _errno.EOPNOTSUPP)  # remembered per map: go one by one from then on
_MAYBE_NO_BATCH = (*_NO_BATCH, _errno.EINVAL)  # kernels without the batch commands
_KEYLESS = (MapType.QUEUE, MapType.STACK)
_ARRAYS = (MapType.ARRAY, MapType.PERCPU_ARRAY)
_BATCH_BYTES = 16 << 20  # keys + values read per batch call, at most


K = TypeVar("K")
V = TypeVar("V")


class _FromBtf:
    def __repr__(self) -> str:
        return "FROM_BTF"


FROM_BTF: Any = _FromBtf()  # typed(): the ctypes type made from the map's BTF key/value type


class _Access:
    """The operations shared by ``Map`` (bytes) and ``TypedMap`` (ctypes), through codecs."""

    name: str
    label: str  # the name, or "#<id>" for a map without one (in messages)
    type: MapType | int
    max_entries: int
    _live: Callable[[], None]  # raises when the map or its object is closed

    def _setup(self, fd: int, key: Codec, value: Codec) -> None:
        self._k = key
        self._v = value
        self._mapfd = fd
        self._attr = _sys.elem_attr(fd, key.addr, value.addr)
        self._attr_del = _sys.elem_attr(fd, key.addr, 0)  # fields past the key must be 0
        self._no_batch: set[str] = set()

    # ------------------------------------------------------------------ single elements

    def __getitem__(self, key: Any) -> Any:
        self._live()
        self._k.put(key)
        err = map_elem(BPF_MAP_LOOKUP_ELEM, self._attr)
        if err:
            raise self._error("lookup in", err, key)
        return self._v.get()

    def get(self, key: Any, default: Any = None) -> Any:
        """The value at *key*, or *default* when there is none (``lookup`` is the same)."""
        self._live()
        self._k.put(key)
        err = map_elem(BPF_MAP_LOOKUP_ELEM, self._attr)
        if err:
            if err == _errno.ENOENT:
                return default
            raise self._error("lookup in", err, key)
        return self._v.get()

    lookup = get

    def __contains__(self, key: object) -> bool:
        return self.get(key, _MISSING) is not _MISSING

    def __setitem__(self, key: Any, value: Any) -> None:
        self._live()
        self._k.put(key)
        self._v.put(value)
        err = map_elem(BPF_MAP_UPDATE_ELEM, self._attr)
        if err:
            raise self._error("update of", err, key)

    def update(self, key: Any, value: Any, flags: int = BPF_ANY) -> None:
        """``m[key] = value`` with BPF_NOEXIST (only create) or BPF_EXIST (only replace)."""
        if not flags:
            self[key] = value
            return
        self._live()
        self._k.put(key)
        self._v.put(value)
        _sys.set_elem_flags(self._attr, flags)
        try:
            err = map_elem(BPF_MAP_UPDATE_ELEM, self._attr)
        finally:
            _sys.set_elem_flags(self._attr, 0)
        if err:
            raise self._error("update of", err, key)

    def __delitem__(self, key: Any) -> None:
        """Delete the element at *key* (``KeyError`` if there is none; ``delete`` is the same)."""
        self._live()
        self._k.put(key)
        err = map_elem(BPF_MAP_DELETE_ELEM, self._attr_del)
        if err:
            raise self._error("delete from", err, key)

    delete = __delitem__

    def _error(self, op: str, err: int, key: Any = None) -> Exception:
        what = f"{op} map {self.label}"
        if err == _errno.ENOENT and op in ("lookup in", "delete from"):
            return KeyError(key)
        if err == _errno.E2BIG and self.type in _ARRAYS:
            return BpfError(f"{what}: index {key!r} >= max_entries {self.max_entries}", errno=err)
        if err == _errno.E2BIG:
            return BpfError(f"{what}: map is full (max_entries {self.max_entries})", errno=err)
        if err == _errno.EEXIST:
            return BpfError(f"{what}: key {key!r} exists (BPF_NOEXIST)", errno=err)
        if err == _errno.ENOENT:
            return BpfError(f"{what}: key {key!r} does not exist (BPF_EXIST)", errno=err)
        writes = ("update of", "delete from", "push to", "pop from")
        if err == _errno.EPERM and op in writes and _frozen(self._mapfd):
            return BpfError(f"{what}: map is frozen (read-only from user space)", errno=err)
        if err == _errno.EINVAL and op == "delete from" and self.type in _ARRAYS:
            return BpfError(f"{what}: elements of array maps cannot be deleted", errno=err)
        if err in _NO_BATCH:  # ENOTSUPP (524) / EOPNOTSUPP: the map type has no such operation
            kind = name_of(MapType, int(self.type))
            hint = " (read it with bpfman.RingBuffer)" if self.type == MapType.RINGBUF else ""
            if self.type == MapType.PERF_EVENT_ARRAY:
                hint = " (read it with bpfman.PerfBuffer)"
            return BpfError(
                f"{what}: a {kind} map has no {op.split()[0]} operation{hint}", errno=err
            )
        return from_errno(what, err)

    # ------------------------------------------------------------------ whole map

    def keys(self) -> list[Any]:
        """Every key, read in batches (a snapshot)."""
        return self.lookup_batch()[0]

    def values(self) -> list[Any]:
        """Every value, read in batches (a snapshot)."""
        return self.lookup_batch()[1]

    def items(self) -> Iterator[tuple[Any, Any]]:
        """Every (key, value), read in batches: an iterator over a snapshot."""
        keys, values = self.lookup_batch()
        return zip(keys, values, strict=True)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.keys())

    def __len__(self) -> int:
        if self.type in _ARRAYS:
            return self.max_entries  # every index exists
        return len(self.keys())

    # ------------------------------------------------------------------ batches

    def lookup_batch(self) -> tuple[list[Any], list[Any]]:
        """Every key and value, as two lists in the same order (``dict(zip(*m.lookup_batch()))``).

        One ``BPF_MAP_LOOKUP_BATCH`` per up to 16 MiB of entries; map types
        without it are read key by key (``BPF_MAP_GET_NEXT_KEY``).
        """
        self._live()
        if self.type in _KEYLESS:
            self._k.put(None)  # raises: no keys
        if "lookup" not in self._no_batch:
            got = self._lookup_batch_kernel()
            if got is not None:
                return got
        return self._lookup_one_by_one()

    def _lookup_batch_kernel(self) -> tuple[list[Any], list[Any]] | None:
        ks, vs = self._k.size, self._v.size
        chunk = max(1, min(self.max_entries, _BATCH_BYTES // (ks + vs)))
        kbuf = ctypes.create_string_buffer(chunk * ks)
        vbuf = ctypes.create_string_buffer(chunk * vs)
        token = ctypes.create_string_buffer(max(ks, 8))
        count = ctypes.c_uint32()
        o = _libbpf.opts(_libbpf.bpf_map_batch_opts)
        keys: list[Any] = []
        values: list[Any] = []
        first = True
        while True:
            count.value = chunk
            rc = lib.bpf_map_lookup_batch(
                self._mapfd, None if first else token, token, kbuf, vbuf, count, o
            )
            err = -rc if rc < 0 else 0
            got = count.value if err in (0, _errno.ENOENT) else 0
            if got:
                keys += self._k.unpack(memoryview(kbuf).cast("B"), got, ks)
                values += self._v.unpack(memoryview(vbuf).cast("B"), got, vs)
            if err == _errno.ENOENT:
                return keys, values
            if err == _errno.ENOSPC:  # one hash bucket holds more than a chunk
                chunk *= 2
                kbuf = ctypes.create_string_buffer(chunk * ks)
                vbuf = ctypes.create_string_buffer(chunk * vs)
                continue
            if err in _MAYBE_NO_BATCH and first:
                if err in _NO_BATCH:
                    self._no_batch.add("lookup")
                return None
            if err:
                raise from_errno(f"batch lookup in map {self.label}", err)
            first = False

    def _raw_keys(self) -> list[bytes]:
        """Every key's bytes, by BPF_MAP_GET_NEXT_KEY."""
        ks = self._k.size
        cur = ctypes.create_string_buffer(max(ks, 1))
        nxt = ctypes.create_string_buffer(max(ks, 1))
        first = _sys.elem_attr(self._mapfd, 0, ctypes.addressof(nxt))
        step = _sys.elem_attr(self._mapfd, ctypes.addressof(cur), ctypes.addressof(nxt))
        out: list[bytes] = []
        err = map_elem(BPF_MAP_GET_NEXT_KEY, first)
        while not err:
            raw = nxt.raw[:ks]
            out.append(raw)
            ctypes.memmove(cur, raw, ks)
            err = map_elem(BPF_MAP_GET_NEXT_KEY, step)
        if err != _errno.ENOENT:
            raise self._error("iteration of", err)
        return out

    def _lookup_one_by_one(self) -> tuple[list[Any], list[Any]]:
        ks, vs = self._k.size, self._v.size
        kb = ctypes.create_string_buffer(max(ks, 1))
        vb = ctypes.create_string_buffer(max(vs, 1))
        attr = _sys.elem_attr(self._mapfd, ctypes.addressof(kb), ctypes.addressof(vb))
        raw_keys: list[bytes] = []
        raw_values: list[bytes] = []
        for raw in self._raw_keys():
            ctypes.memmove(kb, raw, ks)
            err = map_elem(BPF_MAP_LOOKUP_ELEM, attr)
            if err == _errno.ENOENT:
                continue  # deleted meanwhile
            if err:
                raise self._error("lookup in", err, raw)
            raw_keys.append(raw)
            raw_values.append(vb.raw[:vs])
        n = len(raw_keys)
        keys = self._k.unpack(memoryview(b"".join(raw_keys)), n, ks)
        return keys, self._v.unpack(memoryview(b"".join(raw_values)), n, vs)

    def update_batch(
        self, keys: Sequence[Any], values: Sequence[Any], flags: int = BPF_ANY
    ) -> None:
        """Set ``m[keys[i]] = values[i]`` for every i in one ``BPF_MAP_UPDATE_BATCH``."""
        self._live()
        n = len(keys)
        if len(values) != n:
            raise BpfError(f"update_batch of map {self.label}: {n} keys but {len(values)} values")
        if not n:
            return
        kdata = self._k.pack(keys, self._k.size)
        vdata = self._v.pack(values, self._v.size)
        if "update" not in self._no_batch:
            count = ctypes.c_uint32(n)
            o = _libbpf.opts(_libbpf.bpf_map_batch_opts, elem_flags=flags)
            rc = lib.bpf_map_update_batch(self._mapfd, kdata, vdata, count, o)
            if rc == 0:
                return
            err = -rc
            if not _no_batch_op(err, count.value, n):
                raise self._batch_error("update_batch of", err, keys, count.value)
            if err in _NO_BATCH:
                self._no_batch.add("update")
        ks, vs = self._k.size, self._v.size
        kb = ctypes.create_string_buffer(max(ks, 1))
        vb = ctypes.create_string_buffer(max(vs, 1))
        attr = _sys.elem_attr(self._mapfd, ctypes.addressof(kb), ctypes.addressof(vb), flags)
        for i in range(n):
            ctypes.memmove(kb, kdata[i * ks : (i + 1) * ks], ks)
            ctypes.memmove(vb, vdata[i * vs : (i + 1) * vs], vs)
            err = map_elem(BPF_MAP_UPDATE_ELEM, attr)
            if err:
                raise self._batch_error("update_batch of", err, keys, i)

    def delete_batch(self, keys: Sequence[Any]) -> None:
        """``del m[k]`` for every key in one ``BPF_MAP_DELETE_BATCH``.

        A missing key raises ``KeyError`` (the keys before it are deleted).
        """
        self._live()
        n = len(keys)
        if not n:
            return
        ks = self._k.size
        kdata = self._k.pack(keys, ks)
        if "delete" not in self._no_batch:
            count = ctypes.c_uint32(n)
            o = _libbpf.opts(_libbpf.bpf_map_batch_opts)
            rc = lib.bpf_map_delete_batch(self._mapfd, kdata, count, o)
            if rc == 0:
                return
            err = -rc
            if not _no_batch_op(err, count.value, n):
                raise self._batch_error("delete_batch from", err, keys, count.value)
            if err in _NO_BATCH:
                self._no_batch.add("delete")
        kb = ctypes.create_string_buffer(max(ks, 1))
        attr = _sys.elem_attr(self._mapfd, ctypes.addressof(kb), 0)
        for i in range(n):
            ctypes.memmove(kb, kdata[i * ks : (i + 1) * ks], ks)
            err = map_elem(BPF_MAP_DELETE_ELEM, attr)
            if err:
                raise self._batch_error("delete_batch from", err, keys, i)

    def _batch_error(self, op: str, err: int, keys: Sequence[Any], i: int) -> Exception:
        key = keys[i] if i < len(keys) else None
        if err == _errno.ENOENT and op.startswith("delete"):
            return KeyError(key)
        e = self._error(op, err, key)
        if isinstance(e, BpfError):
            e.message = f"{e.message} (at entry {i}, key {key!r}; entries before it were done)"
        return e

    # ------------------------------------------------------------------ queue / stack

    def push(self, value: Any, overwrite: bool = False) -> None:
        """Add *value* to a queue or stack map; *overwrite* drops the oldest when full."""
        self._live()
        self._keyless("push to")
        self._v.put(value)
        if overwrite:
            _sys.set_elem_flags(self._attr, BPF_EXIST)
        try:
            err = map_elem(BPF_MAP_UPDATE_ELEM, self._attr)
        finally:
            if overwrite:
                _sys.set_elem_flags(self._attr, 0)
        if err:
            raise self._error("push to", err)

    def pop(self) -> Any:
        """Remove and return the next value of a queue (oldest) or stack (newest).

        ``IndexError`` when it is empty.
        """
        return self._take(BPF_MAP_LOOKUP_AND_DELETE_ELEM, "pop from")

    def peek(self) -> Any:
        """The value ``pop()`` would return, left in place (``IndexError`` when empty)."""
        return self._take(BPF_MAP_LOOKUP_ELEM, "peek at")

    def _take(self, cmd: int, op: str) -> Any:
        self._live()
        self._keyless(op)
        err = map_elem(cmd, self._attr)
        if err == _errno.ENOENT:
            raise IndexError(f"{op} empty {name_of(MapType, int(self.type))} map {self.label}")
        if err:
            raise self._error(op, err)
        return self._v.get()

    def _keyless(self, op: str) -> None:
        if self.type not in _KEYLESS:
            raise BpfError(f"{op} map {self.label}: only queue and stack maps push and pop")


class Map(FdHandle, _Access):
    """A map in the kernel, held by an fd; keys and values as bytes (``typed()``: ctypes).

    Attributes: ``id``, ``name``, ``type`` (a ``MapType``), ``key_size``,
    ``value_size`` (one CPU's, for per-CPU maps), ``max_entries``, ``flags``,
    ``btf`` (its object's or the kernel's BTF, or None), ``pin_path`` (where
    it was pinned or opened from, or None), ``label`` (the name, or ``#ID`` for
    a map without one: what messages call it), ``key_type_id`` and
    ``value_type_id`` (the BTF type ids of key and value, 0 if none). A map of
    an Object closes with it.
    """

    def __init__(
        self,
        fd: int,
        *,
        name: str | None = None,
        btf: Btf | None = None,
        key_type_id: int = 0,
        value_type_id: int = 0,
        owner: Object | None = None,
        owns_fd: bool = True,
        pin_path: str | None = None,
    ) -> None:
        self._owner = owner
        self._init_handle(
            fd,
            owns_fd=owns_fd,
            owner_finalizer=owner._finalizer if owner else None,
            pin_path=pin_path,
        )
        info = _sys.map_info(fd)
        self.id: int = info.id
        self.name: str = name or info.name.decode(errors="replace")
        self.label = self.name or f"#{info.id}"
        try:
            self.type = MapType(info.type)
        except ValueError:
            self.type = info.type
        self.key_size: int = info.key_size
        self.value_size: int = info.value_size
        self.max_entries: int = info.max_entries
        self.flags: int = info.map_flags
        self.btf = btf
        self.key_type_id = key_type_id or info.btf_key_type_id
        self.value_type_id = value_type_id or info.btf_value_type_id
        self._setup(fd, self._codec(None, key=True), self._codec(None, key=False))

    def _codec(self, ctype: Any, key: bool) -> Codec:
        if key and self.type in _KEYLESS:
            t = name_of(MapType, int(self.type))
            return NoKeyCodec(f"map {self.label}: a {t} map has no keys: use push, pop and peek")
        if key:
            what = f"key of map {self.label}"
            return make_codec(ctype, self.key_size, self.btf, self.key_type_id, what)
        what = f"value of map {self.label}"
        ncpus = possible_cpus() if self.percpu else 0
        return make_codec(ctype, self.value_size, self.btf, self.value_type_id, what, ncpus)

    # ------------------------------------------------------------------ construction

    @classmethod
    def create(
        cls,
        type: MapType | int,
        key_size: int,
        value_size: int,
        max_entries: int,
        *,
        name: str = "",
        flags: int = 0,
    ) -> Map:
        """A new map without BTF (typed views check sizes only), closed with the Map."""
        o = _libbpf.opts(_libbpf.bpf_map_create_opts, map_flags=flags)
        with _libbpf.capture() as log:
            fd = lib.bpf_map_create(
                int(type), name.encode()[:15] or None, key_size, value_size, max_entries,
                ctypes.byref(o),
            )  # fmt: skip
        if fd < 0:
            t = name_of(MapType, int(type))
            raise from_errno(f"cannot create {t} map {name!r}", _libbpf.errno() or -fd, log)
        return cls(fd, name=name or None)

    @classmethod
    def from_pin(cls, path: str, *, btf: bool = True) -> Map:
        """Open the map pinned at *path*, with its BTF from the kernel for typed views
        (unless *btf* is False: a cheaper open, for bytes only or to hand the fd on)."""
        m = cls(_sys.obj_get(path), pin_path=path)
        if btf:
            m._load_kernel_btf()
        return m

    @classmethod
    def from_id(cls, map_id: int, *, btf: bool = True) -> Map:
        """Open the map with kernel id *map_id* (with its BTF from the kernel for typed views,
        unless *btf* is False)."""
        m = cls(_sys.fd_from_id("map", map_id))
        if btf:
            m._load_kernel_btf()
        return m

    def _load_kernel_btf(self) -> None:
        """Fetch the map's BTF from the kernel (for typed views of reopened maps)."""
        info = _sys.map_info(self._fd)
        if not info.btf_id:
            return
        ptr = lib.btf__load_from_kernel_by_id(info.btf_id)
        if not ptr:
            return
        try:
            size = ctypes.c_uint32()
            data = lib.btf__raw_data(ptr, ctypes.byref(size))
            self.btf = Btf(ctypes.string_at(data, size.value))
        finally:
            lib.btf__free(ptr)

    def typed(self, key: Any = FROM_BTF, value: Any = FROM_BTF) -> TypedMap[Any, Any]:
        """A view converting keys and values to and from ctypes types.

        Each type is checked against the map's BTF (size, and every field's
        name, offset and size) when the map has BTF, else against its size:
        a mismatch is a ``BpfError`` naming the field. ``None`` keeps bytes.
        Left out, a type is made from the map's BTF key or value type
        (``Btf.ctype``); bytes when the map has none.
        """
        return TypedMap(self, self._btf_ctype(key, self.key_type_id),
                        self._btf_ctype(value, self.value_type_id))  # fmt: skip

    def _btf_ctype(self, given: Any, type_id: int) -> Any:
        if given is not FROM_BTF:
            return given
        if self.btf is None or not type_id:
            return None
        return self.btf.ctype(type_id)

    # ------------------------------------------------------------------ basics

    def _label(self) -> str:
        return f"map {self.label}"

    def _live(self) -> None:
        self.fd  # noqa: B018  (raises once the map or its Object is closed)

    @property
    def percpu(self) -> bool:
        """True for per-CPU maps: values read as a list, one per possible CPU."""
        return self.type in PERCPU_MAP_TYPES

    @property
    def value_bytes(self) -> int:
        """Bytes of one lookup's value buffer (all CPUs' values for per-CPU maps)."""
        return self._v.size

    @property
    def frozen(self) -> bool:
        """True once the map is read-only from user space (``freeze()``, or .rodata after load)."""
        return _frozen(self.fd)

    def freeze(self) -> None:
        """Make the map read-only from user space (BPF programs may still write it)."""
        if lib.bpf_map_freeze(self.fd) != 0:
            raise from_errno(f"cannot freeze map {self.label}", _libbpf.errno())

    def __repr__(self) -> str:
        t = name_of(MapType, int(self.type))
        sizes = f"key={self.key_size} value={self.value_size}"
        return f"<Map {self.name} id={self.id} type={t} {sizes}>"

class TypedMap(_Access, Generic[K, V]):
    """A view of a ``Map`` through ctypes key and value types (see ``bpfman.typed``).

    Attributes: ``map`` (the Map viewed), ``key_type`` and ``value_type`` (the
    ctypes types, None for bytes), and the map's ``name``, ``label``, ``type``,
    ``max_entries``. Attributes it does not have (``id``, ``fd``, ``pin``,
    ``freeze`` ...) are the map's.
    ``K`` and ``V`` are the Python types of keys and values for type checkers
    (``TypedMap[count_key, int]`` in a skeleton from ``bpfman gen python``);
    ``Map.typed()`` returns ``TypedMap[Any, Any]``.
    """

    if TYPE_CHECKING:  # the operations of _Access, typed by K and V

        def __getitem__(self, key: K) -> V: ...
        def get(self, key: K, default: Any = None) -> V: ...
        def __setitem__(self, key: K, value: V) -> None: ...
        def update(self, key: K, value: V, flags: int = BPF_ANY) -> None: ...
        def __delitem__(self, key: K) -> None: ...
        def keys(self) -> list[K]: ...
        def values(self) -> list[V]: ...
        def items(self) -> Iterator[tuple[K, V]]: ...
        def __iter__(self) -> Iterator[K]: ...
        def lookup_batch(self) -> tuple[list[K], list[V]]: ...
        def push(self, value: V, overwrite: bool = False) -> None: ...
        def pop(self) -> V: ...
        def peek(self) -> V: ...

    def __init__(self, m: Map, key: Any = None, value: Any = None) -> None:
        self.map = m
        self.name = m.name
        self.label = m.label
        self.type = m.type
        self.max_entries = m.max_entries
        self.key_type = key
        self.value_type = value
        self._live = m._live
        self._setup(m.fd, m._codec(key, key=True), m._codec(value, key=False))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.map, name)

    def __repr__(self) -> str:
        k = self.key_type.__name__ if self.key_type else "bytes"
        v = self.value_type.__name__ if self.value_type else "bytes"
        return f"<TypedMap {self.name} id={self.map.id} {k} -> {v}>"


class _Missing:
    pass


_MISSING = _Missing()


def _no_batch_op(err: int, count: int, n: int) -> bool:
    """Did a batch command fail for want of the command itself (nothing was done)?"""
    if err in _NO_BATCH:
        return True
    return err == _errno.EINVAL and count in (0, n)  # kernels without batch commands


def _frozen(fd: int) -> bool:
    try:
        with open(f"/proc/self/fdinfo/{fd}") as f:
            return any(line.split() == ["frozen:", "1"] for line in f)
    except OSError:
        return False


_ncpus: int | None = None


def possible_cpus() -> int:
    global _ncpus
    if _ncpus is None:
        n = int(lib.libbpf_num_possible_cpus())
        if n <= 0:
            raise BpfError("cannot tell the number of possible CPUs")
        _ncpus = n
    return _ncpus


__all__ = [
    "BPF_ANY",
    "BPF_EXIST",
    "BPF_F_NO_PREALLOC",
    "BPF_NOEXIST",
    "Map",
    "TypedMap",
    "possible_cpus",
]
