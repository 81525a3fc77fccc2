"""Dispatchers: per-packet overhead and attach time, pybpfman vs libxdp (xdp-loader) vs direct.

Needs a kernel that loads extension programs, so it runs in the VM:

    .venv/bin/python vm/run.py -k 6.12 --shell '.venv/bin/python bench/bench_dispatch.py'

Per packet: PROG_TEST_RUN (``repeat`` runs in the kernel, its mean per run)
of an XDP hook running 1, 2 and 10 copies of ``xdp_noop`` (returns XDP_PASS,
tests/bpf/dispatch.bpf.c), chained on XDP_PASS:

- direct: the program itself, run k times (the limit: no dispatch at all);
- pybpfman: the dispatcher of ``bpfman.dispatch`` on a veth, k members;
- libxdp: the dispatcher ``xdp-loader load`` builds on another veth, k members.

Attach time: a hook already running 9 programs gets a 10th: ``bpfman attach``
(a CLI process, and the same ``Manager.attach`` in-process) vs ``xdp-loader
load`` (a C process). Best of several rounds, side by side. Prints a JSON
summary and a table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import bpfman  # noqa: E402
from bpfman import features  # noqa: E402
from bpfman.attach import xdp as xdp_attach  # noqa: E402
from bpfman.dispatch import Hook, Member, Slot, apply  # noqa: E402
from bpfman.dispatch.extension import load_extension  # noqa: E402
from support.net import udp_probe  # noqa: E402

OBJ = str(ROOT / "build" / "tests" / "dispatch.bpf.o")
PROG = "xdp_noop"
BPFMAN = str(Path(sys.executable).with_name("bpfman"))


def veth(name: str) -> int:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        ipr.link("add", ifname=name, kind="veth", peer={"ifname": name + "p"})
        index = int(ipr.link_lookup(ifname=name)[0])
        ipr.link("set", index=index, state="up")
        ipr.link("set", index=ipr.link_lookup(ifname=name + "p")[0], state="up")
    return index


def del_veth(name: str) -> None:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        for index in ipr.link_lookup(ifname=name):
            ipr.link("del", index=index)


def per_run_ns(prog: bpfman.Program, repeat: int, rounds: int) -> float:
    pkt = udp_probe()
    return float(min(prog.test_run(pkt, repeat=repeat).duration_ns for _ in range(rounds)))


def xdp_loader(*args: str, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(["xdp-loader", *args], env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def bench_overhead(repeat: int, rounds: int, bpffs: str, env: dict[str, str]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    with bpfman.load(OBJ) as obj:
        noop = obj.programs[PROG]
        direct = per_run_ns(noop, repeat, rounds)
        ours_if, libxdp_if = "pbd0", "pbd1"
        index = veth(ours_if)
        veth(libxdp_if)
        try:
            for k in (1, 2, 10):
                hook = Hook("xdp", index, bpffs)

                def load(disp: bpfman.Program, stub: str) -> bpfman.Program:
                    return load_extension(OBJ, PROG, disp, stub, share_maps_of=noop)

                members = [Member(Slot(i, 50, PROG), load) for i in range(k)]
                state = apply(hook, members, None)
                assert state is not None
                xdp_loader("load", "-m", "skb", "-n", PROG, libxdp_if, *[OBJ] * k, env=env)
                prog_id = xdp_attach.query(libxdp_if).prog_id
                ours, theirs = [], []
                with (
                    bpfman.Program.from_id(state.dispatcher_id) as mine,
                    bpfman.Program.from_id(prog_id) as libxdp,
                ):
                    for _ in range(rounds):  # interleaved: the same conditions for both
                        ours.append(per_run_ns(mine, repeat, 1))
                        theirs.append(per_run_ns(libxdp, repeat, 1))
                apply(hook, [], state)
                xdp_loader("unload", "--all", libxdp_if, env=env)
                out[str(k)] = {"direct": direct * k, "pybpfman": min(ours), "libxdp": min(theirs)}
        finally:
            del_veth(ours_if)
            del_veth(libxdp_if)
    return out


def bench_tenth(rounds: int, env: dict[str, str]) -> dict[str, float]:
    from bpfman.manager.core import AttachSpec, LoadSpec, Manager, parse_requests
    from bpfman.manager.models import BpfmanType

    runtime = f"/run/bpfman-bench-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    ours_if, libxdp_if = "pbt0", "pbt1"
    veth(ours_if)
    veth(libxdp_if)
    cli: list[float] = []
    inproc: list[float] = []
    theirs: list[float] = []
    try:
        with Manager(runtime) as mgr:
            (rec,) = mgr.load(LoadSpec(parse_requests([f"xdp:{PROG}"]), path=OBJ))
            spec = AttachSpec(BpfmanType.XDP, {"iface": ours_if, "priority": 50})
            for _ in range(9):
                mgr.attach(rec.id, spec)
            for _ in range(rounds):
                t0 = time.perf_counter()
                link = mgr.attach(rec.id, spec)
                inproc.append(time.perf_counter() - t0)
                mgr.detach(link.id)
                t0 = time.perf_counter()
                p = subprocess.run(
                    [BPFMAN, "--runtime-dir", runtime, "attach", str(rec.id), "xdp",
                     "-i", ours_if, "-p", "50", "-o", "json"],
                    check=True, capture_output=True, text=True,
                )  # fmt: skip
                cli.append(time.perf_counter() - t0)
                mgr.detach(int(json.loads(p.stdout)["link_id"]))
            mgr.unload(rec.id)
        for _ in range(9):
            xdp_loader("load", "-m", "skb", "-n", PROG, libxdp_if, OBJ, env=env)
        for _ in range(rounds):
            theirs.append(xdp_loader("load", "-m", "skb", "-n", PROG, libxdp_if, OBJ, env=env))
            status = subprocess.run(["xdp-loader", "status", libxdp_if], env=env,
                                    capture_output=True, text=True, check=True).stdout  # fmt: skip
            ids = [line.split()[3] for line in status.splitlines() if line.strip().startswith("=>")]
            xdp_loader("unload", "-i", max(ids, key=int), libxdp_if, env=env)
        xdp_loader("unload", "--all", libxdp_if, env=env)
    finally:
        del_veth(ours_if)
        del_veth(libxdp_if)
        if os.path.ismount(f"{runtime}/fs"):
            subprocess.run(["umount", f"{runtime}/fs"], check=False)
        shutil.rmtree(runtime, ignore_errors=True)
    return {"bpfman_cli": min(cli), "manager_in_process": min(inproc), "xdp_loader": min(theirs)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=100000, help="PROG_TEST_RUN repeats")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    if not features.available("freplace"):
        print(f"bench_dispatch: {features.dispatcher_unavailable_reason()}", file=sys.stderr)
        return 2
    bpffs = f"/sys/fs/bpf/pybpfman-bench-{os.getpid()}"
    os.makedirs(bpffs)
    env = dict(os.environ, LIBXDP_BPFFS="/sys/fs/bpf")
    try:
        overhead = bench_overhead(args.repeat, args.rounds, bpffs, env)
        tenth = bench_tenth(args.rounds, env)
    finally:
        shutil.rmtree(bpffs, ignore_errors=True)
    print(json.dumps({"kernel": os.uname().release, "per_run_ns": overhead, "tenth_s": tenth}))
    print(f"\nkernel {os.uname().release}; ns per packet (PROG_TEST_RUN, best of {args.rounds})")
    print("| programs | direct x k | pybpfman | libxdp | pybpfman/libxdp | pybpfman - direct x k |")
    print("|---:|---:|---:|---:|---:|---:|")
    for k, r in overhead.items():
        d, o, t = r["direct"], r["pybpfman"], r["libxdp"]
        print(f"| {k} | {d:.0f} | {o:.0f} | {t:.0f} | {o / t:.2f} | {o - d:+.0f} |")
    print("\nattach the 10th program (s, best of rounds)")
    for name, secs in tenth.items():
        print(f"| {name} | {secs:.3f} | {secs / tenth['xdp_loader']:.2f}x xdp-loader |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
