"""The daemon (`bpfman serve`) through a client built from the generated stubs, real kernel.

One daemon serves the whole module (a subprocess on a socket in a tmp dir,
with its own runtime dir); every test leaves that runtime dir empty (no pins,
no DB rows). Tests that are about the daemon's own life (idle timeout,
SIGTERM, socket activation, stale sockets) start their own.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import grpc
import pytest

from bpfman import features
from bpfman.kinds import ProgramType
from bpfman.server import bpfman_pb2 as pb
from bpfman.server import bpfman_pb2_grpc as pb_grpc
from support import daemon as daemon_support
from support.cli import BPFMAN
from support.daemon import FAST_RECONNECT, Daemon, load_request, rpc_error
from support.net import TC_INGRESS, TCX_A, XDP_DROP, XDP_PASS, VethPair

C = grpc.StatusCode
daemon, rpc = daemon_support.daemon, daemon_support.rpc  # the module's daemon (pytest fixtures)


def pid_bytes() -> bytes:
    return os.getpid().to_bytes(4, "little")


def tracepoint(tp: str) -> pb.AttachInfo:
    return pb.AttachInfo(tracepoint_attach_info=pb.TracepointAttachInfo(tracepoint=tp))


# ---------------------------------------------------------------------- lifecycle


def test_load_attach_list_get_detach_unload_tracepoint(rpc, bpf_obj) -> None:
    stub, cli = rpc
    obj = bpf_obj("basic")
    loaded = stub.Load(
        load_request(
            obj, ("count_kill", pb.TRACEPOINT), ("count_getppid", pb.TRACEPOINT),
            global_data={"target_pid": pid_bytes()}, metadata={"team": "grpc", "tier": "1"},
        )
    ).programs  # fmt: skip
    assert [p.info.name for p in loaded] == ["count_kill", "count_getppid"]
    owner, sibling = (p.kernel_info.id for p in loaded)
    first = loaded[0]
    assert first.info.bytecode.file == obj
    assert dict(first.info.global_data) == {"target_pid": pid_bytes()}
    assert dict(first.info.metadata) == {"team": "grpc", "tier": "1"}
    assert first.info.map_pin_path == f"{cli.fs}/maps/{owner}"
    assert not first.info.HasField("map_owner_id")
    # one object: its programs share the kernel maps, each pinned in its own map dir
    assert not loaded[1].info.HasField("map_owner_id")
    assert loaded[1].info.map_pin_path == f"{cli.fs}/maps/{sibling}"
    assert list(first.info.map_used_by) == [str(owner)]
    assert first.kernel_info.name == "count_kill"
    assert first.kernel_info.program_type == ProgramType.TRACEPOINT
    assert first.kernel_info.tag and first.kernel_info.bytes_xlated > 0
    assert first.kernel_info.bytes_memlock > 0 and len(first.kernel_info.map_ids) >= 2
    # a second load reusing the first one's maps
    (user,) = stub.Load(
        load_request(obj, ("count_getppid", pb.TRACEPOINT), map_owner_id=owner,
                     global_data={"target_pid": pid_bytes()}, metadata={"team": "other"})
    ).programs  # fmt: skip
    user_id = user.kernel_info.id
    assert user.info.map_owner_id == owner and user.info.map_pin_path == f"{cli.fs}/maps/{owner}"

    kill_link = stub.Attach(
        pb.AttachRequest(id=owner, attach=tracepoint("syscalls/sys_enter_kill"))
    )
    ppid_link = stub.Attach(
        pb.AttachRequest(id=user_id, attach=tracepoint("syscalls/sys_enter_getppid"))
    )
    for _ in range(4):
        os.kill(os.getpid(), 0)
    os.getppid()
    os.getppid()
    assert cli.counter(owner, 0, "counts") == 4  # the global filtered on our pid
    assert cli.counter(owner, 2, "counts") == 2  # the user's program wrote the owner's map

    got = stub.Get(pb.GetRequest(id=owner))
    assert list(got.info.links) == [kill_link.link_id] and got.kernel_info.id == owner
    assert list(stub.Get(pb.GetRequest(id=sibling)).info.links) == []

    def ids(**kw: Any) -> list[int]:
        return [r.kernel_info.id for r in stub.List(pb.ListRequest(**kw)).results]

    ours = sorted([owner, sibling, user_id])
    assert ids(bpfman_programs_only=True) == ours
    assert ids(bpfman_programs_only=True, program_type=ProgramType.TRACEPOINT) == ours
    assert ids(bpfman_programs_only=True, program_type=ProgramType.XDP) == []
    assert ids(match_metadata={"team": "grpc"}) == sorted([owner, sibling])
    assert ids(match_metadata={"team": "grpc", "tier": "1"}) == sorted([owner, sibling])
    assert ids(match_metadata={"team": "other"}) == [user_id]
    assert ids(match_metadata={"team": "nobody"}) == []
    everything = stub.List(pb.ListRequest()).results  # also programs bpfman did not load
    assert set(ours) <= {r.kernel_info.id for r in everything}
    assert all(r.HasField("info") == (r.kernel_info.id in ours) for r in everything)

    assert list(stub.Get(pb.GetRequest(id=owner)).info.map_used_by) == [str(owner), str(user_id)]
    stub.Detach(pb.DetachRequest(link_id=kill_link.link_id))
    os.kill(os.getpid(), 0)
    assert cli.counter(owner, 0, "counts") == 4
    assert list(stub.Get(pb.GetRequest(id=owner)).info.links) == []
    stub.Unload(pb.UnloadRequest(id=user_id))  # detaches ppid_link first
    assert cli.db_rows()["links"] == 0 and ppid_link.link_id
    stub.Unload(pb.UnloadRequest(id=sibling))
    stub.Unload(pb.UnloadRequest(id=owner))


def test_state_shared_with_the_cli(rpc, bpf_obj) -> None:
    stub, cli = rpc
    obj = bpf_obj("basic")
    (by_rpc,) = stub.Load(load_request(obj, ("count_kill", pb.TRACEPOINT))).programs
    by_cli = cli("load", "file", "-p", obj, "--programs", "tracepoint:count_getppid",
                 "-a", "cliapp", "-o", "json").json()[0]  # fmt: skip
    rpc_id, cli_id = by_rpc.kernel_info.id, by_cli["kernel_info"]["id"]
    link = stub.Attach(pb.AttachRequest(id=cli_id, attach=tracepoint("syscalls/sys_enter_getppid")))
    listed = {r["kernel_info"]["id"]: r for r in cli("list", "programs", "-o", "json").json()}
    assert set(listed) == {rpc_id, cli_id}
    assert listed[rpc_id]["info"]["name"] == "count_kill"
    assert listed[cli_id]["info"]["links"] == [link.link_id]
    got = stub.Get(pb.GetRequest(id=cli_id))
    assert got.info.metadata["bpfman_application"] == "cliapp"
    # the CLI's -o json and the daemon's messages are one shape
    assert got.info.name == by_cli["info"]["name"]
    assert got.info.map_pin_path == by_cli["info"]["map_pin_path"]
    assert "syscalls/sys_enter_getppid" in cli("list", "links").out
    cli("detach", str(link.link_id))
    cli("unload", str(rpc_id))
    stub.Unload(pb.UnloadRequest(id=cli_id))
    assert stub.List(pb.ListRequest(bpfman_programs_only=True)).results == []
    assert cli("doctor").rc == 0


# ---------------------------------------------------------------------- xdp, tc, tcx


def test_xdp_tc_tcx_with_real_packets(rpc, bpf_obj) -> None:
    stub, cli = rpc
    programs = [("xdp_pass", pb.XDP), ("xdp_drop", pb.XDP), ("tc_ingress", pb.TC)]
    with_tcx = features.available("tcx")
    if with_tcx:
        programs.append(("tcx_a", pb.TCX))
    loaded = stub.Load(load_request(bpf_obj("net"), *programs)).programs
    ids = {p.info.name: p.kernel_info.id for p in loaded}
    owner = ids["xdp_pass"]
    with VethPair("grpc") as veth:
        xdp = pb.XDPAttachInfo(priority=50, iface=veth.host, metadata={"m": "1"})
        xdp_link = stub.Attach(pb.AttachRequest(id=ids["xdp_pass"], attach=pb.AttachInfo(
            xdp_attach_info=xdp))).link_id  # fmt: skip
        tc = pb.TCAttachInfo(priority=10, iface=veth.host, direction="ingress")
        tc_link = stub.Attach(pb.AttachRequest(id=ids["tc_ingress"], attach=pb.AttachInfo(
            tc_attach_info=tc))).link_id  # fmt: skip
        links = [xdp_link, tc_link]
        if with_tcx:
            tcx = pb.TCXAttachInfo(priority=5, iface=veth.host, direction="ingress")
            links.append(stub.Attach(pb.AttachRequest(id=ids["tcx_a"], attach=pb.AttachInfo(
                tcx_attach_info=tcx))).link_id)  # fmt: skip
        # xdp_drop on the peer end, inside the veth's other network namespace
        drop = pb.XDPAttachInfo(priority=5, iface=veth.peer, netns=veth.netns_path)
        drop_link = stub.Attach(pb.AttachRequest(id=ids["xdp_drop"], attach=pb.AttachInfo(
            xdp_attach_info=drop))).link_id  # fmt: skip
        assert veth.send(5, to="host") == 5
        assert cli.counter(owner, XDP_PASS, "counters") == 5
        assert cli.counter(owner, TC_INGRESS, "counters") == 5
        if with_tcx:
            assert cli.counter(owner, TCX_A, "counters") == 5
        assert veth.send(3, to="peer") == 0
        assert cli.counter(owner, XDP_DROP, "counters") == 3
        link = cli("get", "link", str(xdp_link), "-o", "json").json()["attach"]["xdp_attach_info"]
        assert link["proceed_on"] == [2, 31] and link["metadata"] == {"m": "1"}  # the default
        assert link["iface"] == veth.host and link["position"] == 0

        bad = [
            (pb.TCAttachInfo(priority=10, iface=veth.host, direction="sideways"), "tc",
             "ingress or egress"),
            (pb.TCAttachInfo(priority=0, iface=veth.host, direction="egress"), "tc",
             "must be 1..1000"),
            (pb.TCAttachInfo(priority=1, iface=veth.host, direction="egress", proceed_on=[99]),
             "tc", "not a valid action number"),
            (pb.XDPAttachInfo(priority=1, iface=veth.host), "xdp", "loaded as tc"),
        ]  # fmt: skip
        for info, kind, message in bad:
            attach = pb.AttachInfo(**{f"{kind}_attach_info": info})  # type: ignore[arg-type]
            err = rpc_error(lambda a=attach: stub.Attach(pb.AttachRequest(id=ids["tc_ingress"],
                                                                          attach=a)))  # fmt: skip
            assert err.code() == C.INVALID_ARGUMENT and message in err.details(), err.details()
        for link_id in [*links, drop_link]:
            stub.Detach(pb.DetachRequest(link_id=link_id))
        assert veth.send(2, to="host") == 2 and veth.send(2, to="peer") == 2
        assert cli.counter(owner, XDP_PASS, "counters") == 5
    for prog_id in [i for i in ids.values() if i != owner] + [owner]:
        stub.Unload(pb.UnloadRequest(id=prog_id))


# ---------------------------------------------------------------------- probes


def test_uprobe_and_uretprobe(rpc, bpf_obj) -> None:
    stub, cli = rpc
    loaded = stub.Load(
        load_request(bpf_obj("mgr_probes"), ("up", pb.UPROBE), ("upret", pb.UPROBE))
    ).programs
    up, upret = (p.kernel_info.id for p in loaded)
    assert "uretprobe" in cli("list", "programs").out  # the section made it a return probe
    me = os.getpid()
    a = stub.Attach(pb.AttachRequest(id=up, attach=pb.AttachInfo(uprobe_attach_info=(
        pb.UprobeAttachInfo(target="libc", fn_name="getppid", pid=me)))))  # fmt: skip
    b = stub.Attach(pb.AttachRequest(id=upret, attach=pb.AttachInfo(uprobe_attach_info=(
        pb.UprobeAttachInfo(target="libc", fn_name="getppid", container_pid=me)))))  # fmt: skip
    for _ in range(3):
        os.getppid()
    assert cli.counter(up, 0, "counts") == 3 and cli.counter(up, 1, "counts") >= 3
    got = cli("get", "link", str(a.link_id), "-o", "json").json()["attach"]["uprobe_attach_info"]
    assert got["pid"] == me and got["fn_name"] == "getppid" and got["target"] == "libc"
    stub.Detach(pb.DetachRequest(link_id=a.link_id))
    stub.Detach(pb.DetachRequest(link_id=b.link_id))
    stub.Unload(pb.UnloadRequest(id=upret))
    stub.Unload(pb.UnloadRequest(id=up))


@pytest.mark.kernel_feature
def test_kprobe_attach_or_refusal(rpc, bpf_obj) -> None:
    stub, cli = rpc
    loaded = stub.Load(
        load_request(bpf_obj("mgr_probes"), ("kp", pb.KPROBE), ("kpret", pb.KPROBE))
    ).programs
    kp, kpret = (p.kernel_info.id for p in loaded)

    def kprobe(prog: int, **kw: Any) -> pb.AttachResponse:
        info = pb.AttachInfo(kprobe_attach_info=pb.KprobeAttachInfo(fn_name="do_unlinkat", **kw))
        response: pb.AttachResponse = stub.Attach(pb.AttachRequest(id=prog, attach=info))
        return response

    err = rpc_error(lambda: kprobe(kpret, offset=4))  # the section made it a kretprobe
    assert err.code() == C.INVALID_ARGUMENT and "not allowed for a kretprobe" in err.details()
    if not features.available("kprobe"):
        err = rpc_error(lambda: kprobe(kp))
        assert err.code() == C.FAILED_PRECONDITION
        assert err.details() in features.probe("kprobe").detail
        assert cli.db_rows()["links"] == 0
    else:
        stub.Detach(pb.DetachRequest(link_id=kprobe(kp).link_id))
        stub.Detach(pb.DetachRequest(link_id=kprobe(kpret).link_id))
    stub.Unload(pb.UnloadRequest(id=kpret))
    stub.Unload(pb.UnloadRequest(id=kp))


# ---------------------------------------------------------------------- errors


def test_bad_requests_get_the_fitting_status(rpc, bpf_obj, tmp_path) -> None:
    stub, cli = rpc
    obj = bpf_obj("basic")
    tp = ("count_kill", pb.TRACEPOINT)
    image = pb.BytecodeImage(url="127.0.0.1:1/bpfman-bytecode/xdp_pass:latest")  # refused
    fentry_no_fn = pb.LoadRequest(
        bytecode=pb.BytecodeLocation(file=obj),
        info=[pb.LoadInfo(name="count_kill", program_type=pb.FENTRY)],
    )
    cases = [
        (lambda: stub.Get(pb.GetRequest(id=999999)), C.NOT_FOUND, "no program with id 999999"),
        (lambda: stub.Unload(pb.UnloadRequest(id=999999)), C.NOT_FOUND, "no program with id"),
        (lambda: stub.Detach(pb.DetachRequest(link_id=424242)), C.NOT_FOUND,
         "no link with id 424242"),
        (lambda: stub.Attach(pb.AttachRequest(id=999999, attach=tracepoint("syscalls/x"))),
         C.NOT_FOUND, "no program with id 999999"),
        (lambda: stub.Load(load_request(obj, ("nope", pb.TRACEPOINT))), C.INVALID_ARGUMENT,
         "no program named 'nope'"),
        (lambda: stub.Load(load_request(obj, ("count_kill", 42))), C.INVALID_ARGUMENT,
         "unknown program_type 42"),
        (lambda: stub.Load(load_request(obj, ("count_kill", pb.XDP))), C.INVALID_ARGUMENT,
         "is a tracepoint program"),
        (lambda: stub.Load(load_request(obj, ("", pb.XDP))), C.INVALID_ARGUMENT,
         "empty program name"),
        (lambda: stub.Load(fentry_no_fn), C.INVALID_ARGUMENT, "fentry_load_info.fn_name"),
        (lambda: stub.Load(load_request(obj)), C.INVALID_ARGUMENT, "no programs to load"),
        (lambda: stub.Load(load_request("build/tests/basic.bpf.o", tp)), C.INVALID_ARGUMENT,
         "absolute path"),
        (lambda: stub.Load(pb.LoadRequest(info=[pb.LoadInfo(name="x")])), C.INVALID_ARGUMENT,
         "give a file path or an image"),
        (lambda: stub.Load(load_request(str(tmp_path / "nope.o"), tp)), C.NOT_FOUND,
         "no such file"),
        (lambda: stub.Load(load_request(obj, tp, global_data={"nope": b"\0"})),
         C.INVALID_ARGUMENT, "no such variable"),
        (lambda: stub.Load(load_request(obj, tp, global_data={"target_pid": b"\0"})),
         C.INVALID_ARGUMENT, "expected 4"),
        (lambda: stub.Load(load_request(obj, tp, map_owner_id=999999)), C.NOT_FOUND,
         "no such bpfman program"),
        (lambda: stub.Load(pb.LoadRequest(bytecode=pb.BytecodeLocation(image=image),
                                          info=[pb.LoadInfo(name="xdp_pass")])),
         C.UNAVAILABLE, "127.0.0.1:1"),
        (lambda: stub.PullBytecode(pb.PullBytecodeRequest(image=image)), C.UNAVAILABLE,
         "127.0.0.1:1"),
        (lambda: stub.PullBytecode(pb.PullBytecodeRequest(image=pb.BytecodeImage(url="a b"))),
         C.INVALID_ARGUMENT, "a b"),
    ]  # fmt: skip
    for call, code, message in cases:
        err = rpc_error(call)
        assert (err.code(), message in err.details()) == (code, True), err.details()
    (prog,) = stub.Load(load_request(obj, tp)).programs
    prog_id = prog.kernel_info.id
    for attach, code, message in [
        (None, C.INVALID_ARGUMENT, "no attach info given"),
        (tracepoint("sys_enter_kill"), C.INVALID_ARGUMENT, "exactly one '/'"),
        (tracepoint("syscalls/nope"), C.NOT_FOUND, "no tracepoint syscalls/nope"),
        (pb.AttachInfo(xdp_attach_info=pb.XDPAttachInfo(iface="lo", priority=1)),
         C.INVALID_ARGUMENT, "loaded as tracepoint"),
    ]:  # fmt: skip
        err = rpc_error(lambda a=attach: stub.Attach(pb.AttachRequest(id=prog_id, attach=a)))
        assert (err.code(), message in err.details()) == (code, True), err.details()
    assert cli.db_rows()["links"] == 0
    stub.Unload(pb.UnloadRequest(id=prog_id))


# ---------------------------------------------------------------------- the daemon's life


def test_socket_is_0660_and_a_live_one_is_not_taken(daemon: Daemon, tmp_path) -> None:
    assert stat.S_IMODE(os.stat(daemon.sock).st_mode) == 0o660
    assert stat.S_ISSOCK(os.stat(daemon.sock).st_mode)
    cli = daemon.cli
    r = cli("serve", "--socket", daemon.sock, rc=1)
    assert r.err.strip() == f"Error: another daemon is listening on {daemon.sock}"
    plain = tmp_path / "file"
    plain.write_text("")
    r = cli("serve", "--socket", str(plain), rc=1)
    assert "exists and is not a socket" in r.err and len(r.err.strip().splitlines()) == 1
    assert plain.exists()
    r = cli("serve", "--idle-timeout", "0", rc=2)
    assert "--idle-timeout" in r.err


def test_stale_socket_replaced_idle_timeout_exits(cli, tmp_path) -> None:
    sock = str(tmp_path / "bpfman.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(sock)
    stale.close()  # the file stays, nobody listens
    start = time.monotonic()
    d = Daemon(cli, sock, "--idle-timeout", "1").ready()
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o660
    assert d.stub.List(pb.ListRequest(bpfman_programs_only=True)).results == []
    d.proc.wait(timeout=10)  # no request for 1 s: exits by itself
    assert d.stop() == 0 and time.monotonic() - start >= 1.0
    assert not os.path.exists(sock)


def test_lock_held_elsewhere_then_sigterm_removes_the_socket(cli, bpf_obj, tmp_path) -> None:
    from bpfman.manager.lock import WriterLock

    sock = str(tmp_path / "bpfman.sock")
    d = Daemon(cli, sock, env=dict(cli.env, BPFMAN_LOCK_TIMEOUT="0.3")).ready()
    with WriterLock(f"{cli.runtime}/.lock"):  # as a CLI command in progress would
        err = rpc_error(
            lambda: d.stub.Load(load_request(bpf_obj("basic"), ("count_kill", pb.TRACEPOINT)))
        )
        assert err.code() == C.UNAVAILABLE
        assert (
            err.details()
            == f"another bpfman holds the lock (pid {os.getpid()}): gave up after 0.3s"
        )
    assert d.stub.List(pb.ListRequest(bpfman_programs_only=True)).results == []
    assert cli.pins() == []
    assert d.stop() == 0
    assert not os.path.exists(sock)
    r = cli("--config", str(_write(tmp_path / "bad.toml", "[interfaces.x]\nxdp_mode='turbo'\n")),
            "serve", "--socket", sock, rc=1)  # fmt: skip
    assert "xdp_mode must be drv, skb or hw" in r.err and not os.path.exists(sock)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_shipped_systemd_units(cli, tmp_path) -> None:
    """dist/systemd: systemd accepts the units, the socket is the daemon's default path and
    mode, and `bpfman serve` serves the socket systemd-socket-activate passes it."""
    import configparser

    from bpfman.server import DEFAULT_SOCKET

    units = Path(__file__).resolve().parent.parent / "dist" / "systemd"
    socket_unit = configparser.ConfigParser(interpolation=None)
    socket_unit.read(units / "bpfman.socket")
    assert socket_unit["Socket"]["ListenStream"] == DEFAULT_SOCKET
    assert socket_unit["Socket"]["SocketMode"] == "0660"
    service = (units / "bpfman.service").read_text()
    assert "ExecStart=/usr/local/bin/bpfman serve --idle-timeout 15\n" in service
    (tmp_path / "bpfman.service").write_text(
        service.replace("/usr/local/bin/bpfman", BPFMAN)  # the command as installed here
    )
    (tmp_path / "bpfman.socket").write_text((units / "bpfman.socket").read_text())
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "bpfman.socket"),
         str(tmp_path / "bpfman.service")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert (verify.returncode, verify.stderr) == (0, "")
    sock = str(tmp_path / "activated.sock")
    proc = subprocess.Popen(
        ["systemd-socket-activate", "-l", sock, BPFMAN, "--runtime-dir", cli.runtime, "serve",
         "--socket", str(tmp_path / "unused.sock"), "--idle-timeout", "1"],
        env=cli.env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # systemd-socket-activate listens, then waits for a connection: a busy machine may
        # take a while to start it, so the first call waits for the socket (no fixed sleep)
        with grpc.insecure_channel(f"unix:{sock}", options=FAST_RECONNECT) as channel:
            stub = pb_grpc.BpfmanStub(channel)
            listing = stub.List(
                pb.ListRequest(bpfman_programs_only=True), timeout=30, wait_for_ready=True
            )
            assert listing.results == []
        _, err = proc.communicate(timeout=20)  # the idle timeout ends it
        assert proc.returncode == 0 and "Traceback" not in err, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_socket_activation(cli, tmp_path) -> None:
    """systemd's way: a listening socket as fd 3, LISTEN_PID and LISTEN_FDS set."""
    sock = str(tmp_path / "activated.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock)
    listener.listen()
    unused = str(tmp_path / "unused.sock")
    fd = listener.fileno()
    shell = f'exec 3<&{fd} {fd}<&-; LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"'
    try:
        proc = subprocess.Popen(
            ["bash", "-c", shell, BPFMAN, "--runtime-dir", cli.runtime, "serve",
             "--socket", unused, "--idle-timeout", "1"],
            env=cli.env, pass_fds=(fd,), stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        with grpc.insecure_channel(f"unix:{sock}", options=FAST_RECONNECT) as channel:
            stub = pb_grpc.BpfmanStub(channel)
            assert stub.List(pb.ListRequest(bpfman_programs_only=True), timeout=10).results == []
            err = rpc_error(lambda: stub.Get(pb.GetRequest(id=999999), timeout=10))
            assert err.code() == C.NOT_FOUND
        _, stderr = proc.communicate(timeout=10)
        assert proc.returncode == 0 and "Traceback" not in stderr, stderr
        assert not os.path.exists(unused)  # it served the passed socket only
        assert os.path.exists(sock)  # systemd's socket stays for the next activation
    finally:
        listener.close()
