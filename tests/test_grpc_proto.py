"""The daemon's proto: wire compatible with bpfman.v1 as the spec gives it, and not drifting.

The table below is transcribed from ../shared/spec/grpc-api.md (one line per
message, its fields as ``[opt|rep] TYPE name=NUMBER``); the generated
descriptors must have exactly these fields, numbers, types and labels. Also:
the committed generated code is what `make proto` produces from the .proto,
and the pure pieces of the daemon (request translation, status codes, the
socket activation count).
"""

from __future__ import annotations

import errno
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from bpfman.server import bpfman_pb2 as pb

pytestmark = pytest.mark.pure  # generated code, the spec, translation: no kernel

ROOT = Path(__file__).resolve().parent.parent

SPEC_MESSAGES = """
BytecodeImage: string url=1; int32 image_pull_policy=2; opt string username=3; opt string password=4
BytecodeLocation: oneof location { BytecodeImage image=2; string file=3 }
KernelProgramInfo: uint32 id=1; string name=2; uint32 program_type=3; string loaded_at=4; string tag=5; bool gpl_compatible=6; rep uint32 map_ids=7; uint32 btf_id=8; uint32 bytes_xlated=9; bool jited=10; uint32 bytes_jited=11; uint32 bytes_memlock=12; uint32 verified_insns=13
ProgramInfo: string name=1; BytecodeLocation bytecode=2; rep uint32 links=3; map<string,bytes> global_data=4; opt uint32 map_owner_id=5; string map_pin_path=6; rep string map_used_by=7; map<string,string> metadata=8
XDPAttachInfo: int32 priority=1; string iface=2; int32 position=3; rep int32 proceed_on=4; opt string netns=5; map<string,string> metadata=6
TCAttachInfo: int32 priority=1; string iface=2; int32 position=3; string direction=4; rep int32 proceed_on=5; opt string netns=6; map<string,string> metadata=7
TCXAttachInfo: int32 priority=1; string iface=2; int32 position=3; string direction=4; opt string netns=5; map<string,string> metadata=6
TracepointAttachInfo: string tracepoint=1; map<string,string> metadata=2
KprobeAttachInfo: string fn_name=1; uint64 offset=2; opt int32 container_pid=3; map<string,string> metadata=4
UprobeAttachInfo: opt string fn_name=1; uint64 offset=2; string target=3; opt int32 pid=4; opt int32 container_pid=5; map<string,string> metadata=6
FentryAttachInfo: map<string,string> metadata=1
FexitAttachInfo: map<string,string> metadata=1
AttachInfo: oneof info { XDPAttachInfo xdp_attach_info=1; TCAttachInfo tc_attach_info=2; TracepointAttachInfo tracepoint_attach_info=3; KprobeAttachInfo kprobe_attach_info=4; UprobeAttachInfo uprobe_attach_info=5; TCXAttachInfo tcx_attach_info=6; FentryAttachInfo fentry_attach_info=7; FexitAttachInfo fexit_attach_info=8 }
FentryLoadInfo: string fn_name=1
FexitLoadInfo: string fn_name=1
ProgSpecificInfo: oneof info { FentryLoadInfo fentry_load_info=1; FexitLoadInfo fexit_load_info=2 }
LoadInfo: string name=1; BpfmanProgramType program_type=2; opt ProgSpecificInfo info=3
LoadRequest: BytecodeLocation bytecode=1; map<string,string> metadata=5; map<string,bytes> global_data=6; opt string uuid=7; opt uint32 map_owner_id=8; rep LoadInfo info=9
LoadResponseInfo: ProgramInfo info=1; KernelProgramInfo kernel_info=2
LoadResponse: rep LoadResponseInfo programs=1
UnloadRequest: uint32 id=1
UnloadResponse:
AttachRequest: uint32 id=1; AttachInfo attach=2
AttachResponse: uint32 link_id=1
DetachRequest: uint32 link_id=1
DetachResponse:
ListRequest: opt uint32 program_type=1; opt bool bpfman_programs_only=2; map<string,string> match_metadata=3
ListResponse.ListResult: opt ProgramInfo info=1; KernelProgramInfo kernel_info=2
ListResponse: rep ListResponse.ListResult results=3
PullBytecodeRequest: BytecodeImage image=1
PullBytecodeResponse:
GetRequest: uint32 id=1
GetResponse: opt ProgramInfo info=1; KernelProgramInfo kernel_info=2
"""  # noqa: E501  (one spec line per message, as the spec writes them)

SPEC_ENUM = {"XDP": 0, "TC": 1, "TRACEPOINT": 2, "KPROBE": 3, "UPROBE": 4, "FENTRY": 5,
             "FEXIT": 6, "TCX": 7}  # fmt: skip
SPEC_RPCS = {
    name: (f"{name}Request", f"{name}Response")
    for name in ("Load", "Unload", "Attach", "Detach", "List", "PullBytecode", "Get")
}

SCALARS = {
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_BYTES: "bytes",
    FieldDescriptor.TYPE_BOOL: "bool",
    FieldDescriptor.TYPE_INT32: "int32",
    FieldDescriptor.TYPE_UINT32: "uint32",
    FieldDescriptor.TYPE_UINT64: "uint64",
}


def spec_fields(body: str) -> dict[str, str]:
    """``field name -> "LABEL TYPE =NUMBER"`` for one message line of the table."""
    out: dict[str, str] = {}
    for oneof, inner in re.findall(r"oneof (\w+) \{([^}]*)\}", body):
        for item in inner.split(";"):
            m = re.fullmatch(r"(\S+) (\w+)=(\d+)", item.strip())
            assert m, item
            typ, name, num = m.groups()
            out[name] = f"oneof:{oneof} {typ} ={num}"
    body = re.sub(r"oneof \w+ \{[^}]*\}", "", body)
    for item in filter(None, (i.strip() for i in body.split(";"))):
        m = re.fullmatch(r"(?:(opt|rep) )?(\S+) (\w+)=(\d+)", item)
        assert m, item
        label, typ, name, num = m.groups()
        out[name] = f"{label or '-'} {typ} ={num}"
    return out


def short(desc: Descriptor | EnumDescriptor | None) -> str:
    assert desc is not None
    return desc.full_name.removeprefix("bpfman.v1.")


def actual_field(f: FieldDescriptor) -> str:
    if f.message_type is not None and f.message_type.GetOptions().map_entry:
        k, v = (SCALARS[x.type] for x in f.message_type.fields)
        return f"- map<{k},{v}> ={f.number}"
    if f.type == FieldDescriptor.TYPE_MESSAGE:
        typ = short(f.message_type)
    elif f.type == FieldDescriptor.TYPE_ENUM:
        typ = short(f.enum_type)
    else:
        typ = SCALARS[f.type]
    oneof = f.containing_oneof
    if f.is_repeated:
        label = "rep"
    elif oneof is not None and oneof.name == f"_{f.name}":  # proto3 `optional`
        label = "opt"
    elif oneof is not None:
        label = f"oneof:{oneof.name}"
    else:
        label = "-"
    return f"{label} {typ} ={f.number}"


def all_messages() -> dict[str, Descriptor]:
    out: dict[str, Descriptor] = {}

    def walk(d: Descriptor) -> None:
        if d.GetOptions().map_entry:
            return
        out[short(d)] = d
        for n in d.nested_types:
            walk(n)

    for d in pb.DESCRIPTOR.message_types_by_name.values():
        walk(d)
    return out


def test_every_message_and_field_as_the_spec_gives_them() -> None:
    assert pb.DESCRIPTOR.package == "bpfman.v1"
    spec = {}
    for line in filter(None, SPEC_MESSAGES.strip().splitlines()):
        name, _, body = line.partition(":")
        spec[name] = spec_fields(body)
    messages = all_messages()
    assert set(messages) == set(spec)
    for name, fields in spec.items():
        actual = {f.name: actual_field(f) for f in messages[name].fields}
        assert actual == fields, name
    assert sum(len(f) for f in spec.values()) == 99  # every field of the table was compared


def test_enum_and_service() -> None:
    enum = pb.DESCRIPTOR.enum_types_by_name["BpfmanProgramType"]
    assert {v.name: v.number for v in enum.values} == SPEC_ENUM
    service = pb.DESCRIPTOR.services_by_name["Bpfman"]
    assert service.full_name == "bpfman.v1.Bpfman"
    rpcs = {m.name: (short(m.input_type), short(m.output_type)) for m in service.methods}
    assert rpcs == SPEC_RPCS
    assert all(not m.client_streaming and not m.server_streaming for m in service.methods)


def test_generated_code_matches_the_proto(tmp_path: Path) -> None:
    """`make proto` into a temporary dir gives exactly the committed files."""
    if importlib.util.find_spec("grpc_tools") is None:
        pytest.skip("grpcio-tools (a dev dependency) is not installed")
    subprocess.run(
        [sys.executable, str(ROOT / "proto" / "generate.py"), str(tmp_path)],
        check=True,
        capture_output=True,
    )
    generated = sorted(p.name for p in (tmp_path / "bpfman" / "server").iterdir())
    assert generated == [
        "bpfman_pb2.py", "bpfman_pb2.pyi", "bpfman_pb2_grpc.py",
        "csi_pb2.py", "csi_pb2.pyi", "csi_pb2_grpc.py",
    ]  # fmt: skip
    for name in generated:
        committed = ROOT / "src" / "bpfman" / "server" / name
        fresh = tmp_path / "bpfman" / "server" / name
        assert committed.read_bytes() == fresh.read_bytes(), f"{name}: run `make proto`"


# ---------------------------------------------------------------------- pure translation


def test_load_requests_from_load_info() -> None:
    from bpfman.manager.core import LoadSpec
    from bpfman.manager.errors import InputError
    from bpfman.manager.models import BpfmanType
    from bpfman.server.translate import is_return_probe, program_requests, with_return_probes

    infos = [
        pb.LoadInfo(name="kp", program_type=pb.KPROBE),
        pb.LoadInfo(name="kpret", program_type=pb.KPROBE),
        pb.LoadInfo(name="upret", program_type=pb.UPROBE),
        pb.LoadInfo(
            name="fe",
            program_type=pb.FENTRY,
            info=pb.ProgSpecificInfo(fentry_load_info=pb.FentryLoadInfo(fn_name="do_unlinkat")),
        ),
    ]
    sections = {"kp": "kprobe", "kpret": "kretprobe/do_unlinkat", "upret": "uretprobe.s"}
    reqs = with_return_probes(LoadSpec(program_requests(infos)), sections).requests
    assert [(r.kind, r.retprobe, r.attach_fn) for r in reqs] == [
        (BpfmanType.KPROBE, False, None),
        (BpfmanType.KPROBE, True, None),
        (BpfmanType.UPROBE, True, None),
        (BpfmanType.FENTRY, False, "do_unlinkat"),
    ]
    assert not is_return_probe(BpfmanType.KPROBE, "uretprobe")
    assert not is_return_probe(BpfmanType.TRACEPOINT, "kretprobe")
    fexit_info = pb.ProgSpecificInfo(fexit_load_info=pb.FexitLoadInfo(fn_name="x"))
    bad = [
        ([], "no programs to load"),
        ([pb.LoadInfo(program_type=pb.XDP)], "empty program name"),
        ([pb.LoadInfo(name="a", program_type=42)], "unknown program_type 42"),  # type: ignore[arg-type]
        ([pb.LoadInfo(name="a", program_type=pb.FENTRY)], "needs info.fentry_load_info.fn_name"),
        ([pb.LoadInfo(name="a", program_type=pb.FENTRY, info=fexit_info)], "fentry_load_info"),
        ([pb.LoadInfo(name="a", program_type=pb.XDP, info=fexit_info)], "only fentry/fexit"),
        ([pb.LoadInfo(name="a"), pb.LoadInfo(name="a")], "given twice"),
    ]
    for infos, message in bad:
        with pytest.raises(InputError, match=re.escape(message)):
            program_requests(infos)


def test_attach_specs_take_the_api_fields() -> None:
    from bpfman.manager.errors import InputError
    from bpfman.manager.models import BpfmanType
    from bpfman.server.translate import attach_spec

    req = pb.AttachRequest(
        id=7,
        attach=pb.AttachInfo(
            xdp_attach_info=pb.XDPAttachInfo(
                priority=5, iface="eth0", position=3, proceed_on=[2], metadata={"k": "v"}
            )
        ),
    )
    spec = attach_spec(req)
    assert spec.kind == BpfmanType.XDP and spec.metadata == {"k": "v"}
    assert spec.params == {"priority": 5, "iface": "eth0", "proceed_on": [2], "netns": None}
    uprobe = pb.UprobeAttachInfo(target="libc", pid=0)
    up = attach_spec(pb.AttachRequest(attach=pb.AttachInfo(uprobe_attach_info=uprobe)))
    assert up.params == {
        "fn_name": None, "offset": 0, "target": "libc", "pid": 0, "container_pid": None
    }  # fmt: skip
    fentry = attach_spec(pb.AttachRequest(attach=pb.AttachInfo(fentry_attach_info={})))
    assert fentry.kind == BpfmanType.FENTRY and fentry.params == {}
    with pytest.raises(InputError, match="no attach info given"):
        attach_spec(pb.AttachRequest(id=1))


def test_status_codes() -> None:
    from bpfman import images
    from bpfman.errors import BpfError, KernelFeatureError, UnknownName
    from bpfman.manager.errors import InputError, NotFoundError, PreconditionError
    from bpfman.manager.lock import LockTimeout
    from bpfman.server.status import Unimplemented, status_of

    # one root: every error the manager or the library raises on purpose is a BpfError
    roots: list[type[Exception]] = [InputError, NotFoundError, PreconditionError, LockTimeout]
    roots += [UnknownName, images.ImageError, KernelFeatureError]
    for kind in roots:
        assert issubclass(kind, BpfError), kind

    C = grpc.StatusCode
    cases = [
        (InputError("bad\nsecond line"), C.INVALID_ARGUMENT, "bad"),
        (NotFoundError("no program"), C.NOT_FOUND, "no program"),
        (PreconditionError("in use"), C.FAILED_PRECONDITION, "in use"),
        (KernelFeatureError("no kprobes", "kprobe"), C.FAILED_PRECONDITION, "no kprobes"),
        (LockTimeout("held"), C.UNAVAILABLE, "held"),
        (Unimplemented("later"), C.UNIMPLEMENTED, "later"),
        (BpfError("no such file", errno=errno.ENOENT), C.NOT_FOUND, "no such file"),
        (BpfError("no such BTF type", errno=errno.ESRCH), C.NOT_FOUND, "no such BTF type"),
        (BpfError("no interface", errno=errno.ENODEV), C.NOT_FOUND, "no interface"),
        (BpfError("busy", errno=errno.EBUSY), C.FAILED_PRECONDITION, "busy"),
        (BpfError("refused", errno=errno.EINVAL), C.ABORTED, "refused"),
        (RuntimeError("boom"), C.INTERNAL, "internal error (RuntimeError): boom"),
        (images.ImageNotFound("no such tag"), C.NOT_FOUND, "no such tag"),
        (images.RegistryUnreachable("down"), C.UNAVAILABLE, "down"),
        (images.RegistryDenied("refused"), C.PERMISSION_DENIED, "refused"),
        (images.NotBytecode("x86-64"), C.FAILED_PRECONDITION, "x86-64"),
        (images.NotCached("Never"), C.FAILED_PRECONDITION, "Never"),
        (images.TamperedCache("tampered"), C.FAILED_PRECONDITION, "tampered"),
        (images.SignatureError("forged"), C.FAILED_PRECONDITION, "forged"),
        (images.ImageError("registry answered 500"), C.ABORTED, "registry answered 500"),
        (UnknownName("no program named 'x'"), C.NOT_FOUND, "no program named 'x'"),
        # a bare KeyError is a programming error, never a user's "not found"
        (KeyError("params"), C.INTERNAL, "internal error (KeyError): 'params'"),
    ]
    for exc, code, message in cases:
        assert status_of(exc) == (code, message)


def test_socket_activation_fd_count() -> None:
    from bpfman.server.activation import activation_fd_count

    assert activation_fd_count({}, 10) == 0
    assert activation_fd_count({"LISTEN_PID": "10", "LISTEN_FDS": "1"}, 10) == 1
    assert activation_fd_count({"LISTEN_PID": "11", "LISTEN_FDS": "1"}, 10) == 0  # not ours
    assert activation_fd_count({"LISTEN_PID": "10", "LISTEN_FDS": "x"}, 10) == 0


def test_relay_closes_when_never_started(tmp_path) -> None:
    """The daemon closes the relay when binding its private socket failed (never started)."""
    import socket

    from bpfman.server.activation import Relay

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(tmp_path / "s"))
    listener.listen()
    Relay(listener, str(tmp_path / "nobody")).close()
    assert listener.fileno() == -1
