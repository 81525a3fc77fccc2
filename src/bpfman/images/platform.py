"""Platforms: the host's OCI platform, and bpfman's per-architecture build slots.

An eBPF object is compiled for one byte order (and, through the kernel
headers, one architecture); multi-arch images hold one object per
``linux/<goarch>``. The slots and their build-arg names are bpfman's
(``BC_<GOARCH>_<EL|EB>``), with the file-name architecture words cilium's
bpf2go uses (``bpf_x86_bpfel.o``).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

LITTLE, BIG = "little", "big"

# os.uname().machine -> Go's GOARCH (the OCI platform architecture)
_GOARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "i386": "386",
    "i486": "386",
    "i586": "386",
    "i686": "386",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv6l": "arm",
    "armv7l": "arm",
    "armv8l": "arm",
    "loongarch64": "loong64",
    "mips64": "mips64",
    "ppc64": "ppc64",
    "ppc64le": "ppc64le",
    "riscv64": "riscv64",
    "s390x": "s390x",
}


@dataclass(frozen=True)
class Slot:
    goarch: str
    endian: str
    cilium: tuple[str, ...]  # bpf2go's architecture words in object file names

    @property
    def platform(self) -> str:
        return f"linux/{self.goarch}"

    @property
    def build_arg(self) -> str:
        return f"BC_{self.goarch.upper()}_{'EL' if self.endian == LITTLE else 'EB'}"

    @property
    def option(self) -> str:
        """The ``image build`` option naming this slot (``--bc-amd64-el``)."""
        return "--" + self.build_arg.lower().replace("_", "-")


SLOTS: tuple[Slot, ...] = (
    Slot("386", LITTLE, ("386",)),
    Slot("amd64", LITTLE, ("x86", "amd64")),
    Slot("arm", LITTLE, ("arm",)),
    Slot("arm64", LITTLE, ("arm64",)),
    Slot("loong64", LITTLE, ("loongarch", "loong64")),
    Slot("mips", BIG, ("mips",)),
    Slot("mipsle", LITTLE, ("mipsle", "mips")),
    Slot("mips64", BIG, ("mips64",)),
    Slot("mips64le", LITTLE, ("mips64le", "mips64")),
    Slot("ppc64", BIG, ("powerpc", "ppc64")),
    Slot("ppc64le", LITTLE, ("powerpc", "ppc64le")),
    Slot("riscv64", LITTLE, ("riscv", "riscv64")),
    Slot("s390x", BIG, ("s390", "s390x")),
)
SINGLE_BUILD_ARG = "BYTECODE_FILE"


def host_endian() -> str:
    return sys.byteorder


def host_goarch(machine: str | None = None) -> str:
    m = machine or os.uname().machine
    if m in _GOARCH:
        return _GOARCH[m]
    if m.startswith("mips"):
        base = "mips64" if "64" in m else "mips"
        return base if host_endian() == BIG else base + "le"
    return m


def host_platform() -> str:
    return f"linux/{host_goarch()}"


def slot_for_cilium(arch: str, endian_word: str) -> Slot | None:
    """The slot of a bpf2go object name's ``<arch>_<bpfel|bpfeb>``."""
    endian = {"bpfel": LITTLE, "bpfeb": BIG}.get(endian_word)
    exact = [s for s in SLOTS if s.endian == endian and s.goarch == arch]
    if exact:
        return exact[0]
    return next((s for s in SLOTS if s.endian == endian and arch in s.cilium), None)
