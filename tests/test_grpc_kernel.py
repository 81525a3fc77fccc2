"""What the operator's agent does through gRPC, on kernels that allow it: dispatchers, probes.

The kernel-dependent half of test_grpc.py: several xdp / tc programs per hook
through dispatchers (freplace), tcx ordering, kprobe/kretprobe and
fentry/fexit, each driven through the daemon's ``bpfman.v1`` API with real
packets or real syscalls counted in pinned maps. Where the kernel refuses a
feature (this CI kernel: kprobes, trampolines, freplace) the test skips with
the probe's reason; ``make vmtest`` runs them on stock kernels (test_grpc.py
checks the refusals).

The API has no call that returns a link, so positions and stored attach
info are read with an in-process Manager (the same dicts ``bpfman get link -o
json`` prints). One daemon serves the module: the guest's user space is slow.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

import bpfman
from bpfman import netns
from bpfman.attach import tcx
from bpfman.attach import xdp as xdp_attach
from bpfman.manager import views
from bpfman.manager.core import Manager
from bpfman.server import bpfman_pb2 as pb
from bpfman.server import bpfman_pb2_grpc as pb_grpc
from support import daemon as daemon_support
from support.cli import Cli
from support.daemon import EMPTY_DB, load, rpc_error
from support.net import (
    TC_DROP,
    TC_EGRESS,
    TC_INGRESS,
    TCX_A,
    TCX_B,
    TCX_STOP,
    XDP_DROP,
    XDP_PASS,
    XDP_PASS2,
    VethPair,
    qdiscs,
)

C = grpc.StatusCode
daemon, rpc = daemon_support.daemon, daemon_support.rpc  # the module's daemon (pytest fixtures)
pytestmark = pytest.mark.kernel_feature
Stub = pb_grpc.BpfmanStub


@pytest.fixture
def mgr(rpc: tuple[Stub, Cli]) -> Iterator[Manager]:
    """A Manager on the daemon's runtime, in this process: reads links (no RPC returns one)."""
    with Manager(rpc[1].runtime) as m:
        yield m


def attach(stub: Stub, prog: int, info: Any) -> int:
    """Attach *prog* with an XDP/TC/TCX/... AttachInfo message; the link id."""
    field = {
        pb.XDPAttachInfo: "xdp_attach_info",
        pb.TCAttachInfo: "tc_attach_info",
        pb.TCXAttachInfo: "tcx_attach_info",
        pb.KprobeAttachInfo: "kprobe_attach_info",
        pb.FentryAttachInfo: "fentry_attach_info",
        pb.FexitAttachInfo: "fexit_attach_info",
    }[type(info)]
    req = pb.AttachRequest(id=prog, attach=pb.AttachInfo(**{field: info}))
    return int(stub.Attach(req).link_id)


def unload(stub: Stub, *progs: int) -> None:
    for prog in progs:
        stub.Unload(pb.UnloadRequest(id=prog))


def link(mgr: Manager, link_id: int) -> dict[str, Any]:
    """The link's attach info as ``get link -o json`` shows it (position, proceed_on, ...)."""
    (body,) = views.attach_info(mgr.link_record(link_id)).values()
    return dict(body)


def positions(mgr: Manager, *link_ids: int) -> list[int]:
    return [link(mgr, i)["position"] for i in link_ids]


def dispatcher_rows(mgr: Manager) -> list[tuple[int, int, str, int]]:
    """The store's dispatchers: (kind, ifindex, direction, dispatcher id), one per hook."""
    q = "SELECT kind, ifindex, direction, dispatcher_id FROM dispatchers"
    q += " ORDER BY kind, direction DESC"
    return [tuple(r) for r in mgr.store.db.execute(q)]


def links_of(stub: Stub, prog: int) -> list[int]:
    return list(stub.Get(pb.GetRequest(id=prog)).info.links)


def assert_empty(cli: Cli) -> None:
    assert (cli.pins(), cli.db_rows()) == ([], EMPTY_DB)


# ---------------------------------------------------------------------- xdp


@pytest.mark.requires("freplace")
def test_xdp_dispatcher_chain_detach_one_unload_all(rpc, mgr, bpf_obj) -> None:
    stub, cli = rpc
    first, second, third = load(
        stub, bpf_obj("net"), ("xdp_pass", pb.XDP), ("xdp_pass2", pb.XDP), ("xdp_drop", pb.XDP)
    )
    with VethPair("gx") as veth:

        def xdp(prog: int, prio: int, **kw: Any) -> int:
            return attach(stub, prog, pb.XDPAttachInfo(iface=veth.host, priority=prio, **kw))

        l3 = xdp(third, 30)  # attach order is not run order: priority is
        l1 = xdp(first, 10, metadata={"owner": "agent"})
        l2 = xdp(second, 20, proceed_on=[1])  # drop only: its pass ends the chain
        assert positions(mgr, l1, l2, l3) == [0, 1, 2]
        assert link(mgr, l1)["proceed_on"] == [2, 31]  # the default: pass, dispatcher_return
        assert link(mgr, l2)["proceed_on"] == [1]
        assert link(mgr, l1)["metadata"] == {"owner": "agent"}
        assert [links_of(stub, p) for p in (first, second, third)] == [[l1], [l2], [l3]]
        hook = xdp_attach.query(veth.host)
        everything = {r.kernel_info.id: r for r in stub.List(pb.ListRequest()).results}
        dispatcher = everything[hook.prog_id]  # one program on the hook, not bpfman's own
        assert dispatcher.kernel_info.name == "xdp_dispatcher"
        assert not dispatcher.HasField("info")
        # the hook's running revision: one row its three links share
        assert dispatcher_rows(mgr) == [(pb.XDP, veth.host_index, "", hook.prog_id)]

        assert veth.send(5, to="host") == 5
        assert cli.counter(first, XDP_PASS) == 5
        assert cli.counter(first, XDP_PASS2) == 5
        assert cli.counter(first, XDP_DROP) == 0  # never reached

        stub.Detach(pb.DetachRequest(link_id=l2))  # the rest keep running, in order
        assert positions(mgr, l1, l3) == [0, 1]
        assert links_of(stub, second) == []
        assert veth.send(3, to="host") == 0
        assert cli.counter(first, XDP_PASS) == 8
        assert cli.counter(first, XDP_PASS2) == 5
        assert cli.counter(first, XDP_DROP) == 3
        assert xdp_attach.query(veth.host).prog_id not in (0, hook.prog_id)  # a new revision
        revision = xdp_attach.query(veth.host).prog_id
        assert dispatcher_rows(mgr) == [(pb.XDP, veth.host_index, "", revision)]

        unload(stub, third, second, first)  # the map users before their owner
        assert xdp_attach.query(veth.host).prog_id == 0
        assert dispatcher_rows(mgr) == []  # the row went with the hook's last link
        assert veth.send(2, to="host") == 2
    assert_empty(cli)


@pytest.mark.requires("freplace")
def test_xdp_dispatcher_in_another_netns(rpc, mgr, bpf_obj) -> None:
    stub, cli = rpc
    pass_, drop = load(stub, bpf_obj("net"), ("xdp_pass", pb.XDP), ("xdp_drop", pb.XDP))
    with VethPair("gn") as veth:
        path = veth.netns_path
        lp = attach(stub, pass_, pb.XDPAttachInfo(iface=veth.peer, priority=10, netns=path))
        ld = attach(stub, drop, pb.XDPAttachInfo(iface=veth.peer, priority=20, netns=path))
        lh = attach(stub, pass_, pb.XDPAttachInfo(iface=veth.host, priority=20))  # its own hook
        assert positions(mgr, lp, ld, lh) == [0, 1, 0]
        for bad, code, message in [
            (pb.XDPAttachInfo(iface=veth.host, priority=1, netns=path), C.NOT_FOUND,
             f"no network interface named {veth.host!r}"),  # it is in ours, not in that one
            (pb.XDPAttachInfo(iface=veth.peer, priority=1, netns=f"{path}-nope"),
             C.INVALID_ARGUMENT, "no such network namespace"),
        ]:  # fmt: skip
            err = rpc_error(lambda b=bad: attach(stub, drop, b))
            assert (err.code(), message in err.details()) == (code, True), err.details()
        assert cli.db_rows()["links"] == 3
        assert link(mgr, ld)["netns"] == path and "netns" not in link(mgr, lh)
        with netns.enter(path):
            peer_hook = xdp_attach.query(veth.peer).prog_id
        assert peer_hook not in (0, xdp_attach.query(veth.host).prog_id)

        assert veth.send(4, to="peer") == 0  # pass, then drop, in the peer's netns
        assert cli.counter(pass_, XDP_PASS) == 4 and cli.counter(pass_, XDP_DROP) == 4
        assert veth.send(2, to="host") == 2  # the host end runs xdp_pass alone
        assert cli.counter(pass_, XDP_PASS) == 6

        stub.Detach(pb.DetachRequest(link_id=ld))
        assert positions(mgr, lp) == [0]
        assert veth.send(3, to="peer") == 3
        assert cli.counter(pass_, XDP_PASS) == 9 and cli.counter(pass_, XDP_DROP) == 4
        unload(stub, drop, pass_)
        with netns.enter(path):
            assert xdp_attach.query(veth.peer).prog_id == 0
        assert xdp_attach.query(veth.host).prog_id == 0
    assert_empty(cli)


# ---------------------------------------------------------------------- tc, tcx


@pytest.mark.requires("freplace")
def test_tc_dispatcher_chain_both_directions(rpc, mgr, bpf_obj) -> None:
    stub, cli = rpc
    ing, drop, egr = load(
        stub, bpf_obj("net"), ("tc_ingress", pb.TC), ("tc_drop", pb.TC), ("tc_egress", pb.TC)
    )
    with VethPair("gt") as veth:

        def tc(prog: int, direction: str, prio: int, **kw: Any) -> int:
            info = pb.TCAttachInfo(iface=veth.host, direction=direction, priority=prio, **kw)
            return attach(stub, prog, info)

        li = tc(ing, "ingress", 10, proceed_on=[0])  # ok: go on to the next
        ld = tc(drop, "ingress", 20)
        le = tc(egr, "egress", 10)
        assert positions(mgr, li, ld, le) == [0, 1, 0]  # a dispatcher per direction
        assert link(mgr, li)["proceed_on"] == [0]
        assert link(mgr, ld)["proceed_on"] == [3, 30]  # the default: pipe, dispatcher_return
        assert link(mgr, le)["direction"] == "egress"
        assert "clsact" in qdiscs(veth.host_index)
        rows = dispatcher_rows(mgr)  # a row per direction, its links' dispatcher
        assert [r[:3] for r in rows] == [(pb.TC, veth.host_index, d) for d in ("ingress", "egress")]
        owns_qdisc = []
        for r, member in zip(rows, (li, le), strict=True):
            net = mgr.link_record(member).net
            assert net is not None and net.dispatcher is not None
            assert net.dispatcher.dispatcher_id == r[3]
            owns_qdisc.append(net.dispatcher.qdisc_created)
        assert owns_qdisc == [True, False]  # ingress's dispatcher came first and made it

        assert veth.send(4, to="host") == 0  # counted, then shot
        assert cli.counter(ing, TC_INGRESS) == 4 and cli.counter(ing, TC_DROP) == 4
        assert veth.send(2, to="peer") == 2
        assert cli.counter(ing, TC_EGRESS) == 2

        stub.Detach(pb.DetachRequest(link_id=ld))
        assert positions(mgr, li) == [0]
        assert veth.send(3, to="host") == 3
        assert cli.counter(ing, TC_INGRESS) == 7 and cli.counter(ing, TC_DROP) == 4
        ld = tc(drop, "ingress", 5)  # back, now first: shot ends the chain there
        assert positions(mgr, ld, li) == [0, 1]
        assert veth.send(2, to="host") == 0
        assert cli.counter(ing, TC_INGRESS) == 7 and cli.counter(ing, TC_DROP) == 6

        unload(stub, drop, egr, ing)
        assert "clsact" not in qdiscs(veth.host_index)
        assert dispatcher_rows(mgr) == []
        assert veth.send(1, to="host") == 1
    assert_empty(cli)


@pytest.mark.requires("tcx")
def test_tcx_priority_is_the_kernel_order(rpc, mgr, bpf_obj) -> None:
    stub, cli = rpc
    a, b, stop = load(
        stub, bpf_obj("net"), ("tcx_a", pb.TCX), ("tcx_b", pb.TCX), ("tcx_stop", pb.TCX)
    )
    with VethPair("gc") as veth:

        def tcx_link(prog: int, prio: int) -> int:
            info = pb.TCXAttachInfo(iface=veth.host, direction="ingress", priority=prio)
            return attach(stub, prog, info)

        ls = tcx_link(stop, 100)
        lb = tcx_link(b, 50)  # before stop
        la = tcx_link(a, 10)  # before both
        missing = pb.TCXAttachInfo(iface=veth.peer, direction="ingress", priority=1)
        err = rpc_error(lambda: attach(stub, a, missing))  # the peer is in the other netns
        assert err.code() == C.NOT_FOUND, err.details()
        assert err.details() == f"no network interface named {veth.peer!r}"
        assert tcx.query(veth.host, "ingress").prog_ids == [a, b, stop]
        assert positions(mgr, la, lb, ls) == [0, 1, 2]
        assert veth.send(1, to="host") == 1
        assert cli.counter(a, 0, "net_bss") == 0xABC  # a, then b, then stop
        stub.Detach(pb.DetachRequest(link_id=lb))
        lb = tcx_link(b, 200)  # after stop, whose TCX_PASS ends the chain: b never runs
        assert tcx.query(veth.host, "ingress").prog_ids == [a, stop, b]
        assert positions(mgr, la, ls, lb) == [0, 1, 2]
        assert veth.send(2, to="host") == 2
        assert cli.counter(a, 0, "net_bss") == 0xABCACAC
        assert [cli.counter(a, s) for s in (TCX_A, TCX_B, TCX_STOP)] == [3, 1, 3]
        stub.Detach(pb.DetachRequest(link_id=la))
        assert positions(mgr, ls, lb) == [0, 1]
        unload(stub, b, stop, a)
        assert tcx.query(veth.host, "ingress").prog_ids == []
    assert_empty(cli)


# ---------------------------------------------------------------------- probes


def unlink_tmp(n: int) -> None:
    for _ in range(n):
        fd, path = tempfile.mkstemp()
        os.close(fd)
        os.unlink(path)


def mkdir_tmp(n: int) -> None:
    for _ in range(n):
        os.rmdir(tempfile.mkdtemp())


def counts(cli: Cli, owner: int) -> list[int]:
    """mgr_probes.bpf.c's counters: kp 2, kpret 3, fe 4, fx 5."""
    with bpfman.Map.from_pin(f"{cli.fs}/maps/{owner}/counts") as m:
        return [int.from_bytes(m[i], "little") for i in range(8)]


def only_me() -> dict[str, bytes]:
    return {"target_pid": os.getpid().to_bytes(4, "little")}


@pytest.mark.requires("kprobe")
def test_kprobe_and_kretprobe_count(rpc, mgr, bpf_obj) -> None:
    stub, cli = rpc
    kp, kpret = load(
        stub, bpf_obj("mgr_probes"), ("kp", pb.KPROBE), ("kpret", pb.KPROBE),
        global_data=only_me(),
    )  # fmt: skip
    assert (mgr.program_record(kp).retprobe, mgr.program_record(kpret).retprobe) == (False, True)
    err = rpc_error(lambda: attach(stub, kp, pb.KprobeAttachInfo(fn_name="no_such_fn_xyz")))
    assert err.code() == C.NOT_FOUND and "no_such_fn_xyz" in err.details(), err.details()
    assert cli.db_rows()["links"] == 0
    la = attach(stub, kp, pb.KprobeAttachInfo(fn_name="do_unlinkat"))
    lr = attach(stub, kpret, pb.KprobeAttachInfo(fn_name="do_unlinkat"))
    assert link(mgr, lr)["fn_name"] == "do_unlinkat"
    unlink_tmp(3)
    assert counts(cli, kp)[2:4] == [3, 3]
    stub.Detach(pb.DetachRequest(link_id=la))
    unlink_tmp(2)
    assert counts(cli, kp)[2:4] == [3, 5]  # the kretprobe still fires
    assert links_of(stub, kp) == [] and links_of(stub, kpret) == [lr]
    unload(stub, kpret, kp)  # detaches lr first
    assert_empty(cli)


@pytest.mark.requires("trampolines")
def test_fentry_and_fexit_count(rpc, mgr, bpf_obj) -> None:
    stub, cli = rpc
    obj = bpf_obj("mgr_probes")

    def info(name: str, kind: Any, fn: str) -> pb.LoadInfo:
        field = "fentry_load_info" if kind == pb.FENTRY else "fexit_load_info"
        load_info = pb.FentryLoadInfo if kind == pb.FENTRY else pb.FexitLoadInfo
        return pb.LoadInfo(name=name, program_type=kind,
                           info=pb.ProgSpecificInfo(**{field: load_info(fn_name=fn)}))  # type: ignore[arg-type]  # fmt: skip

    def load_traced(*infos: pb.LoadInfo) -> list[int]:
        req = pb.LoadRequest(bytecode=pb.BytecodeLocation(file=obj), info=infos,
                             global_data=only_me())  # fmt: skip
        return [p.kernel_info.id for p in stub.Load(req).programs]

    err = rpc_error(lambda: load_traced(info("fe", pb.FENTRY, "no_such_fn_xyz")))
    assert err.code() == C.NOT_FOUND and "no_such_fn_xyz" in err.details(), err.details()
    assert_empty(cli)
    # fn_name decides the function, not the section (fentry/do_unlinkat): fe counts mkdirs
    fe, fx = load_traced(info("fe", pb.FENTRY, "do_mkdirat"), info("fx", pb.FEXIT, "do_unlinkat"))
    err = rpc_error(lambda: attach(stub, fe, pb.FexitAttachInfo()))
    assert err.code() == C.INVALID_ARGUMENT and "loaded as fentry" in err.details()
    le = attach(stub, fe, pb.FentryAttachInfo())
    attach(stub, fx, pb.FexitAttachInfo())
    assert link(mgr, le) == {"metadata": {}}  # the API's FentryAttachInfo has nothing else
    mkdir_tmp(2)
    unlink_tmp(3)
    assert counts(cli, fe)[4:6] == [2, 3]
    unload(stub, fx, fe)
    assert_empty(cli)
