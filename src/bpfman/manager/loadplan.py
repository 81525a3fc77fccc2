"""Configure an opened object for a bpfman load: program types, autoload, globals, shared maps."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from bpfman.errors import BpfError
from bpfman.kinds import AttachType, ProgramType
from bpfman.manager.errors import InputError
from bpfman.manager.models import BpfmanType
from bpfman.manager.paths import pin_name
from bpfman.manager.typetable import TYPES

if TYPE_CHECKING:
    from bpfman.manager.core import LoadSpec
    from bpfman.object import ObjectSpec

def kernel_type(kind: BpfmanType) -> ProgramType:
    """The kernel program type a program of bpfman type *kind* loads as."""
    return ProgramType[TYPES[kind].kernel_type]


def configure(spec: ObjectSpec, load: LoadSpec, owner_maps_dir: str | None) -> None:
    """Apply *load* to *spec*; bad names and values are ``InputError``."""
    wanted = {r.name: r for r in load.requests}
    for name in wanted:
        if name not in spec.programs:
            known = ", ".join(sorted(spec.programs)) or "none"
            raise InputError(f"no program named {name!r} in {spec.path} (known: {known})")
    for ps in spec.programs.values():
        req = wanted.get(ps.name)
        if req is None:
            ps.autoload = False
            continue
        row = TYPES[req.kind]
        as_type = kernel_type(req.kind)
        if ps.type not in (as_type, ProgramType.UNSPEC):
            raise InputError(
                f"program {ps.name!r} is a {ps.type.name.lower()} program "
                f"(section {ps.section!r}), not {req.type_word}"
            )
        ps.autoload = True
        if ps.type != as_type:
            ps.type = as_type
        if row.attach_type:  # fentry/fexit: to the kernel function the load names
            ps.expected_attach_type = AttachType[row.attach_type]
            assert req.attach_fn
            ps.set_attach_target(req.attach_fn)
    for name, value in load.globals.items():
        if name not in spec.globals:
            known = ", ".join(sorted(spec.globals)) or "none"
            raise InputError(f"--global {name}: no such variable in {spec.path} (known: {known})")
        try:
            spec.globals[name] = value
        except BpfError as e:
            raise InputError(f"--global {name}: {e}") from None
    for ms in spec.maps.values():
        # the manager pins every map in the program's own map directory; libbpf's pinning
        # by name (LIBBPF_PIN_BY_NAME, in every upstream example) would pin it under
        # /sys/fs/bpf, shared with any other load of the object
        if ms.pin_path is not None:
            ms.pin_path = None
    if owner_maps_dir is not None:
        _reuse_owner_maps(spec, owner_maps_dir)


def _reuse_owner_maps(spec: ObjectSpec, maps_dir: str) -> None:
    from bpfman.map import Map

    for ms in spec.maps.values():
        if ms.internal:
            continue  # .data/.rodata/.bss carry this load's own globals
        path = os.path.join(maps_dir, pin_name(ms.name))
        if not os.path.exists(path):
            raise InputError(f"--map-owner-id: the owner has no map named {ms.name!r}")
        with Map.from_pin(path) as shared:
            ms.reuse(shared)
