"""The runtime directory layout (``/run/bpfman`` by default; relocatable for tests)."""

from __future__ import annotations

import ctypes
import os
import subprocess
from dataclasses import dataclass

DEFAULT_RUNTIME_DIR = "/run/bpfman"
DEFAULT_CONFIG = "/etc/bpfman/bpfman.toml"
BPF_FS_MAGIC = 0xCAFE4A11


@dataclass(frozen=True)
class Paths:
    root: str

    @property
    def fs(self) -> str:
        return os.path.join(self.root, "fs")

    @property
    def db(self) -> str:
        return os.path.join(self.root, "db", "bpfman.db")

    @property
    def lock(self) -> str:
        return os.path.join(self.root, ".lock")

    def prog_pin(self, prog_id: int) -> str:
        return os.path.join(self.fs, f"prog_{prog_id}")

    def maps_dir(self, owner_id: int) -> str:
        return os.path.join(self.fs, "maps", str(owner_id))

    def link_pin(self, link_id: int) -> str:
        return os.path.join(self.fs, "links", str(link_id))


def pin_name(map_name: str) -> str:
    """bpffs refuses '.' in names: ``basic.rodata`` is pinned as ``basic_rodata``."""
    return map_name.replace(".", "_")


def is_bpffs(path: str) -> bool:
    class _Statfs(ctypes.Structure):
        _fields_ = [("f_type", ctypes.c_long), ("_rest", ctypes.c_byte * 120)]

    libc = ctypes.CDLL(None, use_errno=True)
    buf = _Statfs()
    if libc.statfs(os.fsencode(path), ctypes.byref(buf)) != 0:
        return False
    return (buf.f_type & 0xFFFFFFFF) == BPF_FS_MAGIC


def ensure_layout(paths: Paths) -> None:
    """Create the runtime dirs and mount a bpffs at ``<root>/fs`` unless one is there."""
    os.makedirs(paths.fs, exist_ok=True)
    if not is_bpffs(paths.fs):
        subprocess.run(["mount", "-t", "bpf", "bpf", paths.fs], check=True, capture_output=True)
    for sub in ("maps", "links"):
        os.makedirs(os.path.join(paths.fs, sub), exist_ok=True)
    os.makedirs(os.path.dirname(paths.db), exist_ok=True)
