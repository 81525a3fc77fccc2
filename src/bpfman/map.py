"""Maps: dict-like access to a kernel map held by an fd.

Keys and values are given as ``int`` (packed little-endian to the map's
size), ``bytes`` or ctypes instances; an untyped map returns ``bytes``.
``typed(key=, value=)`` gives a view that converts to and from ctypes types
checked against the map's BTF.
"""

from __future__ import annotations

import ctypes
import errno as _errno
import os
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from bpfman import _sys
from bpfman._libbpf import lib
from bpfman.btf import Btf
from bpfman.errors import BpfError, from_errno
from bpfman.kinds import MapType, name_of
from bpfman.object import encode_value

if TYPE_CHECKING:
    from bpfman.object import Object

BPF_ANY = 0
BPF_NOEXIST = 1
BPF_EXIST = 2


class Map:
    """A map in the kernel, held by an fd."""

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
        self._fd = fd
        self._owner = owner
        info = _sys.map_info(fd)
        self.id: int = info.id
        self.name: str = name or info.name.decode(errors="replace")
        try:
            self.type: MapType | int = MapType(info.type)
        except ValueError:
            self.type = info.type
        self.key_size: int = info.key_size
        self.value_size: int = info.value_size
        self.max_entries: int = info.max_entries
        self.flags: int = info.map_flags
        self.btf = btf
        self.key_type_id = key_type_id or info.btf_key_type_id
        self.value_type_id = value_type_id or info.btf_value_type_id
        self.pin_path = pin_path
        self._finalizer = weakref.finalize(self, os.close, fd) if owns_fd else None
        self._key_buf = ctypes.create_string_buffer(max(self.key_size, 1))
        self._val_buf = ctypes.create_string_buffer(max(self.value_bytes, 1))

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_pin(cls, path: str) -> Map:
        m = cls(_sys.obj_get(path), pin_path=path)
        m._load_kernel_btf()
        return m

    @classmethod
    def from_id(cls, map_id: int) -> Map:
        m = cls(_sys.fd_from_id("map", map_id))
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

    # ------------------------------------------------------------------ basics

    @property
    def fd(self) -> int:
        if self._owner is not None and self._owner.closed:
            raise BpfError(f"map {self.name}: its object is closed")
        if self._finalizer is not None and not self._finalizer.alive:
            raise BpfError(f"map {self.name} is closed")
        return self._fd

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> Map:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def percpu(self) -> bool:
        from bpfman.kinds import PERCPU_MAP_TYPES

        return self.type in PERCPU_MAP_TYPES

    @property
    def value_bytes(self) -> int:
        """Bytes of one lookup's value buffer (all CPUs' values for per-CPU maps)."""
        if self.percpu:
            return ((self.value_size + 7) // 8 * 8) * possible_cpus()
        return self.value_size

    def __repr__(self) -> str:
        t = name_of(MapType, int(self.type))
        sizes = f"key={self.key_size} value={self.value_size}"
        return f"<Map {self.name} id={self.id} type={t} {sizes}>"

    # ------------------------------------------------------------------ raw bytes access

    def _key(self, key: Any) -> bytes:
        return encode_value(key, self.key_size, f"key of map {self.name}")

    def _value(self, value: Any) -> bytes:
        if self.percpu and isinstance(value, (list, tuple)):
            slot = (self.value_size + 7) // 8 * 8
            parts = [
                encode_value(v, self.value_size, f"value of map {self.name}").ljust(slot, b"\0")
                for v in value
            ]
            if len(parts) != possible_cpus():
                raise BpfError(
                    f"map {self.name} is per-CPU: give {possible_cpus()} values, got {len(parts)}"
                )
            return b"".join(parts)
        raw = encode_value(value, self.value_size, f"value of map {self.name}")
        if self.percpu:  # the same value on every CPU
            slot = (self.value_size + 7) // 8 * 8
            return raw.ljust(slot, b"\0") * possible_cpus()
        return raw

    def lookup(self, key: Any) -> bytes | None:
        """The raw value for *key* (all CPUs' slots for per-CPU maps), or None."""
        k = self._key(key)
        kb = self._key_buf
        ctypes.memmove(kb, k, len(k))
        if lib.bpf_map_lookup_elem(self.fd, kb, self._val_buf) != 0:
            err = ctypes.get_errno()
            if err == _errno.ENOENT:
                return None
            raise from_errno(f"lookup in map {self.name}", err)
        return self._val_buf.raw[: self.value_bytes]

    def update(self, key: Any, value: Any, flags: int = BPF_ANY) -> None:
        k = self._key(key)
        v = self._value(value)
        if lib.bpf_map_update_elem(self.fd, k, v, flags) != 0:
            raise from_errno(f"update of map {self.name}", ctypes.get_errno())

    def delete(self, key: Any) -> None:
        k = self._key(key)
        if lib.bpf_map_delete_elem(self.fd, k) != 0:
            err = ctypes.get_errno()
            if err == _errno.ENOENT:
                raise KeyError(key)
            raise from_errno(f"delete from map {self.name}", err)

    def keys(self) -> Iterator[bytes]:
        """Every key (raw bytes), by BPF_MAP_GET_NEXT_KEY."""
        fd = self.fd
        cur = ctypes.create_string_buffer(max(self.key_size, 1))
        nxt = ctypes.create_string_buffer(max(self.key_size, 1))
        if lib.bpf_map_get_next_key(fd, None, nxt) != 0:
            return
        while True:
            yield nxt.raw[: self.key_size]
            ctypes.memmove(cur, nxt, self.key_size)
            if lib.bpf_map_get_next_key(fd, cur, nxt) != 0:
                return

    # ------------------------------------------------------------------ dict protocol

    def __getitem__(self, key: Any) -> Any:
        v = self.lookup(key)
        if v is None:
            raise KeyError(key)
        return self._decode(v)

    def _decode(self, raw: bytes) -> Any:
        if self.percpu:
            slot = (self.value_size + 7) // 8 * 8
            return [raw[i : i + self.value_size] for i in range(0, len(raw), slot)]
        return raw

    def get(self, key: Any, default: Any = None) -> Any:
        v = self.lookup(key)
        return default if v is None else self._decode(v)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.update(key, value)

    def __delitem__(self, key: Any) -> None:
        self.delete(key)

    def __contains__(self, key: object) -> bool:
        return self.lookup(key) is not None

    def __iter__(self) -> Iterator[bytes]:
        return self.keys()

    def items(self) -> Iterator[tuple[bytes, Any]]:
        for k in self.keys():
            v = self.lookup(k)
            if v is not None:
                yield k, self._decode(v)

    def values(self) -> Iterator[Any]:
        for _, v in self.items():
            yield v

    def __len__(self) -> int:
        return sum(1 for _ in self.keys())

    # ------------------------------------------------------------------ pinning

    def pin(self, path: str) -> None:
        _sys.obj_pin(self.fd, path)
        self.pin_path = path

    def unpin(self, path: str | None = None) -> None:
        target = path or self.pin_path
        if not target:
            raise BpfError(f"map {self.name} is not pinned")
        try:
            os.unlink(target)
        except FileNotFoundError:
            raise BpfError(f"nothing pinned at {target}") from None
        if target == self.pin_path:
            self.pin_path = None


_ncpus: int | None = None


def possible_cpus() -> int:
    global _ncpus
    if _ncpus is None:
        n = int(lib.libbpf_num_possible_cpus())
        if n <= 0:
            raise BpfError("cannot tell the number of possible CPUs")
        _ncpus = n
    return _ncpus


__all__ = ["BPF_ANY", "BPF_EXIST", "BPF_NOEXIST", "Map", "possible_cpus"]
