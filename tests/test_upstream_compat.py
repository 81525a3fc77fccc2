"""Drop-in for upstream bpfman: its own example objects and documented command lines.

The objects are upstream bpfman v0.6.0's example and integration-test programs,
compiled unmodified (``tests/bpf/upstream/``); the command lines are those of
upstream's CLI guide (docs/getting-started/cli-guide.md) and integration tests.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

import bpfman
from bpfman import elf

UPSTREAM = Path(__file__).resolve().parent.parent / "build" / "tests" / "upstream"
EXAMPLES = ["xdp_counter", "tc_counter", "tcx_counter", "tracepoint_counter", "uprobe_counter",
            "uretprobe_counter", "kprobe_counter"]  # fmt: skip


def upstream(name: str) -> str:
    """Path of an upstream object: ``upstream("xdp_counter")``, ``upstream("integration/x")``."""
    path = UPSTREAM / (f"{name}.bpf.o" if name.startswith("integration/") else f"{name}.o")
    assert path.exists(), f"{path} was not built"
    return str(path)


def sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------- 1. static entry functions


STATIC = {"tracepoint_counter": ["tracepoint_kill_recorder"], "uprobe_counter": ["uprobe_counter"],
          "uretprobe_counter": ["uretprobe_counter"], "kprobe_counter": ["kprobe_counter"],
          "go-app-counter/app_counter": ["kprobe_counter", "tracepoint_kill_recorder",
                                         "uprobe_counter"]}  # fmt: skip


@pytest.mark.parametrize("name", sorted(STATIC))
def test_static_programs_open_file_untouched(name: str) -> None:
    path = upstream(name)
    before = sha256(path)
    data = Path(path).read_bytes()
    assert sorted(n for _, n in elf.ElfFile(data).static_programs()) == STATIC[name]
    with bpfman.open(path) as spec:
        assert set(STATIC[name]) <= set(spec.programs)
        assert spec.name == os.path.basename(path).split(".")[0][:15]  # as open_file names it
    assert sha256(path) == before


def test_globalize_changes_only_the_binding() -> None:
    data = Path(upstream("go-app-counter/app_counter")).read_bytes()
    patched = elf.globalize_static_programs(data)
    assert patched is not None and len(patched) == len(data)
    diff = [i for i in range(len(data)) if data[i] != patched[i]]
    found = list(elf.ElfFile(data).static_programs())
    assert sorted(at for at, _ in found) == diff  # one st_info byte per static program
    assert {n for _, n in found} == {"kprobe_counter", "tracepoint_kill_recorder", "uprobe_counter"}
    assert not list(elf.ElfFile(patched).static_programs())
    assert elf.globalize_static_programs(patched) is None  # nothing left to do
    assert elf.globalize_static_programs(b"\x7fELF") is None  # truncated: libbpf reports it


def test_static_program_loads_with_the_library() -> None:
    with bpfman.open(upstream("tracepoint_counter")) as spec:
        spec.maps["tracepoint_stats_map"].pin_path = None  # LIBBPF_PIN_BY_NAME: not /sys/fs/bpf
        obj = spec.load()
    with obj:
        prog = obj.programs["tracepoint_kill_recorder"]
        assert prog.info().name == "tracepoint_kill"  # the kernel's 15 characters
        assert prog.type == bpfman.ProgramType.TRACEPOINT
        assert "tracepoint_stats_map" in obj.maps


def percpu_sum(path: str) -> int:
    """Sum over the CPUs of the first u64 of entry 0 of the per-CPU array pinned at *path*."""
    with bpfman.Map.from_pin(path) as m:
        return sum(int.from_bytes(bytes(v)[:8], "little") for v in m[0])


def send_sigusr1() -> None:
    child = subprocess.Popen(["sleep", "30"])
    os.kill(child.pid, signal.SIGUSR1)
    child.wait()


def test_go_tracepoint_counter(cli) -> None:
    # upstream's go-tracepoint-counter: a static program, a LIBBPF_PIN_BY_NAME map
    out = cli("load", "file", "--path", upstream("tracepoint_counter"),
              "--programs", "tracepoint:tracepoint_kill_recorder",
              "--application", "go-tracepoint-counter").out  # fmt: skip
    prog_id = int(re.search(r"Program ID:\s+(\d+)", out).group(1))
    cli("attach", str(prog_id), "tracepoint", "--tracepoint", "syscalls/sys_enter_kill")
    stats = f"{cli.fs}/maps/{prog_id}/tracepoint_stats_map"
    before = percpu_sum(stats)
    send_sigusr1()
    assert percpu_sum(stats) >= before + 1
    assert not os.path.exists("/sys/fs/bpf/tracepoint_stats_map")  # pinned by bpfman, not libbpf
    cli("unload", str(prog_id))
    assert cli.pins() == []
