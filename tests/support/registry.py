"""A real OCI registry for tests: Debian's docker-registry (distribution 2.8) on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

REGISTRY_BIN = "/usr/bin/docker-registry"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalRegistry:
    """``docker-registry serve`` on 127.0.0.1:<free port>, storage in a temp dir."""

    def __init__(self, htpasswd: str | None = None) -> None:
        assert os.path.exists(REGISTRY_BIN), (
            f"{REGISTRY_BIN} is missing: scripts/setup.sh installs Debian's docker-registry"
        )
        self.dir = Path(tempfile.mkdtemp(prefix="pybpfman-registry-"))
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        auth = ""
        if htpasswd:
            (self.dir / "htpasswd").write_text(htpasswd)
            auth = f"auth:\n  htpasswd:\n    realm: test\n    path: {self.dir / 'htpasswd'}\n"
        (self.dir / "config.yml").write_text(
            "version: 0.1\n"
            "log:\n  level: error\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.dir / 'data'}\n"
            f"http:\n  addr: {self.host}\n" + auth
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [REGISTRY_BIN, "serve", str(self.dir / "config.yml")],
            stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "log", "ab"),  # noqa: SIM115 - the child keeps it
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://{self.host}/v2/", timeout=1)
                return
            except httpx.TransportError:
                assert self.proc.poll() is None, (self.dir / "log").read_text()
                time.sleep(0.05)
        raise AssertionError(f"registry did not start: {(self.dir / 'log').read_text()}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, name: str) -> str:
        return f"{self.host}/{name}"
