"""USDT probes (``usdt/BINARY:PROVIDER:NAME``): statically defined tracepoints of a binary.

Through libbpf 1.1's ``bpf_program__attach_usdt``: it reads the binary's
``.note.stapsdt`` notes, puts a uprobe on every site of the probe (raising
its semaphore while attached) and gives the program the probe's arguments
(``BPF_USDT`` in ``<bpf/usdt.bpf.h>``) and the *cookie* (``bpf_usdt_cookie``).
"""

from __future__ import annotations

import ctypes
import os
from typing import TYPE_CHECKING

from bpfman import _libbpf, elf, features
from bpfman._libbpf import lib
from bpfman.attach import types
from bpfman.attach.libbpf_link import LibbpfLink, bpf_program
from bpfman.errors import BpfError, from_errno

if TYPE_CHECKING:
    from bpfman.program import Program


def attach_usdt(
    prog: Program, target: str, provider: str, name: str, pid: int = -1, cookie: int = 0
) -> LibbpfLink:
    """Attach to USDT probe *provider*:*name* of *target* (a path or a library name).

    A *pid* >= 0 limits it to that process.
    """
    features.require("uprobe")
    what = f"usdt {provider}:{name}"
    types.require_type(prog, "usdt", what)
    try:
        path = os.path.realpath(elf.resolve_library(target))
    except BpfError as e:
        raise BpfError(f"cannot attach {prog.name} to {what}: {e}", errno=e.errno) from None
    ptr = bpf_program(prog, what)
    o = _libbpf.opts(_libbpf.bpf_usdt_opts, usdt_cookie=cookie)
    with _libbpf.capture() as log:
        link = lib.bpf_program__attach_usdt(
            ptr, pid, os.fsencode(path), provider.encode(), name.encode(), ctypes.byref(o)
        )
    where = f"{what} in {path}" + (f" pid {pid}" if pid >= 0 else "")
    if not link:
        raise from_errno(f"cannot attach {prog.name} to {where}", _libbpf.errno(), log)
    return LibbpfLink(link, description=where)
