"""The image labels that describe its bytecode, and the checks a load makes against them.

``io.ebpf.programs`` / ``io.ebpf.maps`` hold JSON objects ``{name: type}``; program
types are upstream's kernel-type words (``xdp``, ``tc`` for tc and tcx, ``tracepoint``,
``probe`` for k/uprobes, ``tracing`` for fentry/fexit), and the bpfman type words
pybpfman wrote before (``uprobe``, ``tcx``...) are still read;
older images carry one program in ``io.ebpf.bpf_function_name`` and
``io.ebpf.program_type`` (with ``io.ebpf.program_name`` and
``io.ebpf.filename``). ``from_object`` computes the labels of a build from the
object itself: functions and their types from the ELF sections, maps and
their types.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bpfman.attach.sections import section_def
from bpfman.images.errors import ImageError, InputError

PROGRAMS = "io.ebpf.programs"
MAPS = "io.ebpf.maps"
OLD_FUNCTION = "io.ebpf.bpf_function_name"
OLD_TYPE = "io.ebpf.program_type"

@dataclass(frozen=True)
class Labels:
    programs: dict[str, str] = field(default_factory=dict)
    maps: dict[str, str] = field(default_factory=dict)

    def as_config_labels(self) -> dict[str, str]:
        return {
            PROGRAMS: json.dumps(self.programs, separators=(",", ":"), sort_keys=True),
            MAPS: json.dumps(self.maps, separators=(",", ":"), sort_keys=True),
        }


def program_type_word(section: str, kernel_type: int) -> str:
    """The label word of a program in ELF section *section* of kernel type *kernel_type*
    (upstream's: ``probe``, ``tracing``, ``tc``, ``xdp``, ``tracepoint``...)."""
    from bpfman.kinds import ProgramType, kernel_type_word

    if kernel_type != ProgramType.UNSPEC:
        return kernel_type_word(kernel_type)
    row = section_def(section)  # the sections libbpf gives no type: classifier/NAME, tcx/...
    return row.label if row and row.label else kernel_type_word(kernel_type)


def map_type_word(kernel_type: str) -> str:
    """``PERCPU_ARRAY`` -> ``per_cpu_array`` (bpfman's spelling of map types)."""
    return kernel_type.lower().replace("percpu", "per_cpu")


def from_config(labels: Mapping[str, str] | None, image: str) -> Labels | None:
    """The bytecode labels of an image config's ``config.Labels``; None when it has none."""
    labels = labels or {}
    if PROGRAMS in labels:
        return Labels(_json_label(labels, PROGRAMS, image), _json_label(labels, MAPS, image))
    if OLD_FUNCTION in labels:
        kind = labels.get(OLD_TYPE, "")
        return Labels({labels[OLD_FUNCTION]: kind}, _json_label(labels, MAPS, image))
    return None


def _json_label(labels: Mapping[str, str], key: str, image: str) -> dict[str, str]:
    raw = labels.get(key)
    if raw is None or raw == "":
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise ImageError(f"image {image}: label {key} is not JSON") from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ImageError(f"image {image}: label {key} must be a JSON object of strings")
    return dict(value)


def from_object(path: str) -> Labels:
    """Labels computed from the object file: its programs and (non-internal) maps.

    The object is only parsed (libbpf's open): nothing enters the kernel.
    """
    import bpfman
    from bpfman.kinds import MapType, name_of

    with bpfman.open(path) as spec:
        programs = {
            ps.name: program_type_word(ps.section, int(ps.type))
            for ps in spec.programs.values()
        }
        maps = {
            ms.name: map_type_word(name_of(MapType, int(ms.type)))
            for ms in spec.maps.values()
            if not ms.internal
        }
    return Labels(programs, maps)


class Requested(Protocol):
    """A program a load asks for (the manager's ``ProgramRequest``): its name, type word,
    and whether a label word fits its type (the manager's type table knows the words)."""

    @property
    def name(self) -> str: ...

    @property
    def type_word(self) -> str: ...

    def fits_label(self, label: str) -> bool: ...


def check_requests(labels: Labels, requests: Sequence[Requested], image: str) -> None:
    """Every requested program must be in the image, with a type that fits its label."""
    for req in requests:
        if req.name not in labels.programs:
            have = ", ".join(sorted(labels.programs)) or "no programs"
            raise InputError(f"program {req.name} not in image {image}; it has: {have}")
        label = labels.programs[req.name]
        if label and not req.fits_label(label):  # upstream's words: uprobe on probe...
            raise InputError(
                f"program {req.name} is a {label} program in image {image}, not {req.type_word}"
            )
