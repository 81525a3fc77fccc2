"""Manager: uprobe/uretprobe, and kprobe/kretprobe/fentry/fexit (run or refused, by probe)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import pytest

import bpfman
from bpfman import features


def counts(cli, owner: int) -> list[int]:
    with bpfman.Map.from_pin(f"{cli.fs}/maps/{owner}/counts") as m:
        return [int.from_bytes(m[i], "little") for i in range(8)]


def unlink_tmp(n: int) -> None:
    for _ in range(n):
        fd, path = tempfile.mkstemp()
        os.close(fd)
        os.unlink(path)


def test_uprobe_and_uretprobe_with_pid_filter(cli, bpf_obj) -> None:
    progs = cli.load(bpf_obj("mgr_probes"), "uprobe:up uretprobe:upret").json()
    up, upret = (p["kernel_info"]["id"] for p in progs)
    assert progs[1]["info"]["map_pin_path"].endswith(f"/maps/{upret}")  # each its own map dir
    me = str(os.getpid())
    a = cli("attach", str(up), "uprobe", "-t", "libc", "-f", "getppid", "-p", me, "--output",
            "json").json()  # fmt: skip
    assert a["attach"]["uprobe_attach_info"]["target"] == "libc"
    assert a["attach"]["uprobe_attach_info"]["pid"] == int(me)
    # --container-pid: the target is looked up in that process's mount namespace (here ours)
    b = cli("attach", str(upret), "uprobe", "-t", "/usr/lib/x86_64-linux-gnu/libc.so.6",
            "-f", "getppid", "-c", me, "--output", "json").json()  # fmt: skip
    assert b["attach"]["uprobe_attach_info"]["container_pid"] == int(me)
    for _ in range(3):
        os.getppid()
    subprocess.run([sys.executable, "-c", "import os; os.getppid(); os.getppid()"], check=True)
    c = counts(cli, up)
    assert c[0] == 3  # pid filter: only this process
    assert c[1] >= 5  # no filter: ours and the child's
    assert "libc getppid" in cli("list", "links").out
    text = cli("get", "link", str(a["link_id"])).out
    assert "Target:" in text and "getppid" in text and "PID:" in text
    cli("detach", str(a["link_id"]))
    cli("detach", str(b["link_id"]))
    cli("unload", str(upret))
    cli("unload", str(up))


def test_uprobe_errors(cli, bpf_obj) -> None:
    up = cli.load(bpf_obj("mgr_probes"), "uprobe:up").program_ids()[0]
    r = cli("attach", str(up), "uprobe", "-t", "/nonexistent/bin", "-f", "main", rc=1)
    assert "/nonexistent/bin" in r.err
    r = cli("attach", str(up), "uprobe", "-t", "libc", "-f", "no_such_function_xyz", rc=1)
    assert "no_such_function_xyz" in r.err
    r = cli("attach", str(up), "tracepoint", "-t", "syscalls/sys_enter_kill", rc=1)
    assert "loaded as uprobe" in r.err
    assert cli.db_rows()["links"] == 0
    cli("unload", str(up))


@pytest.mark.kernel_feature
def test_kprobe_and_kretprobe(cli, bpf_obj) -> None:
    progs = cli.load(bpf_obj("mgr_probes"), "kprobe:kp kretprobe:kpret").json()
    kp, kpret = (p["kernel_info"]["id"] for p in progs)
    if not features.available("kprobe"):
        r = cli("attach", str(kp), "kprobe", "-f", "do_unlinkat", rc=1)
        assert "kprobes are not available: this kernel was built without CONFIG_KPROBES" in r.err
        assert cli.db_rows()["links"] == 0
    else:
        r = cli("attach", str(kpret), "kprobe", "-f", "do_unlinkat", "-o", "4", rc=1)
        assert "not allowed for a kretprobe" in r.err
        a = cli("attach", str(kp), "kprobe", "-f", "do_unlinkat", "--output", "json").json()
        b = cli("attach", str(kpret), "kprobe", "-f", "do_unlinkat", "--output", "json").json()
        unlink_tmp(3)
        c = counts(cli, kp)
        assert c[2] >= 3 and c[3] >= 3
        assert "do_unlinkat" in cli("list", "links").out
        cli("detach", str(a["link_id"]))
        cli("detach", str(b["link_id"]))
    cli("unload", str(kpret))
    cli("unload", str(kp))


@pytest.mark.kernel_feature
@pytest.mark.parametrize(("kind", "name", "slot"), [("fentry", "fe", 4), ("fexit", "fx", 5)])
def test_fentry_fexit(cli, bpf_obj, kind: str, name: str, slot: int) -> None:
    entry = f"{kind}:{name}:do_unlinkat"
    if not features.available("trampolines"):
        r = cli.load(bpf_obj("mgr_probes"), entry, rc=1)
        assert "this kernel refuses trampoline programs (fentry/fexit/freplace)" in r.err
        assert cli.pins() == [] and cli.db_rows()["programs"] == 0
        return
    prog = cli.load(bpf_obj("mgr_probes"), entry).json()[0]
    prog_id = prog["kernel_info"]["id"]
    link = cli("attach", str(prog_id), kind, "-o", "json").json()
    unlink_tmp(2)
    assert counts(cli, prog_id)[slot] >= 2
    assert "Attach Function:" in cli("get", "link", str(link["link_id"])).out
    cli("detach", str(link["link_id"]))
    cli("unload", str(prog_id))
