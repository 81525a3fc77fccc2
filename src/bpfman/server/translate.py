"""Messages to Manager requests and the Manager's views back to messages (no kernel, no I/O).

Inbound: ``load_spec`` (with ``program_requests``) and ``attach_spec`` check a
request's shape (what the proto cannot say: names present, known enum
values, fentry/fexit with their kernel function) and build the specs the
Manager takes; the Manager validates the rest (priorities, directions, ...).
Outbound: ``bpfman.manager.views``/``query`` already shape results as the
API's messages (field names, base64 bytes as in protobuf's JSON mapping), so
they become messages by keyword, strictly: a field the proto lacks is an error.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from google.protobuf.message import Message

from bpfman.attach.sections import section_def
from bpfman.manager.core import AttachSpec, LoadSpec
from bpfman.manager.errors import InputError
from bpfman.manager.models import BpfmanType, ProgramRequest
from bpfman.manager.typetable import BY_ATTACH_INFO, TYPES
from bpfman.server import bpfman_pb2 as pb

M = TypeVar("M", bound=Message)
OUTPUT_ONLY = {"position"}  # the attach info's fields the daemon reports but never takes


def return_probe_candidates(spec: LoadSpec) -> list[str]:
    """Programs whose ELF section decides their load type (kprobe/kretprobe, uprobe/uretprobe)."""
    return [r.name for r in spec.requests if TYPES[r.kind].return_sections]


def is_return_probe(kind: BpfmanType, section: str) -> bool:
    """Whether a kprobe/uprobe program in *section* is the return kind (``kretprobe/f``...)."""
    row = section_def(section)
    return row is not None and row.retprobe and row.kind in TYPES[kind].return_sections


def with_return_probes(spec: LoadSpec, sections: Mapping[str, str]) -> LoadSpec:
    """*spec* with each kprobe/uprobe request made a return probe where its section says so."""
    requests = [
        dataclasses.replace(r, retprobe=is_return_probe(r.kind, sections.get(r.name, "")))
        for r in spec.requests
    ]
    return dataclasses.replace(spec, requests=requests)


def program_requests(infos: list[pb.LoadInfo]) -> list[ProgramRequest]:
    """The programs to load (kprobe/uprobe as the entry kind: ``with_return_probes`` decides)."""
    if not infos:
        raise InputError("LoadRequest.info: no programs to load")
    out: list[ProgramRequest] = []
    for i, info in enumerate(infos):
        where = f"LoadRequest.info[{i}]"
        if not info.name:
            raise InputError(f"{where}: empty program name")
        where += f" ({info.name})"
        try:
            kind = BpfmanType(info.program_type)
        except ValueError:
            known = ", ".join(f"{k.value} {k.name}" for k in BpfmanType)
            raise InputError(
                f"{where}: unknown program_type {info.program_type} (one of {known})"
            ) from None
        given = info.info.WhichOneof("info") if info.HasField("info") else None
        attach_fn = None
        wanted = TYPES[kind].load_info
        if wanted is not None:
            attach_fn = getattr(info.info, wanted).fn_name if given == wanted else ""
            if not attach_fn:
                raise InputError(f"{where}: {kind.name.lower()} needs info.{wanted}.fn_name")
        elif given is not None:
            raise InputError(f"{where}: only fentry/fexit programs take info.{given}")
        if any(r.name == info.name for r in out):
            raise InputError(f"{where}: program given twice")
        out.append(ProgramRequest(kind, info.name, False, attach_fn))
    return out


def load_spec(req: pb.LoadRequest) -> LoadSpec:
    """Everything of *req* but its bytecode (``bytecode.locate`` sets that)."""
    return LoadSpec(
        requests=program_requests(list(req.info)),
        globals=dict(req.global_data),
        metadata=dict(req.metadata),
        map_owner_id=req.map_owner_id if req.HasField("map_owner_id") else None,
    )


def attach_spec(req: pb.AttachRequest) -> AttachSpec:
    which = req.attach.WhichOneof("info") if req.HasField("attach") else None
    if which is None:
        known = ", ".join(f.name for f in pb.AttachInfo.DESCRIPTOR.oneofs_by_name["info"].fields)
        raise InputError(f"AttachRequest.attach: no attach info given (one of {known})")
    kind = BpfmanType(BY_ATTACH_INFO[which])
    info = getattr(req.attach, which)
    params: dict[str, Any] = {}
    for name in TYPES[kind].attach_fields:
        if name in OUTPUT_ONLY:
            continue
        field = info.DESCRIPTOR.fields_by_name[name]
        if field.is_repeated:
            params[name] = list(getattr(info, name))
        elif field.has_presence and not info.HasField(name):
            params[name] = None
        else:
            params[name] = getattr(info, name)
    return AttachSpec(kind, params, dict(info.metadata))


def _program_info(info: dict[str, Any]) -> pb.ProgramInfo:
    """ProgramInfo from ``views.program_info``'s dict, field by field (``json_format.ParseDict``
    of the same dict is several times slower: List of 1000 programs, bench/README.md)."""
    fields = dict(info)
    bytecode = fields.pop("bytecode")
    if "image" in bytecode:
        location = pb.BytecodeLocation(image=pb.BytecodeImage(**bytecode["image"]))
    else:
        location = pb.BytecodeLocation(file=bytecode["file"])
    blobs = {k: base64.b64decode(v) for k, v in fields.pop("global_data").items()}
    return pb.ProgramInfo(bytecode=location, global_data=blobs, **fields)


def _result(result: dict[str, Any], message: Callable[..., M]) -> M:
    """A message with ``info`` (bpfman's programs) and ``kernel_info`` of a query result."""
    kernel = pb.KernelProgramInfo(**result["kernel_info"])
    if "info" in result:
        return message(info=_program_info(result["info"]), kernel_info=kernel)
    return message(kernel_info=kernel)


def load_response(results: list[dict[str, Any]]) -> pb.LoadResponse:
    """LoadResponse from ``query.program_result`` dicts."""
    return pb.LoadResponse(programs=[_result(r, pb.LoadResponseInfo) for r in results])


def list_result(result: dict[str, Any]) -> pb.ListResponse.ListResult:
    """One ListResult from a ``query.list_programs`` dict."""
    return _result(result, pb.ListResponse.ListResult)


def list_response(results: list[dict[str, Any]]) -> pb.ListResponse:
    """ListResponse from ``query.list_programs`` dicts."""
    return pb.ListResponse(results=[list_result(r) for r in results])


def get_response(result: dict[str, Any]) -> pb.GetResponse:
    """GetResponse from a ``query.program_result`` dict."""
    return _result(result, pb.GetResponse)
