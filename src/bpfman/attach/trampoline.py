"""Trampoline programs: fentry/fexit/fmod_ret, tp_btf and lsm (target fixed at load), freplace."""

from __future__ import annotations

import ctypes
import errno as _errno
from typing import TYPE_CHECKING

from bpfman import _libbpf, _sys
from bpfman._libbpf import lib
from bpfman.attach.types import require_type
from bpfman.errors import BpfError, from_errno
from bpfman.link import Link

if TYPE_CHECKING:
    from bpfman.program import Program

BTF_KIND_FUNC = 12


def attach_trace(prog: Program, cookie: int = 0) -> Link:
    """Attach a fentry/fexit/fmod_ret/tp_btf/lsm program to the target it was loaded for.

    A *cookie* (``bpf_get_attach_cookie``) goes through ``BPF_LINK_CREATE``
    with the program's expected attach type (Linux 5.19; tp_btf 6.10).
    """
    require_type(prog, "trace", "its load-time target")
    if cookie:
        if prog.expected_attach_type is None:
            raise BpfError(
                f"cannot attach {prog.name} with a cookie: its attach type is unknown"
                " (reopened from a pin or an id)",
                errno=_errno.EINVAL,
            )
        o = _libbpf.opts(_libbpf.bpf_link_create_opts, tracing_cookie=cookie)
        with _libbpf.capture() as log:
            fd = lib.bpf_link_create(prog.fd, 0, prog.expected_attach_type, ctypes.byref(o))
        if fd < 0:
            raise from_errno(f"cannot attach {prog.name} with cookie {cookie}", fd, log)
        return Link(fd, description=f"trace {prog.section or prog.name}")
    with _libbpf.capture() as log:
        fd = lib.bpf_raw_tracepoint_open(None, prog.fd)
    if fd < 0:
        raise from_errno(f"cannot attach {prog.name}", fd, log)
    return Link(fd, description=f"trace {prog.section or prog.name}")


def func_btf_id(prog_fd: int, func_name: str) -> int:
    """BTF id of function *func_name* in the BTF of the program *prog_fd*."""
    info, _ = _sys.prog_info(prog_fd, with_map_ids=False)
    name = info.name.decode(errors="replace")
    if not info.btf_id:
        raise BpfError(f"program {name} has no BTF: it cannot be a freplace target")
    btf = lib.btf__load_from_kernel_by_id(info.btf_id)
    if not btf:
        raise from_errno(f"cannot read the BTF of program {name}", _libbpf.errno())
    try:
        tid = int(lib.btf__find_by_name_kind(btf, func_name.encode(), BTF_KIND_FUNC))
    finally:
        lib.btf__free(btf)
    if tid <= 0:
        raise BpfError(f"program {name} has no function {func_name!r}", errno=_errno.ENOENT)
    return tid


def attach_freplace(prog: Program, target_prog: Program | int, func_name: str) -> Link:
    """Replace function *func_name* of *target_prog* (a Program or a program fd) with *prog*."""
    require_type(prog, "freplace", f"function {func_name}")
    target_fd = target_prog if isinstance(target_prog, int) else target_prog.fd
    o = _libbpf.opts(_libbpf.bpf_link_create_opts)
    o.target_btf_id = func_btf_id(target_fd, func_name)
    with _libbpf.capture() as log:
        fd = lib.bpf_link_create(prog.fd, target_fd, 0, ctypes.byref(o))
    if fd < 0:
        raise from_errno(f"cannot attach {prog.name} in place of {func_name}", fd, log)
    return Link(fd, description=f"freplace {func_name}")
