"""The wheel carries what a pip-installed pybpfman needs without clang or grpcio-tools:
the compiled dispatchers and example, the generated gRPC code, the type marker."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_contents(tmp_path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
         "-q", "-w", str(tmp_path)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    import bpfman

    # one source of truth for the version: the wheel's is bpfman.__version__
    (wheel,) = tmp_path.glob(f"pybpfman-{bpfman.__version__}-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "bpfman/data/xdp_dispatcher.bpf.o",
        "bpfman/data/tc_dispatcher.bpf.o",
        "bpfman/data/syscount.bpf.o",
        "bpfman/server/bpfman_pb2.py",
        "bpfman/server/bpfman_pb2_grpc.py",
        "bpfman/server/csi_pb2.py",
        "bpfman/server/csi_pb2_grpc.py",
        "bpfman/py.typed",
    ):
        assert needed in names, needed
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "bpfman = bpfman.cli.main:main" in text
    assert not any(n.startswith(("tests/", "bench/")) for n in names)
