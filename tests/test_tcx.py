"""TCX links: ordering with before/after, chains of TCX_NEXT programs on real packets, errors."""

from __future__ import annotations

import errno
from collections.abc import Iterator

import pytest

import bpfman
from bpfman.attach import tcx
from bpfman.kinds import AttachType, LinkType
from support.net import TCX_A, TCX_B, TCX_STOP, VethPair, counter, udp_probe

TCX_NEXT_RETVAL = 0xFFFFFFFF  # -1 as the u32 test_run reports


@pytest.fixture
def obj(bpf_obj) -> Iterator[bpfman.Object]:
    with bpfman.load(bpf_obj("net")) as o:
        yield o


def trail(obj: bpfman.Object, n: int) -> str:
    """The last *n* program ids (a, b, c) the tcx programs recorded, oldest first."""
    return f"{obj.globals['trail']:x}"[-n:]


def test_tcx_is_supported_here() -> None:
    # kernel >= 6.6: the probe attach failures consult must say so
    assert bpfman.features.available("tcx")


def test_tcx_verdicts_in_test_run(obj: bpfman.Object) -> None:
    assert obj.programs["tcx_a"].test_run(udp_probe()).retval == TCX_NEXT_RETVAL
    assert obj.programs["tcx_stop"].test_run(udp_probe()).retval == 0  # TCX_PASS
    assert counter(obj, TCX_A) == 1 and trail(obj, 2) == "ac"


def test_before_and_after_order_the_chain(obj: bpfman.Object, veth: VethPair) -> None:
    a, b, stop = (obj.programs[n] for n in ("tcx_a", "tcx_b", "tcx_stop"))
    assert tcx.query(veth.host).prog_ids == []
    la = a.attach_tcx(veth.host, "ingress")
    lb = b.attach_tcx(veth.host_index, "ingress", before=a)  # relative to a program
    assert isinstance(lb, tcx.TcxLink) and lb.iface == veth.host
    chain = tcx.query(veth.host, "ingress")
    assert chain.prog_ids == [b.id, a.id]
    assert chain.link_ids == [lb.id, la.id]
    assert chain.revision == 3  # empty hook: 1, +1 per attach
    info = lb.info()
    assert info.type == LinkType.TCX
    assert info.details == {"ifindex": veth.host_index, "attach_type": AttachType.TCX_INGRESS}

    assert veth.send(3) == 3  # both return TCX_NEXT: both run, b first
    assert (counter(obj, TCX_B), counter(obj, TCX_A)) == (3, 3)
    assert trail(obj, 6) == "bababa"

    ls = stop.attach_tcx(veth.host, after=lb)  # relative to a link: between b and a
    assert tcx.query(veth.host).prog_ids == [b.id, stop.id, a.id]
    assert veth.send(2) == 2
    assert (counter(obj, TCX_B), counter(obj, TCX_STOP), counter(obj, TCX_A)) == (5, 2, 3)
    assert trail(obj, 4) == "bcbc"  # the chain ends at stop's TCX_PASS: a no longer runs

    ls.detach()
    lb.close()
    assert tcx.query(veth.host).prog_ids == [a.id]
    la.detach()
    assert tcx.query(veth.host).prog_ids == []


def test_egress_counts_packets_out(obj: bpfman.Object, veth: VethPair) -> None:
    link = obj.programs["tcx_a"].attach_tcx(veth.host, "egress")
    assert veth.send(2, to="host") == 2 and counter(obj, TCX_A) == 0
    assert veth.send(3, to="peer") == 3 and counter(obj, TCX_A) == 3
    assert tcx.query(veth.host, "ingress").prog_ids == []
    link.detach()


def test_pinned_tcx_link(obj: bpfman.Object, veth: VethPair, pin_dir: str) -> None:
    link = obj.programs["tcx_a"].attach_tcx(veth.host)
    link.pin(f"{pin_dir}/tcx")
    link.close()  # the pin keeps it
    assert tcx.query(veth.host).prog_ids == [obj.programs["tcx_a"].id]
    again = bpfman.Link.from_pin(f"{pin_dir}/tcx")
    assert again.info().type == LinkType.TCX
    again.detach()  # detaches and removes the pin
    assert tcx.query(veth.host).prog_ids == []


def test_tcx_errors(obj: bpfman.Object, veth: VethPair) -> None:
    a, b = obj.programs["tcx_a"], obj.programs["tcx_b"]
    with pytest.raises(bpfman.BpfError, match=r"^no network interface named 'pbt-nope'$"):
        a.attach_tcx("pbt-nope")
    with pytest.raises(bpfman.BpfError, match=r"^no network interface with index 999999$"):
        a.attach_tcx(999999)
    with pytest.raises(bpfman.BpfError, match="'ingress' or 'egress', not 'in'"):
        a.attach_tcx(veth.host, "in")
    with pytest.raises(bpfman.BpfError, match="before= or after=, not both"):
        a.attach_tcx(veth.host, before=b, after=b)
    with pytest.raises(bpfman.BpfError, match="as tcx: it is a xdp program"):
        obj.programs["xdp_pass"].attach_tcx(veth.host)
    with pytest.raises(
        bpfman.BpfError,
        match=f"to {veth.host} tcx ingress before program tcx_b: that program is not on this hook",
    ) as e:
        a.attach_tcx(veth.host, before=b)
    assert e.value.errno == errno.ENOENT
    link = a.attach_tcx(veth.host)
    with pytest.raises(bpfman.BpfError, match="tcx ingress after link") as e:
        a.attach_tcx(veth.host, after=link)  # the same program twice on one hook
    assert e.value.errno == errno.EEXIST
    link.detach()


def test_order_flags() -> None:
    from bpfman import _sys

    assert tcx.order_flags(None, False) == 0
    assert tcx.order_flags("before", False) == _sys.BPF_F_BEFORE
    assert tcx.order_flags("after", True) == _sys.BPF_F_AFTER | _sys.BPF_F_LINK
