"""uprobe_multi, kprobe_multi and USDT (programs in tests/bpf/multi.bpf.c).

The traced binary is built here from C with <sys/sdt.h> (systemtap-sdt-dev):
functions for uprobe_multi, one USDT probe without a semaphore and one whose
call is gated by its semaphore. It waits on stdin until the probes are
attached (for that process only), then runs and prints what it did.
"""

from __future__ import annotations

import ctypes
import subprocess
from collections.abc import Iterator

import pytest

import bpfman
from bpfman import BpfError, KernelFeatureError, features
from bpfman.attach.by_section import parse_section
from bpfman.elf import function_offset
from bpfman.kinds import LinkType
from bpfman.object import Object

MAIN_C = r"""
#include <stdio.h>
#include <unistd.h>
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

unsigned short bpfman_test_gated_semaphore __attribute__((unused, section(".probes")));
void plain_probes(void);

__attribute__((noinline)) int fn_a(int x) { asm volatile(""); return x + 1; }
__attribute__((noinline)) int fn_b(int x) { asm volatile(""); return x * 2; }
__attribute__((noinline)) int other_c(int x) { asm volatile(""); return x - 3; }

int main(void)
{
    char go;
    int s = 0, gated = 0;

    if (read(0, &go, 1) != 1)  /* the test attaches first */
        return 1;
    for (int i = 0; i < 3; i++)
        s += fn_a(i);
    for (int i = 0; i < 2; i++)
        s += fn_b(i);
    s += other_c(5);
    plain_probes();
    for (long i = 1; i <= 2; i++)
        if (bpfman_test_gated_semaphore) {  /* raised by the kernel while a probe is attached */
            gated++;
            DTRACE_PROBE2(bpfman_test, gated, (int)i, i * 100);
        }
    printf("%d %d\n", s, gated);
    return 0;
}
"""

PLAIN_C = r"""
#include <sys/sdt.h>

void plain_probes(void)
{
    for (long i = 1; i <= 4; i++)
        DTRACE_PROBE2(bpfman_test, plain, (int)i, i * 10);
}
"""


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> str:
    d = tmp_path_factory.mktemp("usdt")
    (d / "main.c").write_text(MAIN_C)
    (d / "plain.c").write_text(PLAIN_C)
    out = d / "traced"
    subprocess.run(
        ["cc", "-O1", "-o", str(out), str(d / "main.c"), str(d / "plain.c")],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return str(out)


@pytest.fixture
def obj(bpf_obj) -> Iterator[Object]:
    spec = bpfman.open(bpf_obj("multi"))
    for name in ("kmulti_unlink", "fentry_with_cookie"):  # their own tests (VM kernels)
        spec.programs[name].autoload = False
    with spec.load() as o:
        yield o


def counters(obj: Object, name: str, n: int) -> list[int]:
    return list((ctypes.c_uint64 * n).from_buffer_copy(obj.globals.raw(name)))


def start(path: str) -> subprocess.Popen[str]:
    return subprocess.Popen([path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def finish(child: subprocess.Popen[str]) -> str:
    out, _ = child.communicate("g", timeout=60)
    assert child.returncode == 0
    return out


def test_uprobe_multi_one_link_many_functions_with_cookies(obj, target) -> None:
    enter, exit_ = obj.programs["multi_enter"], obj.programs["multi_exit"]
    assert enter.expected_attach_type == 48  # set from the section table before load
    child = start(target)
    try:
        entries = enter.attach_uprobe_multi(
            target, ["fn_*", "other_c"], cookies=[1, 2, 3], pid=child.pid
        )
        returns = exit_.attach_uprobe_multi(
            target, ["fn_a"], offsets=[function_offset(target, "fn_b")], cookies=[4, 5],
            pid=child.pid, retprobe=True,
        )  # fmt: skip
        single = obj.programs["single_enter"].attach_uprobe(
            target, "fn_b", pid=child.pid, cookie=7
        )  # a cookie on a plain uprobe's perf link
        assert entries.info().type == LinkType.UPROBE_MULTI
        assert entries.description == f"uprobe_multi {target}:fn_a,fn_b,other_c pid {child.pid}"
        out = finish(child)
    finally:
        child.kill()
        child.wait()
    assert out.split()[0] == str(sum(range(1, 4)) + 0 + 2 + 2)  # the program ran as usual
    assert counters(obj, "enters", 8)[:4] == [0, 3, 2, 1]  # fn_a, fn_b, other_c by cookie
    assert counters(obj, "exits", 8)[4:6] == [3, 2]
    assert counters(obj, "enters", 8)[7] == 2
    entries.detach()
    returns.detach()
    single.detach()


def test_uprobe_multi_from_its_section(obj) -> None:
    import os

    obj.globals["cookie_pid"] = os.getpid()
    link = obj.programs["libc_getppid"].attach()  # uprobe.multi/libc.so.6:getpp*
    assert link.info().type == LinkType.UPROBE_MULTI
    assert link.description.startswith("uprobe_multi /") and link.description.endswith(":getppid")
    for _ in range(3):
        os.getppid()  # libc's getppid
    assert obj.globals["getppid_calls"] == 3
    link.detach()


def test_uprobe_multi_refusals(obj, target) -> None:
    enter = obj.programs["multi_enter"]
    with pytest.raises(BpfError, match=r"no function of .* matches 'nope_\*'"):
        enter.attach_uprobe_multi(target, ["nope_*"])
    with pytest.raises(BpfError, match="2 cookies for 3 probes"):
        enter.attach_uprobe_multi(target, ["fn_*", "other_c"], cookies=[1, 2])
    with pytest.raises(BpfError, match="no functions or offsets given"):
        enter.attach_uprobe_multi(target)
    with pytest.raises(BpfError, match="it was not loaded for uprobe_multi"):
        obj.programs["usdt_probe"].attach_uprobe_multi(target, ["fn_a"])
    with pytest.raises(BpfError, match=r"multi_enter to uprobe_multi: .*no_such_lib"):
        enter.attach_uprobe_multi("no_such_lib", ["fn_a"])


def test_usdt_with_and_without_semaphore(obj, target) -> None:
    prog = obj.programs["usdt_probe"]
    assert finish(start(target)).split()[1] == "0"  # nothing attached: the gate stays shut
    child = start(target)
    try:
        plain = prog.attach_usdt(target, "bpfman_test", "plain", pid=child.pid, cookie=1)
        gated = prog.attach_usdt(target, "bpfman_test", "gated", pid=child.pid, cookie=2)
        out = finish(child)
    finally:
        child.kill()
        child.wait()
    assert out.split()[1] == "2"  # the kernel raised the semaphore while attached
    assert counters(obj, "usdt_calls", 4) == [0, 4, 2, 0]
    # BPF_USDT read both arguments of every call: (i + 10 i) for 1..4, (i + 100 i) for 1..2
    assert obj.globals["usdt_sum"] == 11 * 10 + 101 * 3
    assert "usdt bpfman_test:plain in" in plain.description
    with pytest.raises(BpfError, match="cannot pin it"):
        plain.pin("/sys/fs/bpf/never")
    plain.detach()
    gated.close()
    assert plain.closed and gated.closed


def test_usdt_refusals(obj, target, bpf_obj) -> None:
    prog = obj.programs["usdt_probe"]
    with pytest.raises(BpfError, match="cannot attach usdt_probe to usdt bpfman_test:nope in"):
        prog.attach_usdt(target, "bpfman_test", "nope")
    reopened = bpfman.Program.from_id(prog.id)
    with reopened, pytest.raises(BpfError, match="only through the Object it was loaded with"):
        reopened.attach_usdt(target, "bpfman_test", "plain")


def test_sections_of_multi_probes_and_usdt() -> None:
    t = parse_section("uprobe.multi/libc.so.6:getp*")
    assert (t.method, t.args) == (
        "attach_uprobe_multi", {"retprobe": False, "target": "libc.so.6", "functions": ["getp*"]},
    )  # fmt: skip
    assert parse_section("uretprobe.multi").needs == ("target",)
    t = parse_section("kretprobe.multi/do_unlink*")
    assert (t.method, t.args) == (
        "attach_kprobe_multi",
        {"retprobe": True, "pattern": "do_unlink*"},
    )
    t = parse_section("usdt/./bin/app:prov:probe")
    assert t.args == {"target": "./bin/app", "provider": "prov", "name": "probe"}
    assert parse_section("usdt").needs == ("target", "provider", "name")
    with pytest.raises(BpfError, match="expected usdt/BINARY:PROVIDER:NAME"):
        parse_section("usdt/app:probe")


@pytest.mark.kernel_feature
def test_kprobe_multi(bpf_obj, tmp_path) -> None:
    import os

    spec = bpfman.open(bpf_obj("multi"))
    for p in spec.programs.values():
        p.autoload = p.name == "kmulti_unlink"
    with spec.load() as obj:
        prog = obj.programs["kmulti_unlink"]
        if not features.available("kprobe_multi"):
            with pytest.raises(KernelFeatureError) as e:
                prog.attach()
            assert e.value.feature == "kprobe_multi"
            assert str(e.value) == features.probe("kprobe_multi").detail
            return
        obj.globals["unlink_pid"] = os.getpid()
        link = prog.attach()  # kprobe.multi/do_unlinkat
        for i in range(3):
            f = tmp_path / f"f{i}"
            f.write_text("")
            f.unlink()
        assert obj.globals["unlinks"] == 3
        assert obj.globals["unlink_cookie"] == 0  # a pattern attach gives no cookies
        assert link.info().type == LinkType.KPROBE_MULTI
        link.detach()
        # named functions, one cookie each (what bpf_get_attach_cookie returns)
        link = prog.attach_kprobe_multi(functions=["do_unlinkat"], cookies=[0xC0FFEE])
        f = tmp_path / "cookie"
        f.write_text("")
        f.unlink()
        assert (obj.globals["unlinks"], obj.globals["unlink_cookie"]) == (4, 0xC0FFEE)
        link.detach()
        with pytest.raises(BpfError, match="give a pattern or functions"):
            prog.attach_kprobe_multi()
        with pytest.raises(BpfError, match="cookies need functions, one each"):
            prog.attach_kprobe_multi(functions=["do_unlinkat"], cookies=[1, 2])


def test_raw_tracepoint_cookie(obj) -> None:
    import os

    obj.globals["cookie_pid"] = os.getpid()
    link = obj.programs["rawtp_with_cookie"].attach_raw_tracepoint("sys_enter", cookie=0xC0FFEE)
    os.getppid()
    assert obj.globals["rawtp_cookie"] == 0xC0FFEE
    link.detach()


def test_tracepoint_cookie(obj) -> None:
    import os

    obj.globals["cookie_pid"] = os.getpid()
    link = obj.programs["tp_with_cookie"].attach_tracepoint(
        "syscalls", "sys_enter_getppid", cookie=0xBEEF
    )  # the cookie rides on the tracepoint's perf link
    os.getppid()
    assert obj.globals["tp_cookie"] == 0xBEEF
    link.detach()


@pytest.mark.kernel_feature
def test_fentry_cookie(bpf_obj, tmp_path) -> None:
    import os

    spec = bpfman.open(bpf_obj("multi"))
    for p in spec.programs.values():
        p.autoload = p.name == "fentry_with_cookie"
    if not features.available("trampolines"):
        with pytest.raises(KernelFeatureError) as e:
            spec.load()
        assert e.value.feature == "trampolines"
        return
    spec.globals["cookie_pid"] = os.getpid()
    with spec.load() as obj:
        link = obj.programs["fentry_with_cookie"].attach_trace(cookie=77)
        f = tmp_path / "x"
        f.write_text("")
        f.unlink()
        assert obj.globals["fentry_cookie"] == 77
        link.detach()
