"""Errors that name their cause: libbpf's decisive line, the verifier's reason and
source line, the log under an uncaught error, and libbpf's messages on ``logging``."""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import subprocess
import sys
import traceback
import uuid
from collections.abc import Callable, Iterator

import pytest

import bpfman
from bpfman import _sys
from bpfman.kinds import AttachType


def one_line(e: BaseException) -> str:
    text = str(e)
    assert "\n" not in text, text
    return text


def _load_with_pin(bpf_obj, pin_path: str, max_entries: int | None = None) -> bpfman.Object:
    spec = bpfman.open(bpf_obj("library"))
    spec.maps["counts"].pin_path = pin_path
    if max_entries is not None:
        spec.maps["counts"].max_entries = max_entries
    return spec.load()


def test_pin_path_whose_parent_is_missing(bpf_obj, pin_dir: str) -> None:
    path = f"{pin_dir}/no/such/counts"
    with pytest.raises(bpfman.BpfError) as e:
        _load_with_pin(bpf_obj, path)
    msg = one_line(e.value)
    assert f"cannot create the directory of pin path {path}" in msg
    assert "No such file or directory" in msg and e.value.errno == 2


def test_pin_path_outside_bpffs(bpf_obj, tmp_path) -> None:
    with pytest.raises(bpfman.BpfError) as e:
        _load_with_pin(bpf_obj, f"{tmp_path}/counts")
    assert f"pin path {tmp_path}/counts is not on a BPF filesystem" in one_line(e.value)
    assert not os.path.exists(f"{tmp_path}/counts")


def test_pinned_map_with_other_parameters(bpf_obj, pin_dir: str) -> None:
    _load_with_pin(bpf_obj, f"{pin_dir}/counts").close()
    try:
        with pytest.raises(bpfman.BpfError) as e:
            _load_with_pin(bpf_obj, f"{pin_dir}/counts", max_entries=8)
        msg = one_line(e.value)
        assert f"the map pinned at {pin_dir}/counts differs from this one" in msg
        assert "parameter mismatch" in msg
    finally:
        os.unlink(f"{pin_dir}/counts")


def test_unknown_section_names_libbpfs_reason(bpf_obj) -> None:
    spec = bpfman.open(bpf_obj("bad_offset"))
    spec.programs["past_end"].autoload = False
    with pytest.raises(bpfman.BpfError) as e:
        spec.load()
    msg = one_line(e.value)
    assert "prog 'unknown_section': missing BPF prog type, check ELF section name" in msg
    assert "'no_such_kind/libc.so.6:malloc'" in msg


def test_verifier_error_says_what_and_where(bpf_obj) -> None:
    spec = bpfman.open(bpf_obj("bad_offset"))
    spec.programs["unknown_section"].autoload = False
    with pytest.raises(bpfman.BpfError) as e:
        spec.load()
    msg = one_line(e.value)
    assert "program 'past_end' rejected by the verifier at bad_offset.bpf.c:22" in msg
    assert "return v[1];" in msg
    assert "invalid access to map value, value_size=8 off=8 size=8" in msg


def test_an_uncaught_error_shows_the_logs_last_lines(bpf_obj) -> None:
    child = "import sys, bpfman; bpfman.load(sys.argv[1])"
    p = subprocess.run(
        [sys.executable, "-c", child, bpf_obj("bad_verifier")], capture_output=True, text=True
    )
    assert p.returncode == 1
    tail = p.stderr.splitlines()
    i = next(n for n, line in enumerate(tail) if line.startswith("bpfman.errors.BpfError: "))
    assert "verifier log, last lines" in tail[i + 1]
    assert "R0 invalid mem access 'map_value_or_null'" in "\n".join(tail[i + 2 :])
    # the one-line form is what str() and the CLI show
    with pytest.raises(bpfman.BpfError) as e:
        bpfman.load(bpf_obj("bad_verifier"))
    assert "verifier log" not in str(e.value)
    assert "verifier log" in "".join(traceback.format_exception(e.value))


def test_libbpf_messages_go_to_the_logging_logger(bpf_obj, tmp_path, caplog) -> None:
    with caplog.at_level(logging.DEBUG, logger="bpfman.libbpf"):
        bpfman.load(bpf_obj("library")).close()
        with pytest.raises(bpfman.BpfError):
            _load_with_pin(bpf_obj, f"{tmp_path}/counts")
    records = [r for r in caplog.records if r.name == "bpfman.libbpf"]
    debug = [r.getMessage() for r in records if r.levelno == logging.DEBUG]
    warn = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert any("created successfully" in m for m in debug)
    assert any("is not on BPF FS" in m for m in warn)


def test_libbpf_is_silent_without_logging_configured(bpf_obj, tmp_path) -> None:
    child = (
        "import sys, bpfman\n"
        "s = bpfman.open(sys.argv[1]); s.maps['counts'].pin_path = sys.argv[2]\n"
        "try:\n    s.load()\nexcept bpfman.BpfError as e:\n    print(e)\n"
        "import logging; logging.getLogger('bpfman.images').warning('other loggers still print')\n"
    )
    p = subprocess.run(
        [sys.executable, "-c", child, bpf_obj("library"), f"{tmp_path}/counts"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "is not on a BPF filesystem" in p.stdout
    # libbpf's warnings stay silent; bpfman's own warnings keep logging's last resort
    assert p.stderr == "other loggers still print\n"


def test_verifier_log_after_a_successful_load(bpf_obj) -> None:
    spec = bpfman.open(bpf_obj("library"))
    spec.programs["on_kill"].log_level = 2
    with pytest.raises(bpfman.BpfError, match="must be 0, 1 or 2"):
        spec.programs["on_getppid"].log_level = 3
    with spec.load() as obj:
        log = obj.programs["on_kill"].verifier_log
        assert "processed " in log and "insns" in log
        assert "R1=ctx()" in log  # level 2: every instruction's state
        assert obj.programs["on_getppid"].verifier_log == ""


# ---------------------------------------------------------------------- the small ones


@pytest.fixture
def lib_obj(bpf_obj) -> Iterator[bpfman.Object]:
    spec = bpfman.open(bpf_obj("library"))
    spec.globals["target_pid"] = os.getpid()
    with spec.load() as obj:
        yield obj


def test_ringbuf_lookup_says_the_map_type_has_none(lib_obj: bpfman.Object) -> None:
    with pytest.raises(bpfman.BpfError) as e:
        lib_obj.maps["events"][0]
    assert one_line(e.value) == (
        "lookup in map events: a ringbuf map has no lookup operation"
        " (read it with bpfman.RingBuffer)"
    )


def test_a_program_of_the_wrong_type_names_both_types(lib_obj: bpfman.Object) -> None:
    xdp, tp = lib_obj.programs["pass_all"], lib_obj.programs["on_kill"]
    clock = _sys.perf_event_attr(
        type=_sys.PERF_TYPE_SOFTWARE, config=_sys.PERF_COUNT_SW_CPU_CLOCK, sample_period=100_000
    )
    pfd = _sys.perf_event_open(clock, pid=0, cpu=-1)  # a real event: the kernel would say EINVAL
    cases = [
        (
            lambda: xdp.attach_tracepoint("syscalls", "sys_enter_kill"),
            "cannot attach pass_all to tracepoint syscalls/sys_enter_kill: it is a xdp program,"
            " not tracepoint",
        ),
        (
            lambda: tp.attach_raw_tracepoint("sys_enter"),
            "cannot attach on_kill to raw tracepoint sys_enter: it is a tracepoint program,"
            " not raw_tracepoint or raw_tracepoint_writable",
        ),
        (
            lambda: tp.attach_uprobe("libc", "malloc"),
            "cannot attach on_kill to uprobe in libc: it is a tracepoint program, not kprobe",
        ),
        (
            xdp.attach_trace,
            "cannot attach pass_all to its load-time target: it is a xdp program,"
            " not tracing or lsm",
        ),
        (
            lambda: tp.attach_freplace(xdp, "verdict"),
            "cannot attach on_kill to function verdict: it is a tracepoint program, not ext",
        ),
        (
            lambda: tp.attach_xdp("lo"),
            "cannot attach on_kill to lo as XDP: it is a tracepoint program, not xdp",
        ),
        (
            lambda: xdp.attach_perf_event(pfd),
            f"cannot attach pass_all to perf event fd {pfd}: it is a xdp program,"
            " not perf_event or kprobe or tracepoint",
        ),
    ]
    try:
        for attach, says in cases:
            with pytest.raises(bpfman.BpfError) as e:
                attach()
            assert one_line(e.value) == says
            assert e.value.errno == errno.EINVAL
    finally:
        os.close(pfd)
    assert lib_obj.links == ()


@pytest.mark.requires("cgroup")
def test_attach_cgroup_without_a_type_takes_the_sections(bpf_obj, lib_obj) -> None:
    root = bpfman.features.cgroup2_mount()
    assert root is not None
    path = os.path.join(root, f"pybpfman-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.mkdir(path)
    try:
        spec = bpfman.open(bpf_obj("tracing"))
        for p in spec.programs.values():
            p.autoload = p.name == "cg_egress"
        with spec.load() as obj:
            link = obj.programs["cg_egress"].attach_cgroup(path)
            assert link.info().details["attach_type"] == AttachType.CGROUP_INET_EGRESS
            link.detach()
        with pytest.raises(bpfman.BpfError) as e:
            lib_obj.programs["on_kill"].attach_cgroup(path)
        msg = one_line(e.value)
        assert "its section 'tracepoint/syscalls/sys_enter_kill' names no cgroup hook" in msg
        assert "pass attach_type (one of ingress, egress," in msg
    finally:
        os.rmdir(path)


def test_xdp_test_run_needs_an_ethernet_frame(lib_obj: bpfman.Object) -> None:
    prog = lib_obj.programs["pass_all"]
    with pytest.raises(bpfman.BpfError) as e:
        prog.test_run(bytes(13))
    assert one_line(e.value) == (
        "test run of pass_all: a xdp program runs on an Ethernet frame:"
        " data must be at least 14 bytes, got 13"
    )
    assert prog.test_run(bytes(14)).retval == 2  # XDP_PASS


def test_key_and_value_sizes_are_named_as_such(lib_obj: bpfman.Object) -> None:
    counts = lib_obj.maps["counts"]
    with pytest.raises(bpfman.BpfError) as e:
        counts[bytes(8)]
    assert one_line(e.value) == "key of map counts is 8 bytes, expected 4"
    with pytest.raises(bpfman.BpfError) as e:
        counts[0] = bytes(4)
    assert one_line(e.value) == "value of map counts is 4 bytes, expected 8"


def test_one_integer_range_rule_for_globals_and_typed_maps(bpf_obj, lib_obj) -> None:
    spec = bpfman.open(bpf_obj("library"))
    typed = lib_obj.maps["counts"].typed(ctypes.c_uint32, ctypes.c_uint32 * 2)
    as_u64 = lib_obj.maps["counts"].typed(ctypes.c_uint32, ctypes.c_uint64)
    with spec:
        for target in (spec.globals, lib_obj.globals):
            with pytest.raises(bpfman.BpfError) as e:
                target["small"] = -1
            assert one_line(e.value) == "global 'small': -1 is out of range for u32 (0..4294967295)"
            with pytest.raises(bpfman.BpfError, match=r"128 is out of range for s8 \(-128..127\)"):
                target["tiny"] = 128
            target["tiny"] = -128
            assert target["tiny"] == -128
            target["small"] = 4294967295
            assert target["small"] == 4294967295
    with pytest.raises(bpfman.BpfError) as e:
        as_u64[0] = -1
    assert one_line(e.value) == (
        "value of map counts: -1 is out of range for u64 (0..18446744073709551615)"
    )
    with pytest.raises(bpfman.BpfError, match="out of range for u32"):
        typed[-1]


def test_char_array_globals_take_str_and_short_bytes(bpf_obj, lib_obj) -> None:
    spec = bpfman.open(bpf_obj("library"))
    with spec:
        spec.globals["comm"] = "bash"
        assert spec.globals["comm"] == b"bash".ljust(16, b"\0")
    lib_obj.globals["comm"] = b"sh"
    assert lib_obj.globals["comm"] == b"sh".ljust(16, b"\0")
    lib_obj.globals["comm"] = b"x" * 16  # bytes may fill it
    with pytest.raises(bpfman.BpfError) as e:
        lib_obj.globals["comm"] = "y" * 16
    assert one_line(e.value) == "global 'comm': 16 bytes and its NUL do not fit in char[16]"
    with pytest.raises(bpfman.BpfError, match="17 bytes do not fit in char"):
        lib_obj.globals["comm"] = b"z" * 17
    assert lib_obj.globals["comm"] == b"x" * 16


def test_uprobe_without_function_or_offset_is_refused(lib_obj: bpfman.Object) -> None:
    with pytest.raises(bpfman.BpfError) as e:
        lib_obj.programs["any_uprobe"].attach_uprobe("libc")
    assert one_line(e.value) == (
        "cannot attach any_uprobe to uprobe in libc: give the function (fn=...)"
        " or a file offset (offset=...)"
    )
    assert lib_obj.links == ()


def test_a_reopened_link_says_what_it_is(lib_obj: bpfman.Object, pin_dir: str) -> None:
    link = lib_obj.programs["on_kill"].attach()
    link.pin(f"{pin_dir}/link")
    again = bpfman.Link.from_pin(f"{pin_dir}/link")
    link_id = link.info().id
    assert repr(again) == (f"<Link perf_event id {link_id} pinned at {pin_dir}/link fd={again.fd}>")
    by_id = bpfman.Link.from_id(link_id)
    assert repr(by_id) == f"<Link perf_event id {link_id} fd={by_id.fd}>"
    by_id.close()
    again.detach()
    assert repr(again) == f"<Link perf_event id {link_id} closed>"


@pytest.mark.parametrize("obj_id", [1 << 63, 1 << 32, -1])
def test_an_id_out_of_the_kernels_range_is_not_found(obj_id: int) -> None:
    """Kernel ids are 32-bit: a bigger or negative one is "no such object", not a
    ``struct.error`` from packing the syscall's argument."""
    opens: list[tuple[Callable[[int], object], str]] = [
        (bpfman.Program.from_id, "prog"),
        (bpfman.Map.from_id, "map"),
        (bpfman.Link.from_id, "link"),
    ]
    for from_id, kind in opens:
        with pytest.raises(bpfman.BpfError) as e:
            from_id(obj_id)
        assert e.value.errno == errno.ENOENT and f"no {kind} with id {obj_id}" in str(e.value)
    assert bpfman.program_brief(obj_id) is None


def test_an_object_file_is_read_once(bpf_obj, tmp_path, monkeypatch) -> None:
    """libbpf parses the bytes bpfman read and checked, not the path again: a FIFO swapped
    in for the file after the check does not block the open (it would hold the manager's
    writer lock)."""
    import shutil
    import threading

    from bpfman import elf

    path = tmp_path / "prog.bpf.o"
    shutil.copy(bpf_obj("basic"), path)
    globalize = elf.globalize_static_programs

    def swapped(data: bytes) -> bytes | None:
        os.unlink(path)
        os.mkfifo(path)
        return globalize(data)

    monkeypatch.setattr(elf, "globalize_static_programs", swapped)
    opened: list[bpfman.ObjectSpec] = []
    t = threading.Thread(target=lambda: opened.append(bpfman.open(str(path))), daemon=True)
    t.start()
    t.join(timeout=20)
    if t.is_alive():  # blocked on the FIFO: a writer's open and close lets it go
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        t.join(timeout=5)
        pytest.fail("bpfman.open opened the path again")
    assert "count_kill" in opened[0].programs
    opened[0].close()
