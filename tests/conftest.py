"""Shared fixtures: compiled test objects, the CLI (``cli``, with ``cli.load``), a veth pair
(``veth``), root/kernel checks, and the residue check.

Every test runs under ``no_residue``: kernel programs, links and maps, bpffs
pins and network namespaces that appear during a test must be gone after it.

Markers:

- ``@pytest.mark.requires("freplace", "tcx", ...)``: the test needs these
  ``bpfman.features``; where one is missing it skips with the probe's reason.
  It is also a ``kernel_feature`` test, so ``make vmtest`` runs it on the
  stock kernels that have the feature.
- ``@pytest.mark.kernel_feature``: the test asserts the refusal where the
  kernel lacks a feature and the feature where it has it (both branches).
- ``@pytest.mark.pure``: no kernel, no root, no BPF build (parsers, planners,
  the doctor's diagnosis, proto checks). As non-root only these run; every
  other test skips saying it needs root.
"""

from __future__ import annotations

import gc
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from support.cli import Cli
    from support.net import VethPair

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "tests"


@pytest.hookimpl(tryfirst=True)  # before -m selects: vmtest collects by kernel_feature
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = os.geteuid() == 0
    for item in items:
        if item.get_closest_marker("pure"):
            continue
        if not root:
            item.add_marker(pytest.mark.skip(reason="needs root: runs against the real kernel"))
            continue
        needed = [name for mark in item.iter_markers("requires") for name in mark.args]
        if not needed:
            continue
        item.add_marker(pytest.mark.kernel_feature)
        missing = _missing_feature(tuple(needed))
        if missing:
            item.add_marker(pytest.mark.skip(reason=missing))
    kernel_tests = any(not item.get_closest_marker("pure") for item in items)
    if root and kernel_tests and not os.environ.get("PYBPFMAN_SKIP_BUILD"):
        subprocess.run(["make", "-s", "-C", str(ROOT), "bpf"], check=True)


def _missing_feature(names: tuple[str, ...]) -> str:
    """The skip reason for the first of *names* the kernel lacks ("" if it has them all)."""
    from bpfman import features

    for name in names:
        f = features.probe(name)
        if not f.available:
            return f"needs {name}: {f.detail}"
    return ""


@pytest.fixture(scope="session")
def bpf_obj() -> ObjPath:
    return ObjPath()


class ObjPath:
    """``bpf_obj("basic")`` -> path of build/tests/basic.bpf.o."""

    def __call__(self, name: str) -> str:
        path = BUILD / f"{name}.bpf.o"
        assert path.exists(), f"{path} was not built"
        return str(path)


def _foreign_ids() -> dict[str, set[str]]:
    """Kernel object ids held open by other processes (developers run suites side by side)."""
    out: dict[str, set[str]] = {"programs": set(), "maps": set(), "links": set()}
    keys = {"prog_id": "programs", "map_id": "maps", "link_id": "links"}
    me = str(os.getpid())
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or pid == me:
            continue
        try:
            names = os.listdir(f"/proc/{pid}/fdinfo")
        except OSError:
            continue
        for n in names:
            try:
                with open(f"/proc/{pid}/fdinfo/{n}") as f:
                    text = f.read()
            except OSError:
                continue
            for line in text.splitlines():
                k, _, v = line.partition(":")
                if k in keys:
                    out[keys[k]].add(v.strip())
    return out


def _pinned_elsewhere() -> dict[str, set[str]]:
    """Kernel object ids pinned in bpffs mounts other than /sys/fs/bpf and this process's
    runtime dirs: another bpfman (a benchmark, a demo, a parallel suite) holds them."""
    from bpfman import _sys

    out: dict[str, set[str]] = {"programs": set(), "maps": set(), "links": set()}
    keys = {"prog_id": "programs", "map_id": "maps", "link_id": "links"}
    mine = f"/run/bpfman-test-{os.getpid()}-"
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f if " - bpf " in line]
    for mount in mounts:
        if mount == "/sys/fs/bpf" or mount.startswith(mine):
            continue
        for root, _, files in os.walk(mount):
            for name in files:
                try:
                    fd = _sys.obj_get(os.path.join(root, name))
                except Exception:
                    continue
                try:
                    with open(f"/proc/self/fdinfo/{fd}") as info:
                        for line in info:
                            k, _, v = line.partition(":")
                            if k in keys:
                                out[keys[k]].add(v.strip())
                finally:
                    os.close(fd)
    return out


def _foreign_name(name: str) -> bool:
    """A pin dir or netns named ``...-<pid>-...`` by another live test process."""
    for part in os.path.basename(name).split("-"):
        if part.isdigit() and part != str(os.getpid()) and os.path.exists(f"/proc/{part}"):
            return True
    return False


def _snapshot() -> dict[str, set[str]]:
    from bpfman import _sys

    pins: set[str] = set()
    for root, dirs, files in os.walk("/sys/fs/bpf"):
        for n in dirs + files:
            pins.add(os.path.join(root, n))
    netns = set(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else set()
    return {
        "programs": {str(i) for i in _sys.ids("prog")},
        "links": {str(i) for i in _sys.ids("link")},
        "maps": {str(i) for i in _sys.ids("map")},
        "pins": pins,
        "netns": netns,
    }


def residue(before: dict[str, set[str]]) -> dict[str, set[str]]:
    """What exists now that did not before (kernel frees objects lazily: wait a little)."""
    left: dict[str, set[str]] = {}
    for _ in range(40):
        gc.collect()
        now = _snapshot()
        left = {k: now[k] - before[k] for k in now if now[k] - before[k]}
        if left:
            foreign = _foreign_ids()
            for k, ids in _pinned_elsewhere().items():
                foreign[k] = foreign.get(k, set()) | ids
            for k in list(left):
                left[k] -= foreign.get(k, set())
                left[k] = {
                    n
                    for n in left[k]
                    if not _foreign_name(n.split("/sys/fs/bpf/")[-1].split("/")[0])
                }
                if not left[k]:
                    del left[k]
        if not left:
            return left
        time.sleep(0.05)
    return left


@pytest.fixture
def pin_dir() -> Iterator[str]:
    """A fresh bpffs directory for this test's pins, removed (with anything left) after it."""
    import shutil
    import uuid

    path = f"/sys/fs/bpf/pybpfman-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    os.makedirs(path)
    yield path
    left = os.listdir(path)
    shutil.rmtree(path, ignore_errors=True)
    assert not left, f"test left pins in {path}: {left}"


@pytest.fixture(autouse=True)
def no_residue(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("pure"):
        yield  # touches no kernel
        return
    before = _snapshot()
    yield
    left = residue(before)
    assert not left, f"test left residue behind: {left}"


@pytest.fixture
def cli() -> Iterator[Cli]:
    """The bpfman CLI with a private runtime dir; the test must leave it empty."""
    from support.cli import Cli

    c = Cli()
    yield c
    left = c.pins() if os.path.isdir(c.fs) else []
    c.cleanup()
    assert not left, f"bpfman left pins behind: {left}"


@pytest.fixture
def veth(request: pytest.FixtureRequest) -> Iterator[VethPair]:
    """A veth pair with its peer end in a network namespace of its own (``support.net``),
    both gone after the test; its netns is named after the test module."""
    from support.net import VethPair

    with VethPair(request.module.__name__.removeprefix("test_")) as pair:
        yield pair


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "kernel_feature: behaviour depends on what the kernel allows (kprobes, trampolines,"
        " freplace...); `make vmtest` runs these on stock kernels that allow them",
    )
    config.addinivalue_line(
        "markers",
        "requires(*features): needs these bpfman.features; skips with the probe's reason"
        " where one is missing; a kernel_feature test (make vmtest) either way",
    )
    config.addinivalue_line(
        "markers", "pure: no kernel, no root, no BPF build (runs as any user)"
    )
