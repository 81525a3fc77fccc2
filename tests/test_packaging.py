"""The wheel carries what a pip-installed pybpfman needs without clang or grpcio-tools:
the compiled dispatchers and example, the generated gRPC code, the type marker, the
``bpfman`` command."""

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
    # the command is bin/bpfman (script-files), not an entry point whose wrapper imports `re`
    (script,) = [n for n in names if n.endswith(".data/scripts/bpfman")]
    text = zipfile.ZipFile(wheel).read(script).decode()
    assert text.startswith("#!python\n") and "from bpfman.cli.fast import main" in text
    assert "import re" not in text
    assert not any(n.endswith(".dist-info/entry_points.txt") for n in names)
    assert not any(n.startswith(("tests/", "bench/")) for n in names)
