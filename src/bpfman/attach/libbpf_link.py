"""Attach functions only libbpf has (kprobe_multi, USDT): its ``bpf_program`` and ``bpf_link``.

They need libbpf's ``struct bpf_program *`` of a program, which only the
``Object`` it was loaded with has. A link libbpf returns is either handed over
as a plain fd ``Link`` (``adopt_fd``: libbpf lets go of the fd) or kept as
libbpf's own (``LibbpfLink``: USDT links are several uprobes without one fd).
"""

from __future__ import annotations

import errno as _errno
import weakref
from typing import TYPE_CHECKING

from bpfman._libbpf import lib
from bpfman.errors import BpfError
from bpfman.link import Link, LinkInfo

if TYPE_CHECKING:
    from bpfman.program import Program


def bpf_program(prog: Program, what: str) -> int:
    """libbpf's ``struct bpf_program *`` of *prog*, or a clear error."""
    owner = prog._owner
    if owner is None:
        raise BpfError(
            f"cannot attach {prog.name} to {what}: libbpf attaches it only through the"
            " Object it was loaded with (not a program reopened from a pin or an id)",
            errno=_errno.EINVAL,
        )
    prog.fd  # noqa: B018  (raises if the object is closed)
    ptr = lib.bpf_object__find_program_by_name(owner._ptr, prog.name.encode())
    if not ptr:
        raise BpfError(
            f"cannot attach {prog.name} to {what}: not in its object", errno=_errno.ENOENT
        )
    return int(ptr)


def adopt_fd(link_ptr: int, description: str) -> Link:
    """A ``Link`` owning the fd of libbpf's *link_ptr*; libbpf's struct is freed."""
    fd = int(lib.bpf_link__fd(link_ptr))
    lib.bpf_link__disconnect(link_ptr)  # destroy() then frees the struct, leaves the fd open
    lib.bpf_link__destroy(link_ptr)
    return Link(fd, description=description)


class LibbpfLink(Link):
    """A link libbpf keeps (a USDT probe: one uprobe per site, no fd of its own).

    ``close()``/``detach()`` destroy it; it cannot be pinned, updated or queried.
    """

    def __init__(self, link_ptr: int, *, description: str) -> None:
        self._fd = -1
        self._ptr = link_ptr
        self.description = description
        self.pin_path = None
        self._finalizer = weakref.finalize(self, lib.bpf_link__destroy, link_ptr)

    def _refuse(self, op: str) -> BpfError:
        return BpfError(
            f"{self.description}: cannot {op}: libbpf holds it as several links without one fd",
            errno=_errno.EOPNOTSUPP,
        )

    @property
    def fd(self) -> int:
        raise self._refuse("give an fd")

    def info(self) -> LinkInfo:
        raise self._refuse("read its info")

    def pin(self, path: str) -> None:
        raise self._refuse("pin it")

    def update(self, program: Program, old: Program | None = None) -> None:
        raise self._refuse("update it")

    def detach(self) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<LibbpfLink {self.description} {'closed' if self.closed else 'attached'}>"
