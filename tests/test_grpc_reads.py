"""The daemon's List and Get (bpfman.server.reads): kept answers are never stale, readers
never wait for a writer, and reading while programs come and go never fails.

Speed is bench/bench_daemon.py's business; these tests check behaviour only.
"""

from __future__ import annotations

import json
import sqlite3
import threading

import grpc
import pytest
from google.protobuf import json_format

import bpfman
from bpfman.manager.lock import WriterLock
from bpfman.manager.paths import Paths
from bpfman.server import bpfman_pb2 as pb
from bpfman.server import translate
from support import daemon as daemon_support
from support.daemon import GETPPID, load

daemon, rpc = daemon_support.daemon, daemon_support.rpc  # the module's daemon (pytest fixtures)

TRACEPOINT = pb.AttachInfo(
    tracepoint_attach_info=pb.TracepointAttachInfo(tracepoint="syscalls/sys_enter_getppid")
)
DEADLINE = 10.0  # s: a reader waiting for the writer below would wait for its 60 s


def listed(stub, **kw) -> dict[int, pb.ListResponse.ListResult]:
    return {r.kernel_info.id: r for r in stub.List(pb.ListRequest(**kw)).results}


def test_answers_follow_every_change(rpc, bpf_obj) -> None:
    """What the daemon keeps is dropped by any commit (its own, a CLI process's) and by the
    kernel's programs coming and going."""
    stub, cli = rpc
    obj = bpf_obj("basic")
    before = listed(stub, bpfman_programs_only=True)
    assert before == {}
    (ours,) = load(stub, obj, GETPPID)
    assert set(listed(stub, bpfman_programs_only=True)) == {ours}
    assert stub.Get(pb.GetRequest(id=ours)).info.links == []

    # another process's writes: a CLI load, attach and metadata
    theirs = cli(
        "load", "file", "-p", obj, "--programs", "tracepoint:count_getppid", "-m", "k=v",
        "-o", "json",
    ).json()[0]["kernel_info"]["id"]  # fmt: skip
    assert set(listed(stub, bpfman_programs_only=True)) == {ours, theirs}
    assert dict(stub.Get(pb.GetRequest(id=theirs)).info.metadata) == {"k": "v"}
    link = cli("attach", str(ours), "tracepoint", "-t", "syscalls/sys_enter_getppid",
               "-o", "json").json()["link_id"]  # fmt: skip
    assert list(stub.Get(pb.GetRequest(id=ours)).info.links) == [link]
    assert list(listed(stub, bpfman_programs_only=True)[ours].info.links) == [link]
    cli("detach", str(link))
    assert list(stub.Get(pb.GetRequest(id=ours)).info.links) == []

    # the kernel's programs: one loaded and closed by the library, not by bpfman
    with bpfman.load(obj) as other:
        foreign = other.programs["count_kill"].id
        everything = listed(stub)
        assert foreign in everything and not everything[foreign].HasField("info")
        assert stub.Get(pb.GetRequest(id=foreign)).kernel_info.name == "count_kill"
    assert foreign not in listed(stub)
    with pytest.raises(grpc.RpcError) as err:
        stub.Get(pb.GetRequest(id=foreign))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND

    cli("unload", str(theirs))
    assert set(listed(stub, bpfman_programs_only=True)) == {ours}
    with pytest.raises(grpc.RpcError) as err:
        stub.Get(pb.GetRequest(id=theirs))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    stub.Unload(pb.UnloadRequest(id=ours))
    assert listed(stub, bpfman_programs_only=True) == {}


def test_readers_do_not_wait_for_a_writer(rpc, bpf_obj) -> None:
    """While another process holds the writer lock and a write transaction on the store (a
    write in progress), List and Get answer through the daemon and the CLI alike, with
    what was committed; the held write is invisible until it commits."""
    stub, cli = rpc
    (prog,) = load(stub, bpf_obj("basic"), GETPPID)
    paths = Paths(cli.runtime)
    db = sqlite3.connect(paths.db, isolation_level=None)
    try:
        with WriterLock(paths.lock, timeout=5):
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM links")  # not committed: nobody sees it
            db.execute("DELETE FROM programs WHERE id = ?", (prog,))
            assert prog in listed(stub, bpfman_programs_only=True)
            got = stub.Get(pb.GetRequest(id=prog), timeout=DEADLINE)
            assert got.info.name == "count_getppid"
            env = dict(cli.env, BPFMAN_LOCK_TIMEOUT="60")
            assert f" {prog} " in cli("list", "programs", env=env).out  # the fast path
            assert cli("get", "program", str(prog), "-o", "json", env=env).json()["info"]
            by_click = cli("list", "programs", "--program-type", "tracepoint", env=env).out
            assert f" {prog} " in by_click  # a filter: the click path, with its Manager
            db.execute("ROLLBACK")
    finally:
        db.close()
    stub.Unload(pb.UnloadRequest(id=prog))


def test_list_and_get_while_programs_come_and_go(rpc, bpf_obj) -> None:
    """Readers on several threads while a writer loads, attaches, detaches and unloads:
    every List answers, every Get answers or says NOT_FOUND (an unloaded program), and a
    listed bpfman program always has its info."""
    stub, _ = rpc
    obj = bpf_obj("basic")
    stop = threading.Event()
    failures: list[str] = []
    seen: set[int] = set()

    def reader() -> None:
        while not stop.is_set():
            try:
                for prog_id, result in listed(stub, bpfman_programs_only=True).items():
                    seen.add(prog_id)
                    assert result.HasField("info") and result.info.name == "count_getppid"
                for prog_id in list(seen)[-5:]:
                    try:
                        stub.Get(pb.GetRequest(id=prog_id))
                    except grpc.RpcError as e:
                        if e.code() != grpc.StatusCode.NOT_FOUND:
                            raise
            except Exception as e:  # collected: the test fails below with it
                failures.append(repr(e))
                return

    readers = [threading.Thread(target=reader) for _ in range(4)]
    for t in readers:
        t.start()
    try:
        for _ in range(6):
            (prog,) = load(stub, obj, GETPPID)
            link = stub.Attach(pb.AttachRequest(id=prog, attach=TRACEPOINT)).link_id
            stub.Detach(pb.DetachRequest(link_id=link))
            stub.Unload(pb.UnloadRequest(id=prog))
    finally:
        stop.set()
        for t in readers:
            t.join(timeout=60)
    assert failures == []
    assert seen  # the readers did see programs come and go


def test_messages_are_json_formats(rpc, bpf_obj, tmp_path) -> None:
    """The messages built field by field equal protobuf's JSON mapping of the same dicts
    (file and image bytecode, globals, a map owner, a program that is not bpfman's)."""
    stub, cli = rpc
    owner = cli(
        "load", "file", "-p", bpf_obj("basic"), "--programs", "tracepoint:count_kill",
        "-g", "target_pid=01000000", "-m", "a=b", "-o", "json",
    ).json()[0]  # fmt: skip
    owner_id = owner["kernel_info"]["id"]
    user = cli(
        "load", "file", "-p", bpf_obj("basic"), "--programs", "tracepoint:count_getppid",
        "--map-owner-id", str(owner_id), "-o", "json",
    ).json()[0]  # fmt: skip
    try:
        image = json.loads(json.dumps(owner))
        image["info"]["bytecode"] = {"image": {"url": "quay.io/x/y:1", "image_pull_policy": 2}}
        foreign = {"kernel_info": owner["kernel_info"]}
        for result in (owner, user, image, foreign):
            expected = json_format.ParseDict(result, pb.GetResponse())
            assert translate.get_response(result) == expected
            listed_one = json_format.ParseDict(result, pb.ListResponse.ListResult())
            assert translate.list_result(result) == listed_one
        got = stub.Get(pb.GetRequest(id=owner_id))
        assert got.info.global_data["target_pid"] == bytes.fromhex("01000000")
        assert got.info.map_used_by == [str(owner_id), str(user["kernel_info"]["id"])]
    finally:
        cli("unload", str(user["kernel_info"]["id"]))
        cli("unload", str(owner_id))
