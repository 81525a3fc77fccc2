"""bcc's side of bench/bench_ringbuf.py: run by the system Python (/usr/bin/python3).

    /usr/bin/python3 bench/bcc_ringbuf.py EVENTS RING_PAGES REPS count|decode

Its own tracepoint program (sys_enter_kill, this process only) writes a 16-byte
struct into a BPF_RINGBUF_OUTPUT; for each repetition it fills the ring with
EVENTS kill() calls while nobody reads, then times ``ring_buffer_consume()``
with a counting callback (``count``) or one that also decodes each event
(``decode``: ``table.event(data)``, bcc's typed access). Prints one JSON line.
"""

import json
import os
import sys
import time

from bcc import BPF

PROGRAM = r"""
struct bench_event {
    u64 seq;
    u32 pid;
    u32 cpu;
};

BPF_RINGBUF_OUTPUT(events, RING_PAGES);
BPF_ARRAY(counters, u64, 2);   /* 0: sent, 1: dropped */

TRACEPOINT_PROBE(syscalls, sys_enter_kill)
{
    struct bench_event e = {};
    int key;
    u64 *v;
    u32 pid = bpf_get_current_pid_tgid() >> 32;

    if (pid != TARGET_PID)
        return 0;
    e.seq = bpf_ktime_get_ns();
    e.pid = pid;
    e.cpu = bpf_get_smp_processor_id();
    key = events.ringbuf_output(&e, sizeof(e), 0) ? 1 : 0;
    v = counters.lookup(&key);
    if (v)
        __sync_fetch_and_add(v, 1);
    return 0;
}
"""


def main() -> None:
    n, pages, reps = (int(a) for a in sys.argv[1:4])
    mode = sys.argv[4]
    text = PROGRAM.replace("RING_PAGES", str(pages)).replace("TARGET_PID", str(os.getpid()))
    b = BPF(text=text)
    table = b["events"]
    count = [0]

    def counting(ctx, data, size):
        count[0] += 1

    def decoding(ctx, data, size):
        table.event(data)
        count[0] += 1

    table.open_ring_buffer(counting if mode == "count" else decoding)
    pid = os.getpid()
    seconds = []
    for _ in range(reps):
        for _ in range(n):
            os.kill(pid, 0)
        count[0] = 0
        t0 = time.perf_counter()
        b.ring_buffer_consume()
        t1 = time.perf_counter()
        if count[0] != n:
            raise SystemExit(f"bcc consumed {count[0]} of {n} events")
        seconds.append(t1 - t0)
    dropped = b["counters"][1].value
    print(json.dumps({"events": n, "seconds": seconds, "dropped": dropped}))


if __name__ == "__main__":
    main()
