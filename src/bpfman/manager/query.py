"""Read-only questions to the manager: list and get, stored state joined with kernel facts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from bpfman.ids import program_ids
from bpfman.manager import loadplan, views
from bpfman.manager.errors import InputError, NotFoundError
from bpfman.manager.models import LinkRecord, ProgramRecord
from bpfman.manager.readonly import public as public
from bpfman.manager.typetable import LOAD_WORDS

if TYPE_CHECKING:
    from bpfman.manager.core import Manager

# a kernel program's KernelProgramInfo by id, None when it is gone (views.kernel_info_by_id,
# or the daemon's cache of it: bpfman.server.reads)
KernelReader = Callable[[int], dict[str, Any] | None]


def program_result(
    mgr: Manager, prog_id: int, read_kernel: KernelReader | None = None
) -> dict[str, Any]:
    """GetResponse of one program (bpfman's or not), plus its type word for tables.

    The store is read in one snapshot (``Store.snapshot``): a writer committing
    meanwhile is seen entirely or not at all.
    """
    with mgr.store.snapshot():
        rec = mgr.store.program(prog_id)
        info = views.program_info(mgr, rec) if rec is not None else None
    kernel = (read_kernel or views.kernel_info_by_id)(prog_id)
    if rec is not None and kernel is not None and kernel["tag"] != rec.tag:
        kernel = None  # the id was reused by someone else: not ours
    if kernel is None:
        if rec is not None:
            raise NotFoundError(
                f"program {prog_id} is in the database but not in the kernel (run bpfman gc)"
            )
        raise NotFoundError(f"no program with id {prog_id}")
    if rec is None:
        return {"kernel_info": kernel}
    attachments = {link.id: views.attachment(link) for link in mgr.links(rec.id)}
    return {"info": info, "kernel_info": kernel, "_type_word": rec.type_word,
            "_attachments": attachments}  # fmt: skip


class TypeFilter:
    """``--program-type WORD``: upstream's kernel-type words (``probe``, ``tracing``, ``tc``
    for tc and tcx, ``xdp``, ``tracepoint``, ``cgroup_skb``...) match the kernel type;
    pybpfman's own type words (``tcx``, ``kprobe``, ``uretprobe``...) match the bpfman
    type; a number matches the kernel's program type number."""

    def __init__(self, word: str | None) -> None:
        from bpfman.kinds import ProgramType, kernel_type_word

        self.word = word
        self.kernel: int | None = None
        self.bpfman: str | None = None
        if word is None:
            return
        kernel_words = {kernel_type_word(t): int(t) for t in ProgramType}
        if word.isdigit():
            self.kernel = int(word)
        elif word in kernel_words:
            self.kernel = kernel_words[word]
        elif word in LOAD_WORDS:
            self.bpfman = word
        else:
            known = ", ".join(sorted({*kernel_words, *LOAD_WORDS} - {"unspec"}))
            raise InputError(f"--program-type {word!r}: unknown type (one of {known})")

    def needs_record(self) -> bool:
        return self.bpfman is not None

    def matches(self, rec: ProgramRecord | None, kernel_type: int | None) -> bool:
        if self.word is None:
            return True
        if self.bpfman is not None:
            return rec is not None and rec.type_word == self.bpfman
        return kernel_type == self.kernel


def list_programs(
    mgr: Manager,
    show_all: bool,
    program_type: str | None,
    selector: dict[str, str],
    brief: bool = False,
    read_kernel: KernelReader | None = None,
    kernel_ids: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """ListResponse results: bpfman's programs (and, with *show_all*, every other one).

    With *brief* each ``kernel_info`` holds only what the CLI's table shows
    (``views.kernel_brief_by_id``: id, name, program_type, tag), read without
    map ids, load-time formatting or a /proc read per program. *read_kernel*
    and *kernel_ids* (the kernel's program ids, for *show_all*) replace the
    live reads when the caller has them. The store is read in one snapshot.
    """
    type_filter = TypeFilter(program_type)
    if read_kernel is None:
        read_kernel = views.kernel_brief_by_id if brief else views.kernel_info_by_id
    with mgr.store.snapshot():
        records = {r.id: r for r in mgr.store.programs()}
        stored_links = mgr.store.links()
    links: dict[int, list[int]] = {}
    for link in stored_links:
        links.setdefault(link.program_id, []).append(link.id)
    users: dict[str, list[int]] = {}  # map_pin_path -> its programs (Maps Used By)
    for r in records.values():
        users.setdefault(r.map_pin_path, []).append(r.id)
    out: list[dict[str, Any]] = []
    if show_all:
        in_kernel = program_ids() if kernel_ids is None else kernel_ids
        ids = sorted(set(in_kernel) | set(records))
    else:
        ids = sorted(records)
    for prog_id in ids:
        rec = records.get(prog_id)
        if rec is None and (selector or type_filter.needs_record()):
            continue
        if rec is not None and not _matches(rec.metadata, selector):
            continue
        kernel = read_kernel(prog_id)
        if kernel is None or (rec is not None and kernel["tag"] != rec.tag):
            continue  # gone from the kernel: doctor reports it
        if not type_filter.matches(rec, kernel["program_type"]):
            continue
        item: dict[str, Any] = {"kernel_info": kernel}
        if rec is not None:
            used_by = users.get(rec.map_pin_path, [])
            info = views.program_info(mgr, rec, links.get(rec.id, []), used_by)
            item = {"info": info, "kernel_info": kernel, "_type_word": rec.type_word}
        out.append(item)
    return out


def list_links(
    mgr: Manager,
    program_id: int | None,
    program_type: str | None,
    selector: dict[str, str],
) -> list[tuple[LinkRecord, ProgramRecord | None]]:
    """bpfman's links (of one program), filtered as ``list links`` asks: the program's type
    (``TypeFilter``) and *selector* over the link's metadata (which carries its program's
    ``bpfman_application``) over the program's."""
    type_filter = TypeFilter(program_type)
    records = {r.id: r for r in mgr.store.programs()}
    out: list[tuple[LinkRecord, ProgramRecord | None]] = []
    for link in mgr.links(program_id):
        rec = records.get(link.program_id)
        kernel_type = int(loadplan.kernel_type(link.kind))
        if not type_filter.matches(rec, kernel_type):
            continue
        if not _matches({**(rec.metadata if rec else {}), **link.metadata}, selector):
            continue
        out.append((link, rec))
    return out


def _matches(metadata: dict[str, str], selector: dict[str, str]) -> bool:
    return all(metadata.get(k) == v for k, v in selector.items())
