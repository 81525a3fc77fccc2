"""TC direct-action filters: real packets both ways, the clsact qdisc's lifetime, TcLink rules."""

from __future__ import annotations

import errno
import gc
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

import bpfman
from bpfman import netns
from bpfman.attach import tc
from bpfman.kinds import LinkType
from support.net import TC_DROP, TC_EGRESS, TC_INGRESS, VethPair, counter, qdiscs, udp_probe

TC_ACT_OK, TC_ACT_SHOT = 0, 2


@pytest.fixture
def obj(bpf_obj) -> Iterator[bpfman.Object]:
    with bpfman.load(bpf_obj("net")) as o:
        yield o


def tc_cmd(*args: str) -> None:
    subprocess.run(["tc", *args], check=True, capture_output=True)


def test_tc_verdicts_in_test_run(obj: bpfman.Object) -> None:
    assert obj.programs["tc_ingress"].test_run(udp_probe()).retval == TC_ACT_OK
    assert obj.programs["tc_drop"].test_run(udp_probe()).retval == TC_ACT_SHOT
    assert obj.programs["tc_drop"].test_run(udp_probe(port=53)).retval == TC_ACT_OK
    assert counter(obj, TC_INGRESS) == 1 and counter(obj, TC_DROP) == 1


def test_ingress_and_egress_count_and_own_the_qdisc(obj: bpfman.Object, veth: VethPair) -> None:
    assert "clsact" not in qdiscs(veth.host_index)
    ingress = obj.programs["tc_ingress"].attach_tc(veth.host, "ingress")
    egress = obj.programs["tc_egress"].attach_tc(veth.host_index, "egress", priority=7, handle=3)
    assert isinstance(ingress, tc.TcLink) and "clsact" in qdiscs(veth.host_index)
    assert ingress.priority > 0 and ingress.handle > 0  # assigned by the kernel
    assert (egress.priority, egress.handle, egress.iface) == (7, 3, veth.host)
    info = egress.info()
    assert info.type == LinkType.TC_FILTER and info.prog_id == obj.programs["tc_egress"].id
    assert info.details == {
        "ifindex": veth.host_index,
        "direction": "egress",
        "handle": 3,
        "priority": 7,
    }
    assert veth.send(5, to="host") == 5
    assert veth.send(3, to="peer") == 3
    assert (counter(obj, TC_INGRESS), counter(obj, TC_EGRESS)) == (5, 3)

    ingress.detach()
    assert tc.count_filters(veth.host_index) == 1
    assert "clsact" in qdiscs(veth.host_index)  # the egress filter still uses it
    assert veth.send(2, to="host") == 2 and counter(obj, TC_INGRESS) == 5
    egress.detach()
    assert "clsact" not in qdiscs(veth.host_index)  # we made it, its last filter went
    assert veth.send(2, to="peer") == 2 and counter(obj, TC_EGRESS) == 3
    egress.detach()  # twice is fine
    with pytest.raises(bpfman.BpfError, match="is detached"):
        egress.info()


def test_drop_filter_and_update_in_place(obj: bpfman.Object, veth: VethPair) -> None:
    link = obj.programs["tc_drop"].attach_tc(veth.host, "egress")
    assert veth.send(4, to="peer") == 0
    assert counter(obj, TC_DROP) == 4
    with pytest.raises(bpfman.BpfError, match="no longer runs tc_egress") as e:
        link.update(obj.programs["tc_ingress"], old=obj.programs["tc_egress"])
    assert e.value.errno == errno.EPERM
    link.update(obj.programs["tc_egress"], old=obj.programs["tc_drop"])
    assert link.info().prog_id == obj.programs["tc_egress"].id
    assert veth.send(3, to="peer") == 3
    assert (counter(obj, TC_DROP), counter(obj, TC_EGRESS)) == (4, 3)
    link.close()  # close is detach: a tc filter cannot outlive its link
    assert "clsact" not in qdiscs(veth.host_index)


def test_preexisting_clsact_is_kept(obj: bpfman.Object, veth: VethPair) -> None:
    tc_cmd("qdisc", "add", "dev", veth.host, "clsact")
    link = obj.programs["tc_ingress"].attach_tc(veth.host, "ingress")
    assert veth.send(2) == 2 and counter(obj, TC_INGRESS) == 2
    link.detach()
    assert "clsact" in qdiscs(veth.host_index) and tc.count_filters(veth.host_index) == 0
    tc_cmd("qdisc", "del", "dev", veth.host, "clsact")


def test_qdisc_kept_while_someone_elses_filter_is_on_it(
    obj: bpfman.Object, veth: VethPair, pin_dir: str
) -> None:
    link = obj.programs["tc_ingress"].attach_tc(veth.host, "ingress")  # creates clsact
    obj.programs["tc_egress"].pin(f"{pin_dir}/prog")
    try:
        tc_cmd(
            "filter",
            "add",
            "dev",
            veth.host,
            "egress",
            "prio",
            "9",
            "bpf",
            "da",
            "pinned",
            f"{pin_dir}/prog",
        )
    finally:
        os.unlink(f"{pin_dir}/prog")
    link.detach()
    assert "clsact" in qdiscs(veth.host_index)  # the foreign filter still needs it
    assert veth.send(2, to="peer") == 2 and counter(obj, TC_EGRESS) == 2
    tc_cmd("qdisc", "del", "dev", veth.host, "clsact")


def test_classic_ingress_qdisc_is_never_touched(obj: bpfman.Object, veth: VethPair) -> None:
    tc_cmd("qdisc", "add", "dev", veth.host, "ingress")
    with pytest.raises(bpfman.BpfError, match="has an 'ingress' qdisc, not clsact"):
        obj.programs["tc_egress"].attach_tc(veth.host, "egress")
    link = obj.programs["tc_ingress"].attach_tc(veth.host, "ingress")
    assert veth.send(2) == 2 and counter(obj, TC_INGRESS) == 2
    link.detach()
    assert "ingress" in qdiscs(veth.host_index)
    tc_cmd("qdisc", "del", "dev", veth.host, "ingress")


def test_forgotten_tc_link_stays_until_its_object_closes(bpf_obj, veth: VethPair) -> None:
    obj = bpfman.load(bpf_obj("net"))
    obj.programs["tc_drop"].attach_tc(veth.host, "ingress")  # the TcLink is dropped at once
    gc.collect()
    assert tc.count_filters(veth.host_index) == 1  # the Object owns it
    assert veth.send(2) == 0 and counter(obj, TC_DROP) == 2
    obj.close()
    assert tc.count_filters(veth.host_index) == 0
    assert "clsact" not in qdiscs(veth.host_index)


def test_forgotten_tc_link_of_a_standalone_program_is_removed_by_gc(
    obj: bpfman.Object, veth: VethPair
) -> None:
    with bpfman.Program.from_fd(os.dup(obj.programs["tc_drop"].fd)) as prog:
        prog.attach_tc(veth.host, "ingress")  # no Object: the caller's reference owns it
        gc.collect()
        assert tc.count_filters(veth.host_index) == 0
        assert "clsact" not in qdiscs(veth.host_index)
        assert veth.send(2) == 2 and counter(obj, TC_DROP) == 0


EXITING_CHILD = """
import sys, bpfman
obj = bpfman.load(sys.argv[1])
link = obj.programs["tc_ingress"].attach_tc(sys.argv[2])
print(link.priority, link.handle)
"""  # exits without detaching, like a process exiting with an unpinned kernel link


def test_process_exit_removes_its_filters(bpf_obj, veth: VethPair) -> None:
    out = subprocess.run(
        [sys.executable, "-c", EXITING_CHILD, bpf_obj("net"), veth.host],
        check=True,
        capture_output=True,
        text=True,
    )
    assert out.stdout.split() and not out.stderr
    assert tc.count_filters(veth.host_index) == 0
    assert "clsact" not in qdiscs(veth.host_index)


def test_object_close_removes_its_filters(bpf_obj, veth: VethPair) -> None:
    obj = bpfman.load(bpf_obj("net"))
    link = obj.programs["tc_ingress"].attach_tc(veth.host, "ingress")
    obj.close()
    assert link.closed and "clsact" not in qdiscs(veth.host_index)


def test_filter_in_another_netns_is_removed_there(obj: bpfman.Object, veth: VethPair) -> None:
    with netns.enter(veth.netns):
        link = obj.programs["tc_ingress"].attach_tc(veth.peer, "ingress")
        assert link.ifindex == veth.peer_index
    assert veth.send(3, to="peer") == 3 and counter(obj, TC_INGRESS) == 3
    assert link.info().details["ifindex"] == veth.peer_index  # queried in its netns
    link.detach()  # from this (the root) netns
    with netns.enter(veth.netns):
        assert "clsact" not in qdiscs(veth.peer_index)


def test_disowned_filter_stays_until_removed(obj: bpfman.Object, veth: VethPair) -> None:
    link = obj.programs["tc_egress"].attach_tc(veth.host, "egress", priority=3)
    filt = tc.filter_of(link)
    assert filt == tc.TcFilter(veth.host_index, "egress", 3, link.handle, qdisc_created=True)
    link.disown()
    assert link.closed
    del link
    gc.collect()
    assert veth.send(2, to="peer") == 2 and counter(obj, TC_EGRESS) == 2  # still attached
    assert tc.remove(filt) is True
    assert "clsact" not in qdiscs(veth.host_index)  # it was created for this filter
    assert tc.remove(filt) is False  # already gone: not an error
    assert veth.send(2, to="peer") == 2 and counter(obj, TC_EGRESS) == 2


def test_detach_after_the_qdisc_was_deleted_underneath(obj: bpfman.Object, veth: VethPair) -> None:
    link = obj.programs["tc_ingress"].attach_tc(veth.host)
    tc_cmd("qdisc", "del", "dev", veth.host, "clsact")  # takes the filter with it
    link.detach()  # nothing left to delete: not an error
    assert link.closed


def test_tc_errors(obj: bpfman.Object, veth: VethPair, pin_dir: str) -> None:
    prog = obj.programs["tc_ingress"]
    with pytest.raises(bpfman.BpfError, match=r"^no network interface named 'pbt-nope'$"):
        prog.attach_tc("pbt-nope")
    with pytest.raises(bpfman.BpfError, match=r"^no network interface with index 999999$"):
        prog.attach_tc(999999)
    with pytest.raises(bpfman.BpfError, match="'ingress' or 'egress', not 'sideways'"):
        prog.attach_tc(veth.host, "sideways")
    with pytest.raises(bpfman.BpfError, match=r"priority 70000 is not in 0..65535"):
        prog.attach_tc(veth.host, priority=70000)
    with pytest.raises(bpfman.BpfError, match="it is a xdp program, not sched_cls"):
        obj.programs["xdp_pass"].attach_tc(veth.host)
    link = prog.attach_tc(veth.host, priority=5, handle=1)
    exists = r"\(priority 5, handle 0x1\): Filter already exists \(File exists\)"
    with pytest.raises(bpfman.BpfError, match=exists) as e:
        obj.programs["tc_drop"].attach_tc(veth.host, priority=5, handle=1)
    assert e.value.errno == errno.EEXIST
    with pytest.raises(bpfman.BpfError, match=r"cannot pin tc ingress .* not a kernel link") as e:
        link.pin(f"{pin_dir}/tc")
    assert e.value.errno == errno.EOPNOTSUPP
    with pytest.raises(bpfman.BpfError, match="has no fd"):
        _ = link.fd
    assert link.id == 0
    assert tc.count_filters(veth.host_index) == 1  # the failed attach left nothing
    link.detach()
    assert "clsact" not in qdiscs(veth.host_index)


def test_tc_argument_checks() -> None:
    tc.check_args("egress", 0, 0)
    with pytest.raises(bpfman.BpfError, match="not a 32-bit number"):
        tc.check_args("ingress", 1, 1 << 32)
