"""What a dispatcher revision runs: slot order and the config written into its .rodata.

Pure functions, no kernel. ``kind`` is ``"xdp"`` or ``"tc"``.

XDP config (libxdp's protocol, version 2; 124 bytes)::

    u8 magic (236), u8 dispatcher_version (2), u8 num_progs_enabled, u8 is_xdp_frags,
    u32 chain_call_actions[10], u32 run_prios[10], u32 program_flags[10]

TC config (84 bytes)::

    u8 num_progs_enabled, (3 bytes padding), u32 chain_call_actions[10], u32 run_prios[10]

``chain_call_actions[i]`` is slot i's proceed-on mask: verdict v goes on to the
next slot when bit ``1 << v`` (XDP) or ``1 << (v + 1)`` (TC, whose verdicts
start at -1) is set. The bit of the dispatcher's own return value (what a stub
returns when nothing replaced it) is always set, as in libxdp.
"""

from __future__ import annotations

import errno as _errno
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bpfman.dispatch.verdicts import DEFAULT_PROCEED_ON as DEFAULT_WORDS
from bpfman.dispatch.verdicts import VERDICTS
from bpfman.errors import BpfError

MAX_PROGRAMS = 10
XDP_MAGIC = 236
XDP_CONFIG_VERSION = 2
# what a stub returns when no program replaced it (the verdicts' "dispatcher_return")
DISPATCHER_RETURN = {kind: words["dispatcher_return"] for kind, words in VERDICTS.items()}
# the verdicts a slot proceeds on when its caller names none
DEFAULT_PROCEED_ON = {
    kind: tuple(VERDICTS[kind][w] for w in words) for kind, words in DEFAULT_WORDS.items()
}
CHAIN_END = {"xdp": 2, "tc": 0}  # what the dispatcher returns after the last slot: pass, ok

_XDP = struct.Struct(f"<BBBB{MAX_PROGRAMS}I{MAX_PROGRAMS}I{MAX_PROGRAMS}I")
_TC = struct.Struct(f"<B3x{MAX_PROGRAMS}I{MAX_PROGRAMS}I")
CONFIG_SIZE = {"xdp": _XDP.size, "tc": _TC.size}  # 124, 84


@dataclass(frozen=True)
class Slot:
    """One program on a hook, as far as its place in the chain goes."""

    key: int  # the caller's name for it (the manager's link id)
    priority: int  # lower runs first
    name: str  # the program's function name (breaks ties)
    proceed_on: tuple[int, ...] = ()  # verdicts that go on to the next slot; () = default
    position: int | None = None  # its slot in the running revision; None: joining now


@dataclass(frozen=True)
class Config:
    """A decoded dispatcher config (the slots in use only)."""

    num_progs: int
    chain_call_actions: tuple[int, ...]
    run_prios: tuple[int, ...]
    magic: int = 0
    version: int = 0


def _shift(kind: str) -> int:
    if kind not in DISPATCHER_RETURN:
        raise ValueError(f"dispatcher kind {kind!r}: 'xdp' or 'tc'")
    return 1 if kind == "tc" else 0


def order(slots: Iterable[Slot]) -> list[Slot]:
    """The run order: priority, then programs already on the hook (in their order), then name."""

    def key(s: Slot) -> tuple[int, bool, int, str, int]:
        position = -1 if s.position is None else s.position
        return (s.priority, s.position is None, position, s.name, s.key)

    return sorted(slots, key=key)


def replaces_whole_dispatcher(kind: str, ordered: Sequence[Slot]) -> bool:
    """Whether a revision can run its only program in place of the dispatcher's main function.

    That saves the dispatcher's call (libxdp does it for one program too); it
    gives the same verdicts only when the program proceeds on nothing but the
    chain's end verdict (or the stub's sentinel), as with the XDP default.
    """
    if len(ordered) != 1:
        return False
    proceed = set(ordered[0].proceed_on or DEFAULT_PROCEED_ON[kind])
    return proceed <= {CHAIN_END[kind], DISPATCHER_RETURN[kind]}


def check_capacity(count: int) -> None:
    if count > MAX_PROGRAMS:
        raise BpfError(
            f"a dispatcher runs at most {MAX_PROGRAMS} programs per hook: "
            f"cannot add program number {count}",
            errno=_errno.E2BIG,
        )


def chain_mask(kind: str, proceed_on: Iterable[int]) -> int:
    """The chain_call_actions bitmask for *proceed_on* (empty: the hook's default)."""
    shift = _shift(kind)
    known = set(VERDICTS[kind].values())
    mask = 1 << (DISPATCHER_RETURN[kind] + shift)
    for verdict in tuple(proceed_on) or DEFAULT_PROCEED_ON[kind]:
        if verdict not in known:
            raise BpfError(f"{verdict} is not a {kind} verdict", errno=_errno.EINVAL)
        mask |= 1 << (verdict + shift)
    return mask


def verdicts_of(kind: str, mask: int) -> list[int]:
    """The verdicts a chain_call_actions *mask* proceeds on (inverse of ``chain_mask``)."""
    shift = _shift(kind)
    return [v for v in sorted(VERDICTS[kind].values()) if mask & (1 << (v + shift))]


def encode(kind: str, ordered: Sequence[Slot]) -> bytes:
    """The .rodata config of a dispatcher running *ordered* (already in run order)."""
    check_capacity(len(ordered))
    pad = [0] * (MAX_PROGRAMS - len(ordered))
    masks = [chain_mask(kind, s.proceed_on) for s in ordered] + pad
    prios = [s.priority for s in ordered] + pad
    if _shift(kind):
        return _TC.pack(len(ordered), *masks, *prios)
    flags = [0] * MAX_PROGRAMS
    return _XDP.pack(XDP_MAGIC, XDP_CONFIG_VERSION, len(ordered), 0, *masks, *prios, *flags)


def decode(kind: str, raw: bytes) -> Config:
    """Read a config back (from a dispatcher's .rodata map)."""
    if len(raw) != CONFIG_SIZE[kind]:
        raise BpfError(f"a {kind} dispatcher config is {CONFIG_SIZE[kind]} bytes, not {len(raw)}")
    n = MAX_PROGRAMS
    if _shift(kind):
        num, *rest = _TC.unpack(raw)
        return Config(num, tuple(rest[:num]), tuple(rest[n : n + num]))
    magic, version, num, _frags, *rest = _XDP.unpack(raw)
    return Config(num, tuple(rest[:num]), tuple(rest[n : n + num]), magic, version)
