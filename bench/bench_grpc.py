"""The daemon beside bpftool (as root: `.venv/bin/python bench/bench_grpc.py`).

One program lifecycle — load `count_kill` from tests' basic.bpf.o, attach it
to `syscalls/sys_enter_kill`, detach, unload — as four RPCs from a client
holding one channel to a running `bpfman serve`, against bpftool 7.5 doing
the same (`prog load ... autoattach` + removing the pins, as
bench/bench_cli.py measures it; its helpers are reused). Also: each RPC
alone, and the same four operations in-process through the Manager (the
floor under the RPCs). Prints a Markdown table (bench/grpc.md keeps results).
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import grpc

from bench_cli import BPFMAN, OBJ, bpftool_cycle, cleanup, ensure_bpftool, print_table, timed
from bpfman.server import bpfman_pb2 as pb
from bpfman.server import bpfman_pb2_grpc as pb_grpc

RUNS = 20
TRACEPOINT = pb.AttachInfo(
    tracepoint_attach_info=pb.TracepointAttachInfo(tracepoint="syscalls/sys_enter_kill")
)


def grpc_cycle(stub: pb_grpc.BpfmanStub, steps: dict[str, list[float]]) -> None:
    def step(name: str, call: Callable[[], object]) -> object:
        t = time.perf_counter()
        out = call()
        steps.setdefault(name, []).append(time.perf_counter() - t)
        return out

    req = pb.LoadRequest(
        bytecode=pb.BytecodeLocation(file=OBJ),
        info=[pb.LoadInfo(name="count_kill", program_type=pb.TRACEPOINT)],
    )
    loaded = step("Load", lambda: stub.Load(req))
    prog = loaded.programs[0].kernel_info.id  # type: ignore[attr-defined]
    attached = step("Attach", lambda: stub.Attach(pb.AttachRequest(id=prog, attach=TRACEPOINT)))
    link = attached.link_id  # type: ignore[attr-defined]
    step("Detach", lambda: stub.Detach(pb.DetachRequest(link_id=link)))
    step("Unload", lambda: stub.Unload(pb.UnloadRequest(id=prog)))


def manager_cycle(rt: str) -> Callable[[], None]:
    from bpfman.manager.core import AttachSpec, LoadSpec, Manager
    from bpfman.manager.models import BpfmanType
    from bpfman.manager.parse import program_requests

    mgr = Manager(rt)
    spec = LoadSpec(program_requests(["tracepoint:count_kill"]), path=OBJ)
    attach = AttachSpec(BpfmanType.TRACEPOINT, {"tracepoint": "syscalls/sys_enter_kill"})

    def once() -> None:
        prog = mgr.load(spec)[0].id
        link = mgr.attach(prog, attach).id
        mgr.detach(link)
        mgr.unload(prog)

    once()  # warm
    return once


def kernel_detach() -> float:
    """Median time the kernel takes to release a pinned tracepoint link by closing its last
    fd (what Detach does: synchronous, the perf event's RCU grace periods)."""
    import bpfman
    from bpfman.link import Link

    pins = tempfile.mkdtemp(prefix="bench-grpc-", dir="/sys/fs/bpf")
    samples = []
    try:
        with bpfman.load(OBJ) as obj:
            for _ in range(RUNS // 2):
                link = obj.programs["count_kill"].attach_tracepoint("syscalls", "sys_enter_kill")
                link.pin(f"{pins}/link")
                link.close()
                t = time.perf_counter()
                Link.from_pin(f"{pins}/link").detach()
                samples.append(time.perf_counter() - t)
    finally:
        os.rmdir(pins)
    return statistics.median(samples)


def main() -> int:
    ensure_bpftool()
    rt = f"/run/bpfman-bench-grpc-{os.getpid()}"
    sock_dir = tempfile.mkdtemp(prefix="bench-grpc-")
    sock = os.path.join(sock_dir, "bpfman.sock")
    daemon = subprocess.Popen([BPFMAN, "--runtime-dir", rt, "serve", "--socket", sock])
    rows: list[tuple[str, str, str]] = []
    try:
        with grpc.insecure_channel(f"unix:{sock}") as channel:
            grpc.channel_ready_future(channel).result(timeout=15)
            stub = pb_grpc.BpfmanStub(channel)
            grpc_cycle(stub, {})  # warm: each worker thread's Manager, the page cache
            steps: dict[str, list[float]] = {}
            ours = timed(lambda: grpc_cycle(stub, steps), runs=RUNS)
        theirs = timed(bpftool_cycle, runs=RUNS)
        floor = timed(manager_cycle(rt), runs=RUNS)
        release = kernel_detach()
        rows.append(("lifecycle: Load+Attach+Detach+Unload RPCs", f"{ours * 1000:.1f} ms",
                     f"bpftool 7.5 {theirs * 1000:.1f} ms: {ours / theirs:.1f}x"))  # fmt: skip
        for name, samples in steps.items():
            rows.append((f"  {name}", f"{statistics.median(samples) * 1000:.1f} ms", ""))
        rows.append(("same four operations in-process (Manager)", f"{floor * 1000:.1f} ms",
                     f"{floor / theirs:.1f}x bpftool"))  # fmt: skip
        rows.append(("kernel: release of a tracepoint link on close of its last fd",
                     f"{release * 1000:.1f} ms", "inside Detach"))  # fmt: skip
        rest = ours - release
        rows.append(("lifecycle RPCs less that release", f"{rest * 1000:.1f} ms",
                     f"{rest / theirs:.2f}x bpftool"))  # fmt: skip
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
        cleanup(rt)
        os.rmdir(sock_dir)
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
