"""The runtime directory layout (``/run/bpfman`` by default; relocatable for tests)."""

from __future__ import annotations

import os

DEFAULT_RUNTIME_DIR = "/run/bpfman"
DEFAULT_CONFIG = "/etc/bpfman/bpfman.toml"


def runtime_root(runtime_dir: str | None = None) -> str:
    """The runtime root: *runtime_dir* (--runtime-dir), else $BPFMAN_RUNTIME_DIR, else the
    default. An empty one given is refused, not taken for the default."""
    if runtime_dir == "":
        from bpfman.errors import InputError

        raise InputError("--runtime-dir is empty: give a directory (default /run/bpfman)")
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

    def program_maps_dir(self, prog_id: int, map_owner_id: int | None) -> str:
        """Where program *prog_id*'s maps are pinned: its map owner's dir, else its own."""
        return self.maps_dir(map_owner_id if map_owner_id is not None else prog_id)

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
    """Create the runtime dirs (0700) and mount a bpffs (``mode=0700``) at ``<root>/fs``
    unless one is there; refuse a root another user owns or can write (``safety``).

    Under a lock (``flock`` on the root directory): processes using a fresh runtime dir
    at once mount one bpffs, not one each.
    """
    import fcntl

    from bpfman.manager import safety

    os.makedirs(os.path.dirname(os.path.abspath(paths.root)), exist_ok=True)
    safety.secure_dir(paths.root, 0o700, ancestors=True)
    fd = os.open(paths.root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        safety.secure_dir(paths.fs, 0o700, narrow_writable=True)  # (mounted over, if not one)
        if not is_bpffs(paths.fs):
            _mount_bpffs(paths.fs)
        safety.secure_dir(paths.fs, 0o700, create=False, narrow_writable=True)
        for sub in ("maps", "links"):  # (in the bpffs: entries are checked one by one)
            safety.secure_dir(os.path.join(paths.fs, sub), 0o700, narrow_writable=True)
        safety.secure_dir(os.path.dirname(paths.db), 0o700)
    finally:
        os.close(fd)  # releases the flock


def _mount_bpffs(path: str) -> None:
    import subprocess

    from bpfman.errors import BpfError

    cmd = ["mount", "-t", "bpf", "-o", "mode=0700", "bpf", path]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        why = (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1]
        raise BpfError(f"cannot mount a bpffs at {path}: {why}")
