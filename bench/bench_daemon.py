"""The daemon at node scale (as root: `.venv/bin/python bench/bench_daemon.py [--quick]`).

Against floors measured in the same run, side by side (alternating):

1. List of every program with 1000 of bpfman's loaded (one client) against
   `bpftool -j prog show` over the same kernel (a process that reads the same
   programs and prints them as JSON);
2. Get of a loaded program against the RPC stack's own floor: a Get of an
   id that does not exist (the request, the lookup, the NOT_FOUND answer);
3. with 200 programs: 16 client threads, 80 % Get / 20 % List, for 10 s:
   requests/s and latency percentiles; then the same with one more thread
   doing Load + Attach + Detach + Unload over and over (readers must not
   starve, nor wait for the writer lock);
4. the daemon's RSS and open fds before and after 3.

Prints a Markdown table (bench/README.md keeps the results).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable

import grpc

from bench_cli import BPFMAN, OBJ, cleanup, load_many, print_table
from bpfman.server import bpfman_pb2 as pb
from bpfman.server import bpfman_pb2_grpc as pb_grpc

QUICK = "--quick" in sys.argv
NODE = 100 if QUICK else 1000
BUSY = 50 if QUICK else 200
THREADS = 16
SECONDS = 3.0 if QUICK else 10.0
RUNS = 15
UNKNOWN = 2**31 - 1
TRACEPOINT = pb.AttachInfo(
    tracepoint_attach_info=pb.TracepointAttachInfo(tracepoint="syscalls/sys_enter_getppid")
)


def alternate(a: Callable[[], object], b: Callable[[], object], runs: int) -> tuple[float, float]:
    """Medians of *a* and *b*, run alternately."""
    sa, sb = [], []
    for _ in range(runs):
        for fn, out in ((a, sa), (b, sb)):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    return statistics.median(sa), statistics.median(sb)


def unknown_get(stub: pb_grpc.BpfmanStub) -> None:
    try:
        stub.Get(pb.GetRequest(id=UNKNOWN))
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.NOT_FOUND, e
    else:
        raise AssertionError("Get of an unknown id answered")


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def process_state(pid: int) -> tuple[int, int]:
    """(RSS in KiB, open fds) of process *pid*."""
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


class Load:
    """Reader threads (80 % Get / 20 % List) and optionally a writer, for *seconds*."""

    def __init__(self, stub: pb_grpc.BpfmanStub, ids: list[int], seconds: float) -> None:
        self.stub, self.ids, self.seconds = stub, ids, seconds
        self.lat: dict[str, list[float]] = {"Get": [], "List": [], "cycle": []}
        self.errors: list[str] = []
        self.lock = threading.Lock()

    def reader(self, seed: int, until: float) -> None:
        rng = random.Random(seed)
        mine: dict[str, list[float]] = {"Get": [], "List": []}
        while time.monotonic() < until:
            kind = "Get" if rng.random() < 0.8 else "List"
            t = time.perf_counter()
            try:
                if kind == "Get":
                    self.stub.Get(pb.GetRequest(id=rng.choice(self.ids)))
                else:
                    self.stub.List(pb.ListRequest())
            except grpc.RpcError as e:
                self.errors.append(f"{kind}: {e.code()} {e.details()}")
                continue
            mine[kind].append(time.perf_counter() - t)
        with self.lock:
            for k, v in mine.items():
                self.lat[k].extend(v)

    def writer(self, until: float) -> None:
        req = pb.LoadRequest(
            bytecode=pb.BytecodeLocation(file=OBJ),
            info=[pb.LoadInfo(name="count_getppid", program_type=pb.TRACEPOINT)],
        )
        while time.monotonic() < until:
            t = time.perf_counter()
            prog = self.stub.Load(req).programs[0].kernel_info.id
            link = self.stub.Attach(pb.AttachRequest(id=prog, attach=TRACEPOINT)).link_id
            self.stub.Detach(pb.DetachRequest(link_id=link))
            self.stub.Unload(pb.UnloadRequest(id=prog))
            self.lat["cycle"].append(time.perf_counter() - t)

    def run(self, with_writer: bool) -> float:
        until = time.monotonic() + self.seconds
        threads = [threading.Thread(target=self.reader, args=(i, until)) for i in range(THREADS)]
        if with_writer:
            threads.append(threading.Thread(target=self.writer, args=(until,)))
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        return time.perf_counter() - t

    def rows(self, title: str, elapsed: float) -> list[tuple[str, str, str]]:
        get, lst = self.lat["Get"], self.lat["List"]
        everything = get + lst
        rate = len(everything) / elapsed
        rows = [
            (
                title,
                f"{rate:.0f} requests/s, p50 {pct(everything, 0.5) * 1e3:.1f} ms,"
                f" p99 {pct(everything, 0.99) * 1e3:.1f} ms",
                "target >= 500 requests/s, p99 <= 100 ms",
            ),
            (
                "  Get / List",
                f"{len(get)} / {len(lst)}; p50 {pct(get, 0.5) * 1e3:.1f} / "
                f"{pct(lst, 0.5) * 1e3:.1f} ms, p99 {pct(get, 0.99) * 1e3:.1f} / "
                f"{pct(lst, 0.99) * 1e3:.1f} ms",
                f"{len(self.errors)} errors",
            ),
        ]
        if self.lat["cycle"]:
            cycles = self.lat["cycle"]
            rows.append(
                (
                    "  writer: Load+Attach+Detach+Unload",
                    f"{len(cycles)} cycles, median {statistics.median(cycles) * 1e3:.0f} ms",
                    "one more client thread",
                )
            )
        return rows


def main() -> int:
    bpftool = shutil.which("bpftool")
    assert bpftool, "bpftool not found"
    rt = f"/run/bpfman-bench-daemon-{os.getpid()}"
    sock_dir = tempfile.mkdtemp(prefix="bench-daemon-")
    sock = os.path.join(sock_dir, "bpfman.sock")
    load_many(rt, 1)  # makes the runtime dir before the daemon opens it
    ids = load_many(rt, NODE - 1)
    daemon = subprocess.Popen([BPFMAN, "--runtime-dir", rt, "serve", "--socket", sock])
    rows: list[tuple[str, str, str]] = []
    try:
        with grpc.insecure_channel(f"unix:{sock}") as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
            stub = pb_grpc.BpfmanStub(channel)
            count = len(stub.List(pb.ListRequest()).results)
            show = [bpftool, "-j", "prog", "show"]
            ours, peer = alternate(
                lambda: stub.List(pb.ListRequest()),
                lambda: subprocess.run(show, check=True, capture_output=True),
                RUNS,
            )
            rows.append((
                f"List, {NODE} of bpfman's programs loaded ({count} in the kernel)",
                f"{ours * 1e3:.1f} ms",
                f"`bpftool -j prog show` {peer * 1e3:.1f} ms: {ours / peer:.2f}x (target <= 2x)",
            ))  # fmt: skip
            load_req = pb.LoadRequest(
                bytecode=pb.BytecodeLocation(file=OBJ),
                info=[pb.LoadInfo(name="count_getppid", program_type=pb.TRACEPOINT)],
            )
            after_change = []
            for _ in range(RUNS):  # a Load and an Unload commit: the answer is rebuilt
                stub.Unload(pb.UnloadRequest(id=stub.Load(load_req).programs[0].kernel_info.id))
                t = time.perf_counter()
                stub.List(pb.ListRequest())
                after_change.append(time.perf_counter() - t)
            changed = statistics.median(after_change)
            rows.append((
                "  the same List right after a Load + Unload (rebuilt)", f"{changed * 1e3:.1f} ms",
                f"{changed / peer:.2f}x bpftool's median above",
            ))  # fmt: skip
            some = ids[len(ids) // 2]
            ours, floor = alternate(
                lambda: stub.Get(pb.GetRequest(id=some)), lambda: unknown_get(stub), 200
            )
            rows.append((
                "Get of one program", f"{ours * 1e3:.2f} ms",
                f"Get of an unknown id {floor * 1e3:.2f} ms: {ours / floor:.2f}x (target <= 2x)",
            ))  # fmt: skip

            from bpfman.manager.core import Manager

            with Manager(rt) as mgr:
                for prog in ids[BUSY - 1 :]:
                    mgr.unload(prog)
            busy = ids[: BUSY - 1]
            Load(stub, busy, 1.0).run(True)  # warm: every worker thread has its Manager
            states = [process_state(daemon.pid)]
            for writer in (False, True):
                load = Load(stub, busy, SECONDS)
                elapsed = load.run(writer)
                title = f"{THREADS} threads, 80 % Get / 20 % List, {BUSY} programs, {SECONDS:g} s"
                rows += load.rows(title + (" + a writer" if writer else ""), elapsed)
                assert not load.errors, load.errors[:5]
                states.append(process_state(daemon.pid))
            rows.append((
                "daemon RSS / open fds: warm, after the readers, after readers + writer",
                " -> ".join(f"{rss / 1024:.1f}" for rss, _ in states) + " MiB; "
                + " -> ".join(str(fds) for _, fds in states) + " fds", "no growth",
            ))  # fmt: skip
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=60)
        cleanup(rt)
        os.rmdir(sock_dir)
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
