"""Is this object eBPF bytecode this host can load? Header checks only, no parsing of the rest."""

from __future__ import annotations

from dataclasses import dataclass

from bpfman.images.errors import NotBytecode
from bpfman.images.platform import BIG, LITTLE, host_endian

ELF_MAGIC = b"\x7fELF"
EM_BPF = 247
ELFCLASS64 = 2
_DATA = {1: LITTLE, 2: BIG}
_MACHINES = {3: "x86", 62: "x86-64", 183: "aarch64", 40: "arm", 8: "mips", 21: "ppc64", 22: "s390"}


@dataclass(frozen=True)
class ElfHeader:
    elf_class: int
    endian: str | None
    machine: int

    @property
    def machine_name(self) -> str:
        if self.machine == EM_BPF:
            return "BPF"
        return _MACHINES.get(self.machine, f"machine {self.machine}")


def header(data: bytes) -> ElfHeader | None:
    """The identification of an ELF file, or None when *data* is not one."""
    if len(data) < 20 or data[:4] != ELF_MAGIC:
        return None
    endian = _DATA.get(data[5])
    machine = int.from_bytes(data[18:20], "big" if endian == BIG else "little")
    return ElfHeader(data[4], endian, machine)


def check_bpf_object(data: bytes, what: str, endian: str | None = None) -> None:
    """Refuse *data* unless it is a 64-bit EM_BPF ELF object of byte order *endian*.

    *endian* defaults to the host's: a BPF object of the other byte order
    cannot be loaded here.
    """
    want = endian or host_endian()
    h = header(data)
    if h is None:
        raise NotBytecode(f"{what} is not an ELF object file")
    if h.machine != EM_BPF:
        raise NotBytecode(f"{what} is not eBPF bytecode (ELF machine {h.machine_name}, not BPF)")
    if h.elf_class != ELFCLASS64:
        raise NotBytecode(f"{what} is not a 64-bit ELF object (eBPF objects are ELF64)")
    if h.endian != want:
        raise NotBytecode(
            f"{what} is {h.endian or 'unknown'}-endian eBPF bytecode; this needs {want}-endian"
        )
