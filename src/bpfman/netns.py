"""Network namespaces: enter one by path for a block, and look up interfaces inside it.

``setns(2)`` changes the namespace of the calling thread only, so
``with enter("/run/netns/blue"):`` affects nothing outside this thread and
restores the original namespace on exit. Sockets (netlink included) opened
inside the block stay in that namespace after it, and threads started inside
it start there. Unlike ``ip netns exec``
nothing is remounted: /sys/fs/bpf stays visible.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno as _errno
import os
import socket
from collections.abc import Iterator

from bpfman import _libbpf
from bpfman.errors import BpfError

CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = "/run/netns"
_SELF = "/proc/thread-self/ns/net"


def path_of(netns: str) -> str:
    """*netns* as a path: a bare name means ``/run/netns/<name>`` (as ``ip netns`` makes)."""
    if not netns:
        raise BpfError("empty network namespace name", errno=_errno.EINVAL)
    return netns if "/" in netns else os.path.join(NETNS_RUN_DIR, netns)


def inode(path: str = _SELF) -> int:
    """The namespace inode of *path* (this thread's netns by default): its identity."""
    return os.stat(path).st_ino


def open_fd(netns: str | None = None) -> int:
    """An fd (O_RDONLY, close-on-exec) on *netns*, or on this thread's netns if None."""
    path = _SELF if netns is None else path_of(netns)
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise BpfError(f"no network namespace {path}", errno=_errno.ENOENT) from None
    except OSError as e:
        raise BpfError(
            f"cannot open network namespace {path}: {e.strerror}", errno=e.errno or 0
        ) from None


def _setns(fd: int, what: str) -> None:
    if _libbpf.libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise BpfError(f"cannot enter network namespace {what}: {os.strerror(err)}", errno=err)


@contextlib.contextmanager
def enter_fd(fd: int, what: str = "") -> Iterator[None]:
    """Run the block in the netns held by *fd*; nothing happens if it is already ours."""
    if os.fstat(fd).st_ino == inode():
        yield
        return
    home = os.open(_SELF, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(fd, what or f"fd {fd}")
        try:
            yield
        finally:
            _setns(home, "of this thread (restoring)")
    finally:
        os.close(home)


@contextlib.contextmanager
def enter(netns: str | None) -> Iterator[None]:
    """Run the block inside *netns* (a path or a name under /run/netns); None: stay here."""
    if netns is None:
        yield
        return
    fd = open_fd(netns)
    try:
        with enter_fd(fd, path_of(netns)):
            yield
    finally:
        os.close(fd)


def ifindex(iface: str | int, netns: str | None = None) -> int:
    """The index of interface *iface* (a name or an index) in *netns* (default: this one).

    An index is checked to exist; either way a missing interface is a one-line BpfError.
    """
    where = f" in network namespace {path_of(netns)}" if netns else ""
    with enter(netns):
        if isinstance(iface, int) and not isinstance(iface, bool):
            try:
                socket.if_indextoname(iface)
            except (OSError, OverflowError):
                raise BpfError(
                    f"no network interface with index {iface}{where}", errno=_errno.ENODEV
                ) from None
            return iface
        if not isinstance(iface, str) or not iface:
            raise BpfError(f"bad network interface {iface!r}", errno=_errno.EINVAL)
        try:
            return socket.if_nametoindex(iface)
        except OSError:
            raise BpfError(
                f"no network interface named {iface!r}{where}", errno=_errno.ENODEV
            ) from None


def ifname(index: int, netns: str | None = None) -> str:
    """The name of interface *index* in *netns*, or ``"if<index>"`` if there is none."""
    with enter(netns):
        try:
            return socket.if_indextoname(index)
        except OSError:
            return f"if{index}"
