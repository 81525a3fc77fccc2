"""eBPF objects: ``ObjectSpec`` (opened, editable, not in the kernel) and ``Object`` (loaded)."""

from __future__ import annotations

import builtins
import ctypes
import errno as _errno
import os
import re
import stat
import weakref
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from bpfman import _libbpf, elf
from bpfman._libbpf import lib
from bpfman.btf import KIND_ARRAY, KIND_INT, Btf, Variable
from bpfman.errors import BpfError, UnknownName, from_errno
from bpfman.kinds import AttachType, MapType, ProgramType, name_of
from bpfman.typed import int_bytes

if TYPE_CHECKING:
    from bpfman.link import Link
    from bpfman.map import Map
    from bpfman.program import Program

V = TypeVar("V")


class NamedMapping(Mapping[str, V]):
    """A read-only mapping whose ``KeyError`` (an ``UnknownName``) lists the names that exist."""

    def __init__(self, what: str, items: dict[str, V]) -> None:
        self._what = what
        self._items = items

    def __getitem__(self, name: str) -> V:
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise UnknownName(f"no {self._what} named {name!r} (known: {known})") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"<{self._what}s: {', '.join(self._items)}>"


def _btf_of(obj_ptr: int) -> Btf | None:
    btf_ptr = lib.bpf_object__btf(obj_ptr)
    if not btf_ptr:
        return None
    size = ctypes.c_uint32()
    data = lib.btf__raw_data(btf_ptr, ctypes.byref(size))
    if not data:
        return None
    return Btf(ctypes.string_at(data, size.value))


class ProgramSpec:
    """A program of an opened object, configurable before load.

    Attributes: ``name``, ``section`` (its ELF section, which gives its type and,
    for most tracing kinds, its attach point).
    """

    def __init__(self, spec: ObjectSpec, ptr: int) -> None:
        self._spec = spec
        self._ptr = ptr
        self.name: str = lib.bpf_program__name(ptr).decode()
        self.section: str = (lib.bpf_program__section_name(ptr) or b"").decode()

    @property
    def autoload(self) -> bool:
        """Whether ``load()`` loads this program (True by default); set False to leave it out."""
        return bool(lib.bpf_program__autoload(self._ptr))

    @autoload.setter
    def autoload(self, value: bool) -> None:
        self._spec._check_open()
        lib.bpf_program__set_autoload(self._ptr, bool(value))

    @property
    def type(self) -> ProgramType:
        """The program type its section gave (settable before load, for a bare section)."""
        return ProgramType(lib.bpf_program__type(self._ptr))

    @type.setter
    def type(self, value: ProgramType | int) -> None:
        self._spec._check_open()
        lib.bpf_program__set_type(self._ptr, int(value))

    @property
    def expected_attach_type(self) -> int:
        """The attach type the kernel is told at load (an ``AttachType`` number; settable)."""
        return int(lib.bpf_program__expected_attach_type(self._ptr))

    @expected_attach_type.setter
    def expected_attach_type(self, value: AttachType | int) -> None:
        self._spec._check_open()
        lib.bpf_program__set_expected_attach_type(self._ptr, int(value))

    def set_attach_target(self, func_name: str, target_prog_fd: int = 0) -> None:
        """The kernel function (fentry/fexit) or program function (freplace) to attach to."""
        self._spec._check_open()
        err = lib.bpf_program__set_attach_target(self._ptr, target_prog_fd, func_name.encode())
        if err == -_errno.ESRCH and not target_prog_fd:
            raise BpfError(
                f"program {self.name}: no kernel function {func_name!r} to attach to"
                " (not in the kernel's BTF)",
                errno=_errno.ESRCH,
            )
        if err:
            raise from_errno(f"cannot set attach target {func_name!r} of {self.name}", err)

    @property
    def log_level(self) -> int:
        """The verifier log level asked for at load: 0 (a log only on failure), 1 or 2.

        With 1 or 2 the loaded ``Program.verifier_log`` holds the verifier's log
        of a successful load too (2: every instruction's state).
        """
        return int(lib.bpf_program__log_level(self._ptr))

    @log_level.setter
    def log_level(self, level: int) -> None:
        self._spec._check_open()
        if level not in (0, 1, 2):
            raise BpfError(f"log_level of {self.name} must be 0, 1 or 2, not {level!r}")
        lib.bpf_program__set_log_level(self._ptr, level)

    def set_log_level(self, level: int) -> None:
        """``log_level = level`` (kept for callers of the method)."""
        self.log_level = level

    def __repr__(self) -> str:
        return f"<ProgramSpec {self.name} section={self.section!r} type={self.type.name.lower()}>"


class MapSpec:
    """A map of an opened object: sizes and pinning set before load.

    Attributes: ``name``; its type, sizes, flags and pin path are properties.
    """

    def __init__(self, spec: ObjectSpec, ptr: int) -> None:
        self._spec = spec
        self._ptr = ptr
        self.name: str = lib.bpf_map__name(ptr).decode()

    @property
    def type(self) -> MapType | int:
        """The map type (a ``MapType``, or the number for a type this library does not name)."""
        t = int(lib.bpf_map__type(self._ptr))
        try:
            return MapType(t)
        except ValueError:
            return t

    @property
    def key_size(self) -> int:
        """Bytes of one key."""
        return int(lib.bpf_map__key_size(self._ptr))

    @property
    def value_size(self) -> int:
        """Bytes of one value (of one CPU's value for per-CPU maps)."""
        return int(lib.bpf_map__value_size(self._ptr))

    @property
    def max_entries(self) -> int:
        """The map's capacity; settable before load (``m.max_entries = 1 << 20``)."""
        return int(lib.bpf_map__max_entries(self._ptr))

    @max_entries.setter
    def max_entries(self, value: int) -> None:
        self._spec._check_open()
        err = lib.bpf_map__set_max_entries(self._ptr, int(value))
        if err:
            raise from_errno(f"cannot set max_entries of map {self.name}", err)

    @property
    def key_type_id(self) -> int:
        """The BTF type id of the keys (0: the map was declared with sizes only)."""
        return int(lib.bpf_map__btf_key_type_id(self._ptr))

    @property
    def value_type_id(self) -> int:
        """The BTF type id of the values (0: the map was declared with sizes only)."""
        return int(lib.bpf_map__btf_value_type_id(self._ptr))

    @property
    def flags(self) -> int:
        """The map's ``BPF_F_*`` creation flags; settable before load."""
        return int(lib.bpf_map__map_flags(self._ptr))

    @flags.setter
    def flags(self, value: int) -> None:
        self._spec._check_open()
        lib.bpf_map__set_map_flags(self._ptr, int(value))

    @property
    def internal(self) -> bool:
        """True for the maps libbpf makes for .data/.rodata/.bss/.kconfig."""
        return bool(lib.bpf_map__is_internal(self._ptr))

    @property
    def pin_path(self) -> str | None:
        """Where the map is pinned at load (None: not pinned); settable before load.

        A map already pinned there is reused if its type, sizes and flags match
        (else the load fails naming the mismatch); otherwise the new map is pinned
        there. The directory must be on a BPF filesystem (``/sys/fs/bpf``).
        """
        p = lib.bpf_map__pin_path(self._ptr)
        return p.decode() if p else None

    @pin_path.setter
    def pin_path(self, path: str | None) -> None:
        """Reuse the map pinned at *path* at load if there is one, else create and pin it."""
        self._spec._check_open()
        err = lib.bpf_map__set_pin_path(self._ptr, path.encode() if path else None)
        if err:
            raise from_errno(f"cannot set pin path of map {self.name}", err)

    def reuse(self, other: Map | int) -> None:
        """Use an existing map (a ``Map`` or an fd) instead of creating this one."""
        self._spec._check_open()
        fd = other if isinstance(other, int) else other.fd
        err = lib.bpf_map__reuse_fd(self._ptr, fd)
        if err:
            raise from_errno(f"cannot reuse map for {self.name}", err)

    @property
    def initial_value(self) -> bytes:
        """The bytes a .data/.rodata/.bss map starts with at load (its globals' initial values)."""
        size = ctypes.c_size_t()
        ptr = lib.bpf_map__initial_value(self._ptr, ctypes.byref(size))
        return ctypes.string_at(ptr, size.value) if ptr else b""

    def __repr__(self) -> str:
        return (
            f"<MapSpec {self.name} type={name_of(MapType, int(self.type))} "
            f"key={self.key_size} value={self.value_size} max_entries={self.max_entries}>"
        )


class Globals(Mapping[str, Any]):
    """Global variables (.rodata/.data/.bss) by name.

    On an ``ObjectSpec`` they set the initial values loaded with the object;
    on a loaded ``Object`` reads and writes go to the kernel's maps live
    (.rodata is frozen at load: writing it then is refused). Integer
    variables take ints in their C type's range (a ``__u32`` refuses -1);
    ``char name[N]`` takes a ``str`` (UTF-8, with room for its NUL) or
    ``bytes`` of at most N, NUL-padded; other values are bytes or ctypes
    instances of exactly the variable's size.
    """

    def __init__(self, owner: ObjectSpec | Object) -> None:
        self._owner = owner
        self._vars: dict[str, tuple[Variable, int]] = {}
        btf = owner.btf
        if btf is None:
            return
        internal = [m for m in owner._map_ptrs() if lib.bpf_map__is_internal(m)]
        for var in btf.variables():
            ptr = _section_map(internal, var.section)
            if ptr:
                self._vars[var.name] = (var, ptr)

    def _var(self, name: str) -> tuple[Variable, int]:
        try:
            return self._vars[name]
        except KeyError:
            known = ", ".join(sorted(self._vars)) or "none"
            raise UnknownName(f"no global variable named {name!r} (known: {known})") from None

    def _section(self, map_ptr: int) -> bytearray:
        """The whole data section: the initial value before load, the live map after."""
        if isinstance(self._owner, Object):
            fd = lib.bpf_map__fd(map_ptr)
            size = int(lib.bpf_map__value_size(map_ptr))
            buf = ctypes.create_string_buffer(size)
            if lib.bpf_map_lookup_elem(fd, ctypes.byref(ctypes.c_uint32(0)), buf) != 0:
                raise from_errno("cannot read global variables", _libbpf.errno())
            return bytearray(buf.raw)
        size_t = ctypes.c_size_t()
        base = lib.bpf_map__initial_value(map_ptr, ctypes.byref(size_t))
        return bytearray(ctypes.string_at(base, size_t.value)) if base else bytearray()

    def _store(self, map_ptr: int, section: bytearray, name: str) -> None:
        if isinstance(self._owner, Object):
            fd = lib.bpf_map__fd(map_ptr)
            key = ctypes.c_uint32(0)
            if lib.bpf_map_update_elem(fd, ctypes.byref(key), bytes(section), 0) != 0:
                err = _libbpf.errno()
                what = f"cannot set global {name!r}"
                if err == _errno.EPERM:
                    what += " (read-only after load: .rodata is frozen)"
                raise from_errno(what, err)
            return
        lib.bpf_map__set_initial_value(map_ptr, bytes(section), len(section))

    def raw(self, name: str) -> bytes:
        """The variable's bytes, whatever its type."""
        var, map_ptr = self._var(name)
        return bytes(self._section(map_ptr)[var.offset : var.offset + var.size])

    def __getitem__(self, name: str) -> Any:
        var, _ = self._var(name)
        raw = self.raw(name)
        btf = self._owner.btf
        assert btf is not None
        if btf.resolve(var.type_id).kind == KIND_INT and var.size <= 8:
            return int.from_bytes(raw, "little", signed=btf.is_signed(var.type_id))
        return raw

    def __setitem__(self, name: str, value: Any) -> None:
        self._owner._check_writable_globals()
        var, map_ptr = self._var(name)
        btf = self._owner.btf
        assert btf is not None
        what = f"global {name!r}"
        if _is_char_array(btf, var.type_id) and isinstance(value, (str, bytes, bytearray)):
            raw = _c_string(value, var.size, what)
        elif btf.resolve(var.type_id).kind == KIND_INT and isinstance(value, int):
            raw = int_bytes(int(value), var.size, btf.is_signed(var.type_id), what)
        else:
            raw = encode_value(value, var.size, what, btf.is_signed(var.type_id))
        section = self._section(map_ptr)
        section[var.offset : var.offset + var.size] = raw
        self._store(map_ptr, section, name)

    def section_of(self, name: str) -> str:
        """The data section (``.rodata``, ``.data``, ``.bss``, ...) of *name*, "" if unknown."""
        return self._vars[name][0].section if name in self._vars else ""

    def size_of(self, name: str) -> int:
        """The size in bytes of the global variable *name*."""
        return self._var(name)[0].size

    def __iter__(self) -> Iterator[str]:
        return iter(self._vars)

    def __len__(self) -> int:
        return len(self._vars)

    def __contains__(self, name: object) -> bool:
        return name in self._vars


def _is_char_array(btf: Btf, type_id: int) -> bool:
    """``char name[N]`` (or another array of 1-byte integers)."""
    t = btf.resolve(type_id)
    if t.kind != KIND_ARRAY:
        return False
    elem = btf.resolve(t.extra[0])
    return elem.kind == KIND_INT and elem.size_or_type == 1


def _c_string(value: str | bytes | bytearray, size: int, what: str) -> bytes:
    """A ``str`` (UTF-8, room left for its NUL) or ``bytes`` NUL-padded to *size*."""
    raw = value.encode() if isinstance(value, str) else bytes(value)
    room = size - 1 if isinstance(value, str) else size
    if len(raw) > room:
        nul = " and its NUL" if isinstance(value, str) else ""
        raise BpfError(f"{what}: {len(raw)} bytes{nul} do not fit in char[{size}]")
    return raw.ljust(size, b"\0")


def _section_map(internal_maps: list[int], section: str) -> int:
    for ptr in internal_maps:
        name = lib.bpf_map__name(ptr).decode()
        if name == section or name.endswith(section):
            return ptr
    return 0


_BYTES_LIKE = (
    bytes,
    bytearray,
    memoryview,
    ctypes._SimpleCData,
    ctypes.Structure,
    ctypes.Union,
    ctypes.Array,
)


def encode_value(value: Any, size: int, what: str, signed: bool = False) -> bytes:
    """*value* (int, bytes, ctypes instance) as exactly *size* bytes, or a clear error."""
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        try:
            return value.to_bytes(size, "little", signed=signed or value < 0)
        except OverflowError:
            raise BpfError(f"{what}: {value} does not fit in {size} bytes") from None
    if isinstance(value, _BYTES_LIKE):
        raw = bytes(value)
    else:
        raise BpfError(f"{what}: cannot use a {type(value).__name__} value")
    if len(raw) != size:
        raise BpfError(f"{what} is {len(raw)} bytes, expected {size}")
    return raw


class _Base:
    _ptr: int

    def _map_ptrs(self) -> list[int]:
        out: list[int] = []
        m = lib.bpf_object__next_map(self._ptr, None)
        while m:
            out.append(m)
            m = lib.bpf_object__next_map(self._ptr, m)
        return out

    def _prog_ptrs(self) -> list[int]:
        out: list[int] = []
        p = lib.bpf_object__next_program(self._ptr, None)
        while p:
            out.append(p)
            p = lib.bpf_object__next_program(self._ptr, p)
        return out


class ObjectSpec(_Base):
    """An opened eBPF object file: parsed, editable, nothing in the kernel yet.

    Attributes: ``path`` (the object file), ``name`` (the file name up to its
    first dot), ``btf`` (its BTF or None), ``programs`` and ``maps``
    (``ProgramSpec``/``MapSpec`` by name), ``globals`` (global variables by
    name: the initial values loaded with it). ``load()`` makes the ``Object``.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        data = _precheck_file(self.path)
        # static entry functions get global binding in a copy (the file stays as it is); libbpf
        # parses the bytes read and checked here, never the path again (a FIFO swapped in
        # meanwhile would block it)
        self._image = elf.globalize_static_programs(data) or data
        with _libbpf.capture() as log:
            opts = _libbpf.bpf_object_open_opts(
                sz=ctypes.sizeof(_libbpf.bpf_object_open_opts),
                # the name open_file gives: the file name up to its first dot
                object_name=os.fsencode(os.path.basename(self.path).split(".")[0]),
            )
            ptr = lib.bpf_object__open_mem(self._image, len(self._image), ctypes.byref(opts))
        if not ptr:
            err = _libbpf.errno() or _errno.EINVAL
            raise from_errno(f"cannot open {self.path}", err, log)
        self._ptr = ptr
        self._loaded = False
        self._finalizer = weakref.finalize(self, lib.bpf_object__close, ptr)
        self.name: str = lib.bpf_object__name(ptr).decode()
        self.btf: Btf | None = _btf_of(ptr)
        self.programs: NamedMapping[ProgramSpec] = NamedMapping(
            "program", {s.name: s for s in (ProgramSpec(self, p) for p in self._prog_ptrs())}
        )
        for ps in self.programs.values():
            _type_from_section(ps)
        self.maps: NamedMapping[MapSpec] = NamedMapping(
            "map", {s.name: s for s in (MapSpec(self, m) for m in self._map_ptrs())}
        )
        self.globals = Globals(self)

    def _check_open(self) -> None:
        if self._loaded:
            raise BpfError(f"object {self.name} is already loaded: configure it before load()")
        if not self._finalizer.alive:
            raise BpfError(f"object {self.name} is closed")

    def _check_writable_globals(self) -> None:
        self._check_open()

    def load(self) -> Object:
        """Load every program with autoload on and create (or reuse) the maps."""
        self._check_open()
        want_logs = any(p.log_level for p in self.programs.values())
        with _libbpf.capture(debug=want_logs) as log:
            err = lib.bpf_object__load(self._ptr)
        if err:
            self.close()
            error = from_errno(f"cannot load {self.path}", err, log)
            from bpfman import features

            raise features.explain_load_failure(self, error)
        self._loaded = True
        self._finalizer.detach()
        return Object(self, _verifier_logs("".join(log.debug)) if want_logs else {})

    def close(self) -> None:
        """Free the parsed object (only needed when it is never loaded)."""
        self._finalizer()

    def __enter__(self) -> ObjectSpec:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._loaded:
            self.close()

    def __repr__(self) -> str:
        return f"<ObjectSpec {self.path} programs={list(self.programs)} maps={list(self.maps)}>"


class Object(_Base):
    """A loaded eBPF object: its programs and maps live in the kernel until ``close()``.

    Ownership: the Object owns every Link made from its programs (``attach*()``
    on ``obj.programs[...]``, ``attach_all()``). A Link stays attached while the
    Object is open even if the caller drops it; ``link.detach()`` detaches it
    earlier, ``close()`` (or leaving the ``with`` block) detaches those left,
    except pinned ones, which stay in the kernel until their pin is removed.
    A Program reopened on its own (``Program.from_pin``/``from_id``) has no
    Object: the Links made from it are owned by the caller's reference.

    Attributes: ``path`` (the object file), ``name``, ``btf`` (its BTF or
    None), ``programs`` and ``maps`` (by name: only loaded programs),
    ``globals`` (global variables by name, live: reads and writes go to the
    kernel's .data/.bss maps; .rodata is frozen at load).
    """

    def __init__(self, spec: ObjectSpec, verifier_logs: dict[str, str] | None = None) -> None:
        from bpfman.map import Map
        from bpfman.program import Program

        self._ptr = spec._ptr
        self.path = spec.path
        self.name = spec.name
        self.btf = spec.btf
        self._links: list[Link] = []
        self._finalizer = weakref.finalize(self, lib.bpf_object__close, self._ptr)
        progs: dict[str, Program] = {}
        for ps in spec.programs.values():
            fd = lib.bpf_program__fd(ps._ptr)
            if fd < 0:
                continue  # autoload was off
            progs[ps.name] = Program(
                fd,
                name=ps.name,
                section=ps.section,
                expected_attach_type=ps.expected_attach_type,
                owner=self,
                owns_fd=False,
                verifier_log=(verifier_logs or {}).get(ps.name, ""),
            )
        self.programs: NamedMapping[Program] = NamedMapping("program", progs)
        maps: dict[str, Map] = {}
        for ms in spec.maps.values():
            fd = lib.bpf_map__fd(ms._ptr)
            if fd < 0:
                continue
            maps[ms.name] = Map(
                fd,
                name=ms.name,
                btf=self.btf,
                key_type_id=int(lib.bpf_map__btf_key_type_id(ms._ptr)),
                value_type_id=int(lib.bpf_map__btf_value_type_id(ms._ptr)),
                owner=self,
                owns_fd=False,
                pin_path=ms.pin_path,
            )
        self.maps: NamedMapping[Map] = NamedMapping("map", maps)
        self.globals = Globals(self)

    def _check_writable_globals(self) -> None:
        pass  # .data/.bss are mmaped live after load; .rodata writes fault in the kernel

    def _track(self, link: Link) -> None:
        """Own *link* until ``close()`` (a strong reference: no detach by garbage collection)."""
        self._links = [k for k in self._links if not k.closed]
        self._links.append(link)

    @property
    def links(self) -> tuple[Link, ...]:
        """The Links made from this object's programs that are still attached (owned here)."""
        return tuple(k for k in self._links if not k.closed)

    def attach_all(self) -> dict[str, Link]:
        """Attach every loaded program whose ELF section names its attach point.

        Like a libbpf skeleton's ``attach()``: ``tp/syscalls/sys_enter_execve``,
        ``raw_tp/sched_switch``, ``uprobe/libc.so.6:malloc``, ``tp_btf/...``
        are attached; programs whose section leaves the hook open (``xdp``,
        ``tc``, ``cgroup_skb/egress``, bare ``uprobe``, ...) are skipped: attach
        those with their ``attach_*()`` method. Returns program name -> Link;
        the Object owns the Links too. If one attach fails, the Links this
        call made are detached and the error is raised.
        """
        from bpfman.attach.by_section import parse_section

        made: dict[str, Link] = {}
        try:
            for name, prog in self.programs.items():
                try:
                    target = parse_section(prog.section)
                except BpfError:
                    continue  # no attach point libbpf's conventions name
                if target.needs:
                    continue
                made[name] = prog.attach()
        except BaseException:
            for link in made.values():
                link.close()
            raise
        return made

    @property
    def closed(self) -> bool:
        """True once ``close()`` has run."""
        return not self._finalizer.alive

    def close(self) -> None:
        """Detach the unpinned Links made from this object, then unload it."""
        links, self._links = self._links, []
        for link in links:
            link.close()
        self._finalizer()

    def __enter__(self) -> Object:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Object {self.path} programs={list(self.programs)} maps={list(self.maps)}>"


def _verifier_logs(debug_text: str) -> dict[str, str]:
    """Program name -> its verifier log, from libbpf's debug lines of a successful load."""
    out: dict[str, str] = {}
    for m in re.finditer(
        r"prog '([^']+)': -- BEGIN PROG LOAD LOG --\n(.*?)-- END PROG LOAD LOG --", debug_text, re.S
    ):
        out[m.group(1)] = m.group(2)
    return out


def _type_from_section(ps: ProgramSpec) -> None:
    """Program and expected attach type for sections libbpf 1.1 does not know (uprobe.multi)."""
    if lib.bpf_program__type(ps._ptr) != 0:
        return
    from bpfman.attach import by_section

    types = by_section.load_types(ps.section)
    if types is not None:
        ps.type, ps.expected_attach_type = types


_ELF_MAGIC = b"\x7fELF"


def _precheck_file(path: str) -> bytes:
    """The file's bytes, after clear one-line errors for the common bad inputs."""
    try:
        # O_NONBLOCK: a FIFO must not block, nor a device be read forever
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
        with builtins.open(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise BpfError(f"cannot open {path}: not a regular file", errno=_errno.EINVAL)
            data = f.read()
        head = data[:20]
    except FileNotFoundError:
        raise BpfError(f"cannot open {path}: no such file", errno=_errno.ENOENT) from None
    except IsADirectoryError:
        raise BpfError(f"cannot open {path}: is a directory", errno=_errno.EISDIR) from None
    except PermissionError:
        raise BpfError(f"cannot open {path}: permission denied", errno=_errno.EACCES) from None
    except OSError as e:  # ENXIO: a Unix socket; ELOOP, ENAMETOOLONG...
        raise BpfError(f"cannot open {path}: {e.strerror}", errno=e.errno or 0) from None
    if head[:4] != _ELF_MAGIC:
        raise BpfError(f"cannot open {path}: not an ELF file", errno=_errno.ENOEXEC)
    if len(head) >= 20:
        machine = int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")
        if machine not in (0, 247):  # EM_NONE, EM_BPF
            raise BpfError(
                f"cannot open {path}: ELF for machine {machine}, not an eBPF object (EM_BPF=247)",
                errno=_errno.ENOEXEC,
            )
    return data


def open(path: str | os.PathLike[str]) -> ObjectSpec:
    """Parse an eBPF object file; nothing is loaded into the kernel yet."""
    return ObjectSpec(path)


def load(path: str | os.PathLike[str]) -> Object:
    """``open(path).load()``."""
    return ObjectSpec(path).load()
