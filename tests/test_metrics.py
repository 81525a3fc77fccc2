"""Prometheus metrics (``bpfman serve --metrics``, ``bpfman metrics``), scraped over HTTP.

Kernel run counts are driven with PROG_TEST_RUN on a loaded, unattached xdp
program (nobody else runs it), so the count grows by exactly the repeats.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import bpfman
from bpfman.manager.errors import InputError
from bpfman.server import bpfman_pb2 as pb
from bpfman.server.metrics import ProgramStats, Snapshot, families, parse_address
from support.cli import BPFMAN, Cli
from support.daemon import START_TIMEOUT, Daemon
from support.registry import free_port

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(address: str, timeout: float = 10.0) -> Samples:
    """Every sample on http://ADDRESS/metrics, keyed by (name, labels); waits for the server."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            text = httpx.get(f"http://{address}/metrics", timeout=5).text
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    out: Samples = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: Samples, metric: str, /, **labels: str) -> float | None:
    return samples.get((metric, frozenset(labels.items())))


def named(samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: v for (n, labels), v in samples.items() if n == name}


def stats_fds(pid: int) -> int:
    """How many BPF_ENABLE_STATS fds (anon_inode:bpf-stats) the process *pid* holds."""
    fds = Path(f"/proc/{pid}/fd")
    return sum(1 for fd in fds.iterdir() if os.readlink(fd) == "anon_inode:bpf-stats")


@pytest.fixture
def metrics_daemon(tmp_path) -> Iterator[tuple[Daemon, str]]:
    cli = Cli()
    address = f"127.0.0.1:{free_port()}"
    d = Daemon(cli, str(tmp_path / "bpfman.sock"), "--metrics", address).ready(START_TIMEOUT)
    try:
        yield d, address
    finally:
        rc = d.stop()
        cli.cleanup()
    assert rc == 0


def test_serve_metrics_runs_counts_and_requests(metrics_daemon, bpf_obj) -> None:
    d, address = metrics_daemon
    stub = d.stub
    xdp = stub.Load(
        pb.LoadRequest(
            bytecode=pb.BytecodeLocation(file=bpf_obj("net")),
            info=[pb.LoadInfo(name="xdp_pass", program_type=pb.XDP)],
        )
    ).programs[0]
    tp = stub.Load(
        pb.LoadRequest(
            bytecode=pb.BytecodeLocation(file=bpf_obj("basic")),
            info=[pb.LoadInfo(name="count_kill", program_type=pb.TRACEPOINT)],
            global_data={"target_pid": (0).to_bytes(4, "little")},
        )
    ).programs[0]
    xdp_id, tp_id = xdp.kernel_info.id, tp.kernel_info.id
    assert stats_fds(d.proc.pid) == 1  # BPF statistics on while the exporter runs
    attach = pb.AttachInfo(
        tracepoint_attach_info=pb.TracepointAttachInfo(tracepoint="syscalls/sys_enter_kill")
    )
    link_id = stub.Attach(pb.AttachRequest(id=tp_id, attach=attach)).link_id
    with pytest.raises(grpc.RpcError):
        stub.Unload(pb.UnloadRequest(id=0xFFFFFFF0))  # NOT_FOUND, counted as such
    try:
        xdp_labels = {"id": str(xdp_id), "name": "xdp_pass", "type": "xdp"}
        before = scrape(address)
        runs0 = value(before, "bpfman_program_run_count_total", **xdp_labels)
        assert runs0 is not None, named(before, "bpfman_program_run_count_total")
        with bpfman.Program.from_id(xdp_id) as prog:
            assert prog.test_run(b"\0" * 64, repeat=25).retval == 2  # XDP_PASS
        after = scrape(address)
        assert value(after, "bpfman_program_run_count_total", **xdp_labels) == runs0 + 25
        assert (value(after, "bpfman_program_run_time_seconds_total", **xdp_labels) or 0) > 0
        tp_labels = {"id": str(tp_id), "name": "count_kill", "type": "tracepoint"}
        assert value(after, "bpfman_program_run_count_total", **tp_labels) is not None

        assert named(after, "bpfman_programs") == {
            frozenset({("type", "xdp")}): 1,
            frozenset({("type", "tracepoint")}): 1,
        }
        assert named(after, "bpfman_links") == {frozenset({("type", "tracepoint")}): 1}
        maps = {dict(labels)["type"]: n for labels, n in named(after, "bpfman_maps").items()}
        assert maps.get("array", 0) >= 1 and sum(maps.values()) >= 2, maps

        assert value(after, "bpfman_rpc_requests_total", rpc="Load", code="OK") == 2
        assert value(after, "bpfman_rpc_requests_total", rpc="Attach", code="OK") == 1
        assert value(after, "bpfman_rpc_requests_total", rpc="Unload", code="NOT_FOUND") == 1
        assert value(after, "bpfman_rpc_duration_seconds_count", rpc="Load") == 2
        assert (value(after, "bpfman_rpc_duration_seconds_sum", rpc="Load") or 0) > 0
    finally:
        stub.Detach(pb.DetachRequest(link_id=link_id))
        stub.Unload(pb.UnloadRequest(id=tp_id))
        stub.Unload(pb.UnloadRequest(id=xdp_id))
    gone = scrape(address)
    assert named(gone, "bpfman_programs") == {} and named(gone, "bpfman_links") == {}
    assert named(gone, "bpfman_program_run_count_total") == {}
    assert value(gone, "bpfman_rpc_requests_total", rpc="Unload", code="OK") == 2


def test_standalone_metrics_command(bpf_obj) -> None:
    """``bpfman metrics HOST:PORT`` beside CLI use; bad address exit 2, busy port exit 1."""
    cli = Cli()
    address = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen(
        [BPFMAN, "--runtime-dir", cli.runtime, "--log", "info", "metrics", address],
        env=cli.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    prog_id = None
    try:
        out = cli("load", "file", "--path", bpf_obj("net"), "--programs", "xdp:xdp_pass", "-o",
                  "json").json()  # fmt: skip
        prog_id = out[0]["kernel_info"]["id"]
        labels = {"id": str(prog_id), "name": "xdp_pass", "type": "xdp"}
        runs0 = value(scrape(address), "bpfman_program_run_count_total", **labels)
        assert runs0 is not None
        with bpfman.Program.from_id(prog_id) as prog:
            prog.test_run(b"\0" * 64, repeat=3)
        samples = scrape(address)
        assert value(samples, "bpfman_program_run_count_total", **labels) == runs0 + 3
        # the count grows because the exporter holds BPF_ENABLE_STATS (whoever else may too)
        assert stats_fds(proc.pid) == 1
        assert named(samples, "bpfman_programs") == {frozenset({("type", "xdp")}): 1}
        assert named(samples, "bpfman_rpc_requests_total") == {}  # no daemon, no requests

        assert value(samples, "bpfman_state_readable") == 1
        db = f"{cli.runtime}/db/bpfman.db"
        os.rename(db, db + ".saved")
        try:
            with open(db, "wb") as f:
                f.write(b"not a database" * 100)
            broken = scrape(address)
            assert value(broken, "bpfman_state_readable") == 0
            assert named(broken, "bpfman_programs") == {}
        finally:
            os.replace(db + ".saved", db)
        assert value(scrape(address), "bpfman_state_readable") == 1

        busy = cli("metrics", address, rc=1)
        assert (
            busy.err.strip() == f"Error: cannot serve metrics on {address}: Address already in use"
        )
        bad = cli("metrics", "localhost", rc=1)
        assert "expected HOST:PORT" in bad.err and "Traceback" not in bad.err
    finally:
        if prog_id is not None:
            cli("unload", str(prog_id))
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
        cli.cleanup()
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert "metrics: cannot read bpfman's state: " in err  # one line for the broken scrape


def test_serve_refuses_a_bad_metrics_address(tmp_path) -> None:
    cli = Cli()
    try:
        res = cli("serve", "--socket", str(tmp_path / "s.sock"), "--metrics", "x:99999", rc=1)
        assert (
            res.err.strip() == "Error: metrics address 'x:99999': expected HOST:PORT (port 1-65535)"
        )
        assert not (tmp_path / "s.sock").exists()
    finally:
        cli.cleanup()


# ---------------------------------------------------------------------- pure


def test_parse_address() -> None:
    assert parse_address("0.0.0.0:9100") == ("0.0.0.0", 9100)
    assert parse_address("[::1]:9100") == ("::1", 9100)
    for bad in ("9100", ":9100", "host:", "host:0", "host:http", "host:70000"):
        with pytest.raises(InputError, match="expected HOST:PORT"):
            parse_address(bad)


def test_families_from_a_snapshot() -> None:
    snap = Snapshot(
        programs=[
            ProgramStats(7, "a", "xdp", 10, 2_000_000_000),
            ProgramStats(8, "b", "xdp", 0, 0),
        ],
        link_types=["xdp", "tracepoint", "xdp"],
        map_types={1: "hash", 2: "hash", 3: "ringbuf"},
    )
    got = {f.name: [(s.labels, s.value) for s in f.samples] for f in families(snap)}
    assert got["bpfman_program_run_count"][0] == (
        {"id": "7", "name": "a", "type": "xdp"}, 10
    )  # fmt: skip
    assert got["bpfman_program_run_time_seconds"][0][1] == 2.0
    assert got["bpfman_programs"] == [({"type": "xdp"}, 2)]
    assert got["bpfman_state_readable"] == [({}, 1)]
    unreadable = {f.name: f.samples for f in families(Snapshot(readable=False))}
    assert unreadable["bpfman_state_readable"][0].value == 0
    assert all(not v for k, v in unreadable.items() if k != "bpfman_state_readable")
    assert got["bpfman_links"] == [({"type": "tracepoint"}, 1), ({"type": "xdp"}, 2)]
    assert got["bpfman_maps"] == [({"type": "hash"}, 2), ({"type": "ringbuf"}, 1)]
