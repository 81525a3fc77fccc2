"""pybpfman: eBPF objects, programs, maps, links and buffers over the system libbpf.

import bpfman
spec = bpfman.open("x.bpf.o")
spec.globals["target_pid"] = 42
with spec.load() as obj:
    link = obj.programs["count_kill"].attach_tracepoint("syscalls", "sys_enter_kill")
"""

from __future__ import annotations

from bpfman.errors import BpfError, InputError, KernelFeatureError, UnknownName

__version__ = "0.1.0"

# Everything else is imported on first use: `bpfman` the CLI starts fast.
_LAZY = {
    "open": ("bpfman.object", "open"),
    "load": ("bpfman.object", "load"),
    "ObjectSpec": ("bpfman.object", "ObjectSpec"),
    "Object": ("bpfman.object", "Object"),
    "ProgramSpec": ("bpfman.object", "ProgramSpec"),
    "MapSpec": ("bpfman.object", "MapSpec"),
    "Program": ("bpfman.program", "Program"),
    "TestRunResult": ("bpfman.program", "TestRunResult"),
    "Map": ("bpfman.map", "Map"),
    "TypedMap": ("bpfman.map", "TypedMap"),
    "Link": ("bpfman.link", "Link"),
    "RingBuffer": ("bpfman.ringbuf", "RingBuffer"),
    "PerfBuffer": ("bpfman.perfbuf", "PerfBuffer"),
    "attach_first": ("bpfman.fallback", "attach_first"),
    "Candidate": ("bpfman.fallback", "Candidate"),
    "AttachResult": ("bpfman.fallback", "AttachResult"),
    "ProgramType": ("bpfman.kinds", "ProgramType"),
    "MapType": ("bpfman.kinds", "MapType"),
    "AttachType": ("bpfman.kinds", "AttachType"),
    "XdpAction": ("bpfman.kinds", "XdpAction"),
    "TcAction": ("bpfman.kinds", "TcAction"),
    "features": ("bpfman.features", None),
    "program_ids": ("bpfman.ids", "program_ids"),
    "map_ids": ("bpfman.ids", "map_ids"),
    "link_ids": ("bpfman.ids", "link_ids"),
    "program_brief": ("bpfman.ids", "program_brief"),
    "ProgramBrief": ("bpfman.ids", "ProgramBrief"),
}

__all__ = ["BpfError", "InputError", "KernelFeatureError", "UnknownName", *_LAZY]

TYPE_CHECKING = False  # importing typing costs the CLI's start-up; mypy reads the name as True
if TYPE_CHECKING:
    from typing import Any

    from bpfman import features as features
    from bpfman.fallback import AttachResult as AttachResult
    from bpfman.fallback import Candidate as Candidate
    from bpfman.fallback import attach_first as attach_first
    from bpfman.ids import ProgramBrief as ProgramBrief
    from bpfman.ids import link_ids as link_ids
    from bpfman.ids import map_ids as map_ids
    from bpfman.ids import program_brief as program_brief
    from bpfman.ids import program_ids as program_ids
    from bpfman.kinds import AttachType as AttachType
    from bpfman.kinds import MapType as MapType
    from bpfman.kinds import ProgramType as ProgramType
    from bpfman.kinds import TcAction as TcAction
    from bpfman.kinds import XdpAction as XdpAction
    from bpfman.link import Link as Link
    from bpfman.map import Map as Map
    from bpfman.map import TypedMap as TypedMap
    from bpfman.object import MapSpec as MapSpec
    from bpfman.object import Object as Object
    from bpfman.object import ObjectSpec as ObjectSpec
    from bpfman.object import ProgramSpec as ProgramSpec
    from bpfman.object import load as load
    from bpfman.object import open as open
    from bpfman.perfbuf import PerfBuffer as PerfBuffer
    from bpfman.program import Program as Program
    from bpfman.program import TestRunResult as TestRunResult
    from bpfman.ringbuf import RingBuffer as RingBuffer


def __dir__() -> list[str]:
    """The public API (``__all__``): what ``dir(bpfman)`` and completion offer."""
    return sorted([*__all__, "__version__"])


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:  # (also each `from bpfman import _sys`: no importlib for that)
        raise AttributeError(f"module 'bpfman' has no attribute {name!r}") from None
    import importlib

    mod = importlib.import_module(module)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value
