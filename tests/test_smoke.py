"""The core path: open, configure, load, attach a tracepoint, read maps and globals."""

from __future__ import annotations

import os

import pytest

import bpfman
from bpfman.errors import UnknownName


def test_open_configure_load_attach_count(bpf_obj) -> None:
    spec = bpfman.open(bpf_obj("basic"))
    assert set(spec.programs) == {"count_kill", "count_raw", "count_getppid"}
    assert spec.globals["target_pid"] == 0
    assert spec.globals["bias"] == -5
    assert spec.globals["label"] == b"basic\0\0\0"
    spec.globals["target_pid"] = os.getpid()
    spec.globals["multiplier"] = 3
    spec.maps["by_pid"].max_entries = 2048
    spec.programs["count_getppid"].autoload = False
    spec.programs["count_raw"].autoload = False
    with spec.load() as obj:
        assert set(obj.programs) == {"count_kill"}
        assert obj.maps["by_pid"].max_entries == 2048
        link = obj.programs["count_kill"].attach_tracepoint("syscalls", "sys_enter_kill")
        for _ in range(5):
            os.kill(os.getpid(), 0)
        assert int.from_bytes(obj.maps["counts"][0], "little") == 15
        assert obj.maps["by_pid"][os.getpid()] == (5).to_bytes(8, "little")
        assert obj.globals["hits"] == 5
        assert link.info().prog_id == obj.programs["count_kill"].id


def test_unknown_names_list_known(bpf_obj) -> None:
    with bpfman.load(bpf_obj("basic")) as obj:
        with pytest.raises(UnknownName, match="known: count_getppid, count_kill, count_raw"):
            obj.programs["nope"]
        with pytest.raises(KeyError, match="counts"):  # an UnknownName is a KeyError too
            obj.maps["nope"]
        assert "nope" not in obj.programs and obj.maps.get("nope") is None
        with pytest.raises(UnknownName, match=r"^no global variable named 'nope' \(known: "):
            obj.globals["nope"]
