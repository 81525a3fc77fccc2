"""Probes of what the running kernel can do (filled in by the features work)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bpfman.errors import BpfError

if TYPE_CHECKING:
    from bpfman.object import ObjectSpec


def explain_load_failure(spec: ObjectSpec, error: BpfError) -> BpfError:
    """Turn a load failure into a KernelFeatureError when a probe says why."""
    return error
