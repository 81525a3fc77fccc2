"""The daemon (``bpfman serve``) as a subprocess in tests, with a client stub.

Also the module-scoped ``daemon`` fixture (one daemon for a test module, on a
socket in a tmp dir, with its own runtime dir) and the ``rpc`` fixture (its
stub and CLI; the test must leave the runtime empty). A test module takes
them as ``daemon, rpc = daemon_support.daemon, daemon_support.rpc``.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from typing import Any, cast

import grpc
import pytest

from bpfman.server import bpfman_pb2 as pb
from bpfman.server import bpfman_pb2_grpc as pb_grpc
from support.cli import BPFMAN, Cli

# the client retries every 20 ms while the daemon starts (gRPC's default backoff is 1 s)
FAST_RECONNECT = [("grpc.initial_reconnect_backoff_ms", 20)]
EMPTY_DB = {"programs": 0, "links": 0, "program_metadata": 0, "program_globals": 0}
# a tracepoint program of basic.bpf.c, as load_request takes programs
KILL = ("count_kill", pb.TRACEPOINT)
GETPPID = ("count_getppid", pb.TRACEPOINT)
# the module daemon's start-up: well under a second here, many seconds in the VM (vm/README.md)
START_TIMEOUT = 60.0


class Daemon:
    """``bpfman --runtime-dir RT serve --socket PATH ...`` as a subprocess, and a client stub."""

    def __init__(self, cli: Cli, sock: str, *args: str, env: dict[str, str] | None = None) -> None:
        self.cli = cli
        self.sock = sock
        self.proc = subprocess.Popen(
            [BPFMAN, "--runtime-dir", cli.runtime, "serve", "--socket", sock, *args],
            env=env or cli.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.channel = grpc.insecure_channel(f"unix:{sock}", options=FAST_RECONNECT)
        self.stub = pb_grpc.BpfmanStub(self.channel)

    def ready(self, timeout: float = 10.0) -> Daemon:
        try:
            grpc.channel_ready_future(self.channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            self.proc.kill()
            raise AssertionError(f"daemon not ready: {self.proc.communicate()[1]}") from None
        return self

    def stop(self) -> int:
        """SIGTERM (unless it exited), then the exit code; it must not have printed a traceback."""
        self.channel.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=15)
        assert "Traceback" not in err, err
        return self.proc.returncode


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    cli = Cli()
    sock = str(tmp_path_factory.mktemp("grpc") / "sock" / "bpfman.sock")  # parent made by serve
    d = Daemon(cli, sock).ready(START_TIMEOUT)
    try:
        yield d
    finally:
        rc = d.stop()
        cli.cleanup()
    assert rc == 0 and not os.path.exists(sock)


@pytest.fixture
def rpc(daemon: Daemon) -> Iterator[tuple[pb_grpc.BpfmanStub, Cli]]:
    """The module's daemon stub and its runtime's CLI; the test must leave the runtime empty."""
    cli = daemon.cli
    yield daemon.stub, cli
    assert daemon.proc.poll() is None, daemon.proc.stderr.read()  # type: ignore[union-attr]
    left = cli.pins(), cli.db_rows()
    if left != ([], EMPTY_DB):  # clean up for the next tests, then fail this one
        from bpfman.manager.core import Manager

        with Manager(cli.runtime) as mgr:
            for rec in sorted(mgr.programs(), key=lambda r: r.map_owner_id is None):
                mgr.unload(rec.id)
    assert left == ([], EMPTY_DB)


class RpcFailure:
    """A failed call's status, as grpc gives it (``code()``, ``details()``: always a str)."""

    def __init__(self, err: grpc.RpcError) -> None:
        self._call = cast(grpc.Call, err)  # what grpc raises is both

    def code(self) -> grpc.StatusCode:
        return self._call.code()

    def details(self) -> str:
        return self._call.details() or ""


def rpc_error(call: Callable[..., Any], *args: Any) -> RpcFailure:
    """The status of ``call(*args)``, which must fail, with a one-line message."""
    with pytest.raises(grpc.RpcError) as info:
        call(*args)
    err = RpcFailure(info.value)
    assert len(err.details().splitlines()) == 1, err.details()
    return err


def load_request(path: str, *programs: tuple[str, Any], **kw: Any) -> pb.LoadRequest:
    """A LoadRequest of *programs* (``(name, BpfmanProgramType)``) of the object at *path*,
    with any other LoadRequest fields in *kw*."""
    return pb.LoadRequest(
        bytecode=pb.BytecodeLocation(file=path),
        info=[pb.LoadInfo(name=n, program_type=t) for n, t in programs],
        **kw,
    )


def load(
    stub: pb_grpc.BpfmanStub, path: str, *programs: tuple[str, Any], **kw: Any
) -> list[int]:
    """Load *programs* of one object through the daemon (the first owns the maps); their ids."""
    return [p.kernel_info.id for p in stub.Load(load_request(path, *programs, **kw)).programs]
