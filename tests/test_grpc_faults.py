"""The daemon under bad or oversized requests: the fitting status, a short one-line message,
nothing stored; List stays under the message limit."""

from __future__ import annotations

import os
import socket
from typing import cast

import grpc
import pytest

from bpfman.server import bpfman_pb2 as pb
from support import daemon as daemon_support
from support.daemon import KILL, RpcFailure, load_request, rpc_error

C = grpc.StatusCode
daemon, rpc = daemon_support.daemon, daemon_support.rpc  # the module's daemon (pytest fixtures)


def refused(call) -> RpcFailure:
    err = rpc_error(call)
    assert len(err.details()) < 1200, err.details()
    return err


def test_metadata_and_globals_over_the_limits(rpc, bpf_obj) -> None:
    stub, cli = rpc
    obj = bpf_obj("basic")
    big = {"k": "v" * (2 << 20)}  # twice this made every later List RESOURCE_EXHAUSTED
    for kw, why in [
        ({"metadata": big}, "metadata: 2097153 bytes, at most 4096"),
        ({"metadata": {f"k{i}": "v" for i in range(65)}}, "65 entries, at most 64"),
        ({"global_data": {"target_pid": b"\0" * 5000}}, "global data: 5000 bytes"),
    ]:
        err = refused(lambda kw=kw: stub.Load(load_request(obj, KILL, **kw)))
        assert err.code() == C.INVALID_ARGUMENT and why in err.details(), err.details()
    assert stub.List(pb.ListRequest(bpfman_programs_only=True)).results == []
    r = cli("load", "file", "-p", obj, "--programs", "tracepoint:count_kill",
            "-m", "k=" + "v" * 5000, rc=1)  # fmt: skip
    assert "metadata: 5001 bytes, at most 4096" in r.err


def test_a_huge_value_is_not_echoed_whole(rpc, bpf_obj) -> None:
    """A 64 kB name echoed whole overflowed the status trailer ("Stream removed")."""
    stub, _ = rpc
    err = refused(lambda: stub.Load(load_request(bpf_obj("basic"), ("n" * 65536, pb.TRACEPOINT))))
    assert err.code() == C.INVALID_ARGUMENT, (err.code(), err.details())
    assert "characters)" in err.details()


def test_fifo_and_socket_as_bytecode(rpc, tmp_path) -> None:
    """Refused before the writer lock: answered while another writer holds it (a FIFO opened
    under the lock would have stalled every writer, the daemon's and the CLI's)."""
    import fcntl

    stub, cli = rpc
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    lock = os.open(os.path.join(cli.runtime, ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        for path in (fifo, str(tmp_path / "sock"), "/dev/zero"):
            # (a kprobe or uprobe's ELF section is read before the load: from the file too)
            for prog in (KILL, ("p", pb.KPROBE), ("p", pb.UPROBE)):
                err = refused(lambda path=path, prog=prog: stub.Load(load_request(path, prog),
                                                                     timeout=20))  # fmt: skip
                assert err.code() == C.INVALID_ARGUMENT, (path, prog, err.code(), err.details())
                assert "not a regular file" in err.details(), err.details()
    finally:
        os.close(lock)
        sock.close()
    stub.List(pb.ListRequest())  # the daemon still answers: no writer is stuck on the FIFO


class _Aborted(Exception):
    pass


class _Context:
    """What a gRPC server hands a method: here only abort, as the servicer calls it."""

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise _Aborted(code, details)


def test_list_never_exceeds_the_message_limit(cli, bpf_obj, monkeypatch) -> None:
    # the Load caps keep a real List far below gRPC's 4 MiB; with the limit lowered (in this
    # process: the servicer itself, no daemon) a List over it is refused, not sent
    from bpfman.manager import limits
    from bpfman.server.servicer import BpfmanServicer

    out = cli("load", "file", "-p", bpf_obj("basic"), "--programs", "tracepoint:count_kill",
              "-m", "k=" + "v" * 4000, "-o", "json").json()  # fmt: skip
    servicer = BpfmanServicer(cli.runtime, None)
    context = cast(grpc.ServicerContext, _Context())
    try:
        whole = servicer.List(pb.ListRequest(bpfman_programs_only=True), context)
        assert [r.kernel_info.id for r in whole.results] == [out[0]["kernel_info"]["id"]]
        monkeypatch.setattr(limits, "GRPC_MESSAGE_LIMIT", whole.ByteSize() - 1)
        with pytest.raises(_Aborted) as e:
            servicer.List(pb.ListRequest(bpfman_programs_only=True), context)
        code, details = e.value.args
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "narrow it" in details, details
    finally:
        cli("unload", str(out[0]["kernel_info"]["id"]))
