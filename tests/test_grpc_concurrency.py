"""The daemon under concurrent clients, beside CLI processes on the same runtime dir.

Four gRPC client threads and two ``bpfman`` CLI processes do random
load/attach/detach/unload operations at once; every RPC either succeeds or
fails with a status (never INTERNAL, never a dead daemon), and the end state
is coherent: ``doctor`` finds nothing, every link's program exists, and
unloading what is left leaves nothing behind.
"""

from __future__ import annotations

import random
import subprocess
import threading
import traceback

import grpc
import pytest

from bpfman.server import bpfman_pb2 as pb
from support import daemon as daemon_support
from support.cli import BPFMAN

daemon, rpc = daemon_support.daemon, daemon_support.rpc  # the module's daemon (pytest fixtures)

THREADS = 4
OPS = 25
CLI_OPS = 6
TRACEPOINT = pb.AttachInfo(
    tracepoint_attach_info=pb.TracepointAttachInfo(tracepoint="syscalls/sys_enter_getppid")
)


def _client(stub, obj: str, seed: int, codes: list[grpc.StatusCode], errors: list[str]) -> None:
    rng = random.Random(seed)
    try:
        for _ in range(OPS):
            results = stub.List(pb.ListRequest(bpfman_programs_only=True)).results
            progs = [r.kernel_info.id for r in results]
            links = [lid for r in results for lid in r.info.links]
            op = rng.choice(["load", "load", "attach", "attach", "detach", "unload"])
            try:
                if op == "load" or not progs:
                    stub.Load(pb.LoadRequest(
                        bytecode=pb.BytecodeLocation(file=obj),
                        info=[pb.LoadInfo(name="count_getppid", program_type=pb.TRACEPOINT)],
                    ))  # fmt: skip
                elif op == "attach":
                    stub.Attach(pb.AttachRequest(id=rng.choice(progs), attach=TRACEPOINT))
                elif op == "detach" and links:
                    stub.Detach(pb.DetachRequest(link_id=rng.choice(links)))
                else:
                    stub.Unload(pb.UnloadRequest(id=rng.choice(progs)))
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as e:  # lost a race with another client: a status, one line
                codes.append(e.code())
                assert "\n" not in (e.details() or ""), e.details()
    except Exception:
        errors.append(traceback.format_exc())


def _cli_worker(runtime: str, obj: str, seed: int) -> list[int]:
    rng = random.Random(seed)
    rcs = []
    for _ in range(CLI_OPS):
        args = rng.choice([
            ["load", "file", "-p", obj, "--programs", "tracepoint:count_getppid"],
            ["list", "programs"],
            ["list", "links"],
        ])  # fmt: skip
        p = subprocess.run([BPFMAN, "--runtime-dir", runtime, *args], capture_output=True,
                           text=True, timeout=60)  # fmt: skip
        assert "Traceback" not in p.stderr, p.stderr
        rcs.append(p.returncode)
    return rcs


@pytest.mark.slow
def test_concurrent_clients_and_cli_stay_coherent(rpc, bpf_obj) -> None:
    stub, cli = rpc
    obj = bpf_obj("basic")
    codes: list[grpc.StatusCode] = []
    errors: list[str] = []
    threads = [
        threading.Thread(target=_client, args=(stub, obj, seed, codes, errors))
        for seed in range(THREADS)
    ]
    cli_rcs: list[int] = []
    clis = [
        threading.Thread(target=lambda s=seed: cli_rcs.extend(_cli_worker(cli.runtime, obj, s)))
        for seed in (100, 101)
    ]
    for t in threads + clis:
        t.start()
    for t in threads + clis:
        t.join(timeout=300)
    assert not errors, errors[0]
    assert len(codes) == THREADS * OPS and len(cli_rcs) == 2 * CLI_OPS
    allowed = {grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION}
    assert set(codes) <= allowed, codes
    assert codes.count(grpc.StatusCode.OK) > len(codes) // 2
    assert set(cli_rcs) == {0}
    assert cli("doctor").out.startswith("ok:")
    results = stub.List(pb.ListRequest(bpfman_programs_only=True)).results
    prog_ids = {r.kernel_info.id for r in results}
    links = cli("list", "links", "-o", "json").json()
    assert {link["program_id"] for link in links} <= prog_ids
    assert cli.db_rows()["programs"] == len(prog_ids)
    for prog_id in prog_ids:
        stub.Unload(pb.UnloadRequest(id=prog_id))
