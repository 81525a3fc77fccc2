"""The README demo: count execve/kill syscalls per command for a few seconds.

Loads the shipped ``syscount`` example, attaches its two tracepoint programs,
shows a live table of counts (read from a hash map through a typed view) and
the exec events streamed through its ring buffer, then cleans up. A small
workload (spawning ``true``, ``kill -0`` on itself) keeps the numbers moving on
an idle machine.

    python -m bpfman.demo [--seconds N]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import subprocess
import sys
import time
from importlib import resources

SYSCALLS = {0: "execve", 1: "kill"}


class CountKey(ctypes.Structure):
    _fields_ = [("comm", ctypes.c_char * 16), ("syscall", ctypes.c_uint32)]


class ExecEvent(ctypes.Structure):
    _fields_ = [
        ("pid", ctypes.c_uint32),
        ("ppid", ctypes.c_uint32),
        ("comm", ctypes.c_char * 16),
        ("filename", ctypes.c_char * 64),
    ]


def example_path(name: str = "syscount") -> str:
    """Path of a shipped example object (built by ``make bpf`` into bpfman/data)."""
    return str(resources.files("bpfman") / "data" / f"{name}.bpf.o")


def _workload(tick: int) -> None:
    subprocess.run(["true"], check=False)
    for _ in range(tick % 5 + 1):
        os.kill(os.getpid(), 0)


def run(seconds: float) -> int:
    import bpfman
    from rich.console import Console, Group
    from rich.live import Live
    from rich.table import Table

    console = Console()
    spec = bpfman.open(example_path())
    with spec.load() as obj:
        links = [
            obj.programs["count_execve"].attach_tracepoint("syscalls", "sys_enter_execve"),
            obj.programs["count_kill"].attach_tracepoint("syscalls", "sys_enter_kill"),
        ]
        counts = obj.maps["counts"].typed(key=CountKey, value=ctypes.c_uint64)
        recent: list[str] = []

        def on_exec(ev: ExecEvent) -> None:
            recent.append(
                f"pid {ev.pid:<7} ppid {ev.ppid:<7} {ev.comm.decode(errors='replace'):<16} "
                f"{ev.filename.decode(errors='replace')}"
            )
            del recent[:-6]

        events = bpfman.RingBuffer()
        events.add(obj.maps["events"], on_exec, event=ExecEvent)

        def render() -> Group:
            table = Table(title=f"syscalls per command (pybpfman {bpfman.__version__})")
            table.add_column("command")
            table.add_column("syscall")
            table.add_column("count", justify="right")
            rows = sorted(
                ((k.comm.decode(errors="replace"), SYSCALLS.get(k.syscall, "?"), int(v))
                 for k, v in counts.items()),
                key=lambda r: -r[2],
            )  # fmt: skip
            for comm, sc, n in rows[:15]:
                table.add_row(comm, sc, str(n))
            shown = "\n".join(recent) or "(waiting for exec events)"
            return Group(table, f"[bold]recent execs[/bold] (ring buffer)\n{shown}")

        deadline = time.monotonic() + seconds
        tick = 0
        with events, Live(render(), console=console, refresh_per_second=4) as live:
            while time.monotonic() < deadline:
                _workload(tick)
                tick += 1
                events.poll(timeout=0.25)
                live.update(render())
        total = sum(int(v) for v in counts.values())
        for link in links:
            link.detach()
    console.print(f"counted {total} syscalls; detached, unloaded, nothing left behind")
    return 0 if total > 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args(argv)
    return run(args.seconds)


if __name__ == "__main__":
    sys.exit(main())
