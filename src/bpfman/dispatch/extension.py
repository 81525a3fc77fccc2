"""Load one program of an object file as an extension (freplace) of a dispatcher's stub.

The extension shares the maps of the same program loaded normally (its
``share_maps_of`` program: counters, .data/.bss and the frozen .rodata with
its globals), so what the user sees in those maps does not depend on which
copy ran. Maps it cannot find there come from *maps_dir* (pins named as the
manager pins them), else libbpf creates them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping

from bpfman.errors import BpfError
from bpfman.kinds import ProgramType
from bpfman.map import Map
from bpfman.program import Program

KERNEL_NAME_LEN = 15  # BPF_OBJ_NAME_LEN - 1: the kernel keeps this much of a map's name


@contextlib.contextmanager
def _maps_of(prog: Program) -> Iterator[dict[str, int]]:
    """Kernel map name -> fd for the maps *prog* uses (names seen twice are left out)."""
    fds: dict[str, int] = {}
    twice: set[str] = set()
    with contextlib.ExitStack() as opened:
        for map_id in prog.info().map_ids:
            try:
                m = opened.enter_context(Map.from_id(map_id, btf=False))
            except BpfError:
                continue
            if m.name in fds:
                twice.add(m.name)
            fds[m.name] = m.fd
        yield {k: v for k, v in fds.items() if k not in twice}


def load_extension(
    path: str,
    name: str,
    target: Program,
    func: str,
    *,
    share_maps_of: Program | None = None,
    maps_dir: str | None = None,
    globals: Mapping[str, bytes] | None = None,
) -> Program:
    """Load program *name* of *path* as an extension replacing *func* of *target*.

    The program's section type (xdp, tc) only has to match the target's: the
    kernel checks the function signatures at load. The returned Program owns
    its fd; the object's other programs are not loaded.
    """
    import bpfman

    spec = bpfman.open(path)
    with spec:
        for ps in spec.programs.values():
            ps.autoload = ps.name == name
        ps = spec.programs[name]
        ps.type = ProgramType.EXT
        ps.expected_attach_type = 0  # the kernel refuses an ext program with one
        ps.set_attach_target(func, target.fd)
        for var, value in (globals or {}).items():
            spec.globals[var] = value
        with contextlib.ExitStack() as stack:
            live = stack.enter_context(_maps_of(share_maps_of)) if share_maps_of else {}
            for ms in spec.maps.values():
                fd = live.get(ms.name[:KERNEL_NAME_LEN])
                if fd is not None:
                    ms.reuse(fd)
                    continue
                pin = os.path.join(maps_dir, ms.name.replace(".", "_")) if maps_dir else ""
                if pin and not ms.internal and os.path.exists(pin):
                    ms.reuse(stack.enter_context(Map.from_pin(pin, btf=False)))
            obj = spec.load()
        with obj:
            return Program.from_fd(os.dup(obj.programs[name].fd))
