"""Crash injection: die (like kill -9) at each step; doctor names the damage, gc repairs it."""

from __future__ import annotations

import os

import pytest

from bpfman.manager.crash import POINTS

KILL = "tracepoint:count_kill"


def repair(cli) -> list[str]:
    """doctor -> gc -> doctor clean; returns what the first doctor reported."""
    first = cli("doctor", rc=None)
    report = [line for line in first.out.splitlines() if not line.startswith("ok:")]
    assert first.rc == (1 if report else 0), first.out
    cli("gc")
    again = cli("doctor", rc=0)
    assert again.out.startswith("ok:")
    return report


def finish(cli) -> None:
    for r in cli("list", "programs", "-o", "json").json():
        cli("unload", str(r["kernel_info"]["id"]))
    assert cli.pins() == []
    assert cli.db_rows()["programs"] == 0


EXPECTED = {
    "load:after-kernel": [],
    "load:after-program-pins": ["not in the database"],
    "load:after-map-pins": ["not in the database", "which is not in the database"],
    "attach:after-kernel": [],
    "attach:after-pin": ["pinned link not in the database"],
    "detach:after-kernel": ["its pin"],
    "unload:after-links": [],
    "unload:after-program-unpin": ["its pin"],
    "unload:after-map-unpin": ["its pin"],
}


@pytest.mark.parametrize("point", POINTS)
def test_crash_then_doctor_and_gc(cli, bpf_obj, point: str) -> None:
    crash_env = dict(cli.env, BPFMAN_CRASH_AT=point)
    op, _, _ = point.partition(":")
    if op == "load":
        cli.load(bpf_obj("basic"), KILL, env=crash_env, rc=137)
    else:
        prog_id = cli.load(bpf_obj("basic"), KILL).program_ids()[0]
        if op == "attach":
            cli("attach", str(prog_id), "tracepoint", "-t", "syscalls/sys_enter_kill",
                env=crash_env, rc=137)  # fmt: skip
        else:
            link = cli(
                "attach", str(prog_id), "tracepoint", "-t", "syscalls/sys_enter_kill", "-o", "json"
            ).json()["link_id"]
            if op == "detach":
                cli("detach", str(link), env=crash_env, rc=137)
            else:
                cli("unload", str(prog_id), env=crash_env, rc=137)
    report = repair(cli)
    for expected in EXPECTED[point]:
        assert any(expected in line for line in report), (point, report)
    if not EXPECTED[point]:
        assert report == []
    finish(cli)


def test_gc_never_touches_a_foreign_program(cli, bpf_obj) -> None:
    """A pin in bpfman's fs whose program is not the one recorded is forgotten, not unloaded."""
    import bpfman

    prog_id = cli.load(bpf_obj("basic"), KILL).program_ids()[0]
    with bpfman.load(bpf_obj("basic")) as other:
        foreign = other.programs["count_getppid"]
        os.unlink(f"{cli.fs}/prog_{prog_id}")
        foreign.pin(f"{cli.fs}/prog_{prog_id}")  # same path, someone else's program
        report = cli("doctor", rc=1).out
        assert f"program {prog_id}" in report and "not the one the database records" in report
        cli("gc")
        assert cli("doctor", rc=0).out.startswith("ok:")
        assert foreign.info().id == foreign.id  # still loaded
    finish(cli)
