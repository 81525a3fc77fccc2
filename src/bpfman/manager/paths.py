"""The runtime directory layout (``/run/bpfman`` by default; relocatable for tests)."""

from __future__ import annotations

import os

DEFAULT_RUNTIME_DIR = "/run/bpfman"
DEFAULT_CONFIG = "/etc/bpfman/bpfman.toml"


def runtime_root(runtime_dir: str | None = None) -> str:
    """The runtime root: *runtime_dir* (--runtime-dir), else $BPFMAN_RUNTIME_DIR, else the
    default."""
    return runtime_dir or os.environ.get("BPFMAN_RUNTIME_DIR") or DEFAULT_RUNTIME_DIR


class Paths:
    """Where things live under one runtime root (a plain class: imported by every command)."""

    __slots__ = ("root",)

    def __init__(self, root: str) -> None:
        self.root = root

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
    """Whether *path* lies on a bpf filesystem (the longest matching mount decides)."""
    real = os.path.realpath(path)
    best, kind = "", ""
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            mnt = fields[1].replace("\\040", " ")
            if (real == mnt or real.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                best, kind = mnt, fields[2]
    return kind == "bpf"


def ensure_layout(paths: Paths) -> None:
    """Create the runtime dirs and mount a bpffs at ``<root>/fs`` unless one is there."""
    os.makedirs(paths.fs, exist_ok=True)
    if not is_bpffs(paths.fs):
        import subprocess

        subprocess.run(["mount", "-t", "bpf", "bpf", paths.fs], check=True, capture_output=True)
    for sub in ("maps", "links"):
        os.makedirs(os.path.join(paths.fs, sub), exist_ok=True)
    os.makedirs(os.path.dirname(paths.db), exist_ok=True)
