"""Cgroup programs attached to a cgroup v2 directory through a bpf_link."""

from __future__ import annotations

import ctypes
import errno as _errno
import os
from typing import TYPE_CHECKING

from bpfman import _libbpf
from bpfman._libbpf import lib
from bpfman.attach.sections import CGROUP_SECTIONS
from bpfman.attach.types import require_type
from bpfman.errors import BpfError, from_errno
from bpfman.kinds import AttachType
from bpfman.link import Link

if TYPE_CHECKING:
    from bpfman.program import Program


def _from_section(prog: Program) -> AttachType:
    """The cgroup hook *prog*'s ELF section names, or an error saying to pass one."""
    prefix, _, rest = prog.section.partition("/")
    key = {"sockops": "sock_ops", "cgroup": rest, "cgroup_skb": rest}.get(prefix.removesuffix(".s"))
    if key in CGROUP_SECTIONS:
        return CGROUP_SECTIONS[key]
    where = f"section {prog.section!r}" if prog.section else "no ELF section"
    raise BpfError(
        f"cannot attach {prog.name} to a cgroup: its {where} names no cgroup hook;"
        f" pass attach_type (one of {', '.join(CGROUP_SECTIONS)})",
        errno=_errno.EINVAL,
    )


def parse_attach_type(value: AttachType | int | str) -> AttachType:
    """A cgroup attach type from an ``AttachType``, its number, or a name.

    Names: ``"cgroup_inet_egress"``, ``"CGROUP_INET_EGRESS"``, or libbpf's
    section suffix (``"egress"``, ``"sock_create"``, ``"connect4"``, ...).
    """
    if isinstance(value, str):
        key = value.strip().lower().removeprefix("cgroup_skb/").removeprefix("cgroup/")
        if key in CGROUP_SECTIONS:
            at = CGROUP_SECTIONS[key]
        else:
            try:
                at = AttachType[key.upper()]
            except KeyError:
                known = ", ".join(CGROUP_SECTIONS)
                raise BpfError(
                    f"unknown cgroup attach type {value!r} (known: {known})", errno=_errno.EINVAL
                ) from None
    else:
        try:
            at = AttachType(int(value))
        except ValueError:
            raise BpfError(f"unknown attach type {value}", errno=_errno.EINVAL) from None
    if not at.name.startswith("CGROUP_") and at != AttachType.LSM_CGROUP:
        raise BpfError(f"{at.name.lower()} is not a cgroup attach type", errno=_errno.EINVAL)
    return at


def attach_cgroup(
    prog: Program, path: str, attach_type: AttachType | int | str | None = None
) -> Link:
    """Attach *prog* to the cgroup v2 directory *path* at hook *attach_type*.

    Without *attach_type* the hook is the one the program's ELF section names
    (``cgroup_skb/egress``, ``cgroup/connect4``, ``sockops``, ...).
    """
    at = parse_attach_type(_from_section(prog) if attach_type is None else attach_type)
    require_type(prog, "cgroup", f"cgroup {path} ({at.name.lower()})")
    what = f"cgroup {path} ({at.name.lower()})"
    try:
        cg_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise BpfError(f"cannot attach {prog.name}: no {path}", errno=_errno.ENOENT) from None
    except NotADirectoryError:
        raise BpfError(
            f"cannot attach {prog.name}: {path} is not a directory", errno=_errno.ENOTDIR
        ) from None
    try:
        o = _libbpf.opts(_libbpf.bpf_link_create_opts)
        with _libbpf.capture() as log:
            fd = lib.bpf_link_create(prog.fd, cg_fd, int(at), ctypes.byref(o))
        if fd < 0:
            if -fd == _errno.EBADF:
                raise BpfError(
                    f"cannot attach {prog.name}: {path} is not a cgroup v2 directory",
                    errno=_errno.EBADF,
                )
            raise from_errno(f"cannot attach {prog.name} to {what}", fd, log)
    finally:
        os.close(cg_fd)
    return Link(fd, description=what)
