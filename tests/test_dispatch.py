"""Dispatchers (bpfman.dispatch): config encoding, chain semantics, revisions and swaps.

The config and ordering tests are pure. The kernel tests need extension
programs (freplace): this CI kernel refuses them, so they skip here with the
probe's reason and run in the VM (``make vmtest``, marker ``kernel_feature``).
Chains are checked with PROG_TEST_RUN on the dispatcher; the members
(tests/bpf/dispatch.bpf.c) record the order they ran in (``trail``).
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import Iterator

import pytest

import bpfman
from bpfman.attach import tc as tc_attach
from bpfman.attach import xdp as xdp_attach
from bpfman.dispatch import Hook, Member, Slot, State, apply, config
from bpfman.dispatch.extension import load_extension
from bpfman.link import Link
from support.net import qdiscs, udp_probe

XDP_PASS, XDP_DROP = 2, 1

# ------------------------------------------------------------------ pure


@pytest.mark.pure
def test_xdp_config_is_libxdp_v2() -> None:
    slots = [Slot(1, 10, "a", (2,)), Slot(2, 20, "b", (1, 3))]
    raw = config.encode("xdp", slots)
    assert len(raw) == 124
    assert raw[:4] == bytes([236, 2, 2, 0])
    masks = struct.unpack_from("<10I", raw, 4)
    assert masks[:3] == ((1 << 2) | (1 << 31), (1 << 1) | (1 << 3) | (1 << 31), 0)
    assert struct.unpack_from("<10I", raw, 44)[:3] == (10, 20, 0)
    assert struct.unpack_from("<10I", raw, 84) == (0,) * 10  # program_flags
    back = config.decode("xdp", raw)
    assert (back.magic, back.version, back.num_progs, back.run_prios) == (236, 2, 2, (10, 20))


@pytest.mark.pure
def test_tc_config_shifts_by_one() -> None:
    raw = config.encode("tc", [Slot(1, 5, "a", (-1, 0, 3))])
    assert len(raw) == 84 and raw[0] == 1
    (mask,) = struct.unpack_from("<I", raw, 4)
    assert mask == (1 << 0) | (1 << 1) | (1 << 4) | (1 << 31)  # unspec, ok, pipe, dispatcher_return
    assert config.verdicts_of("tc", mask) == [-1, 0, 3, 30]
    assert config.decode("tc", raw).chain_call_actions == (mask,)


@pytest.mark.pure
def test_default_proceed_on_and_bad_verdicts() -> None:
    assert config.chain_mask("xdp", ()) == (1 << 2) | (1 << 31)  # pass, dispatcher_return
    assert config.chain_mask("tc", ()) == (1 << 4) | (1 << 31)  # pipe, dispatcher_return
    assert config.verdicts_of("xdp", config.chain_mask("xdp", [0, 4])) == [0, 4, 31]
    with pytest.raises(bpfman.BpfError, match="not a xdp verdict"):
        config.chain_mask("xdp", [5])
    with pytest.raises(bpfman.BpfError, match="not a tc verdict"):
        config.chain_mask("tc", [-2])


@pytest.mark.pure
def test_verdict_words_are_the_hooks_return_codes() -> None:
    """The --proceed-on words of each hook are its kernel return codes' names, plus the stub's
    sentinel, which the config always proceeds on."""
    from bpfman.dispatch import verdicts
    from bpfman.kinds import TcAction, XdpAction

    for hook, action in (("xdp", XdpAction), ("tc", TcAction)):
        words = dict(verdicts.VERDICTS[hook])
        assert words.pop("dispatcher_return") == config.DISPATCHER_RETURN[hook]
        assert words == {a.name.lower(): int(a) for a in action if a.name != "NEXT"}
        default = config.DEFAULT_PROCEED_ON[hook]
        assert verdicts.names(hook, list(default)) == list(verdicts.DEFAULT_PROCEED_ON[hook])
    assert config.DISPATCHER_RETURN == {"xdp": 31, "tc": 30}


@pytest.mark.pure
def test_order_priority_then_attached_then_name() -> None:
    slots = [
        Slot(1, 50, "zeta", position=1),
        Slot(2, 50, "alpha", position=2),
        Slot(3, 50, "beta"),  # joining: after the attached ones of its priority
        Slot(4, 10, "late"),
        Slot(5, 50, "aardvark"),
        Slot(6, 90, "first", position=0),
    ]
    assert [s.key for s in config.order(slots)] == [4, 1, 2, 5, 3, 6]


@pytest.mark.pure
def test_one_program_replaces_the_whole_dispatcher_when_verdicts_agree() -> None:
    assert config.replaces_whole_dispatcher("xdp", [Slot(1, 1, "a")])  # default: pass
    assert config.replaces_whole_dispatcher("xdp", [Slot(1, 1, "a", (2, 31))])
    assert not config.replaces_whole_dispatcher("xdp", [Slot(1, 1, "a", (1,))])  # drop -> pass
    assert not config.replaces_whole_dispatcher("xdp", [Slot(1, 1, "a"), Slot(2, 2, "b")])
    assert not config.replaces_whole_dispatcher("tc", [Slot(1, 1, "a")])  # default: pipe -> ok
    assert config.replaces_whole_dispatcher("tc", [Slot(1, 1, "a", (0,))])


@pytest.mark.pure
def test_eleventh_program_is_refused() -> None:
    slots = [Slot(i, i, f"p{i}") for i in range(11)]
    with pytest.raises(bpfman.BpfError, match="at most 10 programs") as e:
        config.encode("xdp", slots)
    assert e.value.errno == errno.E2BIG
    assert len(config.encode("xdp", slots[:10])) == 124


@pytest.mark.pure
def test_doctor_names_dispatcher_leftovers() -> None:
    from bpfman.manager.reconcile import FilterKey, MemberSlot, StoredLink, find_problems
    from bpfman.manager.reconcile import State as Seen

    fs = "/run/bpfman/fs"
    current, stale = f"{fs}/xdp/dispatch-4-100", f"{fs}/xdp/dispatch-4-90"
    st = Seen(
        db_programs={7: "t"},
        prog_pins={7: "t"},
        map_dirs={7},
        db_map_owners={7},
        db_links={1: StoredLink(7, 55, None, False), 2: StoredLink(7, 56, None, False)},
        db_members={
            1: MemberSlot(f"{current}/prog0-link", 55),
            2: MemberSlot(f"{current}/prog1-link", 56),
        },
        member_pins={1: 55, 2: 99},
        revision_dirs={current, stale},
        db_revision_dirs={current},
        xdp_link_pins={f"{fs}/xdp/link-1-4", f"{fs}/xdp/link-1-5"},
        db_xdp_link_pins={f"{fs}/xdp/link-1-4"},
        dispatcher_filters={
            FilterKey("", 4, "ingress", 50, 7): 300,
            FilterKey("", 4, "ingress", 50, 8): 301,
        },
        db_dispatcher_filters={FilterKey("", 4, "ingress", 50, 7)},
    )
    found = [(p.kind, p.link_id or p.path or p.filter) for p in find_problems(st, fs)]
    assert found == [
        ("dispatcher-member-missing", 2),
        ("orphan-dispatcher-filter", FilterKey("", 4, "ingress", 50, 8)),  # before revision dirs
        ("stale-dispatcher-revision", stale),
        ("orphan-dispatcher-link", f"{fs}/xdp/link-1-5"),
    ]


@pytest.mark.pure
def test_doctor_names_a_vanished_dispatcher_filter() -> None:
    from bpfman.manager.reconcile import FilterKey, find_problems
    from bpfman.manager.reconcile import State as Seen

    key = FilterKey("", 4, "ingress", 50, 1)
    st = Seen(db_dispatcher_filters={key}, db_dispatcher_filter_links={key: 3},
              interfaces={("", 4)})  # fmt: skip
    assert [(p.kind, p.link_id) for p in find_problems(st, "/fs")] == [
        ("dispatcher-filter-missing", 3)
    ]
    st.interfaces = set()  # the interface went, and its filters with it: nothing to repair
    assert find_problems(st, "/fs") == []
    st.interfaces, st.dispatcher_filters = {("", 4)}, {key: 77}
    assert find_problems(st, "/fs") == []


# ------------------------------------------------------------------ kernel


@pytest.fixture
def members(bpf_obj) -> Iterator[bpfman.Object]:
    with bpfman.load(bpf_obj("dispatch")) as obj:
        yield obj


def member(obj: bpfman.Object, key: int, name: str, prio: int, proceed_on=(), state=None):
    """A Member running program *name* of the test object (its maps shared)."""
    position = state.positions.get(key) if state else None

    def load(disp: bpfman.Program, stub: str) -> bpfman.Program:
        return load_extension(obj.path, name, disp, stub, share_maps_of=obj.programs[name])

    return Member(Slot(key, prio, name, tuple(proceed_on), position), load)


def run(obj: bpfman.Object, state: State, verdicts: list[int]) -> tuple[int, int]:
    """Set the members' verdicts, run the dispatcher once: (its verdict, trail)."""
    obj.globals["verdicts"] = struct.pack("<6i", *verdicts)
    obj.globals["trail"] = 0
    with bpfman.Program.from_id(state.dispatcher_id) as disp:
        ret = disp.test_run(udp_probe()).retval
    return ret - (1 << 32) if ret >= 1 << 31 else ret, obj.globals["trail"]


def pins(path: str) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(r, n), path) for r, d, f in os.walk(path) for n in d + f
    )


@pytest.mark.requires("freplace")
def test_xdp_proceed_on_matrix_and_priority(members, veth, pin_dir) -> None:
    hook = Hook("xdp", veth.host_index, pin_dir)
    state = None
    for proceed_on in [(XDP_PASS,), (XDP_DROP, 3), (0, 4)]:
        state = apply(
            hook,
            [
                member(members, 1, "xdp_a", 10, proceed_on, state),
                member(members, 2, "xdp_b", 20, (), state),
            ],
            state,
        )
        assert state is not None
        for verdict in range(5):
            ret, trail = run(members, state, [verdict, XDP_PASS, XDP_PASS, 0, 0, 0])
            if verdict in proceed_on:
                assert (ret, trail) == (XDP_PASS, 0x12), (proceed_on, verdict)
            else:
                assert (ret, trail) == (verdict, 0x1), (proceed_on, verdict)
        # a member returning the stub's sentinel always goes on
        assert run(members, state, [31, XDP_DROP, 2, 0, 0, 0]) == (XDP_DROP, 0x12)
    # priority order, whatever the attach order: b (10), c (20), a (30)
    state = apply(
        hook,
        [
            member(members, 1, "xdp_a", 30, (), state),
            member(members, 2, "xdp_b", 10, (), state),
            member(members, 3, "xdp_c", 20, (), state),
        ],
        state,
    )
    assert state is not None and state.positions == {2: 0, 3: 1, 1: 2}
    assert run(members, state, [2, 2, 2, 0, 0, 0]) == (XDP_PASS, 0x231)
    # one program: proceeding on drop, the chain's end turns its drop into pass
    state = apply(hook, [member(members, 1, "xdp_a", 30, (XDP_DROP,), state)], state)
    assert state is not None
    assert run(members, state, [XDP_DROP, 0, 0, 0, 0, 0]) == (XDP_PASS, 0x1)
    assert run(members, state, [3, 0, 0, 0, 0, 0]) == (3, 0x1)
    assert apply(hook, [], state) is None
    assert pins(pin_dir) == []
    assert xdp_attach.query(veth.host_index).prog_id == 0


@pytest.mark.requires("freplace")
def test_xdp_revision_reuses_extensions_and_keeps_the_link(members, veth, pin_dir) -> None:
    hook = Hook("xdp", veth.host_index, pin_dir)
    one = apply(hook, [member(members, 1, "xdp_a", 10)], None)
    assert one is not None and one.mode in ("drv", "skb")
    with Link.from_pin(hook.xdp_link_pin) as link:
        link_id = link.info().id
    assert run(members, one, [XDP_DROP, 0, 0, 0, 0, 0]) == (XDP_DROP, 0x1)  # in place of main
    old_dir = hook.revision_dir(one.dispatcher_id)
    with bpfman.Program.from_pin(f"{old_dir}/prog0-prog") as ext:
        ext_id = ext.info().id
        assert ext.type == bpfman.ProgramType.EXT
    two = apply(
        hook, [member(members, 1, "xdp_a", 10, state=one), member(members, 2, "xdp_b", 5)], one
    )
    assert two is not None and two.dispatcher_id != one.dispatcher_id
    assert two.positions == {2: 0, 1: 1}
    new_dir = hook.revision_dir(two.dispatcher_id)
    assert not os.path.exists(old_dir)
    assert sorted(os.listdir(new_dir)) == ["prog0-link", "prog0-prog", "prog1-link", "prog1-prog"]
    with bpfman.Program.from_pin(f"{new_dir}/prog1-prog") as ext:
        assert ext.info().id == ext_id  # a reattached extension, not a reload
    with Link.from_pin(hook.xdp_link_pin) as link:
        assert link.info().id == link_id and link.info().prog_id == two.dispatcher_id
    assert xdp_attach.query(veth.host_index).prog_id == two.dispatcher_id

    def broken(disp: bpfman.Program, stub: str) -> bpfman.Program:
        raise bpfman.BpfError("cannot load this one")

    bad = Member(Slot(3, 1, "xdp_c"), broken)
    keep = [member(members, 1, "xdp_a", 10, state=two), member(members, 2, "xdp_b", 5, state=two)]
    with pytest.raises(bpfman.BpfError, match="cannot load this one"):
        apply(hook, [*keep, bad], two)
    assert xdp_attach.query(veth.host_index).prog_id == two.dispatcher_id  # untouched
    assert sorted(os.listdir(hook.dir)) == sorted(
        [os.path.basename(new_dir), "link-0-" + str(veth.host_index)]
    )
    too_many = [member(members, k, "xdp_c", 50) for k in range(10, 19)]
    with pytest.raises(bpfman.BpfError, match="at most 10"):
        apply(hook, [*keep, *too_many], two)
    assert run(members, two, [2, 2, 2, 0, 0, 0]) == (XDP_PASS, 0x21)
    assert apply(hook, [], two) is None
    assert pins(pin_dir) == []


@pytest.mark.requires("freplace")
def test_tc_dispatcher_swap_and_qdisc(members, veth, pin_dir) -> None:
    hook = Hook("tc", veth.host_index, pin_dir, direction="ingress")
    assert "clsact" not in qdiscs(veth.host_index)
    one = apply(hook, [member(members, 4, "tc_a", 10, (0,))], None)
    assert one is not None and one.qdisc_created and one.tc_handle
    assert "clsact" in qdiscs(veth.host_index)
    two = apply(
        hook,
        [member(members, 4, "tc_a", 10, (0,), one), member(members, 5, "tc_b", 20, (), one)],
        one,
    )
    assert two is not None and two.qdisc_created and two.tc_handle != one.tc_handle
    assert tc_attach.count_filters(veth.host_index) == 1  # the old revision's filter is gone
    # tc_a proceeds on ok (0) only; tc_b on the default (pipe)
    assert run(members, two, [0, 0, 0, 0, 0, 0]) == (0, 0x45)
    assert run(members, two, [0, 0, 0, 2, 0, 0]) == (2, 0x4)  # shot stops the chain
    assert run(members, two, [0, 0, 0, -1, 0, 0]) == (-1, 0x4)  # so does unspec here
    assert run(members, two, [0, 0, 0, 0, 3, 0]) == (0, 0x45)  # pipe past the last: ok
    assert apply(hook, [], two) is None
    assert "clsact" not in qdiscs(veth.host_index)
    assert pins(pin_dir) == []


@pytest.mark.requires("freplace")
def test_tc_refuses_a_foreign_ingress_qdisc(members, veth, pin_dir) -> None:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        ipr.tc("add", "ingress", veth.host_index, "ffff:")
    try:
        hook = Hook("tc", veth.host_index, pin_dir, direction="ingress")
        with pytest.raises(bpfman.BpfError, match="classic 'ingress' qdisc"):
            apply(hook, [member(members, 4, "tc_a", 10)], None)
        assert qdiscs(veth.host_index).count("ingress") == 1
        assert pins(pin_dir) == []
    finally:
        with IPRoute() as ipr:
            ipr.tc("del", "ingress", veth.host_index, "ffff:")
