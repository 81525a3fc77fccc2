"""core_config: configure an object before load, then read and change it live.

    sudo python3 examples/core_config.py [--pin-dir /sys/fs/bpf/core_config]

Before load: a .rodata constant (the pid to watch), a map's size and pin
path, and a program left out where the kernel cannot run it. After load:
.bss/.data globals read and written live, the pinned map reopened by path.
"""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path

import bpfman

OBJ = Path(__file__).with_name("core_config.bpf.o")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pin-dir", default="/sys/fs/bpf/core_config")
    args = ap.parse_args()
    os.makedirs(args.pin_dir, exist_ok=True)
    pin = os.path.join(args.pin_dir, "by_signal")

    spec = bpfman.open(OBJ)
    spec.globals["target_pid"] = os.getpid()  # .rodata: the verifier sees the constant
    spec.maps["by_signal"].max_entries = 64  # resize before load
    spec.maps["by_signal"].pin_path = pin  # reused if pinned there already, else pinned
    # fentry needs BPF trampolines: where the kernel refuses them, load the tracepoint only
    trampolines = bpfman.features.available("trampolines")
    spec.programs["on_kill_fentry"].autoload = trampolines
    spec.programs["on_kill"].autoload = not trampolines

    with spec.load() as obj:
        print("attached:", ", ".join(obj.attach_all()))
        os.kill(os.getpid(), 0)
        obj.globals["step"] = 10  # .data: the program sees the new value at once
        os.kill(os.getpid(), signal.SIGCONT)
        print("kills_seen:", obj.globals["kills_seen"])

    # the map outlives the object through its pin
    with bpfman.Map.from_pin(pin) as by_signal:
        counts = by_signal.typed()
        by_name = {signal.Signals(k).name if k else "0": v for k, v in sorted(counts.items())}
        print("by_signal:", by_name)
        print("max_entries:", by_signal.max_entries)
        by_signal.unpin()
    os.rmdir(args.pin_dir)


if __name__ == "__main__":
    main()
