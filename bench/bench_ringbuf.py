"""Ring buffer consumption: pybpfman against a C libbpf consumer and bcc, side by side.

    bash bench/setup.sh && make bpf && .venv/bin/python bench/bench_ringbuf.py [--events N]

Drain: a tracepoint program on sys_enter_kill (this process only) writes a 16-byte
struct with bpf_ringbuf_output into a 64 MiB ring buffer; N kill() calls fill it
while nobody reads, then one consumer drains it, timed around the drain call
only. Every consumer gets the same fill; the best of --reps runs is kept.
Consumers: pybpfman per-event callback (bytes, and typed), its iterator, its batch
mode; libbpf's ring_buffer__consume with a ctypes callback (in this process); the
C consumer bench/rb_consumer.c (libbpf, empty callback); bcc (system Python, its
own program and ring, same fill) with a counting callback and with ``table.event``.
Python callbacks count events (``n += 1``), the C one does nothing. Apart: N/4
records of 16, 20, 24 bytes in turn (`rb_kill` into `others`), which pybpfman
reads one by one.

Live: a C producer process calls kill() as fast as it can while a consumer (the C
one, then pybpfman with a per-event callback, bytes and typed) reads a 16 MiB ring
that several times its size goes through; the program counts failed outputs,
which must stay 0.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import bpfman
from bpfman import _libbpf
from bpfman.object import Object

ROOT = Path(__file__).resolve().parent.parent
OBJ = ROOT / "build" / "tests" / "buffers.bpf.o"
PEER = ROOT / "build" / "bench" / "rb_consumer"
BCC_SCRIPT = ROOT / "bench" / "bcc_ringbuf.py"
RING = 64 << 20
LIVE_RING = 16 << 20


class BenchEvent(ctypes.Structure):  # struct bench_event
    _fields_ = [("seq", ctypes.c_uint64), ("pid", ctypes.c_uint32), ("cpu", ctypes.c_uint32)]


def fill(obj: Object, n: int) -> None:
    sent, dropped = obj.globals["sent"], obj.globals["dropped"]
    pid = os.getpid()
    for _ in range(n):
        os.kill(pid, 0)
    assert obj.globals["sent"] - sent == n, "the producer did not write every event"
    assert obj.globals["dropped"] == dropped


# ---------------------------------------------------------------------- consumers


def pybpfman_callback(typed: bool) -> Callable[[Object], tuple[int, float]]:
    def run(obj: Object) -> tuple[int, float]:
        count = [0]

        def cb(ev: object) -> None:
            count[0] += 1

        event = BenchEvent if typed else None
        with bpfman.RingBuffer(obj.maps["bench_rb"], cb, event=event) as rb:
            t0 = time.perf_counter()
            rb.consume()
            secs = time.perf_counter() - t0
        return count[0], secs

    return run


def pybpfman_iterator(obj: Object) -> tuple[int, float]:
    n = 0
    with bpfman.RingBuffer(obj.maps["bench_rb"], event=BenchEvent) as rb:
        t0 = time.perf_counter()
        for _ in rb.events(timeout=0):
            n += 1
        secs = time.perf_counter() - t0
    return n, secs


def pybpfman_batch(obj: Object) -> tuple[int, float]:
    count = [0]

    def cb(events: ctypes.Array[BenchEvent]) -> None:
        count[0] += len(events)

    with bpfman.RingBuffer(obj.maps["bench_rb"], cb, event=BenchEvent, batch=True) as rb:
        t0 = time.perf_counter()
        rb.consume()
        secs = time.perf_counter() - t0
    return count[0], secs


def libbpf_ctypes(obj: Object) -> tuple[int, float]:
    count = [0]

    def cb(_ctx: int | None, _data: int | None, _size: int) -> int:
        count[0] += 1
        return 0

    fn = _libbpf.ring_buffer_sample_fn(cb)
    rb = _libbpf.lib.ring_buffer__new(obj.maps["bench_rb"].fd, fn, None, None)
    assert rb, "ring_buffer__new failed"
    try:
        t0 = time.perf_counter()
        _libbpf.lib.ring_buffer__consume(rb)
        secs = time.perf_counter() - t0
    finally:
        _libbpf.lib.ring_buffer__free(rb)
    return count[0], secs


def c_libbpf(obj: Object) -> tuple[int, float]:
    fd = obj.maps["bench_rb"].fd
    out = subprocess.run(
        [str(PEER), "consume", str(fd)], pass_fds=(fd,), capture_output=True, text=True, check=True
    )
    n, secs = out.stdout.split()
    return int(n), float(secs)


def bcc(events: int, reps: int, mode: str) -> tuple[int, float] | str:
    try:
        out = subprocess.run(
            ["/usr/bin/python3", str(BCC_SCRIPT), str(events), str(RING // 4096), str(reps), mode],
            capture_output=True,
            text=True,
            timeout=600,
        )
    except FileNotFoundError:
        return "no /usr/bin/python3"
    if out.returncode != 0:
        return (out.stderr.strip().splitlines() or ["failed"])[-1]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    if res["dropped"]:
        return f"bcc's program dropped {res['dropped']} events"
    return int(res["events"]), min(res["seconds"])


def variable_lengths(obj: Object, records: int) -> tuple[int, float]:
    """rb_kill writes records of 16, 20, 24 bytes in turn into `others`: one by one."""
    pid = os.getpid()
    for _ in range(2 * records):
        os.kill(pid, 0)
    count = [0]

    def cb(ev: object) -> None:
        count[0] += 1

    with bpfman.RingBuffer(obj.maps["others"], cb) as rb:
        t0 = time.perf_counter()
        rb.consume()
        secs = time.perf_counter() - t0
    with bpfman.RingBuffer(obj.maps["events"]) as rb:
        rb.consume()  # the fixed-size events rb_kill also wrote
    return count[0], secs


# ---------------------------------------------------------------------- live


def live(obj: Object, n: int, consumer: str) -> dict[str, float]:
    """Producer process at full speed; *consumer*: "C libbpf", "bytes" or "typed"."""
    sent0, dropped0 = obj.globals["sent"], obj.globals["dropped"]
    producer = subprocess.Popen([str(PEER), "produce", str(n)], stdin=subprocess.PIPE, text=True)
    assert producer.stdin is not None

    def go() -> float:
        assert producer.stdin is not None
        obj.globals["bench_pid"] = producer.pid
        producer.stdin.write("go\n")
        producer.stdin.flush()
        return time.perf_counter()

    if consumer == "C libbpf":
        fd = obj.maps["live_rb"].fd
        peer = subprocess.Popen(
            [str(PEER), "live", str(fd), str(n)], pass_fds=(fd,), stdout=subprocess.PIPE, text=True
        )
        assert peer.stdout is not None
        assert peer.stdout.readline().strip() == "ready"
        go()
        producer.wait()
        got, secs = peer.communicate()[0].split()
        events, elapsed = int(got), float(secs)
    else:
        count = [0]

        def cb(ev: object) -> None:
            count[0] += 1

        event = BenchEvent if consumer == "typed" else None
        with bpfman.RingBuffer(obj.maps["live_rb"], cb, event=event) as rb:
            t0 = go()
            while count[0] < n and producer.poll() is None:
                rb.poll(timeout=0.2)
            producer.wait()
            rb.consume()
            elapsed = time.perf_counter() - t0
        events = count[0]
    obj.globals["bench_pid"] = 0
    sent, dropped = obj.globals["sent"] - sent0, obj.globals["dropped"] - dropped0
    return {"events": events, "sent": sent, "dropped": dropped, "seconds": elapsed}


# ---------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    ap.add_argument("--events", type=int, default=500_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--live-events", type=int, default=3_000_000)
    ap.add_argument("--live-ring-kib", type=int, default=LIVE_RING >> 10)
    ap.add_argument("--no-bcc", action="store_true")
    ap.add_argument("--no-drain", action="store_true")
    args = ap.parse_args()
    if not PEER.exists():
        sys.exit("run bash bench/setup.sh first (builds the C consumer, installs bcc)")
    n = args.events

    spec = bpfman.open(OBJ)
    spec.globals["target_pid"] = os.getpid()
    spec.maps["bench_rb"].max_entries = RING
    spec.maps["live_rb"].max_entries = args.live_ring_kib << 10
    spec.maps["others"].max_entries = 16 << 20
    spec.maps["events"].max_entries = 16 << 20
    for name, prog in spec.programs.items():
        prog.autoload = name in ("bench_emit", "live_emit", "rb_kill")
    consumers: dict[str, Callable[[Object], tuple[int, float]]] = {
        "C libbpf, empty callback (peer)": c_libbpf,
        "libbpf ring_buffer__consume + ctypes callback": libbpf_ctypes,
        "pybpfman per-event callback (bytes)": pybpfman_callback(False),
        "pybpfman per-event callback (typed)": pybpfman_callback(True),
        "pybpfman iterator (typed)": pybpfman_iterator,
        "pybpfman batch (ctypes arrays)": pybpfman_batch,
    }
    best: dict[str, float] = {}
    with spec.load() as obj:
        link = obj.programs["bench_emit"].attach_tracepoint("syscalls", "sys_enter_kill")
        for _ in range(0 if args.no_drain else args.reps):
            for name, consume in consumers.items():
                fill(obj, n)
                got, secs = consume(obj)
                assert got == n, f"{name}: consumed {got} of {n}"
                best[name] = min(best.get(name, secs), secs)
        link.detach()
        var_link = obj.programs["rb_kill"].attach_tracepoint("syscalls", "sys_enter_kill")
        var_rate = 0.0
        for _ in range(0 if args.no_drain else args.reps):
            got, secs = variable_lengths(obj, n // 4)
            assert got == n // 4 and obj.globals["dropped"] == 0
            var_rate = max(var_rate, got / secs)
        var_link.detach()
        live_link = obj.programs["live_emit"].attach_tracepoint("syscalls", "sys_enter_kill")
        lives = {kind: live(obj, args.live_events, kind) for kind in ("C libbpf", "bytes", "typed")}
        live_link.detach()

    bcc_rows: dict[str, tuple[int, float] | str] = {}
    if not args.no_bcc and not args.no_drain:
        bcc_rows["bcc per-event callback (count)"] = bcc(n, args.reps, "count")
        bcc_rows["bcc per-event callback (table.event)"] = bcc(n, args.reps, "decode")

    rate = {k: n / v for k, v in best.items()}
    ref = bcc_rows.get("bcc per-event callback (count)")
    bcc_rate = ref[0] / ref[1] if isinstance(ref, tuple) else None
    print(f"## drain: {n} events of 16 bytes from a 64 MiB ring (best of {args.reps})\n")
    print("| consumer | events/s | ns/event | vs bcc (count) |")
    print("|---|---:|---:|---:|")
    rows: list[tuple[str, float | str]] = [(k, r) for k, r in rate.items()]
    for k, v in bcc_rows.items():
        rows.append((k, v[0] / v[1] if isinstance(v, tuple) else f"n/a: {v}"))
    for name, r in rows:
        if isinstance(r, str):
            print(f"| {name} | {r} | | |")
            continue
        ratio = f"{r / bcc_rate:.2f}x" if bcc_rate else "n/a"
        print(f"| {name} | {r / 1e6:.2f}M | {1e9 / r:.0f} | {ratio} |")
    if var_rate:
        ratio = f"{var_rate / bcc_rate:.2f}x" if bcc_rate else "n/a"
        print(
            f"| pybpfman per-event callback (bytes), {n // 4} records of 16/20/24 bytes "
            f"in turn | {var_rate / 1e6:.2f}M | {1e9 / var_rate:.0f} | {ratio} |"
        )
    print(f"\n## live: C producer at full speed, {args.live_ring_kib} KiB ring\n")
    print("| consumer | sent | dropped | seconds | events/s |")
    print("|---|---:|---:|---:|---:|")
    for kind, res in lives.items():
        print(
            f"| {kind} | {res['sent']:.0f} | {res['dropped']:.0f} | {res['seconds']:.2f} "
            f"| {res['events'] / res['seconds'] / 1e6:.2f}M |"
        )
    ok = all(r["dropped"] == 0 and r["events"] == r["sent"] for r in lives.values())
    print("\nlive: every event consumed, none dropped" if ok else "\nlive: EVENTS DROPPED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
