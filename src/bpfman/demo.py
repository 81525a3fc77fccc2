"""The README demo: the manager's main job on the embedded default, for a few seconds.

1. ``bpfman load file`` the shipped ``syscount`` example (two tracepoint programs
   sharing one object), ``bpfman attach`` both, ``bpfman list programs`` and
   ``bpfman get link`` — real CLI commands, state in SQLite + bpffs pins.
2. A live table: execve/kill counts per command read from the pinned ``counts``
   map through a typed view, and exec events from the pinned ring buffer.
   A small workload (spawning ``true``, ``kill -0`` on itself) keeps it moving.
3. ``bpfman detach`` and ``bpfman unload``: nothing is left behind.

    python -m bpfman.demo [--seconds N] [--runtime-dir DIR]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import time
from importlib import resources
from typing import Any

SYSCALLS = {0: "execve", 1: "kill"}
BPFMAN = os.path.join(os.path.dirname(sys.executable), "bpfman")


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


class Shell:
    """Runs ``bpfman`` commands, echoing them like a terminal session."""

    def __init__(self, runtime_dir: str | None) -> None:
        self.prefix = ["--runtime-dir", runtime_dir] if runtime_dir else []

    def __call__(self, *args: str, quiet: bool = False) -> str:
        shown = " ".join(a if " " not in a else repr(a) for a in args)
        print(f"\n$ bpfman {shown}", flush=True)
        p = subprocess.run([BPFMAN, *self.prefix, *args], capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"demo: bpfman {shown} failed: {p.stderr.strip()}")
        if not quiet and p.stdout.strip():
            print(p.stdout.rstrip(), flush=True)
        return p.stdout


def _workload(tick: int) -> None:
    subprocess.run(["true"], check=False)
    for _ in range(tick % 5 + 1):
        os.kill(os.getpid(), 0)


def live_view(maps_dir: str, seconds: float) -> int:
    """Counts and exec events from the pinned maps; returns the total counted."""
    from rich.console import Console, Group
    from rich.live import Live
    from rich.table import Table

    import bpfman

    counts_map = bpfman.Map.from_pin(os.path.join(maps_dir, "counts"))
    counts = counts_map.typed(key=CountKey, value=ctypes.c_uint64)
    recent: list[str] = []

    def on_exec(ev: Any) -> None:
        recent.append(
            f"pid {ev.pid:<7} ppid {ev.ppid:<7} {ev.comm.decode(errors='replace'):<16} "
            f"{ev.filename.decode(errors='replace')}"
        )
        del recent[:-5]

    def render() -> Group:
        table = Table(title="syscalls per command, from the pinned map")
        table.add_column("command")
        table.add_column("syscall")
        table.add_column("count", justify="right")
        rows = sorted(
            ((k.comm.decode(errors="replace"), SYSCALLS.get(k.syscall, "?"), int(v))
             for k, v in counts.items()),
            key=lambda r: -r[2],
        )  # fmt: skip
        for comm, sc, n in rows[:12]:
            table.add_row(comm, sc, str(n))
        shown = "\n".join(recent) or "(waiting for exec events)"
        return Group(table, f"[bold]recent execs[/bold] (pinned ring buffer)\n{shown}")

    events = bpfman.RingBuffer()
    with counts_map, bpfman.Map.from_pin(os.path.join(maps_dir, "events")) as events_map:
        events.add(events_map, on_exec, event=ExecEvent)
        deadline = time.monotonic() + seconds
        tick = 0
        with events, Live(render(), refresh_per_second=4, console=Console()) as live:
            while time.monotonic() < deadline:
                _workload(tick)
                tick += 1
                events.poll(timeout=0.25)
                live.update(render())
        return sum(int(v) for v in counts.values())


def run(seconds: float, runtime_dir: str | None) -> int:
    sh = Shell(runtime_dir)
    loaded = json.loads(
        sh(
            "load", "file", "--path", example_path(),
            "--programs", "tracepoint:count_execve", "tracepoint:count_kill",
            "--application", "demo", "-o", "json",
            quiet=True,
        )
    )  # fmt: skip
    ids = [p["kernel_info"]["id"] for p in loaded]
    maps_dir = loaded[0]["info"]["map_pin_path"]
    print(f"loaded programs {ids}; maps pinned under {maps_dir}")
    links = []
    try:
        for prog_id, tp in zip(ids, ["sys_enter_execve", "sys_enter_kill"], strict=True):
            out = sh("attach", str(prog_id), "tracepoint", "-t", f"syscalls/{tp}", "-o", "json",
                     quiet=True)  # fmt: skip
            links.append(json.loads(out)["link_id"])
        sh("list", "programs", "--application", "demo")
        sh("get", "link", str(links[-1]))
        print(f"\ncounting for {seconds:g} s ...", flush=True)
        total = live_view(maps_dir, seconds)
    finally:
        for link in links:
            sh("detach", str(link))
        for prog_id in reversed(ids):
            sh("unload", str(prog_id))
    left = json.loads(sh("list", "programs", "--application", "demo", "-o", "json", quiet=True))
    print(f"\ncounted {total} syscalls; detached and unloaded: {len(left)} demo programs left")
    return 0 if total > 0 and not left else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--runtime-dir", default=None, help="default: /run/bpfman")
    args = parser.parse_args(argv)
    return run(args.seconds, args.runtime_dir)


if __name__ == "__main__":
    sys.exit(main())
