"""Generate the daemon's Python code from the protos under ``proto/`` (``make proto``).

``python proto/generate.py [OUT]`` writes, under ``OUT/bpfman/server/``:
``bpfman_pb2.py``, ``bpfman_pb2.pyi`` and ``bpfman_pb2_grpc.py`` from
``proto/bpfman/v1/bpfman.proto`` (bpfman's API), and ``csi_pb2.py``,
``csi_pb2.pyi`` and ``csi_pb2_grpc.py`` from ``proto/csi/v1/csi.proto``
(the CSI spec's, vendored unchanged: proto/csi/README.md). OUT defaults to
``src``: the committed copies. Each proto is mapped to ``bpfman/server/`` so
the generated gRPC modules import ``bpfman.server.<name>_pb2``.
tests/test_grpc_proto.py regenerates into a temporary directory and checks
the committed files match.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTOS = (
    ROOT / "proto" / "bpfman" / "v1" / "bpfman.proto",
    ROOT / "proto" / "csi" / "v1" / "csi.proto",
)
PACKAGE_DIR = "bpfman/server"  # where the generated modules live, under OUT
SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def outputs() -> list[str]:
    """The names of every generated file (in bpfman/server/)."""
    return sorted(p.stem + s for p in PROTOS for s in SUFFIXES)


def generate(out: Path) -> list[Path]:
    """Run grpcio-tools' protoc into *out*; returns the files written."""
    from importlib.resources import files

    from grpc_tools import protoc

    well_known = str(files("grpc_tools") / "_proto")  # google/protobuf/*.proto (csi imports them)
    out.mkdir(parents=True, exist_ok=True)
    for proto in PROTOS:
        args = [
            "protoc",
            f"-I{PACKAGE_DIR}={proto.parent}",
            f"-I{well_known}",
            f"--python_out={out}",
            f"--pyi_out={out}",
            f"--grpc_python_out={out}",
            str(proto),
        ]
        if protoc.main(args) != 0:
            raise SystemExit(f"protoc failed on {proto}")
    return [out / PACKAGE_DIR / name for name in outputs()]


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "src"
    for path in generate(out):
        print(path.relative_to(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
