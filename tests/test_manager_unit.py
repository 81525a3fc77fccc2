"""The manager's decisions as plain functions: input parsing, placement, reconciliation."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from bpfman.dispatch import verdicts
from bpfman.errors import InputError
from bpfman.manager import parse, placement, readonly, store, views
from bpfman.manager.models import (
    Attach,
    BpfmanType,
    DispatcherRecord,
    FentryAttach,
    KprobeAttach,
    NetAttach,
    NetHook,
    ProgramRecord,
    ProgramRequest,
    TcFilterRecord,
    TracepointAttach,
    UprobeAttach,
    attach_of,
    attach_params,
)
from bpfman.manager.reconcile import FilterKey, State, StoredLink, find_problems
from bpfman.server import translate

pytestmark = pytest.mark.pure  # no kernel, no root


def test_program_requests() -> None:
    got = parse.program_requests(["tracepoint:a kprobe:b", "fentry:c:do_unlinkat", "uretprobe:d"])
    assert got == [
        ProgramRequest(BpfmanType.TRACEPOINT, "a"),
        ProgramRequest(BpfmanType.KPROBE, "b"),
        ProgramRequest(BpfmanType.FENTRY, "c", attach_fn="do_unlinkat"),
        ProgramRequest(BpfmanType.UPROBE, "d", retprobe=True),
    ]
    assert got[3].type_word == "uretprobe"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("tracepoint", "expected TYPE:NAME"),
        ("tracepoint:", "expected TYPE:NAME"),
        ("socket:x", "unknown type 'socket'"),
        ("fentry:x", "fentry needs the kernel function"),
        ("xdp:x:extra", "only fentry/fexit take an attach function"),
        ("xdp:x xdp:x", "given twice"),
    ],
)
def test_program_requests_errors(entry: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse.program_requests([entry])


def test_global_data() -> None:
    assert parse.global_data(["a=01", "b=ffEE"]) == {"a": b"\x01", "b": b"\xff\xee"}
    for bad, msg in [
        ("a=0x01", "without 0x"),
        ("a=012", "odd number"),
        ("a=zz", "not hex"),
        ("a", "NAME=HEX"),
        ("a=", "empty"),
    ]:
        with pytest.raises(InputError, match=msg):
            parse.global_data([bad])


def test_metadata() -> None:
    assert parse.metadata(["a=1,b=2", "c=x=y"]) == {"a": "1", "b": "2", "c": "x=y"}
    with pytest.raises(InputError, match="KEY=VALUE"):
        parse.metadata(["novalue"])


def test_tracepoint_and_proceed_on() -> None:
    assert parse.tracepoint("syscalls/sys_enter_kill") == ("syscalls", "sys_enter_kill")
    for bad in ("syscalls", "a/b/c", "/x", "x/"):
        with pytest.raises(InputError, match="exactly one"):
            parse.tracepoint(bad)
    assert parse.proceed_on(BpfmanType.XDP, []) == [2, 31]
    assert parse.proceed_on(BpfmanType.TC, []) == [3, 30]
    assert parse.proceed_on(BpfmanType.XDP, ["drop pass", "pass"]) == [1, 2]
    assert parse.proceed_on(BpfmanType.TC, ["unspec", "ok"]) == [-1, 0]
    with pytest.raises(InputError, match="one of"):
        parse.proceed_on(BpfmanType.XDP, ["shot"])
    assert verdicts.names("tc", [3, 30]) == ["pipe", "dispatcher_return"]
    assert verdicts.names("xdp", [2, 7]) == ["pass", "7"]


def test_tcx_placement() -> None:
    assert placement.tcx_insert([], 50) == ("append", None)
    existing = [(1, 10), (2, 50), (3, 50), (4, 100)]
    assert placement.tcx_insert(existing, 5) == ("before", 1)
    assert placement.tcx_insert(existing, 50) == ("before", 4)  # ties: after the older ones
    assert placement.tcx_insert(existing, 60) == ("before", 4)
    assert placement.tcx_insert(existing, 1000) == ("after", 4)
    assert placement.order([(7, 50), (3, 50), (9, 1)]) == [9, 3, 7]


def test_reconcile_finds_each_disagreement() -> None:
    st = State(
        db_programs={1: "aa", 2: "bb", 3: "cc"},
        db_map_owners={1, 2, 3},
        db_links={10: StoredLink(1, 100, "/fs/links/10", True),
                  11: StoredLink(2, 101, "/fs/links/11", True),
                  12: StoredLink(9, 102, "/fs/links/12", True),
                  13: StoredLink(3, None, None, False)},
        prog_pins={1: "aa", 2: "zz", 4: "dd"},
        map_dirs={1, 2, 3, 5},
        link_pins={10: 100, 11: 999, 14: 104},
    )  # fmt: skip
    kinds = {(p.kind, p.subject) for p in find_problems(st, "/fs")}
    assert kinds == {
        ("program-pin-missing", "program 3"),
        ("program-pin-mismatch", "program 2"),
        ("orphan-program-pin", "/fs/prog_4"),
        ("orphan-map-dir", "/fs/maps/5"),
        ("link-pin-mismatch", "link 11"),
        ("link-without-program", "link 12"),
        ("orphan-link-pin", "/fs/links/14"),
    }


def test_reconcile_clean_state_has_no_problems() -> None:
    st = State(
        db_programs={1: "aa"},
        db_map_owners={1},
        db_links={10: StoredLink(1, 100, "/fs/links/10", True)},
        prog_pins={1: "aa"},
        map_dirs={1},
        link_pins={10: 100},
    )
    assert find_problems(st, "/fs") == []


def test_reconcile_tc_filters() -> None:
    key = FilterKey("", 7, "ingress", 49152, 1)
    st = State(
        db_programs={1: "aa"},
        db_map_owners={1},
        db_links={20: StoredLink(1, None, None, False), 21: StoredLink(1, None, None, False)},
        prog_pins={1: "aa"},
        map_dirs={1},
        db_tc_links={20: key, 21: FilterKey("", 7, "egress", 49152, 1)},
        tc_filters={key: 1, FilterKey("/run/netns/x", 3, "ingress", 1, 1): 1},
    )
    kinds = {(p.kind, p.subject) for p in find_problems(st, "/fs")}
    assert kinds == {
        ("orphan-tc-filter", "tc ingress filter 1:0x1 on ifindex 3 in /run/netns/x"),
        ("tc-filter-missing", "link 21"),
    }


def test_store_migrates_an_old_database(tmp_path) -> None:
    import sqlite3
    import threading

    from bpfman.manager import store

    path = str(tmp_path / "db" / "bpfman.db")
    (tmp_path / "db").mkdir()
    old = sqlite3.connect(path)
    old.executescript(store.MIGRATIONS[0] + "; PRAGMA user_version=1;")
    old.execute(
        "INSERT INTO programs (id, name, kind, path, map_pin_path, tag)"
        " VALUES (7, 'count', 2, '/x.o', '/run/bpfman/fs/maps/7', 'abcd')"
    )
    old.commit()
    old.close()
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            store.Store(path).close()
        except BaseException as e:
            errors.append(e)

    openers = [threading.Thread(target=open_store) for _ in range(4)]  # race the migration
    for t in openers:
        t.start()
    for t in openers:
        t.join()
    assert errors == []
    s = store.Store(path)
    try:
        assert s.schema_version == len(store.MIGRATIONS)
        rec = s.program(7)
        assert rec is not None and rec.path == "/x.o" and rec.image_digest is None
    finally:
        s.close()


def test_store_waits_for_a_writer_to_switch_to_wal(tmp_path) -> None:
    """A database in rollback-journal mode (new, or an old bpfman's) with another process
    writing it: the switch to WAL waits for that writer, as every other statement does,
    instead of failing "database is locked" at once (as it did, now and then, when several
    processes first used a runtime dir or opened an old database together)."""
    import sqlite3
    import threading

    from bpfman.manager import store

    path = str(tmp_path / "db" / "bpfman.db")
    (tmp_path / "db").mkdir()
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.executescript(store.MIGRATIONS[0] + "; PRAGMA user_version=1;")
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    other.execute("BEGIN IMMEDIATE")  # writing
    done = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    done.start()
    try:
        s = store.Store(path)
    finally:
        done.join()
        other.close()
    try:
        assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert s.schema_version == len(store.MIGRATIONS)
    finally:
        s.close()


def test_writer_scope_only_exists_under_the_lock(tmp_path) -> None:
    """Mutating helpers take a WriterScope; only a held WriterLock makes one."""
    from bpfman.manager.lock import LockTimeout, WriterLock, WriterScope

    lock = WriterLock(str(tmp_path / ".lock"), timeout=0.1)
    with pytest.raises(RuntimeError, match="needs the writer lock held"):
        WriterScope(lock)
    with lock as scope:
        assert isinstance(scope, WriterScope) and scope.held
        with pytest.raises(LockTimeout), WriterLock(str(tmp_path / ".lock"), timeout=0.1):
            pass  # not re-entrant: code holding a scope passes it on instead
    assert not scope.held


@pytest.mark.kernel_feature
def test_store_on_a_filesystem_without_shared_memory(tmp_path: Path) -> None:
    # make vmtest runs this with $VMTEST_OUT on a 9p share, where mmap(MAP_SHARED) fails and a
    # WAL database would fail "disk I/O error" at its first write: the store falls back to the
    # rollback journal there; on the host (tmpfs) it is WAL
    where = tempfile.mkdtemp(dir=os.environ.get("VMTEST_OUT") or str(tmp_path))
    try:
        shared = store.shared_memory_works(where)
        if os.environ.get("VMTEST_OUT"):
            assert not shared, "the VM's 9p share maps shared memory: this test tests nothing"
        path = os.path.join(where, "db", "bpfman.db")
        first = store.Store(path)
        mode = first.db.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == ("wal" if shared else "delete")
        rec = ProgramRecord(
            id=1, name="p", kind=BpfmanType.XDP, retprobe=False, path="/p.o", image_url=None,
            pull_policy=None, attach_fn=None, map_owner_id=None, map_pin_path="/rt/fs/maps/1",
            tag="00", metadata={"k": "v"},
        )  # fmt: skip
        with first.transaction():
            first.add_program(rec)
        first.close()
        again = store.Store(path)
        assert again.schema_version == len(store.MIGRATIONS)
        back = again.program(1)
        assert back is not None and back.metadata == {"k": "v"}
        again.close()
        assert sorted(os.listdir(os.path.dirname(path)))[0] == "bpfman.db"  # no probe left
    finally:
        shutil.rmtree(where)


# link params as the code of 34a0bcc stored them (its attacher.py), per kind
STORED_PARAMS: list[tuple[BpfmanType, dict[str, object], Attach]] = [
    (
        BpfmanType.TRACEPOINT,
        {"tracepoint": "syscalls/sys_enter_kill"},
        TracepointAttach("syscalls/sys_enter_kill"),
    ),
    (
        BpfmanType.KPROBE,
        {"fn_name": "do_unlinkat", "offset": 0, "container_pid": None},
        KprobeAttach("do_unlinkat"),
    ),
    (
        BpfmanType.UPROBE,
        {"target": "libc", "fn_name": "malloc", "offset": 0, "pid": 42, "container_pid": None},
        UprobeAttach("libc", "malloc", 0, 42),
    ),
    (BpfmanType.FENTRY, {"fn_name": "do_unlinkat"}, FentryAttach("do_unlinkat")),
    (
        BpfmanType.XDP,  # attached directly
        {"iface": "eth0", "priority": 5, "netns": None, "proceed_on": [2], "netns_ino": 7,
         "position": 0},
        NetAttach(NetHook("eth0", None, 7), 5, (2,), 0),
    ),
    (
        BpfmanType.TC,  # attached directly: its filter
        {"iface": "eth0", "priority": 5, "netns": "/run/netns/x", "direction": "ingress",
         "proceed_on": [3], "netns_ino": 7, "ifindex": 2, "tc_priority": 49152,
         "tc_handle": 1, "tc_qdisc_created": True, "position": 0},
        NetAttach(NetHook("eth0", "/run/netns/x", 7, "ingress", 2), 5, (3,), 0,
                  filter=TcFilterRecord(49152, 1, True)),
    ),
    (
        BpfmanType.TCX,
        {"iface": "eth0", "priority": 5, "netns": None, "direction": "egress", "netns_ino": 7,
         "position": 1},
        NetAttach(NetHook("eth0", None, 7, "egress"), 5, None, 1),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "params", "attach"), STORED_PARAMS)
def test_link_params_read_as_typed_records(
    kind: BpfmanType, params: dict[str, object], attach: Attach
) -> None:
    """Each attach kind's stored parameters read back as its record, and written again as
    the same API fields (what `get link` and the read-only path show)."""
    assert attach_of(kind, params) == attach
    assert attach_of(kind, attach_params(attach)) == attach
    assert attach_params(attach) == {k: v for k, v in params.items() if v is not None}


def test_a_dispatcher_member_keeps_its_dispatcher_apart() -> None:
    """A member's dispatcher is its hook's row (store.py), not part of its parameters."""
    disp = DispatcherRecord(99, tc_handle=4, qdisc_created=True)
    member = NetAttach(NetHook("eth0", None, 7, "ingress", 2), 5, (3,), 1, dispatcher=disp)
    params = attach_params(member)
    assert set(params) == {
        "iface", "netns_ino", "direction", "ifindex", "priority", "proceed_on", "position"
    }  # fmt: skip
    assert attach_of(BpfmanType.TC, params, disp) == member


def test_qdisc_ownership_is_handed_on() -> None:
    hook = NetHook("eth0", None, 7, "ingress", 2)
    direct = NetAttach(hook, 5, (3,), 0, filter=TcFilterRecord(49152, 1, False))
    member = NetAttach(hook, 5, (3,), 0, dispatcher=DispatcherRecord(99, tc_handle=4))
    assert not direct.qdisc_created and not member.qdisc_created
    assert direct.owning_qdisc().qdisc_created and member.owning_qdisc().qdisc_created


def test_store_migrates_a_database_of_34a0bcc(tmp_path: Path) -> None:
    """A database 34a0bcc's code wrote (tests/data/make_store_34a0bcc.py: a link of each
    attach kind, dispatcher members of an xdp hook and both tc directions) migrates to the
    dispatchers table: every link reads back with what 34a0bcc showed of it (get link,
    list links, get program's attachments, ProgramInfo), its hook's dispatcher as a row."""
    data = Path(__file__).parent / "data"
    path = tmp_path / "db" / "bpfman.db"
    path.parent.mkdir()
    old = sqlite3.connect(path)
    old.executescript((data / "store-34a0bcc.sql").read_text())
    assert old.execute("PRAGMA user_version").fetchone()[0] == 4
    old.close()
    os.chmod(path, 0o600)
    shown = json.loads((data / "store-34a0bcc.json").read_text())

    st = store.Store(str(path))
    try:
        assert st.schema_version == len(store.MIGRATIONS) == readonly.SCHEMA_VERSION == 5
        eth = 4026531840
        rows = st.db.execute(
            "SELECT kind, netns, netns_ino, ifindex, direction, dispatcher_id, xdp_mode,"
            " tc_handle, qdisc_created FROM dispatchers ORDER BY kind, direction DESC"
        ).fetchall()
        assert [tuple(r) for r in rows] == [
            (int(BpfmanType.XDP), None, eth, 6, "", 900, "skb", 0, 0),
            (int(BpfmanType.TC), None, eth, 7, "ingress", 901, "", 2, 1),
            (int(BpfmanType.TC), None, eth, 7, "egress", 902, "", 3, 0),
        ]
        links = st.links()
        assert len(links) == len(shown["links"]) == 15
        members = {}
        for link in links:
            rec = st.program(link.program_id)
            assert views.link_info_of(link, rec) == shown["links"][str(link.id)]
            if link.net is not None and link.net.dispatcher is not None:
                members[link.id] = link.net.dispatcher
            assert rec is not None
            info = views.program_info(cast(Any, SimpleNamespace(store=st)), rec)
            assert info == shown["programs"][str(rec.id)]
            translate._program_info(info)  # (the gRPC message of the same dict)
        assert members == {
            11: DispatcherRecord(900, xdp_mode="skb"),
            12: DispatcherRecord(900, xdp_mode="skb"),
            13: DispatcherRecord(901, tc_handle=2, qdisc_created=True),
            14: DispatcherRecord(901, tc_handle=2, qdisc_created=True),
            15: DispatcherRecord(902, tc_handle=3),
        }
        left = st.db.execute("SELECT count(*) FROM links WHERE params LIKE '%dispatcher%'")
        assert left.fetchone()[0] == 0  # (the dispatcher's fields live in its row only)
        direct = st.link(9)
        assert direct is not None and direct.net is not None
        assert direct.net.filter == TcFilterRecord(49152, 1, True)

        # the read-only path (the CLI's list/get) reads the new schema the same
        ro = sqlite3.connect(path)
        ro.row_factory = sqlite3.Row
        for link_id, info in shown["links"].items():
            found = readonly.link_result(ro, int(link_id))
            assert found is not None and found[0] == info
        assert readonly.links_table(ro, None) == shown["list_links"]
        for prog_id, attachments in shown["attachments"].items():
            got = readonly.link_attachments(ro, int(prog_id))
            assert {str(k): v for k, v in got.items()} == attachments
        ro.close()

        # a hook's row goes with its last member
        with st.transaction():
            st.delete_link(11)
        assert st.db.execute("SELECT count(*) FROM dispatchers").fetchone()[0] == 3
        with st.transaction():
            st.delete_link(12)
        assert st.db.execute("SELECT count(*) FROM dispatchers").fetchone()[0] == 2
    finally:
        st.close()
