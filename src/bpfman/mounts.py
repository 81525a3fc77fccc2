"""Mounting bpf filesystems and bind mounts (a pod's map volume is one of each).

The library's face of ``mount(2)``/``umount2(2)`` (``_sys``): a fresh bpffs
instance, a bind mount of one directory on another (read-only if asked), and
unmounting. Failures are ``BpfError`` naming the path and the errno's text.
"""

from __future__ import annotations

from bpfman import _sys

_SAFE = _sys.MS_NOSUID | _sys.MS_NODEV | _sys.MS_NOEXEC


def mount_bpffs(path: str) -> None:
    """A new bpf filesystem instance on *path* (nosuid, nodev, noexec)."""
    _sys.mount("bpf", path, "bpf", _SAFE)


def bind(source: str, target: str, readonly: bool = False) -> None:
    """Bind-mount the directory *source* on *target*; read-only (and nosuid...) if asked.

    A read-only bind takes two calls (the kernel ignores MS_RDONLY on the first):
    if the second fails, the first is undone.
    """
    _sys.mount(source, target, None, _sys.MS_BIND)
    if not readonly:
        return
    try:
        _sys.mount(source, target, None, _sys.MS_BIND | _sys.MS_REMOUNT | _sys.MS_RDONLY | _SAFE)
    except BaseException:
        _sys.umount(target, _sys.MNT_DETACH)
        raise


def unmount(path: str, lazy: bool = False) -> None:
    """Unmount *path* (*lazy*: detach it now, the kernel finishes when it is unused)."""
    _sys.umount(path, _sys.MNT_DETACH if lazy else 0)
