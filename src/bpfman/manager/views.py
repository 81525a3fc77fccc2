"""What the manager reports, shaped as the gRPC API's messages (field names included).

Stored records give bpfman's state; kernel facts are read live. The CLI's
``-o json`` and the daemon both use these dicts; the kernel reads and the
ProgramInfo shape are ``readonly``'s (the CLI's read commands build the same
dicts from rows there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bpfman.manager import readonly
from bpfman.manager.models import LinkRecord, ProgramRecord, attach_params
from bpfman.manager.readonly import kernel_brief_by_id as kernel_brief_by_id
from bpfman.manager.readonly import kernel_info_by_id as kernel_info_by_id

if TYPE_CHECKING:
    from bpfman.manager.core import Manager
    from bpfman.program import Program

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
    users = mgr.store.map_users(rec.map_pin_path) if map_users is None else map_users
    if link_ids is None:
        link_ids = [link.id for link in mgr.store.links(rec.id)]
    return readonly.program_message(
        rec.id, rec.name, rec.shown_path, rec.image_url, rec.pull_policy, rec.map_owner_id,
        rec.map_pin_path, rec.globals, rec.metadata, link_ids, users,
    )  # fmt: skip


def attach_info(link: LinkRecord) -> dict[str, Any]:
    """The AttachInfo oneof of a link: ``{"<kind>_attach_info": {...}}``."""
    return link_info_of(link, None)["attach"]  # type: ignore[no-any-return]


def link_info(mgr: Manager, link: LinkRecord) -> dict[str, Any]:
    return link_info_of(link, mgr.store.program(link.program_id))


def link_info_of(link: LinkRecord, rec: ProgramRecord | None) -> dict[str, Any]:
    """LinkInfo of *link*, whose program is *rec* (None: not in the store)."""
    return readonly.link_message(
        link.id, link.program_id, link.kernel_link_id, int(link.kind), attach_params(link.attach),
        link.metadata, rec.name if rec else None, rec.type_word if rec else None,
    )  # fmt: skip


def attachment(link: LinkRecord) -> str:
    """The short "Attachment" column of ``list links``."""
    return readonly.attachment(int(link.kind), attach_params(link.attach))
