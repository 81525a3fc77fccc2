"""bpfman's program types, one row each: every per-type word and field name in one table.

The manager, the CLI (its fast path included), the daemon's translation and
the image label check all read their per-type vocabulary here: the
``--programs`` words, the kernel program type a type loads as, upstream's
label word, the gRPC messages' field names, the order the CLI shows a link's
fields in, the network hook. Adding a program type (upstream's next is LSM)
is one row here and its number in ``models.BpfmanType`` (the gRPC API's
BpfmanProgramType); tests/test_typetable.py checks the two agree and that
every table read from these rows matches them.

Pure data, and it imports nothing: the CLI's fast path (``readonly``) reads it
without ``enum``, ``dataclasses`` or ``typing`` (tests/test_cli_startup.py).
Kernel enums are named by their member names (``ProgramType[row.kernel_type]``).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's import costs start-up; mypy reads the name as True
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

NET = ("priority", "iface", "position")  # the API's first fields of every network attach


class TypeSpec:
    """One bpfman program type (a row of ``TYPES``)."""

    __slots__ = (
        "attach_fields", "attach_info", "attach_type", "attachment", "dispatcher", "family",
        "hook", "kernel_type", "label", "load_info", "number", "return_sections",
        "return_word", "shown", "word",
    )  # fmt: skip

    def __init__(
        self,
        number: int,
        word: str,
        *,
        kernel_type: str,
        label: str,
        attach_info: str,
        attach_fields: tuple[str, ...],
        shown: tuple[str, ...],
        attachment: tuple[str, ...],
        return_word: str | None = None,
        return_sections: tuple[str, ...] = (),
        family: str | None = None,
        load_info: str | None = None,
        attach_type: str | None = None,
        hook: str | None = None,
        dispatcher: str | None = None,
    ) -> None:
        # the gRPC API's BpfmanProgramType number (models.BpfmanType)
        self.number = number
        # the --programs word, also the type's name (a link whose program is gone shows it)
        self.word = word
        # the --programs word of its return probe (kretprobe, uretprobe), if it has one
        self.return_word = return_word
        # the section table's attach kinds (attach.sections) whose retprobe rows make a
        # program of this type its return probe (the daemon's load decides by section)
        self.return_sections = return_sections
        # the kernel program type it loads as (a bpfman.kinds.ProgramType member name)
        self.kernel_type = kernel_type
        # upstream's kernel-type word for it: image labels, the Kernel Type row
        self.label = label
        # the words pybpfman wrote in image labels before upstream's: words of one family
        # stand for each other (tc and tcx)
        self.family = family or word
        # the gRPC AttachInfo oneof field, and its message's fields in API order (metadata
        # is added to all)
        self.attach_info = attach_info
        self.attach_fields = attach_fields
        # ``get link``'s rows of the attach fields, in the order the CLI shows them
        self.shown = shown
        # the parameters of ``list links``' Attachment column ("position" as pos-N)
        self.attachment = attachment
        # the gRPC LoadInfo oneof field that names the kernel function to attach to, and
        # the expected attach type (a bpfman.kinds.AttachType member name) the load sets
        self.load_info = load_info
        self.attach_type = attach_type
        # the network hook it attaches to (None: not a network program), and the kind of
        # dispatcher that runs it there (bpfman.dispatch.config; None: attached alone)
        self.hook = hook
        self.dispatcher = dispatcher

    def type_word(self, retprobe: bool) -> str:
        """The --programs word of a program of this type (return probe or not)."""
        return self.return_word if retprobe and self.return_word else self.word

    def __repr__(self) -> str:
        return f"TypeSpec({self.number}, {self.word!r})"


_ROWS = (
    TypeSpec(
        0, "xdp", kernel_type="XDP", label="xdp",
        attach_info="xdp_attach_info",
        attach_fields=(*NET, "proceed_on", "netns"),
        shown=("iface", "priority", "position", "proceed_on", "netns"),
        attachment=("iface", "position"),
        hook="xdp", dispatcher="xdp",
    ),
    TypeSpec(
        1, "tc", kernel_type="SCHED_CLS", label="tc",
        attach_info="tc_attach_info",
        attach_fields=(*NET, "direction", "proceed_on", "netns"),
        shown=("iface", "direction", "priority", "position", "proceed_on", "netns"),
        attachment=("iface", "direction", "position"),
        hook="tc", dispatcher="tc",
    ),
    TypeSpec(
        7, "tcx", kernel_type="SCHED_CLS", label="tc", family="tc",
        attach_info="tcx_attach_info",
        attach_fields=(*NET, "direction", "netns"),
        shown=("iface", "direction", "priority", "position", "netns"),
        attachment=("iface", "direction", "position"),
        hook="tcx",
    ),
    TypeSpec(
        2, "tracepoint", kernel_type="TRACEPOINT", label="tracepoint",
        attach_info="tracepoint_attach_info",
        attach_fields=("tracepoint",),
        shown=("tracepoint",),
        attachment=("tracepoint",),
    ),
    TypeSpec(
        3, "kprobe", return_word="kretprobe", return_sections=("kprobe", "kprobe_multi"),
        kernel_type="KPROBE", label="probe",
        attach_info="kprobe_attach_info",
        attach_fields=("fn_name", "offset", "container_pid"),
        shown=("fn_name", "offset", "container_pid"),
        attachment=("fn_name",),
    ),
    TypeSpec(
        4, "uprobe", return_word="uretprobe", return_sections=("uprobe", "uprobe_multi"),
        kernel_type="KPROBE", label="probe",
        attach_info="uprobe_attach_info",
        attach_fields=("fn_name", "offset", "target", "pid", "container_pid"),
        shown=("target", "fn_name", "offset", "pid", "container_pid"),
        attachment=("target", "fn_name"),
    ),
    TypeSpec(
        5, "fentry", kernel_type="TRACING", label="tracing",
        attach_info="fentry_attach_info",
        attach_fields=(),
        shown=("fn_name",),
        attachment=("fn_name",),
        load_info="fentry_load_info", attach_type="TRACE_FENTRY",
    ),
    TypeSpec(
        6, "fexit", kernel_type="TRACING", label="tracing",
        attach_info="fexit_attach_info",
        attach_fields=(),
        shown=("fn_name",),
        attachment=("fn_name",),
        load_info="fexit_load_info", attach_type="TRACE_FEXIT",
    ),
)  # fmt: skip

# bpfman type number -> its row, in the order the CLI lists the types
TYPES: dict[int, TypeSpec] = {row.number: row for row in _ROWS}

# --programs word -> (bpfman type number, return probe?), in the order the CLI lists them
LOAD_WORDS: dict[str, tuple[int, bool]] = {}
for _row in _ROWS:
    LOAD_WORDS[_row.word] = (_row.number, False)
    if _row.return_word:
        LOAD_WORDS[_row.return_word] = (_row.number, True)
del _row

# the type of each gRPC AttachInfo oneof field
BY_ATTACH_INFO: dict[str, int] = {row.attach_info: row.number for row in _ROWS}

# every parameter some type's Attachment column shows
ATTACHMENT_KEYS: tuple[str, ...] = tuple(dict.fromkeys(k for r in _ROWS for k in r.attachment))


def type_word(number: int, retprobe: bool) -> str:
    """The --programs word of a stored program (its number, for a type this code lacks)."""
    row = TYPES.get(number)
    return row.type_word(retprobe) if row is not None else str(number)


def attachment(number: int, params: Mapping[str, Any]) -> str:
    """``list links``' Attachment of a link of type *number* with parameters *params*:
    ``eth0 pos-0``, ``eth0 ingress pos-1``, ``syscalls/sys_enter_kill``, ``try_to_wake_up``,
    ``libc malloc`` (the target as given)."""
    row = TYPES.get(number)
    parts: list[str] = []
    for key in row.attachment if row is not None else ("fn_name",):
        if key == "position":
            parts.append(f"pos-{params.get(key, 0)}")
        elif params.get(key):
            parts.append(str(params[key]))
    return " ".join(parts)
