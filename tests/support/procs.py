"""What this test process runs with: the libc a uprobe test attaches to by its full path."""

from __future__ import annotations

import re


def mapped_libc() -> str:
    """The full path of the libc this process runs with (/proc/self/maps)."""
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            if re.search(r"/libc[.-][^/]*so", path) or path.endswith("/libc.so.6"):
                return path
    raise AssertionError("no libc in /proc/self/maps")
