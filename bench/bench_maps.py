"""Map reads: pybpfman against bpftool and the raw bpf() syscall, side by side in one run.

    .venv/bin/python bench/bench_maps.py [--entries N] [--reps R] [--lookups L]

Dump: a hash map of N (100k) entries, u32 key -> u64 value, filled with
update_batch, read whole into Python:
- pybpfman ``typed(c_uint32, c_uint64).lookup_batch()`` (two lists of ints),
  the same into a dict, and the untyped ``lookup_batch()`` (lists of bytes);
- ``bpftool map dump pinned PATH -j`` (system bpftool), its output alone and
  parsed with ``json.loads`` (the "bpftool/x" column uses the unparsed one);
- the floor: ``BPF_MAP_LOOKUP_BATCH`` syscalls through ctypes on preallocated
  buffers (one attr built by hand), alone and followed by the cheapest
  conversion to the same two lists (``memoryview.cast().tolist()``).
Single lookups: ``m[k]`` through a typed view, ``get``, the untyped Map, against
``BPF_MAP_LOOKUP_ELEM`` through ``libc.syscall`` on a prepared attr (the floor),
over L existing keys. Best of R runs (medians shown too). The map is created
with ``Map.create`` (no BTF, so bpftool prints hex bytes only), pinned for
bpftool under /sys/fs/bpf/pybpfman-bench-<pid>, and unpinned at the end.
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import json
import os
import shutil
import statistics
import struct
import subprocess
import time
from collections.abc import Callable
from typing import Any

from bpfman import _libbpf
from bpfman.kinds import MapType
from bpfman.map import Map

SYS_BPF = 321
BPF_MAP_LOOKUP_ELEM = 1
BPF_MAP_LOOKUP_BATCH = 24


def timed(fn: Callable[[], Any], reps: int) -> tuple[float, float]:
    """(best, median) seconds of *reps* calls."""
    runs = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return min(runs), statistics.median(runs)


def raw_dump(fd: int, max_entries: int, convert: bool) -> tuple[list[int], list[int]] | int:
    """The floor: BPF_MAP_LOOKUP_BATCH through ctypes into preallocated buffers."""
    keys = ctypes.create_string_buffer(4 * max_entries)
    values = ctypes.create_string_buffer(8 * max_entries)
    token = ctypes.c_uint64()
    attr = ctypes.create_string_buffer(56)
    syscall = _libbpf.libc.syscall
    got = 0
    first = True
    while True:
        struct.pack_into(
            "=QQQQIIQQ",
            attr,
            0,
            0 if first else ctypes.addressof(token),
            ctypes.addressof(token),
            ctypes.addressof(keys) + 4 * got,
            ctypes.addressof(values) + 8 * got,
            max_entries - got,
            fd,
            0,
            0,
        )
        rc = syscall(SYS_BPF, BPF_MAP_LOOKUP_BATCH, attr, 56)
        err = ctypes.get_errno() if rc < 0 else 0
        if err not in (0, errno.ENOENT):
            raise OSError(err, os.strerror(err))
        got += struct.unpack_from("=I", attr, 32)[0]
        first = False
        if err == errno.ENOENT or got == max_entries:
            break
    if not convert:
        return got
    kv = memoryview(keys).cast("B")[: 4 * got].cast("I").tolist()
    vv = memoryview(values).cast("B")[: 8 * got].cast("Q").tolist()
    return kv, vv


def raw_lookups(fd: int, keys: list[int]) -> None:
    """The floor of single lookups: BPF_MAP_LOOKUP_ELEM on one prepared attr."""
    k = ctypes.c_uint32()
    v = ctypes.c_uint64()
    attr = ctypes.create_string_buffer(32)
    struct.pack_into("=IIQQQ", attr, 0, fd, 0, ctypes.addressof(k), ctypes.addressof(v), 0)
    syscall = _libbpf.libc.syscall
    for key in keys:
        k.value = key
        if syscall(SYS_BPF, BPF_MAP_LOOKUP_ELEM, attr, 32) < 0:
            raise KeyError(key)
        v.value  # noqa: B018  (read the value like the others do)


def bpftool_run(path: str) -> int:
    out = subprocess.run(
        ["bpftool", "map", "dump", "pinned", path, "-j"], check=True, capture_output=True
    ).stdout
    return len(out)


def bpftool_dump(path: str) -> int:
    out = subprocess.run(
        ["bpftool", "map", "dump", "pinned", path, "-j"], check=True, capture_output=True
    ).stdout
    return len(json.loads(out))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--lookups", type=int, default=200_000)
    args = ap.parse_args()
    n = args.entries
    pin_dir = f"/sys/fs/bpf/pybpfman-bench-{os.getpid()}"
    os.makedirs(pin_dir)
    path = f"{pin_dir}/counts"
    try:
        with Map.create(MapType.HASH, 4, 8, n, name="bench_counts") as m:
            counts = m.typed(key=ctypes.c_uint32, value=ctypes.c_uint64)
            keys = list(range(n))
            counts.update_batch(keys, [k * 3 for k in keys])
            m.pin(path)
            # correctness first: every way reads the same map
            ks, vs = counts.lookup_batch()
            assert dict(zip(ks, vs, strict=True)) == {k: k * 3 for k in keys}
            floor = raw_dump(m.fd, n, convert=True)
            assert isinstance(floor, tuple) and sorted(floor[0]) == keys
            assert bpftool_dump(path) == n

            reps = args.reps
            dump = [
                ("raw batch syscalls (floor)", lambda: raw_dump(m.fd, n, convert=False)),
                ("raw batch syscalls + lists", lambda: raw_dump(m.fd, n, convert=True)),
                ("pybpfman typed lookup_batch()", counts.lookup_batch),
                ("pybpfman typed dict(zip(*lookup_batch()))",
                 lambda: dict(zip(*counts.lookup_batch(), strict=True))),
                ("pybpfman typed dict(items())", lambda: dict(counts.items())),
                ("pybpfman untyped lookup_batch() (bytes)", m.lookup_batch),
                ("bpftool map dump -j (output unparsed)", lambda: bpftool_run(path)),
                ("bpftool map dump -j + json.loads", lambda: bpftool_dump(path)),
            ]  # fmt: skip
            results = {name: timed(fn, reps) for name, fn in dump}
            floor_s = results["raw batch syscalls (floor)"][0]
            bpftool_s = results["bpftool map dump -j (output unparsed)"][0]
            print(f"\nDump of a {n}-entry hash map (u32 -> u64), best of {reps}:")
            print(f"{'':46s} {'best':>9s} {'median':>9s} {'/floor':>7s} {'bpftool/x':>9s}")
            for name, (best, med) in results.items():
                print(
                    f"{name:46s} {best * 1e3:7.1f}ms {med * 1e3:7.1f}ms "
                    f"{best / floor_s:7.2f} {bpftool_s / best:9.1f}"
                )

            probe = [i % n for i in range(0, args.lookups * 7, 7)]
            view_get = counts.get

            def typed_getitem() -> None:
                for k in probe:
                    counts[k]

            def typed_get() -> None:
                for k in probe:
                    view_get(k)

            def untyped_getitem() -> None:
                for k in probe:
                    m[k]

            single = [
                ("raw BPF_MAP_LOOKUP_ELEM syscall (floor)", lambda: raw_lookups(m.fd, probe)),
                ("pybpfman typed view[k]", typed_getitem),
                ("pybpfman typed view.get(k)", typed_get),
                ("pybpfman untyped map[k] (bytes)", untyped_getitem),
            ]
            lk = {name: timed(fn, reps) for name, fn in single}
            floor_l = lk["raw BPF_MAP_LOOKUP_ELEM syscall (floor)"][0]
            print(f"\nSingle lookups ({len(probe)} per run), best of {reps}:")
            print(f"{'':46s} {'M/s best':>9s} {'M/s med':>9s} {'time/floor':>10s}")
            for name, (best, med) in lk.items():
                rate, rate_med = len(probe) / best / 1e6, len(probe) / med / 1e6
                print(f"{name:46s} {rate:9.3f} {rate_med:9.3f} {best / floor_l:10.2f}")
            m.unpin()
    finally:
        if os.path.exists(path):
            os.unlink(path)
        shutil.rmtree(pin_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
