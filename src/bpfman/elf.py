"""ELF symbols to file offsets (for uprobes), and shared libraries found by name.

Pure Python over the file's bytes: ``function_offset(path, "getpid")`` reads
``.symtab`` and ``.dynsym``, picks the function (the default version when a
library exports several), and turns its virtual address into a file offset
through the loadable segments. ``resolve_library("c")`` finds ``libc.so.6`` the
way the dynamic linker does: ``LD_LIBRARY_PATH``, ``/etc/ld.so.cache``, then
the standard directories, keeping only ELF files for this machine.
"""

from __future__ import annotations

import contextlib
import errno as _errno
import mmap
import os
import re
import stat
import struct
import subprocess
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from bpfman.errors import BpfError

ELF_MAGIC = b"\x7fELF"
PT_LOAD = 1
SHT_SYMTAB = 2
SHT_DYNSYM = 11
SHT_GNU_VERSYM = 0x6FFFFFFF
STT_FUNC = 2
STB_LOCAL = 0
STB_GLOBAL = 1
SHF_EXECINSTR = 0x4
STT_GNU_IFUNC = 10
SHN_UNDEF = 0
VERSYM_HIDDEN = 0x8000

LD_SO_CACHE = "/etc/ld.so.cache"
_CACHE_MAGIC = b"glibc-ld.so.cache1.1"


@dataclass(frozen=True)
class Section:
    name: str
    type: int
    addr: int
    offset: int
    size: int
    link: int
    entsize: int
    flags: int = 0


@dataclass(frozen=True)
class Segment:
    type: int
    flags: int
    offset: int
    vaddr: int
    filesz: int
    memsz: int


@dataclass(frozen=True)
class Symbol:
    name: str
    value: int  # virtual address
    size: int
    type: int  # STT_*
    shndx: int
    default: bool  # not a hidden (non-default) version


class ElfFile:
    """Headers, segments, sections and symbols of one ELF image held in *data*."""

    def __init__(self, data: Any, path: str = "<memory>") -> None:
        self.path = path
        self._data = data
        if bytes(data[:4]) != ELF_MAGIC:
            raise BpfError(f"{path} is not an ELF file", errno=_errno.ENOEXEC)
        with self._malformed():
            self._parse_headers(data)

    @contextlib.contextmanager
    def _malformed(self) -> Iterator[None]:
        """A header or table pointing outside the file: one ``BpfError``, not a crash."""
        try:
            yield
        except (struct.error, IndexError, ValueError, OverflowError):
            raise BpfError(f"{self.path} is a malformed ELF file", errno=_errno.ENOEXEC) from None

    def _parse_headers(self, data: Any) -> None:
        self.bits = 64 if data[4] == 2 else 32
        self._end = "<" if data[5] == 1 else ">"
        e_type, e_machine = self._unpack("HH", 16)
        self.type: int = e_type
        self.machine: int = e_machine
        if self.bits == 64:
            phoff, shoff = self._unpack("QQ", 32)
            phentsize, phnum, shentsize, shnum, shstrndx = self._unpack("HHHHH", 54)
        else:
            phoff, shoff = self._unpack("II", 28)
            phentsize, phnum, shentsize, shnum, shstrndx = self._unpack("HHHHH", 42)
        self.segments = [self._segment(phoff + i * phentsize) for i in range(phnum)]
        raw = [self._section(shoff + i * shentsize) for i in range(shnum)]
        strings = raw[shstrndx][3] if shstrndx < len(raw) else -1
        self.sections = [
            Section(self._cstr(strings + name) if strings >= 0 else "", *rest)
            for name, *rest in raw
        ]

    def _unpack(self, fmt: str, offset: int) -> tuple[int, ...]:
        return struct.unpack_from(self._end + fmt, self._data, offset)

    def _cstr(self, offset: int) -> str:
        end = self._data.find(b"\0", offset)
        return bytes(self._data[offset:end]).decode(errors="replace")

    def _segment(self, off: int) -> Segment:
        if self.bits == 64:
            p_type, flags, offset, vaddr, _paddr, filesz, memsz = self._unpack("IIQQQQQ", off)
        else:
            p_type, offset, vaddr, _paddr, filesz, memsz, flags = self._unpack("IIIIIII", off)
        return Segment(p_type, flags, offset, vaddr, filesz, memsz)

    def _section(self, off: int) -> tuple[int, ...]:
        """(name offset, type, addr, offset, size, link, entsize, flags) of one section header."""
        fmt = "IIQQQQIIQQ" if self.bits == 64 else "IIIIIIIIII"
        name, typ, flags, addr, offset, size, link, _info, _align, entsize = self._unpack(fmt, off)
        return name, typ, addr, offset, size, link, entsize, flags

    def symbols(self) -> Iterator[Symbol]:
        """Every symbol of ``.symtab`` then ``.dynsym``."""
        with self._malformed():
            for kind in (SHT_SYMTAB, SHT_DYNSYM):
                for sec in self.sections:
                    if sec.type == kind and sec.entsize:
                        yield from self._table(sec)

    def _table(self, sec: Section) -> Iterator[Symbol]:
        strtab = self.sections[sec.link]
        versym = None
        if sec.type == SHT_DYNSYM:
            versym = next((s for s in self.sections if s.type == SHT_GNU_VERSYM), None)
        for i in range(1, sec.size // sec.entsize):
            off = sec.offset + i * sec.entsize
            if self.bits == 64:
                name, info, _other, shndx, value, size = self._unpack("IBBHQQ", off)
            else:
                name, value, size, info, _other, shndx = self._unpack("IIIBBH", off)
            default = True
            if versym is not None:
                (ver,) = self._unpack("H", versym.offset + 2 * i)
                default = not ver & VERSYM_HIDDEN
            yield Symbol(self._cstr(strtab.offset + name), value, size, info & 0xF, shndx, default)

    def find_function(self, name: str) -> Symbol:
        """The defined function *name* (``name@VERSION`` accepted, the default version wins)."""
        base = name.split("@", 1)[0]
        found = [
            s
            for s in self.symbols()
            if s.name == base and s.shndx != SHN_UNDEF and s.type in (STT_FUNC, STT_GNU_IFUNC)
        ]
        if not found:
            raise BpfError(f"no function {base!r} in {self.path}", errno=_errno.ENOENT)
        defaults = [s for s in found if s.default]
        return (defaults or found)[0]

    def vaddr_to_offset(self, vaddr: int) -> int:
        """The file offset holding virtual address *vaddr* (via the PT_LOAD segments)."""
        for seg in self.segments:
            if seg.type == PT_LOAD and seg.vaddr <= vaddr < seg.vaddr + seg.filesz:
                return vaddr - seg.vaddr + seg.offset
        raise BpfError(f"address {vaddr:#x} is in no loadable segment of {self.path}")

    def static_programs(self) -> Iterator[tuple[int, str]]:
        """(file offset of st_info, name) of every local function symbol in an executable
        section other than ``.text``: a BPF program entry point declared ``static``."""
        with self._malformed():
            yield from self._static_programs()

    def _static_programs(self) -> Iterator[tuple[int, str]]:
        info_at = 4 if self.bits == 64 else 12
        for sec in self.sections:
            if sec.type != SHT_SYMTAB or not sec.entsize:
                continue
            strtab = self.sections[sec.link]
            for i in range(1, sec.size // sec.entsize):
                off = sec.offset + i * sec.entsize
                if self.bits == 64:
                    name, info, _other, shndx, _value, _size = self._unpack("IBBHQQ", off)
                else:
                    name, _value, _size, info, _other, shndx = self._unpack("IIIBBH", off)
                if info >> 4 != STB_LOCAL or info & 0xF != STT_FUNC:
                    continue
                if not 0 < shndx < len(self.sections):
                    continue
                home = self.sections[shndx]
                if home.flags & SHF_EXECINSTR and home.name != ".text":
                    yield off + info_at, self._cstr(strtab.offset + name)


def globalize_static_programs(data: bytes) -> bytes | None:
    """A copy of the eBPF object *data* whose ``static`` program entry points have global
    binding (libbpf >= 1.0 refuses static programs; aya and cilium/ebpf accept them, and
    every upstream bpfman example declares its programs static), or None when there are
    none. Only the symbols' binding changes: code, BTF and relocations stay as they are."""
    try:
        found = list(ElfFile(data).static_programs())
    except (struct.error, IndexError, BpfError):
        return None  # not an ELF file this parser reads: libbpf gives the error
    if not found:
        return None
    out = bytearray(data)
    for at, _name in found:
        out[at] = (STB_GLOBAL << 4) | (out[at] & 0xF)
    return bytes(out)


@contextlib.contextmanager
def open_elf(path: str) -> Iterator[ElfFile]:
    """Map *path* read-only and parse it: a regular file only (``O_NONBLOCK``: a FIFO in
    its place must not block, a device must not be mapped)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except FileNotFoundError:
        raise BpfError(f"no such file: {path}", errno=_errno.ENOENT) from None
    except IsADirectoryError:
        raise BpfError(f"{path} is a directory", errno=_errno.EISDIR) from None
    except OSError as e:  # EACCES, ELOOP, ENXIO (a Unix socket)...
        raise BpfError(f"cannot open {path}: {e.strerror}", errno=e.errno or 0) from None
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise BpfError(f"{path} is a directory", errno=_errno.EISDIR)
        if not stat.S_ISREG(mode):
            raise BpfError(f"{path} is not a regular file", errno=_errno.EINVAL)
        try:
            m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # empty file
            raise BpfError(f"{path} is not an ELF file", errno=_errno.ENOEXEC) from None
        with m:
            yield ElfFile(m, path)


def function_offset(path: str, name: str) -> int:
    """File offset of function *name* in the ELF file *path* (what a uprobe needs)."""
    with open_elf(path) as elf:
        return elf.vaddr_to_offset(elf.find_function(name).value)


# --------------------------------------------------------------------------- libraries


def machine_of(path: str) -> tuple[int, int] | None:
    """(ELF class, e_machine) of *path*, or None when it is not an ELF file."""
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        return None
    if len(head) < 20 or head[:4] != ELF_MAGIC:
        return None
    return head[4], int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")


@cache
def own_machine() -> tuple[int, int] | None:
    return machine_of("/proc/self/exe")


def parse_ld_so_cache(data: bytes) -> list[tuple[str, str]]:
    """(soname, path) entries of an ``ld.so.cache`` in glibc's format 1.1."""
    base = data.find(_CACHE_MAGIC)
    if base < 0:
        return []
    nlibs, _len_strings = struct.unpack_from("<II", data, base + 20)
    out: list[tuple[str, str]] = []
    for i in range(nlibs):
        off = base + 48 + 24 * i
        if off + 24 > len(data):
            break
        _flags, key, value = struct.unpack_from("<iII", data, off)
        out.append((_cstr(data, base + key), _cstr(data, base + value)))
    return out


def _cstr(data: bytes, off: int) -> str:
    end = data.find(b"\0", off)
    return data[off:end].decode(errors="replace")


def parse_ldconfig_p(text: str) -> list[tuple[str, str]]:
    """(soname, path) entries of ``ldconfig -p`` output."""
    out: list[tuple[str, str]] = []
    for m in re.finditer(r"^\s+(\S+) \([^)]*\)(?: [^=]*)? => (\S+)$", text, re.M):
        out.append((m.group(1), m.group(2)))
    return out


def library_matches(name: str, soname: str) -> bool:
    """True when *soname* is what a request for library *name* means.

    ``"c"``, ``"libc"`` and ``"libc.so"`` match ``libc.so`` and ``libc.so.N``;
    a name with a version (``"libc.so.6"``) matches only itself.
    """
    if ".so." in name:
        return soname == name
    stem = name.removesuffix(".so")
    if not stem.startswith("lib"):
        stem = "lib" + stem
    return soname == stem + ".so" or soname.startswith(stem + ".so.")


def _version_key(path: str) -> tuple[int, ...]:
    """Versioned names first (``libc.so`` is often a linker script), newest version first."""
    tail = os.path.basename(path).partition(".so")[2]
    nums = tuple(int(n) for n in re.findall(r"\d+", tail))
    return (1 if nums else 0, *nums)


def pick_library(
    name: str,
    entries: list[tuple[str, str]],
    machine: tuple[int, int] | None,
    machine_of: Any = machine_of,
) -> str | None:
    """The first cache entry for *name* that is an ELF file for *machine*."""
    found = [path for soname, path in entries if library_matches(name, soname)]
    found.sort(key=_version_key, reverse=True)
    for path in found:
        if machine is None or machine_of(path) == machine:
            return path
    return None


def default_dirs(root: str = "") -> list[str]:
    triplet = sysconfig.get_config_var("MULTIARCH") or ""
    dirs = [f"/lib/{triplet}", f"/usr/lib/{triplet}"] if triplet else []
    dirs += ["/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib"]
    return [root + d for d in dirs]


def _dir_entries(dirs: list[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for d in dirs:
        with contextlib.suppress(OSError):
            out.extend((n, os.path.join(d, n)) for n in sorted(os.listdir(d)) if ".so" in n)
    return out


@cache
def _cache_entries(root: str) -> tuple[tuple[str, str], ...]:
    """The ld.so.cache of the filesystem at *root* ("" for ours), paths under *root*."""
    try:
        with open(root + LD_SO_CACHE, "rb") as f:
            entries = parse_ld_so_cache(f.read())
    except OSError:
        entries = []
    if not entries and not root:
        try:
            run = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, timeout=10)
            entries = parse_ldconfig_p(run.stdout)
        except (OSError, subprocess.SubprocessError):
            entries = []
    return tuple((soname, root + path) for soname, path in entries)


def resolve_library(name: str, root: str = "") -> str:
    """Path of a shared library given as a path, a file name or a short name ("c", "libc").

    With *root* (e.g. ``/proc/PID/root``) the library is looked up in that
    filesystem (its ld.so.cache and standard directories) and the returned
    path starts with *root*.
    """
    root = root.rstrip("/")
    if "/" in name:
        path = root + name if root and name.startswith("/") else name
        if not os.path.exists(path):
            raise BpfError(f"no such file: {path}", errno=_errno.ENOENT)
        return path
    machine = own_machine()
    ld_path = [] if root else [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(":") if d]
    searches = (_dir_entries(ld_path), list(_cache_entries(root)), _dir_entries(default_dirs(root)))
    for entries in searches:
        found = pick_library(name, entries, machine)
        if found:
            return found
    where = f" under {root}" if root else ""
    raise BpfError(
        f"no library {name!r} found{where} (ld.so.cache and standard directories)",
        errno=_errno.ENOENT,
    )
