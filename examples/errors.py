"""errors: what bpfman's errors say, and how to handle them.

    sudo python3 examples/errors.py
"""

from __future__ import annotations

import logging
from pathlib import Path

import bpfman

HERE = Path(__file__).parent


def main() -> None:
    # 1. every failure is a BpfError whose str() is one line naming the cause
    spec = bpfman.open(HERE / "core_config.bpf.o")
    spec.maps["by_signal"].pin_path = "/tmp/not-bpffs/by_signal"
    try:
        spec.load()
    except bpfman.BpfError as e:
        print("pin:", e)

    # 2. a verifier rejection names the program, the source line and the reason;
    #    e.verifier_log holds the whole log, e.errno the kernel's error number
    try:
        bpfman.load(HERE / "bad_offset.bpf.o")
    except bpfman.BpfError as e:
        print("verifier:", e)
        print("verifier log lines:", len(e.verifier_log.splitlines()), "errno:", e.errno)

    # 3. what the running kernel cannot do is a KernelFeatureError naming the feature
    try:
        with bpfman.load(HERE / "fallback.bpf.o") as obj:  # fentry, kprobe and tracepoint
            obj.attach_all()
        print("feature: this kernel runs all three")
    except bpfman.KernelFeatureError as e:
        print(f"feature {e.feature!r}:", e)

    # 4. names that do not exist list the ones that do (a KeyError too)
    with bpfman.open(HERE / "fallback.bpf.o") as spec:
        try:
            spec.programs["kill_fexit"]
        except KeyError as e:
            print("name:", e)

    # 5. libbpf's own messages: the "bpfman.libbpf" logger, silent unless configured
    logging.basicConfig(format="%(name)s %(levelname)s: %(message)s")
    logging.getLogger("bpfman.libbpf").setLevel(logging.WARNING)
    try:
        bpfman.load(HERE / "bad_offset.bpf.o")
    except bpfman.BpfError as e:
        print("logged, then raised:", type(e).__name__)


if __name__ == "__main__":
    main()
