"""Manager benchmarks beside bpftool (as root: `.venv/bin/python bench/bench_cli.py`).

1. Wall time of a whole program lifecycle through the CLI: pybpfman's
   `load file` + `attach tracepoint` + `detach` + `unload` vs bpftool 7.5's
   `prog load ... autoattach` (load + attach + pin the link) + removing the pins
   (detach + unload). bpftool 7.1 (bookworm) cannot attach tracepoints, so the
   bench fetches 7.5 from bookworm-backports (bench/setup_bpftool.sh).
   Its floor: four bare interpreters plus the kernel's release of a
   tracepoint link (what `detach` waits for; bench_grpc.kernel_detach).
2. CLI start-up: `list programs`, `get program`, `get link`, `list links`
   with nothing and with a few programs loaded, each run alternately with
   `python -c pass` from the same venv (the floor; target <= 2x): medians of
   the wall time and of the CPU time (user + system, from the child's rusage:
   steadier than the wall time on a shared machine).
3. `bpfman list programs` with 1000 programs loaded (target <= 200 ms).
4. `bpfman attach` time with 0 vs 1000 unrelated programs loaded (should not grow).

`--startup` runs 2 and the lifecycle against its floor only (no bpftool). Prints a
Markdown table of medians and ratios (bench/README.md keeps the results).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OBJ = str(ROOT / "build" / "tests" / "basic.bpf.o")
BPFMAN = str(Path(sys.executable).with_name("bpfman"))
BPFTOOL = str(ROOT / "build" / "bench" / "bpftool-7.5" / "usr" / "sbin" / "bpftool")
RUNS = 10


def run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def timed(fn: object, runs: int = RUNS) -> float:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def spawn(argv: list[str]) -> tuple[float, float]:
    """Run *argv* (stdout discarded, must succeed): (wall, CPU) seconds, CPU from its rusage."""
    t = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise subprocess.CalledProcessError(p.returncode, argv)
    return wall, usage.ru_utime + usage.ru_stime


def bpfman_cycle(rt: str, steps: dict[str, list[float]] | None = None) -> None:
    """load + attach + detach + unload through the CLI (*steps*: each command's wall time)."""
    t0 = time.perf_counter()
    prog = json.loads(
        run(BPFMAN, "--runtime-dir", rt, "load", "file", "-p", OBJ,
            "--programs", "tracepoint:count_kill", "-o", "json")
    )[0]["kernel_info"]["id"]  # fmt: skip
    t1 = time.perf_counter()
    link = json.loads(
        run(BPFMAN, "--runtime-dir", rt, "attach", str(prog), "tracepoint",
            "-t", "syscalls/sys_enter_kill", "-o", "json")
    )["link_id"]  # fmt: skip
    t2 = time.perf_counter()
    run(BPFMAN, "--runtime-dir", rt, "detach", str(link))
    t3 = time.perf_counter()
    run(BPFMAN, "--runtime-dir", rt, "unload", str(prog))
    t4 = time.perf_counter()
    if steps is not None:
        for name, a, b in (("load", t0, t1), ("attach", t1, t2), ("detach", t2, t3),
                           ("unload", t3, t4)):  # fmt: skip
            steps.setdefault(name, []).append(b - a)


def bpftool_cycle() -> None:
    d = f"/sys/fs/bpf/bench-bpftool-{os.getpid()}"
    os.makedirs(d, exist_ok=True)
    run(BPFTOOL, "prog", "load", OBJ, f"{d}/link", "type", "tracepoint",
        "pinmaps", f"{d}/maps", "autoattach")  # fmt: skip
    run("rm", "-rf", d)  # unpinning the link detaches it, the program goes with it


def load_many(rt: str, n: int) -> list[int]:
    from bpfman.manager.core import LoadSpec, Manager
    from bpfman.manager.parse import program_requests

    ids = []
    with Manager(rt) as mgr:
        for _ in range(n):
            recs = mgr.load(LoadSpec(program_requests(["tracepoint:count_getppid"]), path=OBJ))
            ids.append(recs[0].id)
    return ids


def attach_detach_time(rt: str, prog: int) -> float:
    def once() -> None:
        link = json.loads(
            run(BPFMAN, "--runtime-dir", rt, "attach", str(prog), "tracepoint",
                "-t", "syscalls/sys_enter_kill", "-o", "json")
        )["link_id"]  # fmt: skip
        run(BPFMAN, "--runtime-dir", rt, "detach", str(link))

    return timed(once, runs=5)


def cleanup(rt: str) -> None:
    from bpfman.manager.core import Manager

    with Manager(rt) as mgr:
        for rec in mgr.programs():
            mgr.unload(rec.id)
    subprocess.run(["umount", f"{rt}/fs"], check=False)
    shutil.rmtree(rt, ignore_errors=True)


def ensure_bpftool() -> None:
    if not os.path.exists(BPFTOOL):
        subprocess.run(["bash", str(ROOT / "bench" / "setup_bpftool.sh")], check=True)


def print_table(rows: list[tuple[str, str, str]]) -> None:
    print("| measure | pybpfman | peer / note |\n|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} |")


STARTUP_RUNS = 30
FLOOR = [sys.executable, "-c", "pass"]


def startup_rows(rt: str, state: str) -> list[tuple[str, str, str]]:
    """The read commands against `python -c pass`, run alternately (medians of 30)."""
    progs = [r for r in json.loads(run(BPFMAN, "--runtime-dir", rt, "list", "programs",
                                        "-o", "json"))]  # fmt: skip
    links = [i for r in progs for i in r["info"]["links"]]
    commands = [["list", "programs"], ["list", "links"]]
    if progs:
        commands.insert(1, ["get", "program", str(progs[0]["kernel_info"]["id"])])
    if links:
        commands.insert(2, ["get", "link", str(links[0])])
    if progs:  # what an agent polls (json's import, with re's, is the most of what it adds)
        first = str(progs[0]["kernel_info"]["id"])
        commands += [["list", "programs", "-o", "json"], ["get", "program", first, "-o", "json"]]
    if links:
        commands.append(["list", "links", "-o", "json"])
    floor: list[tuple[float, float]] = []
    ours: dict[str, list[tuple[float, float]]] = {" ".join(c): [] for c in commands}
    for _ in range(STARTUP_RUNS):
        for cmd in [None, *commands]:
            argv = FLOOR if cmd is None else [BPFMAN, "--runtime-dir", rt, *cmd]
            (floor if cmd is None else ours[" ".join(cmd)]).append(spawn(argv))
    wall = statistics.median(w for w, _ in floor)
    cpu = statistics.median(c for _, c in floor)
    rows = [(f"CLI start-up floor: `python -c pass` ({state})",
             f"{wall * 1000:.1f} ms (CPU {cpu * 1000:.1f} ms)", "")]  # fmt: skip
    for name, samples in ours.items():
        w = statistics.median(s for s, _ in samples)
        c = statistics.median(s for _, s in samples)
        rows.append((f"  bpfman {name} ({state})", f"{w * 1000:.1f} ms (CPU {c * 1000:.1f} ms)",
                     f"{w / wall:.2f}x the floor (CPU {c / cpu:.2f}x; target <= 2x)"))  # fmt: skip
    return rows


LIFECYCLE_RUNS = 10


def lifecycle_rows(rt: str, with_bpftool: bool) -> list[tuple[str, str, str]]:
    """The CLI lifecycle, alternately with its floor: four bare interpreters (+ the kernel's
    tracepoint detach, measured apart) and, *with_bpftool*, bpftool's."""
    ours: list[float] = []
    bare: list[float] = []
    theirs: list[float] = []
    steps: dict[str, list[float]] = {}
    for _ in range(LIFECYCLE_RUNS):
        t = time.perf_counter()
        bpfman_cycle(rt, steps)
        ours.append(time.perf_counter() - t)
        bare.append(sum(spawn(FLOOR)[0] for _ in range(4)))
        if with_bpftool:
            t = time.perf_counter()
            bpftool_cycle()
            theirs.append(time.perf_counter() - t)
    from bench_grpc import kernel_detach

    release = kernel_detach()
    median, four = statistics.median(ours), statistics.median(bare)
    floor = four + release
    each = ", ".join(f"{k} {statistics.median(v) * 1000:.0f}" for k, v in steps.items())
    rows = [("lifecycle: load+attach+detach+unload", f"{median * 1000:.0f} ms ({each} ms)",
             f"bpftool 7.5 {statistics.median(theirs) * 1000:.0f} ms: "
             f"{median / statistics.median(theirs):.1f}x" if theirs else "")]  # fmt: skip
    parts = f"({four * 1000:.0f} + {release * 1000:.0f})"
    what = "  floor: 4 bare interpreters + the kernel's tracepoint detach"
    rows.append((what, f"{floor * 1000:.0f} ms {parts}", f"{median / floor:.2f}x the floor"))
    return rows


def main() -> int:
    startup_only = "--startup" in sys.argv
    if not startup_only:
        ensure_bpftool()
    # byte-code on disk, as `make bpf` leaves it (PYTHONDONTWRITEBYTECODE: a stale .pyc would
    # be compiled again by every process)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], check=True)
    rt = f"/run/bpfman-bench-{os.getpid()}"
    rows: list[tuple[str, str, str]] = []
    try:
        run(BPFMAN, "--runtime-dir", rt, "list", "programs")  # the store, made once
        rows += startup_rows(rt, "nothing loaded")
        few = load_many(rt, 3)
        for prog in few[:2]:
            run(BPFMAN, "--runtime-dir", rt, "attach", str(prog), "tracepoint",
                "-t", "syscalls/sys_enter_getppid")  # fmt: skip
        rows += startup_rows(rt, "3 programs, 2 links")
        cleanup(rt)
        run(BPFMAN, "--runtime-dir", rt, "list", "programs")
        rows += lifecycle_rows(rt, with_bpftool=not startup_only)
        if startup_only:
            return 0
        prog = load_many(rt, 1)[0]
        empty = attach_detach_time(rt, prog)
        load_many(rt, 999)
        listing = timed(lambda: run(BPFMAN, "--runtime-dir", rt, "list", "programs"), runs=5)
        listing_json = timed(
            lambda: run(BPFMAN, "--runtime-dir", rt, "list", "programs", "-o", "json"), runs=5
        )
        full = attach_detach_time(rt, prog)
        rows.append(("list programs, 1000 loaded", f"{listing * 1000:.0f} ms",
                     "target <= 200 ms"))  # fmt: skip
        rows.append(("list programs -o json, 1000 loaded", f"{listing_json * 1000:.0f} ms", ""))
        rows.append(("attach+detach, 1 program loaded", f"{empty * 1000:.0f} ms", ""))
        rows.append(("attach+detach, 1000 programs loaded", f"{full * 1000:.0f} ms",
                     f"{full / empty:.2f}x of the above"))  # fmt: skip
    finally:
        cleanup(rt)
        print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
