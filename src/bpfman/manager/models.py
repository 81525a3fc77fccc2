"""The manager's records: what bpfman knows that the kernel cannot tell."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
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


@dataclass
class LinkRecord:
    id: int  # bpfman's own stable link id
    program_id: int
    kind: BpfmanType
    kernel_link_id: int | None
    pin_path: str | None
    params: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
