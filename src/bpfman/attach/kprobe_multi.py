"""kprobe_multi (``kprobe.multi/PATTERN``): one link, a kprobe on every kernel function matched.

Through libbpf 1.1's ``bpf_program__attach_kprobe_multi_opts`` (it resolves the
glob against the kernel's symbols). The kernel needs CONFIG_FPROBE (Linux >= 5.18).
"""

from __future__ import annotations

import ctypes
import errno as _errno
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bpfman import _libbpf, features
from bpfman._libbpf import lib
from bpfman.attach import types
from bpfman.attach.libbpf_link import adopt_fd, bpf_program
from bpfman.errors import BpfError, from_errno
from bpfman.link import Link

if TYPE_CHECKING:
    from bpfman.program import Program


def attach_kprobe_multi(
    prog: Program,
    pattern: str | None = None,
    functions: Sequence[str] = (),
    cookies: Sequence[int] | None = None,
    retprobe: bool = False,
) -> Link:
    """Probe every kernel function matching *pattern* (a glob), or the *functions* named
    (with one cookie each when *cookies* is given)."""
    features.require("kprobe_multi")
    kind = "kretprobe_multi" if retprobe else "kprobe_multi"
    types.require_type(prog, "kprobe_multi", kind)
    if (pattern is None) == (not functions):
        raise BpfError(
            f"cannot attach {prog.name} to {kind}: give a pattern or functions (one of them)",
            errno=_errno.EINVAL,
        )
    if cookies is not None and len(cookies) != len(functions):
        raise BpfError(
            f"cannot attach {prog.name} to {kind}: cookies need functions, one each",
            errno=_errno.EINVAL,
        )
    ptr = bpf_program(prog, kind)
    o = _libbpf.opts(_libbpf.bpf_kprobe_multi_opts, retprobe=retprobe)
    names = (ctypes.c_char_p * max(len(functions), 1))(*(f.encode() for f in functions))
    cooks = (ctypes.c_uint64 * max(len(functions), 1))(*(cookies or ()))
    if functions:
        o.syms = ctypes.cast(names, ctypes.c_void_p)
        o.cnt = len(functions)
        if cookies is not None:
            o.cookies = ctypes.cast(cooks, ctypes.c_void_p)
    where = pattern if pattern is not None else ",".join(functions)
    with _libbpf.capture() as log:
        link = lib.bpf_program__attach_kprobe_multi_opts(
            ptr, pattern.encode() if pattern is not None else None, ctypes.byref(o)
        )
    if not link:
        raise from_errno(f"cannot attach {prog.name} to {kind} {where}", _libbpf.errno(), log)
    return adopt_fd(link, f"{kind} {where}")
