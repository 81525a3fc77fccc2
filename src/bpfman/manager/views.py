"""What the manager reports, shaped as the gRPC API's messages (field names included).

Stored records give bpfman's state; kernel facts are read live. The CLI's
``-o json`` and the daemon both use these dicts.
"""

from __future__ import annotations

import base64
import datetime
import os
from typing import TYPE_CHECKING, Any

from bpfman.manager.models import BpfmanType, LinkRecord, ProgramRecord

if TYPE_CHECKING:
    from bpfman.manager.core import Manager
    from bpfman.program import Program, ProgramInfo

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


def format_time(epoch: float) -> str:
    return (
        datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC)
        .astimezone()
        .strftime("%Y-%m-%dT%H:%M:%S%z")
    )


def _memlock(fd: int) -> int:
    """The ``memlock:`` of the fd's /proc fdinfo (0 if unreadable), in one read."""
    try:
        proc = os.open(f"/proc/self/fdinfo/{fd}", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return 0
    try:
        data = os.read(proc, 4096)
    except OSError:
        return 0
    finally:
        os.close(proc)
    for line in data.split(b"\n"):
        if line.startswith(b"memlock:"):
            return int(line.split()[1])
    return 0


def kernel_info_by_id(prog_id: int) -> dict[str, Any] | None:
    """KernelProgramInfo of the program with kernel id *prog_id*, or None if it is gone."""
    from bpfman import _sys
    from bpfman.errors import BpfError
    from bpfman.program import program_info_of

    try:
        fd = _sys.fd_from_id("prog", prog_id)
    except BpfError:
        return None
    try:
        return _kernel_dict(program_info_of(fd), fd)
    finally:
        os.close(fd)


def kernel_info(prog: Program) -> dict[str, Any]:
    """KernelProgramInfo of a program in the kernel."""
    return _kernel_dict(prog.info(), prog.fd)


def kernel_brief_by_id(prog_id: int) -> dict[str, Any] | None:
    """The part of KernelProgramInfo ``list programs``' table shows (id, name,
    program_type), plus the tag that tells our program from a reused id; None if gone.

    A lighter read than ``kernel_info_by_id``: no map ids, no load-time
    formatting, no /proc read, no ``bpfman.program`` import.
    """
    from bpfman import _sys
    from bpfman.errors import BpfError

    try:
        fd = _sys.fd_from_id("prog", prog_id)
    except BpfError:
        return None
    try:
        info, _ = _sys.prog_info(fd, with_map_ids=False)
    finally:
        os.close(fd)
    return {
        "id": info.id,
        "name": info.name.decode(errors="replace"),
        "program_type": int(info.type),
        "tag": bytes(info.tag).hex(),
    }


def _kernel_dict(info: ProgramInfo, fd: int) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "program_type": int(info.type),
        "loaded_at": format_time(info.loaded_at),
        "tag": info.tag,
        "gpl_compatible": info.gpl_compatible,
        "map_ids": list(info.map_ids),
        "btf_id": info.btf_id,
        "bytes_xlated": info.xlated_size,
        "jited": info.jited,
        "bytes_jited": info.jited_size,
        "bytes_memlock": _memlock(fd),
        "verified_insns": info.verified_insns,
    }


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
    if rec.image_url:
        bytecode: dict[str, Any] = {
            "image": {
                "url": rec.image_url,
                "image_pull_policy": {"Always": 0, "IfNotPresent": 1, "Never": 2}.get(
                    rec.pull_policy or "IfNotPresent", 1
                ),
            }
        }
    else:
        bytecode = {"file": rec.path}
    owner = rec.map_owner_id or rec.id
    users = mgr.store.map_users(owner) if map_users is None else map_users
    used_by = [owner, *users]
    if link_ids is None:
        link_ids = [link.id for link in mgr.store.links(rec.id)]
    out: dict[str, Any] = {
        "name": rec.name,
        "bytecode": bytecode,
        "links": link_ids,
        "global_data": {k: base64.b64encode(v).decode() for k, v in rec.globals.items()},
        "map_pin_path": rec.map_pin_path,
        "map_used_by": [str(i) for i in used_by],
        "metadata": dict(rec.metadata),
    }
    if rec.map_owner_id is not None:
        out["map_owner_id"] = rec.map_owner_id
    return out


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
    p = link.params
    if link.kind in (BpfmanType.XDP, BpfmanType.TC, BpfmanType.TCX):
        parts = [str(p.get("iface", ""))]
        if p.get("direction"):
            parts.append(str(p["direction"]))
        parts.append(f"pos-{p.get('position', 0)}")
        return " ".join(parts)
    if link.kind == BpfmanType.TRACEPOINT:
        return str(p.get("tracepoint", ""))
    if link.kind == BpfmanType.KPROBE:
        return str(p.get("fn_name", ""))
    if link.kind == BpfmanType.UPROBE:
        return f"{os.path.basename(str(p.get('target', '')))} {p.get('fn_name') or ''}".strip()
    return str(p.get("fn_name") or "")
