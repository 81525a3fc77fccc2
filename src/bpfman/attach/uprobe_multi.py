"""uprobe_multi (Linux >= 6.6): one link holding a uprobe on each of many functions or offsets.

libbpf 1.1 has neither the ``uprobe.multi`` section nor an attach function for
it: ``ObjectSpec`` loads such programs with the expected attach type from the
section table (``sections.SECTION_DEFS``, its ``load_as``) and the link is a raw
``BPF_LINK_CREATE`` (``_sys.link_create_uprobe_multi``). Functions are found
in the binary's ELF symbols (glob patterns allowed) and turned into file
offsets, as for single uprobes.
"""

from __future__ import annotations

import errno as _errno
import fnmatch
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bpfman import _sys, elf, features
from bpfman.attach import types, uprobe
from bpfman.elf import SHN_UNDEF, STT_FUNC, STT_GNU_IFUNC
from bpfman.errors import BpfError
from bpfman.kinds import AttachType
from bpfman.link import Link

if TYPE_CHECKING:
    from bpfman.program import Program

_GLOB = frozenset("*?[")


def function_names(path: str, patterns: Sequence[str]) -> list[str]:
    """*patterns* (names or globs) as the function names of *path*'s symbols, in order."""
    out: list[str] = []
    with elf.open_elf(path) as f:
        defined = sorted(
            {
                s.name
                for s in f.symbols()
                if s.type in (STT_FUNC, STT_GNU_IFUNC) and s.shndx != SHN_UNDEF and s.name
            }
        )
    for pattern in patterns:
        if not _GLOB & set(pattern):
            out.append(pattern)
            continue
        found = fnmatch.filter(defined, pattern)
        if not found:
            raise BpfError(f"no function of {path} matches {pattern!r}", errno=_errno.ENOENT)
        out += [n for n in found if n not in out]
    return out


def attach_uprobe_multi(
    prog: Program,
    target: str,
    functions: Sequence[str] = (),
    offsets: Sequence[int] = (),
    cookies: Sequence[int] | None = None,
    pid: int = -1,
    retprobe: bool = False,
) -> Link:
    """One link with a uprobe on each of *functions* (names or glob patterns) and file
    *offsets* of *target* (a path or a library name). *cookies*: one per probe, functions'
    first (``bpf_get_attach_cookie``). A *pid* >= 0 limits the probes to that process.
    """
    features.require("uprobe_multi")
    kind = "uretprobe_multi" if retprobe else "uprobe_multi"
    types.require_type(prog, "uprobe_multi", kind)
    if prog.expected_attach_type != AttachType.TRACE_UPROBE_MULTI:
        raise BpfError(
            f"cannot attach {prog.name} to {kind}: it was not loaded for uprobe_multi"
            " (section uprobe.multi, or expected_attach_type TRACE_UPROBE_MULTI before load)",
            errno=_errno.EINVAL,
        )
    try:
        path = os.path.realpath(elf.resolve_library(target))
        names = function_names(path, functions)
        file_offsets = [elf.function_offset(path, n) for n in names] + list(offsets)
    except BpfError as e:
        raise BpfError(f"cannot attach {prog.name} to {kind}: {e}", errno=e.errno) from None
    if not file_offsets:
        raise BpfError(f"cannot attach {prog.name} to {kind}: no functions or offsets given")
    if cookies is not None and len(cookies) != len(file_offsets):
        raise BpfError(
            f"cannot attach {prog.name} to {kind}: {len(cookies)} cookies"
            f" for {len(file_offsets)} probes",
            errno=_errno.EINVAL,
        )
    where = f"{path}:{','.join(names)}" if names else path
    try:
        fd = _sys.link_create_uprobe_multi(
            prog.fd,
            os.fsencode(path),
            file_offsets,
            cookies=list(cookies) if cookies is not None else None,
            retprobe=retprobe,
            pid=max(pid, 0),
            attach_type=int(AttachType.TRACE_UPROBE_MULTI),
        )
    except BpfError as e:
        raise uprobe.refused(prog, kind, where, pid, e) from None
    return Link(fd, description=f"{kind} {where}" + (f" pid {pid}" if pid >= 0 else ""))
