"""Crash points for the crash-injection tests.

``BPFMAN_CRASH_AT=<name>`` makes the process die (``os._exit``, like kill -9:
no cleanup, no undo) when it reaches that point, so tests can check that
``doctor`` names what is left and ``gc`` repairs it.
"""

from __future__ import annotations

import os

POINTS = (
    "load:after-kernel",
    "load:after-program-pins",
    "load:after-map-pins",
    "attach:after-kernel",
    "attach:after-pin",
    "detach:after-kernel",
    "unload:after-links",
    "unload:after-program-unpin",
    "unload:after-map-unpin",
)


def point(name: str) -> None:
    if os.environ.get("BPFMAN_CRASH_AT") == name:
        os._exit(137)
