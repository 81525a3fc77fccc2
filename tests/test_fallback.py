"""attach_first: the first candidate the kernel supports is loaded, attached and counts."""

from __future__ import annotations

import errno
import os

import pytest

import bpfman
from bpfman import features
from bpfman.errors import BpfError
from bpfman.fallback import Candidate

KILL = {"group": "syscalls", "name": "sys_enter_kill"}
SEED = [
    ("count_fentry", {}),
    ("count_tp", KILL),
    ("count_kprobe", {"fn": "__x64_sys_kill"}),
]
CHOSEN_ID = {"count_fentry": 1, "count_tp": 2, "count_kprobe": 3}


def kill_self(n: int) -> None:
    for _ in range(n):
        os.kill(os.getpid(), 0)


@pytest.mark.kernel_feature
def test_seed_strategy_picks_the_first_supported_kind(bpf_obj) -> None:
    spec = bpfman.open(bpf_obj("fallback"))
    spec.globals["target_pid"] = os.getpid()
    expected = next(
        name
        for name, _ in SEED
        if features.available(features.feature_of_section(spec.programs[name].section) or "")
    )
    result = bpfman.attach_first(spec, SEED)
    obj, link, chosen = result
    with obj:
        assert chosen == result.program == expected
        assert set(obj.programs) == {chosen}  # the others were never loaded
        if not features.available("trampolines"):
            assert chosen != "count_fentry"
            name, error = result.skipped[0]
            assert name == "count_fentry"
            assert isinstance(error, bpfman.KernelFeatureError)
            assert (error.feature, str(error)) == (
                "trampolines",
                features.probe("trampolines").detail,
            )
        if not features.available("trampolines") and not features.available("kprobe"):
            assert chosen == "count_tp"  # this project's CI kernel
        kill_self(4)
        assert obj.globals["kills"] == 4
        assert obj.globals["chosen"] == CHOSEN_ID[chosen]
        assert link.info().prog_id == obj.programs[chosen].id


def test_a_program_that_fails_to_load_falls_through(bpf_obj) -> None:
    spec = bpfman.open(bpf_obj("fallback"))
    spec.globals["target_pid"] = os.getpid()  # carried over to the reopened spec
    result = bpfman.attach_first(spec, [Candidate("bad_tp"), Candidate("count_tp")])
    with result.object as obj:
        assert result.program == "count_tp"
        [(name, why)] = result.skipped
        assert name == "bad_tp" and "verifier" in str(why)
        assert isinstance(why, bpfman.BpfError) and why.errno == errno.EACCES
        assert "BEGIN PROG LOAD LOG" in why.log
        assert obj.globals["target_pid"] == os.getpid()
        kill_self(3)
        assert obj.globals["kills"] == 3


def test_a_failed_attach_falls_through(bpf_obj) -> None:
    bad = {"group": "syscalls", "name": "no_such_tracepoint"}
    configured = []
    result = bpfman.attach_first(
        bpf_obj("fallback"),
        [("count_tp", bad), "count_tp"],
        configure=lambda s: configured.append(s.path),
    )
    with result.object as obj:
        assert result.program == "count_tp"
        assert "no tracepoint syscalls/no_such_tracepoint" in str(result.skipped[0][1])
        assert result.skipped[0][1].errno == errno.ENOENT
        assert configured == [bpf_obj("fallback")]  # called on the reopened spec
        kill_self(2)
        assert obj.globals["kills"] >= 2


def test_nothing_attachable_names_every_reason(bpf_obj) -> None:
    with pytest.raises(BpfError) as e:
        bpfman.attach_first(bpf_obj("fallback"), ["bad_tp", ("count_tp", {"name": "x"})])
    msg = str(e.value)
    assert msg.startswith("no candidate program could be attached")
    assert "bad_tp:" in msg and "count_tp:" in msg and "\n" not in msg


def test_unknown_candidates_are_refused(bpf_obj) -> None:
    with pytest.raises(KeyError, match="known: bad_tp, count_fentry, count_kprobe, count_tp"):
        bpfman.attach_first(bpf_obj("fallback"), ["count_tp", "nope"])
    with pytest.raises(BpfError, match="at least one candidate"):
        bpfman.attach_first(bpf_obj("fallback"), [])
