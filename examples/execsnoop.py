"""execsnoop: one line per exec() on this machine (a tracepoint and a ring buffer).

    sudo python3 examples/execsnoop.py [--count N] [--seconds S]
"""

from __future__ import annotations

import argparse
import ctypes
from pathlib import Path

import bpfman

OBJ = Path(__file__).with_name("execsnoop.bpf.o")


class ExecEvent(ctypes.Structure):  # struct exec_event in execsnoop.bpf.c
    _fields_ = [
        ("pid", ctypes.c_uint32),
        ("ppid", ctypes.c_uint32),
        ("comm", ctypes.c_char * 16),
        ("filename", ctypes.c_char * 128),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=0, help="stop after N events")
    ap.add_argument("--seconds", type=float, default=None, help="stop after S seconds")
    args = ap.parse_args()

    with bpfman.load(OBJ) as obj:
        obj.attach_all()  # the Object keeps the link attached until it is closed
        with bpfman.RingBuffer(obj.maps["events"], event=ExecEvent) as events:
            print(f"{'PID':>7} {'PPID':>7} {'COMM':<16} FILENAME", flush=True)
            for n, ev in enumerate(events.events(deadline=args.seconds), 1):
                comm, filename = ev.comm.decode(), ev.filename.decode()
                print(f"{ev.pid:>7} {ev.ppid:>7} {comm:<16} {filename}", flush=True)
                if n == args.count:
                    break


if __name__ == "__main__":
    main()
