"""bpfman.features: the probes agree with the kernel and with each other.

Host facts are asserted only where they are what a probe reads (a PMU
directory, the kernel release); elsewhere the probe must agree with what
actually happens when the library does the real thing.
"""

from __future__ import annotations

import os

import pytest

import bpfman
from bpfman import features
from bpfman.errors import BpfError, KernelFeatureError
from bpfman.kinds import AttachType, ProgramType


def test_all_lists_every_probe_once() -> None:
    found = features.all()
    names = [f.name for f in found]
    assert names == features.names() and len(set(names)) == len(names)
    for f in found:
        assert isinstance(f, features.Feature) and isinstance(f.available, bool)
        assert f.detail and "\n" not in f.detail
        name, available, detail = f  # a plain (name, available, detail) tuple
        assert features.probe(name) == (name, available, detail)
    for name in ("kprobe", "uprobe", "tracepoint", "raw_tp", "trampolines", "freplace", "lsm"):
        assert name in names
    assert "prog_type:xdp" in names and "map_type:ringbuf" in names


@pytest.mark.kernel_feature
def test_require_raises_the_probe_reason() -> None:
    for f in features.all():
        if f.available:
            features.require(f.name)  # does not raise
            continue
        with pytest.raises(KernelFeatureError) as e:
            features.require(f.name)
        assert e.value.feature == f.name and str(e.value) == f.detail
    with pytest.raises(ValueError, match="unknown feature 'warp_drive'"):
        features.probe("warp_drive")
    with pytest.raises(ValueError, match="unknown prog type 'warp'"):
        features.probe("prog_type:warp")


@pytest.mark.pure
def test_kernel_version() -> None:
    assert features.parse_kernel_release("6.18.44-fc-v657") == (6, 18, 44)
    assert features.parse_kernel_release("5.15.0-91-generic") == (5, 15, 0)
    assert features.parse_kernel_release("6.1") == (6, 1, 0)
    assert features.parse_kernel_release("weird") == (0, 0, 0)
    release = os.uname().release
    assert features.kernel_version() == features.parse_kernel_release(release)
    assert features.probe("kernel") == ("kernel", True, release)


@pytest.mark.kernel_feature
def test_pmu_probes_read_the_pmus() -> None:
    for pmu in ("kprobe", "uprobe"):
        has_pmu = os.path.exists(f"/sys/bus/event_source/devices/{pmu}/type")
        assert features.available(pmu) == has_pmu
        assert (features.pmu_type(pmu) is not None) == has_pmu
    no_kprobes = not os.path.exists("/sys/bus/event_source/devices/kprobe") and not any(
        os.path.exists(f"{root}/kprobe_events")
        for root in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
    )
    if no_kprobes:
        assert features.probe("kprobe").detail == features.KPROBES_MISSING


@pytest.mark.kernel_feature
def test_btf_and_tcx_probes() -> None:
    assert features.available("btf") == os.path.exists("/sys/kernel/btf/vmlinux")
    if features.kernel_version() >= (6, 6, 0):
        assert features.available("tcx")
    assert features.available("ringbuf") == features.available("map_type:ringbuf")
    assert features.available("xdp") == features.available("prog_type:xdp")


@pytest.mark.kernel_feature
def test_trampoline_probe_agrees_with_a_real_load(bpf_obj) -> None:
    spec = bpfman.open(bpf_obj("tracing"))
    for name, prog in spec.programs.items():
        prog.autoload = name == "fentry_unlink"
    try:
        spec.load().close()
        loaded = True
    except KernelFeatureError as e:
        assert e.feature == "trampolines"
        loaded = False
    assert loaded == features.available("trampolines")


@pytest.mark.kernel_feature
def test_dispatcher_reason_names_freplace() -> None:
    reason = features.dispatcher_unavailable_reason()
    if not features.available("freplace"):
        assert features.probe("freplace").detail in reason
    assert reason


# --------------------------------------------------------------------------- explain_load_failure


def test_a_verifier_rejection_stays_a_plain_error(bpf_obj) -> None:
    spec = bpfman.open(bpf_obj("fallback"))
    for name, prog in spec.programs.items():
        prog.autoload = name == "bad_tp"
    with pytest.raises(BpfError) as e:
        spec.load()
    assert not isinstance(e.value, KernelFeatureError)
    assert "bad_tp" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.pure
def test_failed_program_from_libbpf_log() -> None:
    log = (
        "libbpf: prog 'fentry_unlink': BPF program load failed: Operation not permitted\n"
        "libbpf: prog 'fentry_unlink': failed to load: -1\n"
        "libbpf: failed to load object 'x.o'\n"
    )
    assert features.failed_program(log) == "fentry_unlink"
    assert features.failed_program("libbpf: map 'm': failed to create") is None


@pytest.mark.pure
@pytest.mark.parametrize(
    ("prog_type", "attach_type", "section", "feature"),
    [
        (ProgramType.TRACING, AttachType.TRACE_FENTRY, "fentry/x", "trampolines"),
        (ProgramType.TRACING, AttachType.TRACE_FEXIT, "my_custom_section", "trampolines"),
        (ProgramType.TRACING, AttachType.TRACE_RAW_TP, "custom", "tp_btf"),
        (ProgramType.KPROBE, 0, "uprobe/libc.so.6:getpid", "uprobe"),
        (ProgramType.KPROBE, 0, "kprobe/do_unlinkat", "kprobe"),
        (ProgramType.TRACEPOINT, 0, "custom", "tracepoint"),
        (ProgramType.EXT, 0, "custom", "freplace"),
        (ProgramType.SOCKET_FILTER, 0, "socket", None),
    ],
)
def test_feature_of_program(prog_type, attach_type, section, feature) -> None:
    assert features.feature_of_program(prog_type, attach_type, section) == feature
