"""Tracing attach kinds on the real kernel, and the pure parts behind them.

Kinds the kernel may lack (kprobes, trampolines, freplace, tp_btf) are tested
both ways: where ``bpfman.features`` says the kernel has them the programs are
attached and counted, otherwise the ``KernelFeatureError`` is asserted.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import bpfman
from bpfman import elf, features
from bpfman.attach.by_section import parse_section
from bpfman.errors import BpfError, KernelFeatureError
from bpfman.kinds import AttachType, LinkType
from support.procs import mapped_libc

# slots of the `hits` map in tracing.bpf.c
S_UPROBE_ALL, S_UPROBE_MINE, S_UPROBE_ABS, S_URETPROBE_ABS, S_KPROBE, S_KRETPROBE = range(6)
S_FENTRY, S_FEXIT, S_TP_BTF, S_RAW_TP, S_PERF, S_CG_EGRESS, S_CG_SOCK, S_TP = range(6, 14)
XDP_DROP, XDP_PASS = 1, 2

HELPER_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
__attribute__((noinline)) int triple(int x) { return 3 * x; }
int main(int argc, char **argv) {
    char c;
    int sum = 0;
    if (read(0, &c, 1) < 0) return 1; /* wait until the probes are attached */
    for (int i = 1; i < argc; i++) sum += triple(atoi(argv[i]));
    printf("%d\n", sum);
    return 0;
}
"""


@contextlib.contextmanager
def load_only(path: str, *names: str, **globals_: int) -> Iterator[bpfman.Object]:
    spec = bpfman.open(path)
    for name, prog in spec.programs.items():
        prog.autoload = name in names
    for name, value in globals_.items():
        spec.globals[name] = value
    with spec.load() as obj:
        yield obj


def hits(obj: bpfman.Object, slot: int) -> dict[int, int]:
    """tgid -> count of one slot of the `hits` map."""
    out = {}
    for k, v in obj.maps["hits"].items():
        s, tgid = struct.unpack("=II", bytes(k))
        if s == slot:
            out[tgid] = int.from_bytes(bytes(v), "little")
    return out


def unlink_files(directory: Path, n: int) -> None:
    for i in range(n):
        f = directory / f"f{i}"
        f.write_text("x")
        os.unlink(f)


@pytest.fixture(scope="module")
def helper_bin(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small non-PIE executable (vaddr != file offset) with a function `triple`."""
    d = tmp_path_factory.mktemp("helper")
    (d / "helper.c").write_text(HELPER_C)
    out = d / "helper"
    subprocess.run(
        ["clang", "-O1", "-no-pie", "-fno-pie", "-o", str(out), str(d / "helper.c")], check=True
    )
    return str(out)


# --------------------------------------------------------------------------- pure: sections


@pytest.mark.pure
@pytest.mark.parametrize(
    ("section", "kind", "args", "needs", "feature"),
    [
        ("tracepoint/syscalls/sys_enter_kill", "tracepoint",
         {"group": "syscalls", "name": "sys_enter_kill"}, (), "tracepoint"),
        ("tp/sched/sched_switch", "tracepoint",
         {"group": "sched", "name": "sched_switch"}, (), "tracepoint"),
        ("tp", "tracepoint", {}, ("group", "name"), "tracepoint"),
        ("raw_tp/sys_enter", "raw_tracepoint", {"name": "sys_enter"}, (), "raw_tp"),
        ("raw_tracepoint.w/sys_exit", "raw_tracepoint", {"name": "sys_exit"}, (), "raw_tp"),
        ("kprobe/do_unlinkat", "kprobe",
         {"fn": "do_unlinkat", "offset": 0, "retprobe": False}, (), "kprobe"),
        ("kretprobe/vfs_read+0x10", "kprobe",
         {"fn": "vfs_read", "offset": 16, "retprobe": True}, (), "kprobe"),
        ("kprobe", "kprobe", {"retprobe": False}, ("fn",), "kprobe"),
        ("uprobe/libc.so.6:getpid", "uprobe",
         {"target": "libc.so.6", "fn": "getpid", "offset": 0, "retprobe": False}, (), "uprobe"),
        ("uretprobe.s//usr/bin/x:main+4", "uprobe",
         {"target": "/usr/bin/x", "fn": "main", "offset": 4, "retprobe": True}, (), "uprobe"),
        ("uprobe//bin/x:0x1234", "uprobe",
         {"target": "/bin/x", "offset": 0x1234, "retprobe": False}, (), "uprobe"),
        ("uprobe", "uprobe", {"retprobe": False}, ("target",), "uprobe"),
        ("fentry/do_unlinkat", "trace", {}, (), "trampolines"),
        ("fexit.s/do_unlinkat", "trace", {}, (), "trampolines"),
        ("fmod_ret/x", "trace", {}, (), "trampolines"),
        ("tp_btf/sys_enter", "trace", {}, (), "tp_btf"),
        ("lsm/file_open", "trace", {}, (), "lsm"),
        ("freplace/verdict", "freplace", {"func_name": "verdict"}, ("target_prog",), "freplace"),
        ("xdp", "xdp", {}, ("iface",), "xdp"),
        ("xdp.frags", "xdp", {}, ("iface",), "xdp"),
        ("tc", "tc", {}, ("iface",), "tc"),
        ("tc/egress", "tc", {"direction": "egress"}, ("iface",), "tc"),
        ("tcx/ingress", "tcx", {"direction": "ingress"}, ("iface",), "tcx"),
        ("cgroup_skb/egress", "cgroup", {"attach_type": "egress"}, ("path",), "cgroup"),
        ("cgroup/sock_create", "cgroup", {"attach_type": "sock_create"}, ("path",), "cgroup"),
        ("cgroup/connect4", "cgroup", {"attach_type": "connect4"}, ("path",), "cgroup"),
        ("cgroup/skb", "cgroup", {}, ("path", "attach_type"), "cgroup"),
        ("sockops", "cgroup", {"attach_type": "sock_ops"}, ("path",), "cgroup"),
        ("perf_event", "perf_event", {}, ("perf_fd",), "perf_event"),
    ],
)  # fmt: skip
def test_parse_section(section, kind, args, needs, feature) -> None:
    t = parse_section(section)
    assert (t.kind, t.args, t.needs, t.feature) == (kind, args, needs, feature)
    assert features.feature_of_section(section) == feature


def test_parse_ksyscall_uses_the_arch_prefix() -> None:
    t = parse_section("ksyscall/kill")
    assert t.kind == "kprobe" and t.args["fn"].endswith("_sys_kill") and t.args["fn"] != "kill"


@pytest.mark.parametrize(
    ("section", "says"),
    [
        ("socket", "attach_tracepoint()"),
        ("sk_msg", "attach_cgroup()"),
        ("xdp/devmap", "devmap entry"),
        ("tracepoint/syscalls", "tracepoint/GROUP/NAME"),
        ("uprobe/no_colon", "BINARY:FUNCTION"),
        ("kprobe/fn+zz", "bad offset"),
        ("cgroup/nope", "unknown cgroup hook"),
        ("usdt/x", "usdt/BINARY:PROVIDER:NAME"),
    ],
)
def test_parse_section_errors_say_what_to_call(section: str, says: str) -> None:
    with pytest.raises(BpfError) as e:
        parse_section(section)
    assert says in str(e.value) and section in str(e.value)
    assert features.feature_of_section(section) is None


def test_cgroup_attach_type_names() -> None:
    from bpfman.attach.cgroup import parse_attach_type

    egress = AttachType.CGROUP_INET_EGRESS
    for name in ("egress", "cgroup_inet_egress", "CGROUP_INET_EGRESS", "cgroup_skb/egress", 1):
        assert parse_attach_type(name) is egress
    assert parse_attach_type(egress) is egress
    assert parse_attach_type("connect6") is AttachType.CGROUP_INET6_CONNECT
    with pytest.raises(BpfError, match="not a cgroup attach type"):
        parse_attach_type("xdp")
    with pytest.raises(BpfError, match="unknown cgroup attach type 'sideways'"):
        parse_attach_type("sideways")


# --------------------------------------------------------------------------- pure: ELF


def _readelf_offset(path: str, vaddr: int) -> int:
    """File offset of *vaddr* computed from `readelf -lW` (independent of bpfman.elf)."""
    out = subprocess.run(["readelf", "-lW", path], capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        f = line.split()
        if f and f[0] == "LOAD":
            offset, va, filesz = int(f[1], 16), int(f[2], 16), int(f[4], 16)
            if va <= vaddr < va + filesz:
                return vaddr - va + offset
    raise AssertionError(f"{vaddr:#x} not in a LOAD segment of {path}")


def test_function_offsets_in_libc_match_readelf() -> None:
    libc = elf.resolve_library("c")
    out = subprocess.run(
        ["readelf", "-W", "--dyn-syms", libc], capture_output=True, text=True, check=True
    ).stdout
    defaults = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 8 and f[3] in ("FUNC", "IFUNC") and "@@" in f[7] and f[6] != "UND":
            defaults[f[7].split("@@")[0]] = int(f[1], 16)
    # pthread_cond_wait has two versions: the default one (@@) must win
    for name in ("getpid", "abs", "malloc", "pthread_cond_wait"):
        assert elf.function_offset(libc, name) == _readelf_offset(libc, defaults[name]), name
    with pytest.raises(BpfError, match="no function 'no_such_function_x' in"):
        elf.function_offset(libc, "no_such_function_x")


def test_function_offset_from_symtab_of_a_non_pie_binary(helper_bin: str) -> None:
    nm = subprocess.run(["nm", helper_bin], capture_output=True, text=True, check=True).stdout
    vaddr = next(int(f[0], 16) for f in map(str.split, nm.splitlines()) if f[-1] == "triple")
    offset = elf.function_offset(helper_bin, "triple")
    assert offset == _readelf_offset(helper_bin, vaddr)
    assert offset != vaddr  # the translation through the segments really happened


def test_elf_errors_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "text").write_text("not elf")
    (tmp_path / "empty").write_bytes(b"")
    for path, says in [
        (tmp_path / "text", "is not an ELF file"),
        (tmp_path / "empty", "is not an ELF file"),
        (tmp_path / "missing", "no such file"),
    ]:
        with pytest.raises(BpfError, match=says) as e:
            elf.function_offset(str(path), "main")
        assert "\n" not in str(e.value)


# --------------------------------------------------------------------------- pure: libraries


def test_library_matching_and_picking() -> None:
    assert elf.library_matches("c", "libc.so.6")
    assert elf.library_matches("libc", "libc.so.6")
    assert elf.library_matches("libc.so", "libc.so")
    assert elf.library_matches("libc.so.6", "libc.so.6")
    assert not elf.library_matches("libc.so.6", "libc.so.7")
    assert not elf.library_matches("c", "libcrypt.so.1")
    x86_64, i386 = (2, 62), (1, 3)
    machines = {
        "/lib32/libc.so.6": i386,
        "/usr/lib/x86_64-linux-gnu/libc.so": None,  # a linker script
        "/lib/x86_64-linux-gnu/libc.so.6": x86_64,
    }
    entries = [
        ("libc.so.6", "/lib32/libc.so.6"),
        ("libc.so", "/usr/lib/x86_64-linux-gnu/libc.so"),
        ("libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6"),
    ]
    got = elf.pick_library("c", entries, x86_64, machine_of=machines.get)
    assert got == "/lib/x86_64-linux-gnu/libc.so.6"
    assert elf.pick_library("c", entries, i386, machine_of=machines.get) == "/lib32/libc.so.6"
    assert elf.pick_library("m", entries, x86_64, machine_of=machines.get) is None


def test_ldconfig_output_parses() -> None:
    text = (
        "3 libs found in cache `/etc/ld.so.cache'\n"
        "\tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1\n"
        "\tlibc.so.6 (libc6,x86-64, OS ABI: Linux 3.2.0) => /lib/x86_64-linux-gnu/libc.so.6\n"
        "\tlibc.so.6 (libc6) => /lib32/libc.so.6\n"
    )
    assert elf.parse_ldconfig_p(text) == [
        ("libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1"),
        ("libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6"),
        ("libc.so.6", "/lib32/libc.so.6"),
    ]


def test_ld_so_cache_parser_agrees_with_ldconfig() -> None:
    if not os.path.exists(elf.LD_SO_CACHE):
        pytest.skip(f"this system has no {elf.LD_SO_CACHE}")
    with open(elf.LD_SO_CACHE, "rb") as f:
        parsed = elf.parse_ld_so_cache(f.read())
    ldconfig = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True)
    assert parsed and set(parsed) == set(elf.parse_ldconfig_p(ldconfig.stdout))


def test_resolve_library_like_the_dynamic_linker() -> None:
    libc = mapped_libc()
    for name in ("c", "libc", "libc.so.6", libc):
        assert os.path.samefile(elf.resolve_library(name), libc), name
    root = f"/proc/{os.getpid()}/root"
    in_root = elf.resolve_library("c", root=root)
    assert in_root.startswith(root + "/") and os.path.samefile(in_root, libc)
    with pytest.raises(BpfError, match="no library 'no-such-library-x' found"):
        elf.resolve_library("no-such-library-x")
    with pytest.raises(BpfError, match=r"no such file: /no/such/lib\.so"):
        elf.resolve_library("/no/such/lib.so")


# --------------------------------------------------------------------------- kernel: uprobes


def test_uprobe_pid_filter_on_a_helper_binary(bpf_obj, helper_bin: str) -> None:
    a = subprocess.Popen([helper_bin, "1", "2", "3"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    b = subprocess.Popen([helper_bin, "5", "6"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        with load_only(bpf_obj("tracing"), "uprobe_all", "uprobe_mine") as obj:
            everyone = obj.programs["uprobe_all"].attach_uprobe(helper_bin, "triple")
            only_a = obj.programs["uprobe_mine"].attach_uprobe(helper_bin, "triple", pid=a.pid)
            assert everyone.info().type == LinkType.PERF_EVENT
            assert f"pid {a.pid}" in only_a.description
            assert a.communicate(b"go", timeout=10)[0] == b"18\n"
            assert b.communicate(b"go", timeout=10)[0] == b"33\n"
            assert hits(obj, S_UPROBE_ALL) == {a.pid: 3, b.pid: 2}
            assert hits(obj, S_UPROBE_MINE) == {a.pid: 3}
    finally:
        for p in (a, b):
            p.kill()
            p.wait()


def test_uprobe_on_libc_by_name_and_uretprobe_return_value(bpf_obj) -> None:
    me = os.getpid()
    names = ("uprobe_mine", "uprobe_abs", "uretprobe_abs")
    with load_only(bpf_obj("tracing"), *names, target_pid=me) as obj:
        links = [  # (unreferenced links are detached)
            obj.programs["uprobe_mine"].attach_uprobe("libc", "getpid", pid=me),
            # by section: uprobe/libc.so.6:abs and uretprobe/libc.so.6:abs
            obj.programs["uprobe_abs"].attach(),
            obj.programs["uretprobe_abs"].attach(),
        ]
        libc = ctypes.CDLL(mapped_libc())
        libc.abs.argtypes = [ctypes.c_int]
        before = hits(obj, S_UPROBE_MINE).get(me, 0)
        for _ in range(5):
            os.getpid()
        assert hits(obj, S_UPROBE_MINE)[me] - before == 5
        assert libc.abs(-4242) == 4242
        assert hits(obj, S_UPROBE_ABS) == {me: 1}
        assert hits(obj, S_URETPROBE_ABS) == {me: 1}
        assert obj.globals["abs_arg"] == -4242
        assert obj.globals["abs_ret"] == 4242
        assert all(link.info().type == LinkType.PERF_EVENT for link in links)


def test_uprobe_errors_are_one_line(bpf_obj) -> None:
    with load_only(bpf_obj("tracing"), "uprobe_all") as obj:
        prog = obj.programs["uprobe_all"]
        cases = [
            (("/no/such/binary", "main"), "no such file: /no/such/binary"),
            (("libc", "no_such_function_x"), "no function 'no_such_function_x'"),
            (("no-such-library-x", "f"), "no library 'no-such-library-x'"),
        ]
        for (target, fn), says in cases:
            with pytest.raises(BpfError, match=says) as e:
                prog.attach_uprobe(target, fn)
            assert "\n" not in str(e.value) and "uprobe_all" in str(e.value)


# --------------------------------------------------------------------------- kernel: kprobes


@pytest.mark.kernel_feature
def test_kprobe_and_kretprobe(bpf_obj, tmp_path: Path) -> None:
    with load_only(
        bpf_obj("tracing"), "kprobe_unlink", "kretprobe_unlink", target_pid=os.getpid()
    ) as obj:
        if features.available("kprobe"):
            links = [
                obj.programs["kprobe_unlink"].attach(),  # kprobe/do_unlinkat
                obj.programs["kretprobe_unlink"].attach_kprobe("do_unlinkat", retprobe=True),
            ]
            unlink_files(tmp_path, 3)
            assert hits(obj, S_KPROBE) == {os.getpid(): 3}
            assert hits(obj, S_KRETPROBE) == {os.getpid(): 3}
            assert len(links) == 2
            return
        for attach in (
            lambda: obj.programs["kprobe_unlink"].attach(),
            lambda: obj.programs["kretprobe_unlink"].attach_kprobe("do_unlinkat", retprobe=True),
        ):
            with pytest.raises(KernelFeatureError) as e:
                attach()
            assert e.value.feature == "kprobe"
            assert str(e.value) == features.probe("kprobe").detail
        no_pmu = not os.path.exists("/sys/bus/event_source/devices/kprobe")
        if no_pmu and not os.path.exists("/sys/kernel/tracing/kprobe_events"):
            assert str(e.value) == features.KPROBES_MISSING  # no CONFIG_KPROBES


# --------------------------------------------------------------------------- kernel: trampolines


@pytest.mark.kernel_feature
def test_fentry_and_fexit(bpf_obj, tmp_path: Path) -> None:
    spec = bpfman.open(bpf_obj("tracing"))
    for name, prog in spec.programs.items():
        prog.autoload = name in ("fentry_unlink", "fexit_unlink")
    spec.globals["target_pid"] = os.getpid()
    if features.available("trampolines"):
        with spec.load() as obj:
            links = [
                obj.programs["fentry_unlink"].attach(),
                obj.programs["fexit_unlink"].attach_trace(),
            ]
            assert links[0].info().type == LinkType.TRACING
            unlink_files(tmp_path, 3)
            assert hits(obj, S_FENTRY) == {os.getpid(): 3}
            assert hits(obj, S_FEXIT) == {os.getpid(): 3}
        return
    with pytest.raises(KernelFeatureError) as e:
        spec.load()
    assert e.value.feature == "trampolines"
    assert str(e.value) == features.probe("trampolines").detail
    assert "fentry_unlink" in e.value.log  # libbpf's log stays attached
    if e.value.errno == 1:  # EPERM: the kernel refuses them outright
        assert str(e.value) == features.TRAMPOLINES_REFUSED


def test_fentry_on_a_function_the_kernel_lacks(bpf_obj) -> None:
    with bpfman.open(bpf_obj("tracing")) as spec, pytest.raises(bpfman.BpfError) as e:
        spec.programs["fentry_unlink"].set_attach_target("pybpfman_no_such_function")
    assert str(e.value) == (
        "program fentry_unlink: no kernel function 'pybpfman_no_such_function' to attach to"
        " (not in the kernel's BTF)"
    )


@pytest.mark.kernel_feature
def test_freplace(bpf_obj) -> None:
    with load_only(bpf_obj("tracing"), "xdp_target") as target:
        xdp = target.programs["xdp_target"]
        packet = bytes(64)
        assert xdp.test_run(packet).retval == XDP_PASS
        with pytest.raises(BpfError, match=r"needs iface=\.\.\..*attach_xdp"):
            xdp.attach()
        spec = bpfman.open(bpf_obj("tracing"))
        for name, prog in spec.programs.items():
            prog.autoload = name == "new_verdict"
        spec.programs["new_verdict"].set_attach_target("verdict", xdp.fd)
        if features.available("freplace"):
            with spec.load() as ext:
                link = ext.programs["new_verdict"].attach(target_prog=xdp)  # freplace/verdict
                assert xdp.test_run(packet).retval == XDP_DROP
                link.close()
                assert xdp.test_run(packet).retval == XDP_PASS
                link = ext.programs["new_verdict"].attach_freplace(xdp, "verdict")
                assert xdp.test_run(packet).retval == XDP_DROP
            return
        with pytest.raises(KernelFeatureError) as e:
            spec.load()
        assert e.value.feature == "freplace"
        assert str(e.value) == features.probe("freplace").detail
        if e.value.errno == 1:
            assert str(e.value) == features.TRAMPOLINES_REFUSED


@pytest.mark.kernel_feature
def test_tp_btf(bpf_obj) -> None:
    spec = bpfman.open(bpf_obj("tracing"))
    for name, prog in spec.programs.items():
        prog.autoload = name == "tp_btf_enter"
    spec.globals["target_pid"] = os.getpid()
    if not features.available("tp_btf"):
        with pytest.raises(KernelFeatureError) as e:
            spec.load()
        assert e.value.feature == "tp_btf" and str(e.value) == features.probe("tp_btf").detail
        return
    with spec.load() as obj:
        link = obj.programs["tp_btf_enter"].attach()  # tp_btf/sys_enter
        assert link.info().type == LinkType.RAW_TRACEPOINT
        for _ in range(5):
            os.getppid()
        assert hits(obj, S_TP_BTF)[os.getpid()] >= 5


# --------------------------------------------------------------------------- kernel: others


def test_raw_tp_and_tracepoint_by_section(bpf_obj) -> None:
    me = os.getpid()
    with load_only(bpf_obj("tracing"), "raw_tp_enter", "tp_getppid", target_pid=me) as obj:
        raw = obj.programs["raw_tp_enter"].attach()  # raw_tp/sys_enter
        tp = obj.programs["tp_getppid"].attach()  # tracepoint/syscalls/sys_enter_getppid
        assert raw.info().type == LinkType.RAW_TRACEPOINT
        assert tp.info().type == LinkType.PERF_EVENT
        for _ in range(7):
            os.getppid()
        assert hits(obj, S_TP) == {me: 7}
        assert hits(obj, S_RAW_TP)[me] >= 7
        with pytest.raises(BpfError, match="no ELF section"):
            bpfman.Program.from_id(obj.programs["tp_getppid"].id).attach()


def test_perf_event_software_clock(bpf_obj) -> None:
    from bpfman import _sys

    attr = _sys.perf_event_attr(
        type=_sys.PERF_TYPE_SOFTWARE, config=_sys.PERF_COUNT_SW_CPU_CLOCK, sample_period=100_000
    )
    pfd = _sys.perf_event_open(attr, pid=0, cpu=-1)  # this thread, every CPU
    try:
        with load_only(bpf_obj("tracing"), "perf_tick", target_pid=os.getpid()) as obj:
            link = obj.programs["perf_tick"].attach(perf_fd=pfd)  # section perf_event
            end = time.monotonic() + 0.05
            while time.monotonic() < end:
                pass
            assert hits(obj, S_PERF)[os.getpid()] > 5
            link.close()
    finally:
        os.close(pfd)


@pytest.fixture
def cgroup_dir() -> Iterator[str]:
    root = features.cgroup2_mount()
    assert root is not None  # the tests using this fixture require("cgroup")
    path = os.path.join(root, f"pybpfman-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.mkdir(path)
    yield path
    for _ in range(50):  # the child's exit may take a moment to leave the cgroup
        try:
            os.rmdir(path)
            return
        except OSError:
            time.sleep(0.02)
    os.rmdir(path)


CHILD = """
import socket, sys
with open(sys.argv[1] + "/cgroup.procs", "w") as f:
    f.write("0")
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3):
    s.sendto(b"x", ("127.0.0.1", 9))
"""


@pytest.mark.requires("cgroup")
def test_cgroup_skb_egress_and_sock_create(bpf_obj, cgroup_dir: str) -> None:
    with load_only(bpf_obj("tracing"), "cg_egress", "cg_sock") as obj:
        egress = obj.programs["cg_egress"].attach(path=cgroup_dir)  # cgroup_skb/egress
        sock = obj.programs["cg_sock"].attach_cgroup(cgroup_dir, "sock_create")
        info = egress.info()
        assert info.type == LinkType.CGROUP
        assert info.details["attach_type"] == AttachType.CGROUP_INET_EGRESS
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"x", ("127.0.0.1", 9))  # this process is not in the cgroup: not counted
        assert hits(obj, S_CG_EGRESS) == {} and hits(obj, S_CG_SOCK) == {}
        subprocess.run([sys.executable, "-c", CHILD, cgroup_dir], check=True, timeout=30)
        assert hits(obj, S_CG_EGRESS)[0] >= 3
        assert hits(obj, S_CG_SOCK) == {0: 1}
        sock.close()


def test_cgroup_attach_errors(bpf_obj, tmp_path: Path) -> None:
    with load_only(bpf_obj("tracing"), "cg_egress") as obj:
        prog = obj.programs["cg_egress"]
        with pytest.raises(BpfError, match="is not a cgroup v2 directory"):
            prog.attach_cgroup(str(tmp_path), "egress")
        with pytest.raises(BpfError, match="no /no/such/cgroup"):
            prog.attach_cgroup("/no/such/cgroup", "egress")
        with pytest.raises(BpfError, match=r"needs path=\.\.\."):
            prog.attach()


@pytest.mark.pure
def test_the_section_table_is_the_one_source() -> None:
    """Each row: a known attach kind and feature; parse_section, labels, load types and the
    return-probe test all read it."""
    from bpfman import features
    from bpfman.attach import by_section
    from bpfman.attach.sections import SECTION_DEFS, section_def
    from bpfman.images.labels import program_type_word
    from bpfman.kinds import ProgramType
    from bpfman.manager.models import BpfmanType
    from bpfman.server.translate import is_return_probe

    known = set(features.names())
    for row in SECTION_DEFS:
        assert row.kind in (*by_section.KINDS, ""), row
        assert row.feature in known, row
        for prefix in row.prefixes:
            assert section_def(f"{prefix}/x") is row and section_def(f"{prefix}.s/x") is row
            if row.kind and row.syntax not in ("syscall", "cgroup"):  # these need the part after /
                assert parse_section(prefix).kind == row.kind
    assert program_type_word("classifier/x", ProgramType.UNSPEC) == "tc"
    assert program_type_word("kretsyscall/x", ProgramType.UNSPEC) == "probe"
    assert by_section.load_types("uretprobe.multi/bin:f*") == SECTION_DEFS[20].load_as
    assert by_section.load_types("kprobe/f") is None
    for section, kind, ret in [
        ("kretprobe/f", BpfmanType.KPROBE, True),
        ("kretprobe.multi/f*", BpfmanType.KPROBE, True),
        ("kretsyscall/openat", BpfmanType.KPROBE, True),
        ("kprobe/f", BpfmanType.KPROBE, False),
        ("uretprobe.s/bin:f", BpfmanType.UPROBE, True),
        ("uretprobe/bin:f", BpfmanType.KPROBE, False),  # a uprobe section, not a kprobe's
    ]:
        assert is_return_probe(kind, section) == ret, section
