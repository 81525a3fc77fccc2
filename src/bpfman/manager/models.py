"""The manager's records: what bpfman knows that the kernel cannot tell."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any

from bpfman.manager.typetable import LOAD_WORDS, TYPES


class BpfmanType(enum.IntEnum):
    """bpfman's program types (the gRPC API's BpfmanProgramType numbers); each has one row
    in ``typetable.TYPES`` holding its words and field names."""

    XDP = 0
    TC = 1
    TRACEPOINT = 2
    KPROBE = 3
    UPROBE = 4
    FENTRY = 5
    FEXIT = 6
    TCX = 7


# the metadata key ``-a/--application`` sets (attach copies it into the link's metadata)
APPLICATION_KEY = "bpfman_application"


def type_name(kind: BpfmanType, retprobe: bool = False) -> str:
    """The --programs TYPE word for a stored program."""
    return TYPES[kind].type_word(retprobe)


@dataclass(frozen=True)
class ProgramRequest:
    """One ``--programs TYPE:NAME[:ATTACH]`` entry."""

    kind: BpfmanType
    name: str
    retprobe: bool = False
    attach_fn: str | None = None  # fentry/fexit kernel function

    @property
    def type_word(self) -> str:
        return type_name(self.kind, self.retprobe)

    def fits_label(self, label: str) -> bool:
        """Whether an image labels this program *label*: upstream's word for its type
        (``probe`` for a uprobe...), or a word pybpfman wrote of the same family."""
        row = TYPES[self.kind]
        if label == row.label:
            return True
        found = LOAD_WORDS.get(label)
        return found is not None and TYPES[found[0]].family == row.family


@dataclass
class ProgramRecord:
    id: int  # kernel program id
    name: str
    kind: BpfmanType
    retprobe: bool
    path: str | None
    image_url: str | None
    pull_policy: str | None
    attach_fn: str | None
    map_owner_id: int | None
    map_pin_path: str
    tag: str
    globals: dict[str, bytes] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    image_digest: str | None = None  # the platform manifest an image-loaded program came from
    given_path: str | None = None  # `path` as the user gave it (shown); None: as `path`

    @property
    def shown_path(self) -> str | None:
        """The bytecode path as the user gave it (upstream shows it so)."""
        return self.given_path or self.path

    @property
    def type_word(self) -> str:
        return type_name(self.kind, self.retprobe)

    @property
    def application(self) -> str:
        return self.metadata.get("bpfman_application", "")


# ---------------------------------------------------------------------------- links
#
# What a link is attached to, one frozen record per attach kind. The store keeps each as
# the JSON object ``attach_params`` makes (its keys are the API's attach info fields, which
# the read-only path reads straight from SQLite), and a dispatcher member's
# ``DispatcherRecord`` as its hook's row of the dispatchers table; ``attach_of`` reads
# both back.


@dataclass(frozen=True)
class TracepointAttach:
    tracepoint: str  # "group/name"


@dataclass(frozen=True)
class KprobeAttach:
    """A kprobe or kretprobe (the program's retprobe says which)."""

    fn_name: str
    offset: int = 0
    container_pid: int | None = None


@dataclass(frozen=True)
class UprobeAttach:
    """A uprobe or uretprobe (the program's retprobe says which)."""

    target: str  # as the user gave it (a path or a library name)
    fn_name: str | None = None
    offset: int = 0
    pid: int | None = None
    container_pid: int | None = None


@dataclass(frozen=True)
class FentryAttach:
    """An fentry or fexit link (of the program's attach function)."""

    fn_name: str | None = None


@dataclass(frozen=True)
class NetHook:
    """Where an xdp, tc or tcx link runs: an interface in a network namespace (and, tc and
    tcx, one direction of it)."""

    iface: str
    netns: str | None = None  # the namespace's path as given; None: bpfman's own
    netns_ino: int = 0  # the namespace's identity when attached
    direction: str | None = None  # tc, tcx: "ingress" or "egress"
    ifindex: int | None = None  # recorded by tc and dispatchers (in the hook's namespace)


@dataclass(frozen=True)
class TcFilterRecord:
    """A tc link attached directly (no dispatcher): its filter on the hook."""

    priority: int
    handle: int
    qdisc_created: bool  # bpfman created the clsact qdisc (the last tc link removes it)


@dataclass(frozen=True)
class DispatcherRecord:
    """The running revision of a hook's dispatcher, which its member links share (the
    store keeps one row per hook)."""

    dispatcher_id: int  # the revision's dispatcher program id (its pin directory's name)
    xdp_mode: str = ""  # xdp: the mode the interface's link got
    tc_handle: int = 0  # tc: the dispatcher filter's handle (at dispatch.tc.PRIORITY)
    qdisc_created: bool = False  # tc: the clsact qdisc was created for a dispatcher


@dataclass(frozen=True)
class NetAttach:
    """An xdp, tc or tcx link: its hook, bpfman's order on it, and how it runs there
    (a direct tc filter, a dispatcher's member, or neither: a kernel link)."""

    hook: NetHook
    priority: int
    proceed_on: tuple[int, ...] | None = None  # xdp, tc
    position: int | None = None  # its place in the hook's chain (tcx: once recorded)
    filter: TcFilterRecord | None = None
    dispatcher: DispatcherRecord | None = None

    @property
    def qdisc_created(self) -> bool:
        """Whether bpfman created the clsact qdisc this tc link runs behind."""
        if self.filter is not None:
            return self.filter.qdisc_created
        return self.dispatcher is not None and self.dispatcher.qdisc_created

    def owning_qdisc(self) -> NetAttach:
        """This link, now owning the hook's clsact qdisc (handed on by a sibling)."""
        if self.filter is not None:
            return replace(self, filter=replace(self.filter, qdisc_created=True))
        if self.dispatcher is not None:
            return replace(self, dispatcher=replace(self.dispatcher, qdisc_created=True))
        return self


Attach = TracepointAttach | KprobeAttach | UprobeAttach | FentryAttach | NetAttach

# the types that attach to a network hook (xdp, tc, tcx)
NET_KINDS = tuple(BpfmanType(n) for n, row in TYPES.items() if row.hook is not None)


def attach_params(attach: Attach) -> dict[str, Any]:
    """*attach* as the store's JSON object (None values left out; a dispatcher member's
    dispatcher is a row of its own)."""
    out: dict[str, Any]
    if isinstance(attach, NetAttach):
        h = attach.hook
        out = {
            "iface": h.iface,
            "netns": h.netns,
            "netns_ino": h.netns_ino,
            "direction": h.direction,
            "ifindex": h.ifindex,
            "priority": attach.priority,
            "proceed_on": None if attach.proceed_on is None else list(attach.proceed_on),
            "position": attach.position,
        }
        if attach.filter is not None:
            f = attach.filter
            out |= {
                "tc_priority": f.priority,
                "tc_handle": f.handle,
                "tc_qdisc_created": f.qdisc_created,
            }
    elif isinstance(attach, TracepointAttach):
        out = {"tracepoint": attach.tracepoint}
    elif isinstance(attach, KprobeAttach):
        out = {
            "fn_name": attach.fn_name,
            "offset": attach.offset,
            "container_pid": attach.container_pid,
        }
    elif isinstance(attach, UprobeAttach):
        out = {
            "target": attach.target,
            "fn_name": attach.fn_name,
            "offset": attach.offset,
            "pid": attach.pid,
            "container_pid": attach.container_pid,
        }
    else:
        out = {"fn_name": attach.fn_name}
    return {k: v for k, v in out.items() if v is not None}


def optional_int(v: Any) -> int | None:
    """An optional number of a request or a stored record (None stays None)."""
    return None if v is None else int(v)


def attach_of(
    kind: BpfmanType, p: dict[str, Any], dispatcher: DispatcherRecord | None = None
) -> Attach:
    """The record a link of *kind* with stored parameters *p* (``attach_params``) and, a
    dispatcher member, its hook's *dispatcher* has (a parameter missing reads as empty, as
    the read-only path shows it)."""
    if kind in NET_KINDS:
        hook = NetHook(
            str(p.get("iface") or ""),
            p.get("netns") or None,
            int(p.get("netns_ino") or 0),
            None if p.get("direction") is None else str(p["direction"]),
            optional_int(p.get("ifindex")),
        )
        proceed_on = p.get("proceed_on")
        filt = None
        if dispatcher is None and "tc_handle" in p:
            filt = TcFilterRecord(
                int(p["tc_priority"]), int(p["tc_handle"]), bool(p["tc_qdisc_created"])
            )
        return NetAttach(
            hook,
            int(p.get("priority") or 0),
            None if proceed_on is None else tuple(int(v) for v in proceed_on),
            optional_int(p.get("position")),
            filt,
            dispatcher,
        )
    if kind == BpfmanType.TRACEPOINT:
        return TracepointAttach(str(p.get("tracepoint") or ""))
    if kind == BpfmanType.KPROBE:
        return KprobeAttach(
            str(p.get("fn_name") or ""),
            int(p.get("offset") or 0),
            optional_int(p.get("container_pid")),
        )
    if kind == BpfmanType.UPROBE:
        return UprobeAttach(
            str(p.get("target") or ""),
            p.get("fn_name"),
            int(p.get("offset") or 0),
            optional_int(p.get("pid")),
            optional_int(p.get("container_pid")),
        )
    return FentryAttach(p.get("fn_name"))


@dataclass
class LinkRecord:
    id: int  # bpfman's own stable link id
    program_id: int
    kind: BpfmanType
    kernel_link_id: int | None
    pin_path: str | None
    attach: Attach
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def net(self) -> NetAttach | None:
        """The hook of an xdp, tc or tcx link (None for the other kinds)."""
        return self.attach if isinstance(self.attach, NetAttach) else None
