"""Manager: xdp, tc and tcx through the CLI, with real packets over a veth pair."""

from __future__ import annotations

import os

import pytest

import bpfman
from bpfman import features, netns
from support.net import TC_EGRESS, TC_INGRESS, XDP_DROP, XDP_PASS, qdiscs


def test_xdp_attach_count_and_one_program_per_hook(cli, bpf_obj, veth) -> None:
    xdp_pass, xdp_drop = cli.load(bpf_obj("net"), "xdp:xdp_pass xdp:xdp_drop").program_ids()
    link = cli("attach", str(xdp_pass), "xdp", "-i", veth.host, "-p", "50", "-o", "json").json()
    info = link["attach"]["xdp_attach_info"]
    assert info["iface"] == veth.host and info["priority"] == 50 and info["position"] == 0
    assert info["proceed_on"] == [2, 31]
    assert veth.send(5, to="host") == 5
    assert cli.counter(xdp_pass, XDP_PASS) == 5
    if not features.available("freplace"):  # no dispatcher: one program per hook
        r = cli("attach", str(xdp_drop), "xdp", "-i", veth.host, "-p", "10", rc=1)
        assert f"already runs bpfman link {link['link_id']}" in r.err
        assert features.dispatcher_unavailable_reason() in r.err
    assert f"{veth.host} pos-0" in cli("list", "links").out
    text = cli("get", "link", str(link["link_id"])).out
    assert "Proceed On:" in text and "pass, dispatcher_return" in text and "Priority:" in text
    cli("detach", str(link["link_id"]))
    assert veth.send(3, to="host") == 3
    assert cli.counter(xdp_pass, XDP_PASS) == 5
    cli("unload", str(xdp_drop))
    cli("unload", str(xdp_pass))


def test_xdp_in_another_netns(cli, bpf_obj, veth) -> None:
    (xdp_drop,) = cli.load(bpf_obj("net"), "xdp:xdp_drop").program_ids()
    r = cli("attach", str(xdp_drop), "xdp", "-i", veth.peer, "-p", "5", rc=1)
    assert veth.peer in r.err  # not in our netns
    r = cli("attach", str(xdp_drop), "xdp", "-i", veth.peer, "-p", "5", "-n", "/run/netns/nope",
            rc=1)  # fmt: skip
    assert "no such network namespace" in r.err
    link = cli(
        "attach", str(xdp_drop), "xdp", "-i", veth.peer, "-p", "5", "-n", veth.netns_path,
        "-o", "json",
    ).json()  # fmt: skip
    assert link["attach"]["xdp_attach_info"]["netns"] == veth.netns_path
    assert veth.send(4, to="peer") == 0
    assert cli.counter(xdp_drop, XDP_DROP) == 4
    ifindex = netns.ifindex(veth.peer, veth.netns_path)
    cli("detach", str(link["link_id"]))
    assert veth.send(2, to="peer") == 2
    cli("unload", str(xdp_drop))
    assert ifindex > 0


def test_tc_ingress_egress_and_qdisc_cleanup(cli, bpf_obj, veth) -> None:
    ing, egr = cli.load(bpf_obj("net"), "tc:tc_ingress tc:tc_egress").program_ids()
    a = cli("attach", str(ing), "tc", "-d", "ingress", "-i", veth.host, "-p", "10",
            "-o", "json").json()  # fmt: skip
    b = cli("attach", str(egr), "tc", "-d", "egress", "-i", veth.host, "-p", "10",
            "--proceed-on", "ok", "-o", "json").json()  # fmt: skip
    assert b["attach"]["tc_attach_info"]["proceed_on"] == [0]
    # get link (the CLI's fast path reads the stored JSON through SQLite) says what attach said
    assert [cli("get", "link", str(x["link_id"]), "-o", "json").json() for x in (a, b)] == [a, b]
    text = cli("get", "link", str(b["link_id"])).out
    assert ["Proceed", "On:", "ok"] in [line.split() for line in text.splitlines()]
    assert "clsact" in qdiscs(veth.host_index)
    assert veth.send(3, to="host") == 3
    assert veth.send(2, to="peer") == 2
    assert cli.counter(ing, TC_INGRESS) == 3
    assert cli.counter(ing, TC_EGRESS) == 2
    assert f"{veth.host} ingress pos-0" in cli("list", "links").out
    r = cli("attach", str(egr), "tc", "-d", "sideways", "-i", veth.host, "-p", "10", rc=1)
    assert "ingress or egress" in r.err
    cli("detach", str(a["link_id"]))
    assert "clsact" in qdiscs(veth.host_index)  # the egress filter still needs it
    cli("detach", str(b["link_id"]))
    assert "clsact" not in qdiscs(veth.host_index)
    assert veth.send(2, to="host") == 2
    assert cli.counter(ing, TC_INGRESS) == 3
    cli("unload", str(egr))
    cli("unload", str(ing))


def test_tc_unload_removes_filters(cli, bpf_obj, veth) -> None:
    (ing,) = cli.load(bpf_obj("net"), "tc:tc_ingress").program_ids()
    cli("attach", str(ing), "tc", "-d", "ingress", "-i", veth.host, "-p", "10")
    assert "clsact" in qdiscs(veth.host_index)
    cli("unload", str(ing))
    assert "clsact" not in qdiscs(veth.host_index)
    assert cli.db_rows()["links"] == 0


@pytest.mark.requires("tcx")
def test_tcx_priority_gives_kernel_order(cli, bpf_obj, veth) -> None:
    a, b, stop = cli.load(bpf_obj("net"), "tcx:tcx_a tcx:tcx_b tcx:tcx_stop").program_ids()
    lb = cli("attach", str(b), "tcx", "-d", "ingress", "-i", veth.host, "-p", "50",
             "-o", "json").json()["link_id"]  # fmt: skip
    ls = cli("attach", str(stop), "tcx", "-d", "ingress", "-i", veth.host, "-p", "100",
             "-o", "json").json()["link_id"]  # fmt: skip
    la = cli("attach", str(a), "tcx", "-d", "ingress", "-i", veth.host, "-p", "10",
             "-o", "json").json()["link_id"]  # fmt: skip
    from bpfman.attach import tcx

    chain = tcx.query(veth.host, "ingress")
    assert chain.prog_ids == [a, b, stop]
    positions = {
        lid: cli("get", "link", str(lid), "-o", "json").json()["attach"]["tcx_attach_info"][
            "position"
        ]
        for lid in (la, lb, ls)
    }
    assert positions == {la: 0, lb: 1, ls: 2}
    assert veth.send(1, to="host") == 1
    with bpfman.Map.from_pin(f"{cli.fs}/maps/{a}/net_bss") as bss:
        assert int.from_bytes(bss[0], "little") == 0xABC  # a, then b, then stop
    cli("detach", str(la))
    assert tcx.query(veth.host, "ingress").prog_ids == [b, stop]
    assert cli("get", "link", str(lb), "-o", "json").json()["attach"]["tcx_attach_info"][
        "position"
    ] == 0
    for prog in (stop, b, a):
        cli("unload", str(prog))
    assert tcx.query(veth.host, "ingress").prog_ids == []
    assert os.path.exists(veth.netns_path)


def test_tc_crash_after_attach_is_repaired(cli, bpf_obj, veth) -> None:
    (ing,) = cli.load(bpf_obj("net"), "tc:tc_ingress").program_ids()
    env = dict(cli.env, BPFMAN_CRASH_AT="attach:after-kernel")
    cli("attach", str(ing), "tc", "-d", "ingress", "-i", veth.host, "-p", "10", env=env, rc=137)
    assert veth.send(2, to="host") == 2
    assert cli.counter(ing, TC_INGRESS) == 2  # the filter outlived the crash
    report = cli("doctor", rc=1).out
    assert "no link records it" in report and f"bpfman program {ing}" in report
    cli("gc")
    assert cli("doctor").out.startswith("ok:")
    assert veth.send(2, to="host") == 2
    assert cli.counter(ing, TC_INGRESS) == 2  # gone
    link = cli("attach", str(ing), "tc", "-d", "ingress", "-i", veth.host, "-p", "10",
               "-o", "json").json()  # fmt: skip
    from bpfman.attach import tc
    from bpfman.manager.reconcile import tc_filters

    # someone deletes the filter behind bpfman's back
    ((_, ifindex, direction, prio, handle),) = [k for k, p in tc_filters("").items() if p == ing]
    assert tc.remove_filter(ifindex, direction, prio, handle)
    report = cli("doctor", rc=1).out
    assert f"link {link['link_id']}: its tc filter is gone" in report
    cli("gc")
    assert cli.db_rows()["links"] == 0
    cli("unload", str(ing))


def test_xdp_mode_from_config(cli, bpf_obj, veth, tmp_path) -> None:
    from bpfman.attach import xdp as xdp_attach

    (xdp_pass,) = cli.load(bpf_obj("net"), "xdp:xdp_pass").program_ids()
    conf = tmp_path / "bpfman.toml"
    conf.write_text(f'[interfaces.{veth.host}]\nxdp_mode = "skb"\n')
    link = cli("--config", str(conf), "attach", str(xdp_pass), "xdp", "-i", veth.host,
               "-p", "5", "-o", "json").json()  # fmt: skip
    assert xdp_attach.query(veth.host).mode == "skb"
    cli("detach", str(link["link_id"]))
    link = cli("attach", str(xdp_pass), "xdp", "-i", veth.host, "-p", "5", "-o", "json").json()
    assert xdp_attach.query(veth.host).mode == "drv"  # the default; veth has native XDP
    cli("detach", str(link["link_id"]))
    conf.write_text(f'[interfaces.{veth.host}]\nxdp_mode = "turbo"\n')
    r = cli("--config", str(conf), "attach", str(xdp_pass), "xdp", "-i", veth.host, "-p", "5",
            rc=1)  # fmt: skip
    assert len(r.err.strip().splitlines()) == 1
    assert "xdp_mode must be drv, skb or hw" in r.err
    assert xdp_attach.query(veth.host).prog_id == 0
    cli("unload", str(xdp_pass))


def test_doctor_leaves_another_managers_tc_dispatcher_alone(cli, veth) -> None:
    """Upstream bpfman's tc dispatcher has our dispatcher's name and priority: only ours (a
    revision dir or a link of ours names it) is bpfman's to repair."""
    from bpfman.dispatch.revision import dispatcher_path
    from bpfman.manager import reconcile
    from bpfman.manager.core import Manager

    with bpfman.load(dispatcher_path("tc")) as obj:
        prog = obj.programs["tc_dispatcher"]
        with prog.attach_tc(veth.host, "ingress", priority=50) as link:
            assert any(p == prog.id for p in reconcile.tc_filters("").values())
            assert cli("doctor").out.startswith("ok:")
            cli("gc")
            with Manager(cli.runtime) as mgr:
                assert reconcile.doctor(mgr) == []
            assert prog.id in reconcile.tc_filters("").values()  # still running
            link.detach()
    assert "clsact" not in qdiscs(veth.host_index)


def test_gc_hands_the_qdisc_on_when_it_forgets_a_tc_link(cli, bpf_obj, veth) -> None:
    (ing,) = cli.load(bpf_obj("net"), "tc:tc_ingress").program_ids()
    (egr,) = cli.load(bpf_obj("net"), "tc:tc_egress").program_ids()
    cli("attach", str(ing), "tc", "-i", veth.host, "-d", "ingress", "-p", "5")  # makes clsact
    cli("attach", str(egr), "tc", "-i", veth.host, "-d", "egress", "-p", "5")
    os.unlink(f"{cli.fs}/prog_{ing}")  # program ing is lost behind bpfman's back
    assert cli("doctor", rc=1).out
    cli("gc")
    assert cli("doctor").out.startswith("ok:")
    assert "clsact" in qdiscs(veth.host_index)  # egress still runs
    assert veth.send(2, to="peer") == 2
    assert cli.counter(egr, TC_EGRESS) == 2
    cli("unload", str(egr))
    assert "clsact" not in qdiscs(veth.host_index)  # the last bpfman tc program took it along
