"""fallback: attach the best program the running kernel supports (fentry, kprobe, tracepoint).

    sudo python3 examples/fallback.py
"""

from __future__ import annotations

import os
from pathlib import Path

import bpfman

OBJ = Path(__file__).with_name("fallback.bpf.o")


def main() -> None:
    spec = bpfman.open(OBJ)
    spec.globals["target_pid"] = os.getpid()
    result = bpfman.attach_first(
        spec,
        [
            "kill_fentry",  # fastest: a BPF trampoline
            ("kill_kprobe", {}),  # then a kprobe (its section names the function)
            bpfman.Candidate("kill_tracepoint"),  # the stable tracepoint
        ],
    )
    for program, error in result.skipped:
        print(f"skipped {program}: {error} [{type(error).__name__}]")
    with result.object as obj:
        print(f"chosen: {result.program}")
        for _ in range(3):
            os.kill(os.getpid(), 0)
        print("kills:", obj.globals["kills"])


if __name__ == "__main__":
    main()
