"""The daemon (``bpfman serve``) as a subprocess in tests, with a client stub."""

from __future__ import annotations

import signal
import subprocess

import grpc

from bpfman.server import bpfman_pb2_grpc as pb_grpc
from clitool import BPFMAN, Cli

# the client retries every 20 ms while the daemon starts (gRPC's default backoff is 1 s)
FAST_RECONNECT = [("grpc.initial_reconnect_backoff_ms", 20)]


class Daemon:
    """``bpfman --runtime-dir RT serve --socket PATH ...`` as a subprocess, and a client stub."""

    def __init__(self, cli: Cli, sock: str, *args: str, env: dict[str, str] | None = None) -> None:
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
