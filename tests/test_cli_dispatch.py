"""Several xdp / tc programs on one hook through the CLI: dispatchers, with real packets.

Needs extension programs (freplace): this CI kernel refuses them, so every
test here skips with the probe's reason and runs in the VM (``make vmtest``).
On such kernels the one-program-per-hook refusal is tested in test_cli_net.py.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator

import pytest

from bpfman import netns
from bpfman.attach import xdp as xdp_attach
from bpfman.manager import reconcile
from bpfman.manager.core import AttachSpec, LoadSpec, Manager, parse_requests
from bpfman.manager.models import BpfmanType, NetAttach
from support.net import (
    TC_DROP,
    TC_EGRESS,
    TC_INGRESS,
    XDP_DROP,
    XDP_PASS,
    XDP_PASS2,
    VethPair,
    qdiscs,
)

pytestmark = pytest.mark.requires("freplace")


@pytest.fixture
def mgr(cli) -> Iterator[Manager]:
    """The same manager in this process: set-up and checks without a CLI start each
    (a CLI call costs seconds in the VM); what the test is about goes through the CLI."""
    with Manager(cli.runtime) as m:
        yield m


def load_here(mgr: Manager, bpf_obj, programs: str) -> list[int]:
    """Load *programs* of net.bpf.c in this process (set-up: a CLI call costs seconds in
    the VM); their ids."""
    spec = LoadSpec(parse_requests([programs]), path=bpf_obj("net"))
    return [rec.id for rec in mgr.load(spec)]


def attach(cli, prog: int, kind: str, iface: str, prio: int, *extra: str) -> int:
    args = ["attach", str(prog), kind, "-i", iface, "-p", str(prio), *extra, "-o", "json"]
    return int(cli(*args).json()["link_id"])


def attach_here(mgr: Manager, prog: int, kind: BpfmanType, iface: str, prio: int, **kw) -> int:
    return mgr.attach(prog, AttachSpec(kind, {"iface": iface, "priority": prio, **kw})).id


def positions(mgr: Manager, *link_ids: int) -> list[int]:
    return [int(net_of(mgr, lid).position or 0) for lid in link_ids]


def net_of(mgr: Manager, link_id: int) -> NetAttach:
    net = mgr.link_record(link_id).net
    assert net is not None
    return net


def test_xdp_chain_and_unloading_the_first_keeps_the_rest(cli, mgr, bpf_obj, veth) -> None:
    """bpfman issue #791: after the first program leaves, the others keep their proceed-on."""
    (first,) = load_here(mgr, bpf_obj, "xdp:xdp_pass")
    second, third = load_here(mgr, bpf_obj, "xdp:xdp_pass2 xdp:xdp_drop")
    l3 = attach(cli, third, "xdp", veth.host, 30)
    l1 = attach(cli, first, "xdp", veth.host, 10)
    l2 = attach(cli, second, "xdp", veth.host, 20, "--proceed-on", "drop")
    assert positions(mgr, l1, l2, l3) == [0, 1, 2]
    assert net_of(mgr, l2).proceed_on == (1,)
    # first passes on; second passes and stops there (it proceeds on drop only)
    assert veth.send(5, to="host") == 5
    assert cli.counter(first, XDP_PASS) == 5
    assert cli.counter(second, XDP_PASS2) == 5
    assert cli.counter(second, XDP_DROP) == 0

    env = dict(os.environ, LIBXDP_BPFFS=cli.fs)
    status = subprocess.run(
        ["xdp-loader", "status", veth.host], env=env, capture_output=True, text=True, check=True
    ).stdout
    rows = [line.split() for line in status.splitlines() if line.lstrip().startswith("=>")]
    assert "xdp_dispatcher" in status
    assert [(r[1], r[2]) for r in rows] == [("10", "xdp_pass"), ("20", "xdp_pass2"),
                                            ("30", "xdp_drop")]  # fmt: skip

    cli("unload", str(first))
    assert positions(mgr, l2, l3) == [0, 1]
    assert veth.send(5, to="host") == 5  # still stops after second
    assert cli.counter(second, XDP_PASS2) == 10
    assert cli.counter(second, XDP_DROP) == 0
    text = cli("list", "links").out
    assert f"{veth.host} pos-0" in text and f"{veth.host} pos-1" in text
    mgr.detach(l2)
    assert positions(mgr, l3) == [0]
    status = subprocess.run(
        ["xdp-loader", "status", veth.host], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert [line.split()[1:3] for line in status.splitlines() if "=>" in line] == [
        ["30", "xdp_drop"]
    ]
    assert veth.send(3, to="host") == 0
    assert cli.counter(second, XDP_DROP) == 3
    mgr.unload(third)  # a map user before its owner
    mgr.unload(second)
    assert xdp_attach.query(veth.host).prog_id == 0
    assert cli.db_rows()["links"] == 0


def test_xdp_eleventh_program_is_refused(cli, mgr, bpf_obj, veth) -> None:
    (prog,) = load_here(mgr, bpf_obj, "xdp:xdp_pass")
    links = [attach_here(mgr, prog, BpfmanType.XDP, veth.host, 100 - i) for i in range(10)]
    r = cli("attach", str(prog), "xdp", "-i", veth.host, "-p", "5", rc=1)
    assert "at most 10" in r.err and "already runs 10 programs" in r.err
    assert veth.send(2, to="host") == 2
    assert cli.counter(prog, XDP_PASS) == 20  # ten copies, each counted once per packet
    assert positions(mgr, links[0], links[9]) == [9, 0]
    mgr.unload(prog)
    assert cli.pins() == []


def test_xdp_in_another_netns_and_swaps_lose_no_packets(cli, mgr, bpf_obj, veth) -> None:
    a, b = load_here(mgr, bpf_obj, "xdp:xdp_pass xdp:xdp_pass2")
    la = attach(cli, a, "xdp", veth.peer, 10, "-n", veth.netns_path)
    sent = arrived = 0
    stop = threading.Event()

    def traffic() -> None:
        nonlocal sent, arrived
        while not stop.is_set():
            arrived += veth.send(20, to="peer")
            sent += 20

    sender = threading.Thread(target=traffic)
    sender.start()
    try:
        for prio in (5, 50, 20):  # before, after, before: each a new revision, twice
            lb = attach_here(mgr, b, BpfmanType.XDP, veth.peer, prio, netns=veth.netns_path)
            mgr.detach(lb)
    finally:
        stop.set()
        sender.join()
    assert sent > 0 and arrived == sent
    assert cli.counter(a, XDP_PASS) == sent
    with netns.enter(veth.netns_path):
        assert xdp_attach.query(veth.peer).prog_id != 0
    mgr.detach(la)
    with netns.enter(veth.netns_path):
        assert xdp_attach.query(veth.peer).prog_id == 0
    mgr.unload(b)
    mgr.unload(a)


def test_tc_chain_directions_and_qdisc(cli, mgr, bpf_obj, veth) -> None:
    ing, drop, egr = load_here(mgr, bpf_obj, "tc:tc_ingress tc:tc_drop tc:tc_egress")
    li = attach(cli, ing, "tc", veth.host, 20, "-d", "ingress", "--proceed-on", "ok")
    le = attach_here(mgr, egr, BpfmanType.TC, veth.host, 20, direction="egress")
    assert "clsact" in qdiscs(veth.host_index)
    assert veth.send(3, to="host") == 3 and veth.send(2, to="peer") == 2
    assert cli.counter(ing, TC_INGRESS) == 3 and cli.counter(ing, TC_EGRESS) == 2
    ld = attach(cli, drop, "tc", veth.host, 10, "-d", "ingress")  # runs first: shot stops
    assert positions(mgr, ld, li) == [0, 1]
    assert reconcile.doctor(mgr) == []  # members, revisions and the filters all recorded
    assert f"{veth.host} ingress pos-1" in cli("list", "links").out
    assert veth.send(4, to="host") == 0
    assert cli.counter(ing, TC_DROP) == 4 and cli.counter(ing, TC_INGRESS) == 3
    mgr.detach(ld)
    assert veth.send(1, to="host") == 1
    assert cli.counter(ing, TC_INGRESS) == 4
    mgr.detach(li)
    assert "clsact" in qdiscs(veth.host_index)  # egress still needs it
    mgr.detach(le)
    assert "clsact" not in qdiscs(veth.host_index)
    assert reconcile.doctor(mgr) == []
    for prog in (egr, drop, ing):
        mgr.unload(prog)


def test_xdp_crash_after_swap_is_repaired(cli, mgr, bpf_obj, veth) -> None:
    a, b = load_here(mgr, bpf_obj, "xdp:xdp_pass xdp:xdp_drop")
    la = attach_here(mgr, a, BpfmanType.XDP, veth.host, 10)
    env = dict(cli.env, BPFMAN_CRASH_AT="attach:after-kernel")
    cli("attach", str(b), "xdp", "-i", veth.host, "-p", "20", env=env, rc=137)
    assert veth.send(2, to="host") == 0  # the new revision outlived the crash
    report = [p.describe() for p in reconcile.doctor(mgr)]  # as `bpfman doctor` prints them
    assert any(f"link {la}: its dispatcher slot" in line for line in report), report
    assert any("a dispatcher revision no link runs in" in line for line in report), report
    assert len(reconcile.gc(mgr)) == len(report)
    assert reconcile.doctor(mgr) == []
    assert veth.send(2, to="host") == 2  # as the database says: xdp_pass alone
    assert cli.counter(a, XDP_PASS) == 4
    mgr.unload(b)
    mgr.unload(a)


def test_gc_forgets_a_lost_program_with_two_links_on_one_hook(cli, mgr, bpf_obj, veth) -> None:
    """gc drops each link before the next revision: the second detach must not reload the
    first link's program, whose pin is gone, and leave the hook's dispatcher running."""
    (prog,) = load_here(mgr, bpf_obj, "xdp:xdp_pass")
    attach_here(mgr, prog, BpfmanType.XDP, veth.host, 10)
    attach_here(mgr, prog, BpfmanType.XDP, veth.host, 20)
    os.unlink(f"{cli.fs}/prog_{prog}")
    assert [p.kind for p in reconcile.doctor(mgr)] == ["program-pin-missing"]
    reconcile.gc(mgr)
    assert reconcile.doctor(mgr) == []
    assert mgr.links() == [] and mgr.programs() == []
    assert cli.pins() == []  # no revision, no XDP link left on the interface


def test_tc_crash_after_swap_is_repaired(cli, mgr, bpf_obj, veth) -> None:
    ing, drop = load_here(mgr, bpf_obj, "tc:tc_ingress tc:tc_drop")
    attach_here(mgr, ing, BpfmanType.TC, veth.host, 20, direction="ingress")
    env = dict(cli.env, BPFMAN_CRASH_AT="attach:after-kernel")
    cli("attach", str(drop), "tc", "-i", veth.host, "-d", "ingress", "-p", "10", env=env,
        rc=137)  # fmt: skip
    assert veth.send(2, to="host") == 0  # the new revision (drop first) outlived the crash
    kinds = [p.kind for p in reconcile.doctor(mgr)]
    assert "orphan-dispatcher-filter" in kinds and "stale-dispatcher-revision" in kinds, kinds
    reconcile.gc(mgr)
    assert reconcile.doctor(mgr) == []
    assert veth.send(3, to="host") == 3  # as the database says: tc_ingress alone
    assert cli.counter(ing, TC_INGRESS) == 3
    mgr.unload(drop)
    mgr.unload(ing)
    assert "clsact" not in qdiscs(veth.host_index)


def test_tc_dispatcher_filter_removed_behind_our_back(cli, mgr, bpf_obj, veth) -> None:
    from pyroute2 import IPRoute

    ing, egr = load_here(mgr, bpf_obj, "tc:tc_ingress tc:tc_egress")
    li = attach_here(mgr, ing, BpfmanType.TC, veth.host, 20, direction="ingress")
    attach_here(mgr, egr, BpfmanType.TC, veth.host, 30, direction="ingress")
    disp = net_of(mgr, li).dispatcher
    assert disp is not None
    handle = disp.tc_handle
    with IPRoute() as ipr:  # what `tc filter del dev X ingress prio 50 handle H bpf` does
        ipr.tc("del-filter", "bpf", veth.host_index, handle, parent=0xFFFFFFF2, prio=50)
    assert veth.send(2, to="host") == 2
    assert cli.counter(ing, TC_INGRESS) == 0
    report = [p.describe() for p in reconcile.doctor(mgr)]
    assert report == [f"link {li}: its hook's tc dispatcher filter is gone from the kernel"], report
    assert reconcile.gc(mgr) == [f"rebuilt the dispatcher of link {li}"]
    assert reconcile.doctor(mgr) == []
    assert veth.send(3, to="host") == 3
    assert cli.counter(ing, TC_INGRESS) == 3
    mgr.unload(egr)
    mgr.unload(ing)
    assert "clsact" not in qdiscs(veth.host_index)


def test_interface_removed_under_the_dispatchers(cli, mgr, bpf_obj) -> None:
    pair = VethPair("gone")
    try:
        xdp_prog, tc_prog = load_here(mgr, bpf_obj, "xdp:xdp_pass tc:tc_ingress")
        attach_here(mgr, xdp_prog, BpfmanType.XDP, pair.host, 10)
        attach_here(mgr, xdp_prog, BpfmanType.XDP, pair.host, 20)
        attach_here(mgr, tc_prog, BpfmanType.TC, pair.host, 10, direction="ingress")
    finally:
        pair.close()  # the kernel detaches everything with the interface; the pins stay
    assert any(p.startswith("xdp/dispatch-") for p in cli.pins())
    mgr.unload(tc_prog)
    mgr.unload(xdp_prog)
    assert cli.pins() == []


def test_xdp_dispatcher_mode_from_config(cli, bpf_obj, veth, tmp_path) -> None:
    conf = tmp_path / "bpfman.toml"
    conf.write_text(f'[interfaces.{veth.host}]\nxdp_mode = "skb"\n')
    with Manager(cli.runtime, config_path=str(conf)) as m:
        a, b = load_here(m, bpf_obj, "xdp:xdp_pass xdp:xdp_pass2")  # b uses a's maps
        try:
            la = attach_here(m, a, BpfmanType.XDP, veth.host, 10)
            attach_here(m, b, BpfmanType.XDP, veth.host, 20)
            state = xdp_attach.query(veth.host)
            assert state.mode == "skb" and state.skb_prog_id == state.prog_id != 0
            assert veth.send(2, to="host") == 2
            assert cli.counter(a, XDP_PASS) == 2 and cli.counter(a, XDP_PASS2) == 2
            m.detach(la)
            assert xdp_attach.query(veth.host).mode == "skb"  # a new revision keeps the mode
        finally:
            m.unload(b)
            m.unload(a)
    assert xdp_attach.query(veth.host).prog_id == 0


def test_image_loaded_programs_share_a_hook(cli, mgr, bpf_obj, veth) -> None:
    """The operator's flow: programs from an OCI image, several on one XDP hook; the
    dispatcher reloads them as extensions from the image manifest they were loaded from."""
    import dataclasses

    from bpfman.images import build
    from bpfman.manager.images import prepare_load
    from support.registry import LocalRegistry

    reg = LocalRegistry()
    try:
        url = reg.url("tests/net:v1")
        build.push(url, build.build(build.plan(build.inputs_from(bpf_obj("net"), None, {}))),
                   multi_arch=False)  # fmt: skip
        spec = LoadSpec(parse_requests(["xdp:xdp_pass xdp:xdp_pass2"]), image_url=url)
        ready, _ = prepare_load(mgr, dataclasses.replace(spec, pull_policy="IfNotPresent"))
        a, b = (rec.id for rec in mgr.load(ready))
    finally:
        reg.close()  # from here on only the cache: the dispatcher must not need the registry
    try:
        la = attach(cli, a, "xdp", veth.host, 10)
        attach(cli, b, "xdp", veth.host, 20)
        assert positions(mgr, la) == [0]
        assert veth.send(3, to="host") == 3
        assert cli.counter(a, XDP_PASS) == 3 and cli.counter(a, XDP_PASS2) == 3
    finally:
        mgr.unload(b)
        mgr.unload(a)
    assert xdp_attach.query(veth.host).prog_id == 0
