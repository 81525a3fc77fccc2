"""Who keeps a Link attached: the Object owns the Links made from its programs.

A Link the caller drops stays attached until ``obj.close()`` or
``link.detach()``; a Program reopened from a pin has no Object, so its Links
live as long as the caller's reference.
"""

from __future__ import annotations

import gc
import os
import time

import pytest

import bpfman
from bpfman import _sys


def _released(link_ids: set[int]) -> None:
    """Wait until the kernel has freed *link_ids*: closing a perf-event link's last fd
    detaches it, but the kernel may finish the release a moment later (RCU)."""
    deadline = time.monotonic() + 30
    while link_ids & set(_sys.ids("link")):
        assert time.monotonic() < deadline, f"links {link_ids} still in the kernel after close"
        time.sleep(0.01)


def _load(bpf_obj, **autoload: bool) -> bpfman.Object:
    spec = bpfman.open(bpf_obj("library"))
    spec.globals["target_pid"] = os.getpid()
    for name, on in {"on_missing": False, **autoload}.items():
        spec.programs[name].autoload = on
    return spec.load()


def test_a_dropped_link_stays_attached_until_close(bpf_obj) -> None:
    obj = _load(bpf_obj)
    counts = obj.maps["counts"]
    obj.programs["on_kill"].attach_tracepoint("syscalls", "sys_enter_kill")  # not kept
    gc.collect()
    (link,) = obj.links
    link_id = link.info().id
    for _ in range(3):
        os.kill(os.getpid(), 0)
    assert counts[0] == (3).to_bytes(8, "little")
    assert link_id in _sys.ids("link")
    with bpfman.Map.from_id(counts.id) as still:  # an fd of our own: the map outlives obj
        obj.close()
        assert link.closed
        _released({link_id})
        os.kill(os.getpid(), 0)
        assert still[0] == (3).to_bytes(8, "little")  # detached: the program no longer runs


def test_detach_ends_the_objects_ownership(bpf_obj) -> None:
    with _load(bpf_obj) as obj:
        link = obj.programs["on_getppid"].attach()
        os.getppid()
        link.detach()
        assert obj.links == ()
        os.getppid()
        assert int.from_bytes(obj.maps["counts"][1], "little") == 1


def test_attach_all_attaches_every_program_whose_section_names_its_hook(bpf_obj) -> None:
    obj = _load(bpf_obj)
    links = obj.attach_all()
    # xdp needs an interface and a bare uprobe a binary: attach_all leaves them alone
    assert sorted(links) == ["on_getppid", "on_kill"]
    ids = {name: link.info().id for name, link in links.items()}
    del links
    gc.collect()
    os.kill(os.getpid(), 0)
    os.getppid()
    counts = obj.maps["counts"]
    assert (counts[0], counts[1]) == ((1).to_bytes(8, "little"), (1).to_bytes(8, "little"))
    assert set(ids.values()) <= set(_sys.ids("link"))
    with bpfman.Map.from_id(counts.id) as still:
        obj.close()
        _released(set(ids.values()))
        os.kill(os.getpid(), 0)
        os.getppid()
        assert (still[0], still[1]) == ((1).to_bytes(8, "little"), (1).to_bytes(8, "little"))


def test_attach_all_undoes_its_links_when_one_fails(bpf_obj) -> None:
    with _load(bpf_obj, on_missing=True) as obj:
        with pytest.raises(bpfman.BpfError) as e:
            obj.attach_all()
        assert "no tracepoint syscalls/sys_enter_no_such_syscall in this kernel" in str(e.value)
        assert obj.links == ()  # on_kill and on_getppid, attached first, were detached
        os.kill(os.getpid(), 0)
        assert obj.maps["counts"][0] == bytes(8)


def test_links_of_a_program_from_a_pin_are_owned_by_reference(bpf_obj, pin_dir: str) -> None:
    with _load(bpf_obj) as obj:
        obj.programs["on_kill"].pin(f"{pin_dir}/prog")
        counts = obj.maps["counts"]
        with bpfman.Program.from_pin(f"{pin_dir}/prog") as prog:
            link = prog.attach_tracepoint("syscalls", "sys_enter_kill")
            link_id = link.info().id
            os.kill(os.getpid(), 0)
            del link
            gc.collect()  # the last reference gone: detached
            _released({link_id})
            os.kill(os.getpid(), 0)
        assert counts[0] == (1).to_bytes(8, "little")
        assert obj.links == ()
        os.unlink(f"{pin_dir}/prog")


def test_a_pinned_link_outlives_close(bpf_obj, pin_dir: str) -> None:
    obj = _load(bpf_obj)
    obj.programs["on_kill"].attach_tracepoint("syscalls", "sys_enter_kill").pin(f"{pin_dir}/l")
    obj.close()
    with bpfman.Link.from_pin(f"{pin_dir}/l") as again:
        assert again.info().id in _sys.ids("link")
        again.detach()
    assert not os.path.exists(f"{pin_dir}/l")
