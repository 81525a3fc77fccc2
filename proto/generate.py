"""Generate the daemon's Python code from ``proto/bpfman/v1/bpfman.proto`` (``make proto``).

``python proto/generate.py [OUT]`` writes ``OUT/bpfman/server/bpfman_pb2.py``,
``bpfman_pb2.pyi`` and ``bpfman_pb2_grpc.py`` (OUT defaults to ``src``: the
committed copies). The proto is mapped to ``bpfman/server/`` so the generated
gRPC module imports ``bpfman.server.bpfman_pb2``. tests/test_grpc_proto.py
regenerates into a temporary directory and checks the committed files match.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto" / "bpfman" / "v1" / "bpfman.proto"
PACKAGE_DIR = "bpfman/server"  # where the generated modules live, under OUT
OUTPUTS = ("bpfman_pb2.py", "bpfman_pb2.pyi", "bpfman_pb2_grpc.py")


def generate(out: Path) -> list[Path]:
    """Run grpcio-tools' protoc into *out*; returns the files written."""
    from grpc_tools import protoc

    out.mkdir(parents=True, exist_ok=True)
    args = [
        "protoc",
        f"-I{PACKAGE_DIR}={PROTO.parent}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        str(PROTO),
    ]
    if protoc.main(args) != 0:
        raise SystemExit(f"protoc failed on {PROTO}")
    return [out / PACKAGE_DIR / name for name in OUTPUTS]


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "src"
    for path in generate(out):
        print(path.relative_to(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
