"""Read-only questions to the manager: list and get, stored state joined with kernel facts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bpfman import _sys
from bpfman.manager import views
from bpfman.manager.errors import InputError, NotFoundError
from bpfman.manager.models import LOAD_TYPES, ProgramRecord
from bpfman.manager.readonly import public as public

if TYPE_CHECKING:
    from bpfman.manager.core import Manager


def program_result(mgr: Manager, prog_id: int) -> dict[str, Any]:
    """GetResponse of one program (bpfman's or not), plus its type word for tables."""
    rec = mgr.store.program(prog_id)
    kernel = views.kernel_info_by_id(prog_id)
    if rec is not None and kernel is not None and kernel["tag"] != rec.tag:
        kernel = None  # the id was reused by someone else: not ours
    if kernel is None:
        if rec is not None:
            raise NotFoundError(
                f"program {prog_id} is in the database but not in the kernel (run bpfman gc)"
            )
        raise NotFoundError(f"no program with id {prog_id}")
    out: dict[str, Any] = {"kernel_info": kernel}
    if rec is not None:
        out = {"info": views.program_info(mgr, rec), "kernel_info": kernel}
        out["_type_word"] = rec.type_word
    return out


def _type_filter(program_type: str | None) -> tuple[set[str] | None, int | None]:
    if program_type is None:
        return None, None
    if program_type.isdigit():
        return None, int(program_type)
    if program_type not in LOAD_TYPES:
        raise InputError(f"--program-type {program_type!r}: unknown type")
    return {program_type}, None


def list_programs(
    mgr: Manager,
    show_all: bool,
    program_type: str | None,
    selector: dict[str, str],
    brief: bool = False,
) -> list[dict[str, Any]]:
    """ListResponse results: bpfman's programs (and, with *show_all*, every other one).

    With *brief* each ``kernel_info`` holds only what the CLI's table shows
    (``views.kernel_brief_by_id``: id, name, program_type, tag), read without
    map ids, load-time formatting or a /proc read per program.
    """
    words, kernel_type = _type_filter(program_type)
    read_kernel = views.kernel_brief_by_id if brief else views.kernel_info_by_id
    records = {r.id: r for r in mgr.store.programs()}
    links: dict[int, list[int]] = {}
    for link in mgr.store.links():
        links.setdefault(link.program_id, []).append(link.id)
    users: dict[int, list[int]] = {}
    for r in records.values():
        if r.map_owner_id is not None and r.map_owner_id != r.id:
            users.setdefault(r.map_owner_id, []).append(r.id)
    out: list[dict[str, Any]] = []
    ids = sorted(set(_sys.ids("prog")) | set(records)) if show_all else sorted(records)
    for prog_id in ids:
        rec = records.get(prog_id)
        if rec is None and (selector or words):
            continue
        if rec is not None and not _matches(rec, words, selector):
            continue
        kernel = read_kernel(prog_id)
        if kernel is None or (rec is not None and kernel["tag"] != rec.tag):
            continue  # gone from the kernel: doctor reports it
        if kernel_type is not None and kernel["program_type"] != kernel_type:
            continue
        item: dict[str, Any] = {"kernel_info": kernel}
        if rec is not None:
            owner = rec.map_owner_id or rec.id
            info = views.program_info(mgr, rec, links.get(rec.id, []), users.get(owner, []))
            item = {"info": info, "kernel_info": kernel, "_type_word": rec.type_word}
        out.append(item)
    return out


def _matches(rec: ProgramRecord, words: set[str] | None, selector: dict[str, str]) -> bool:
    if words is not None and rec.type_word not in words:
        return False
    return all(rec.metadata.get(k) == v for k, v in selector.items())
