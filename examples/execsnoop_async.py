"""execsnoop with asyncio: exec() events read in the event loop, next to other tasks.

    sudo python3 examples/execsnoop_async.py [--count N] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio

from execsnoop import OBJ, ExecEvent

import bpfman


async def snoop(count: int, seconds: float | None) -> None:
    with bpfman.load(OBJ) as obj:
        obj.attach_all()
        with bpfman.RingBuffer(obj.maps["events"], event=ExecEvent) as events:
            print(f"{'PID':>7} {'PPID':>7} {'COMM':<16} FILENAME", flush=True)
            n = 0
            async for ev in events.aevents(deadline=seconds):
                comm, filename = ev.comm.decode(), ev.filename.decode()
                print(f"{ev.pid:>7} {ev.ppid:>7} {comm:<16} {filename}", flush=True)
                n += 1
                if n == count:
                    break


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=0, help="stop after N events")
    ap.add_argument("--seconds", type=float, default=None, help="stop after S seconds")
    args = ap.parse_args()
    asyncio.run(snoop(args.count, args.seconds))


if __name__ == "__main__":
    main()
