"""malloc_bytes: bytes malloc() gave a command (uprobe + uretprobe on libc's malloc).

    sudo python3 examples/malloc_bytes.py -- COMMAND [ARGS...]

Runs COMMAND and prints how many bytes its malloc() calls returned.
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import bpfman

OBJ = Path(__file__).with_name("malloc_bytes.bpf.o")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", nargs="+")
    args = ap.parse_args()

    with bpfman.load(OBJ) as obj:
        # the sections name the probes (uprobe/libc.so.6:malloc, uretprobe/...): attach both
        obj.attach_all()
        # the child waits on its stdin until the filter below names its pid
        child = subprocess.Popen(
            ["sh", "-c", 'read _ && exec "$@"', "sh", *args.command], stdin=subprocess.PIPE
        )
        obj.globals["target_pid"] = child.pid  # .bss: written live into the kernel's map
        assert child.stdin is not None
        child.stdin.write(b"go\n")
        child.stdin.close()
        status = child.wait()
        allocated = obj.maps["bytes_by_pid"].typed().get(child.pid, 0)
        print(
            f"pid {child.pid} ({args.command[0]}): malloc returned {allocated} bytes"
            f" (exit status {status})"
        )


if __name__ == "__main__":
    main()
