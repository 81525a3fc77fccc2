"""Network namespaces an attach is about to change, recorded before the kernel change.

A tc filter lives in its network namespace with nothing pinned in bpfman's
bpffs; ``doctor`` finds bpfman's filters by scanning namespaces. The root one
is always scanned, others only if something names them: the links in the
database, and these intents. ``attach --netns`` writes one
(``<runtime>/intents/<link id>``: the namespace path) before it touches the
kernel and removes it once the link is in the database (or undone); a crash
in between leaves it, so doctor scans that namespace and gc removes the filter
and then the intent.
"""

from __future__ import annotations

import contextlib
import os

from bpfman.manager import safety
from bpfman.manager.paths import Paths


def _dir(paths: Paths) -> str:
    return os.path.join(paths.root, "intents")


def record(paths: Paths, link_id: int, netns: str) -> None:
    """Note that link *link_id* is about to change namespace *netns* (durably)."""
    d = _dir(paths)
    safety.secure_dir(d, 0o700)
    tmp = os.path.join(d, f".{link_id}.tmp")
    fd = safety.open_own_file(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, netns.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, os.path.join(d, str(link_id)))


def clear(paths: Paths, link_id: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(_dir(paths), str(link_id)))


def pending(paths: Paths) -> dict[int, str]:
    """link id -> namespace path of every intent left (bpfman's own files only)."""
    d = _dir(paths)
    if not safety.is_own(d, directory=True):
        return {}
    out: dict[int, str] = {}
    for name in os.listdir(d):
        path = os.path.join(d, name)
        if name.isascii() and name.isdigit() and safety.is_own(path, directory=False):
            with open(path, "rb") as f:
                out[int(name)] = f.read(4096).decode(errors="replace")
    return out
