"""What the manager reports, shaped as the gRPC API's messages (field names included).

Stored records give bpfman's state; kernel facts are read live. The CLI's
``-o json`` and the daemon both use these dicts; the kernel reads and the
ProgramInfo shape are ``readonly``'s (the CLI's read commands build the same
dicts from rows there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bpfman.manager import readonly
from bpfman.manager.models import BpfmanType, LinkRecord, ProgramRecord
from bpfman.manager.readonly import kernel_brief_by_id as kernel_brief_by_id
from bpfman.manager.readonly import kernel_info_by_id as kernel_info_by_id

if TYPE_CHECKING:
    from bpfman.manager.core import Manager
    from bpfman.program import Program

ATTACH_INFO_FIELD = {
    BpfmanType.XDP: "xdp_attach_info",
    BpfmanType.TC: "tc_attach_info",
    BpfmanType.TRACEPOINT: "tracepoint_attach_info",
    BpfmanType.KPROBE: "kprobe_attach_info",
    BpfmanType.UPROBE: "uprobe_attach_info",
    BpfmanType.TCX: "tcx_attach_info",
    BpfmanType.FENTRY: "fentry_attach_info",
    BpfmanType.FEXIT: "fexit_attach_info",
}

# the API fields of each attach info message, in order (metadata is added to all)
ATTACH_FIELDS = {
    BpfmanType.XDP: ["priority", "iface", "position", "proceed_on", "netns"],
    BpfmanType.TC: ["priority", "iface", "position", "direction", "proceed_on", "netns"],
    BpfmanType.TCX: ["priority", "iface", "position", "direction", "netns"],
    BpfmanType.TRACEPOINT: ["tracepoint"],
    BpfmanType.KPROBE: ["fn_name", "offset", "container_pid"],
    BpfmanType.UPROBE: ["fn_name", "offset", "target", "pid", "container_pid"],
    BpfmanType.FENTRY: [],
    BpfmanType.FEXIT: [],
}


def kernel_info(prog: Program) -> dict[str, Any]:
    """KernelProgramInfo of a program in the kernel."""
    return readonly.kernel_info_of_fd(prog.fd)


def program_info(
    mgr: Manager,
    rec: ProgramRecord,
    link_ids: list[int] | None = None,
    map_users: list[int] | None = None,
) -> dict[str, Any]:
    """ProgramInfo: bpfman's state of a program it loaded.

    *link_ids* and *map_users* may be given when the caller already has them
    (listing many programs); otherwise they are read from the store.
    """
    owner = rec.map_owner_id or rec.id
    users = mgr.store.map_users(owner) if map_users is None else map_users
    if link_ids is None:
        link_ids = [link.id for link in mgr.store.links(rec.id)]
    return readonly.program_message(
        rec.id, rec.name, rec.path, rec.image_url, rec.pull_policy, rec.map_owner_id,
        rec.map_pin_path, rec.globals, rec.metadata, link_ids, users,
    )  # fmt: skip


def attach_info(link: LinkRecord) -> dict[str, Any]:
    """The AttachInfo oneof of a link: ``{"<kind>_attach_info": {...}}``."""
    fields = {k: link.params.get(k) for k in ATTACH_FIELDS[link.kind]}
    body = {k: v for k, v in fields.items() if v is not None}
    body["metadata"] = dict(link.metadata)
    return {ATTACH_INFO_FIELD[link.kind]: body}


def link_info(mgr: Manager, link: LinkRecord) -> dict[str, Any]:
    rec = mgr.store.program(link.program_id)
    return {
        "link_id": link.id,
        "program_id": link.program_id,
        "kernel_link_id": link.kernel_link_id,
        "bpf_function": rec.name if rec else "",
        "program_type": rec.type_word if rec else link.kind.name.lower(),
        "attach": attach_info(link),
    }


def attachment(link: LinkRecord) -> str:
    """The short "Attachment" column of ``list links``."""
    return readonly.attachment(int(link.kind), link.params)
