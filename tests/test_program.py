"""Programs: kernel info, stats, pins and ids; tracepoint links pinned beyond the process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import bpfman
from bpfman.kinds import LinkType, ProgramType
from bpfman.program import enable_stats


def test_info_reports_kernel_facts(bpf_obj) -> None:
    before = time.time()
    with bpfman.load(bpf_obj("basic")) as obj:
        prog = obj.programs["count_kill"]
        info = prog.info()
        assert info.id == prog.id > 0
        assert info.name == "count_kill"
        assert info.type == ProgramType.TRACEPOINT
        assert len(info.tag) == 16 and int(info.tag, 16) >= 0
        assert before - 5 <= info.loaded_at <= time.time() + 5
        assert info.gpl_compatible
        assert info.jited and info.jited_size > 0 and info.xlated_size > 0
        assert info.verified_insns > 0
        assert set(info.map_ids) >= {obj.maps["counts"].id, obj.maps["by_pid"].id}


def test_kernel_ids_and_program_brief(bpf_obj) -> None:
    """The public id listing and light read (what the manager lists with): no private _sys."""
    with bpfman.load(bpf_obj("basic")) as obj:
        prog = obj.programs["count_kill"]
        assert prog.id in bpfman.program_ids()
        assert all(m.id in bpfman.map_ids() for m in obj.maps.values())
        link = prog.attach_tracepoint("syscalls", "sys_enter_kill")
        assert link.id in bpfman.link_ids()
        brief = bpfman.program_brief(prog.id)
        assert brief == bpfman.ProgramBrief(
            prog.id, "count_kill", int(ProgramType.TRACEPOINT), prog.info().tag
        )
        gone = prog.id
    assert bpfman.program_brief(gone) is None  # ids are not reused soon (cyclic allocation)


def test_run_stats_count_runs(bpf_obj) -> None:
    spec = bpfman.open(bpf_obj("basic"))
    spec.globals["target_pid"] = os.getpid()
    with spec.load() as obj, enable_stats():
        prog = obj.programs["count_kill"]
        with prog.attach_tracepoint("syscalls", "sys_enter_kill"):
            for _ in range(7):
                os.kill(os.getpid(), 0)
        info = prog.info()
        assert info.run_cnt >= 7  # other processes' kills run it too (filtered inside)
        assert info.run_time_ns > 0


def test_program_pin_from_pin_and_from_id(bpf_obj, pin_dir: str) -> None:
    with bpfman.load(bpf_obj("basic")) as obj:
        prog = obj.programs["count_kill"]
        path = os.path.join(pin_dir, "prog")
        prog.pin(path)
        with bpfman.Program.from_pin(path) as again:
            assert again.id == prog.id and again.name == "count_kill"
            assert again.type == ProgramType.TRACEPOINT
        with bpfman.Program.from_id(prog.id) as by_id:
            assert by_id.info().tag == prog.info().tag
        prog.unpin(path)
        assert not os.path.exists(path)
    with pytest.raises(bpfman.BpfError, match="cannot open pin"):
        bpfman.Program.from_pin(path)


def test_program_from_pin_attaches_like_a_fresh_one(bpf_obj, pin_dir: str) -> None:
    spec = bpfman.open(bpf_obj("basic"))
    spec.globals["target_pid"] = os.getpid()
    obj = spec.load()
    obj.programs["count_kill"].pin(f"{pin_dir}/prog")
    obj.maps["counts"].pin(f"{pin_dir}/counts")
    obj.close()  # only the pins hold them now
    prog = bpfman.Program.from_pin(f"{pin_dir}/prog")
    counts = bpfman.Map.from_pin(f"{pin_dir}/counts")
    with prog, counts, prog.attach_tracepoint("syscalls", "sys_enter_kill"):
        os.kill(os.getpid(), 0)
        os.kill(os.getpid(), 0)
        assert int.from_bytes(counts[0], "little") == 2
    os.unlink(f"{pin_dir}/prog")
    counts.unpin()


CHILD = """
import os, sys, bpfman
spec = bpfman.open(sys.argv[1])
spec.globals["target_pid"] = int(sys.argv[3])
spec.maps["counts"].pin_path = sys.argv[2] + "/counts"
obj = spec.load()
link = obj.programs["count_kill"].attach_tracepoint("syscalls", "sys_enter_kill")
link.pin(sys.argv[2] + "/link")
print(link.info().id)
"""


def test_pinned_tracepoint_link_survives_the_process(bpf_obj, pin_dir: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, bpf_obj("basic"), pin_dir, str(os.getpid())],
        check=True,
        capture_output=True,
        text=True,
    )
    link_id = int(out.stdout)
    counts = bpfman.Map.from_pin(f"{pin_dir}/counts")
    with counts:
        for _ in range(3):
            os.kill(os.getpid(), 0)
        assert int.from_bytes(counts[0], "little") == 3
        link = bpfman.Link.from_pin(f"{pin_dir}/link")
        info = link.info()
        assert info.id == link_id and info.type == LinkType.PERF_EVENT
        link.unpin()
        link.close()  # last reference: detached now
        os.kill(os.getpid(), 0)
        assert int.from_bytes(counts[0], "little") == 3
        counts.unpin()
    assert not Path(f"{pin_dir}/link").exists()


def test_link_detach_removes_its_pin(bpf_obj, pin_dir: str) -> None:
    spec = bpfman.open(bpf_obj("basic"))
    spec.globals["target_pid"] = os.getpid()
    with spec.load() as obj:
        link = obj.programs["count_raw"].attach_raw_tracepoint("sys_enter")
        link.pin(f"{pin_dir}/raw")
        assert bpfman.Link.from_pin(f"{pin_dir}/raw").info().type == LinkType.RAW_TRACEPOINT
        link.detach()
        assert link.closed and not os.path.exists(f"{pin_dir}/raw")
        before = obj.maps["counts"][1]
        os.getppid()
        assert obj.maps["counts"][1] == before


def test_forgotten_objects_are_released(bpf_obj) -> None:
    obj = bpfman.load(bpf_obj("basic"))
    link = obj.programs["count_kill"].attach_tracepoint("syscalls", "sys_enter_kill")
    assert link.info().id > 0
    del link, obj  # no close(): the finalizers release everything (no_residue checks)
