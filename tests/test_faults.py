"""Faults an operator or another process can cause: every one a clear line and the right exit
code, nothing left behind, and doctor seeing what happened behind bpfman's back."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest

from bpfman import _sys
from bpfman.link import Link
from support.cli import BPFMAN, Cli


def one_line(r, rc: int, *words: str) -> None:
    assert r.rc == rc, (r.rc, r.err, r.out)
    assert "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1, r.err
    for w in words:
        assert w in r.err, r.err


def test_fifo_device_and_socket_refused_before_the_lock(cli, bpf_obj, tmp_path) -> None:
    """A FIFO as the bytecode or the config would block forever holding the writer lock;
    /dev/zero as the config would be read until memory runs out. (The config is read by the
    commands that use the Manager: `doctor` here; list and get read without it.) Refused
    before the lock: with another writer holding it, the answer comes at once."""
    import fcntl

    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    sock_path = str(tmp_path / "sock")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(sock_path)
    cli("gc")  # (makes the lock file)
    lock = os.open(os.path.join(cli.runtime, ".lock"), os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX)  # a writer at work
    env = dict(cli.env, BPFMAN_LOCK_TIMEOUT="30")
    try:
        for path in (fifo, "/dev/zero", sock_path):
            start = time.monotonic()
            r = cli("load", "file", "-p", path, "--programs", "tracepoint:count_kill",
                    env=env, rc=None)  # fmt: skip
            one_line(r, 1, f"bytecode {path}: not a regular file")
            r = cli("--config", path, "doctor", env=env, rc=None)
            one_line(r, 1, f"config {path}: not a regular file")
            assert time.monotonic() - start < 20, "waited for the lock: checked after it"
    finally:
        os.close(lock)
        sock.close()
    big = tmp_path / "big.toml"
    with open(big, "wb") as f:
        f.truncate(2 << 20)
    one_line(cli("--config", str(big), "doctor", rc=None), 1, "over the 1 MiB limit")
    assert cli.db_rows()["programs"] == 0


def test_fifo_and_device_as_uprobe_target(cli, bpf_obj, tmp_path) -> None:
    """A uprobe's target is read (its symbols) under the writer lock: a FIFO there blocked
    every writer, a device was a traceback (mmap). Both one line, nothing attached."""
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    prog = cli.load(bpf_obj("mgr_probes"), "uprobe:up").program_ids()[0]
    try:
        for target in (fifo, "/dev/zero"):
            r = cli("attach", str(prog), "uprobe", "-t", target, "-f", "malloc", rc=None)
            one_line(r, 1, f"{target} is not a regular file")
        assert cli("list", "links", "-o", "json").json() == []
    finally:
        cli("unload", str(prog))


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("interfaces = 3", "interfaces must be a table"),
        ("[interfaces]\nv0 = 3", "interfaces.v0 must be a table"),
        ("signing = 'yes'", "signing must be a table"),
        ("[interfaces.v0]\nxdp_mode = 'fast'", "xdp_mode must be drv, skb or hw"),
        ("= broken", "config"),
        (b"\xff\xfe", "config"),
    ],
)
def test_config_type_errors_are_one_line(cli, tmp_path, text, why) -> None:
    path = tmp_path / "bpfman.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    one_line(cli("--config", str(path), "doctor", rc=None), 1, why)


def test_concurrent_first_use_mounts_one_bpffs() -> None:
    """Processes starting at once on a fresh runtime dir: one bpffs, not one each."""
    c = Cli()
    try:
        procs = [
            subprocess.Popen(
                [BPFMAN, "--runtime-dir", c.runtime, "list", "programs"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(12)
        ]
        for p in procs:
            _, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
        with open("/proc/self/mountinfo") as f:
            mounts = [line for line in f if line.split()[4] == c.fs]
        assert len(mounts) == 1, mounts
        assert c("doctor").out.startswith("ok:")
    finally:
        c.cleanup()
        while os.path.ismount(c.fs):  # (stacked mounts, if the test failed)
            subprocess.run(["umount", c.fs], check=False)


def test_doctor_sees_a_link_detached_behind_its_back(cli, bpf_obj, veth) -> None:
    prog = cli(
        "load", "file", "-p", bpf_obj("net"), "--programs", "xdp:xdp_pass", "-o", "json"
    ).json()[0]["kernel_info"]["id"]
    link = cli("attach", str(prog), "xdp", "-i", veth.host, "-p", "50", "-o", "json").json()
    assert cli("doctor").out.startswith("ok:")
    with Link.from_pin(os.path.join(cli.fs, "links", str(link["link_id"]))) as kernel_link:
        _sys.link_detach(kernel_link.fd)  # as `bpftool link detach` does
    report = cli("doctor", rc=1).out
    assert f"link {link['link_id']}: its pinned kernel link" in report
    assert "was detached from its hook" in report
    cli("gc")
    assert cli("doctor").out.startswith("ok:")
    assert cli("list", "links", "-o", "json").json() == []
    cli("unload", str(prog))


def test_doctor_sees_a_deleted_maps_dir_and_gc_pins_the_maps_again(cli, bpf_obj) -> None:
    prog = cli(
        "load", "file", "-p", bpf_obj("basic"), "--programs", "tracepoint:count_kill", "-o", "json"
    ).json()[0]["kernel_info"]["id"]
    maps = os.path.join(cli.fs, "maps", str(prog))
    assert "counts" in os.listdir(maps)
    shutil.rmtree(maps)
    report = cli("doctor", rc=1).out
    assert f"program {prog}: its maps directory {maps} is gone" in report
    assert "pinned the" in cli("gc").out
    assert cli("doctor").out.startswith("ok:")
    assert "counts" in os.listdir(maps)  # the kernel's map, reachable again
    cli("unload", str(prog))


def test_doctor_waits_for_a_writer(cli, bpf_obj) -> None:
    """doctor reads under the writer lock: a change in progress is not a false alarm."""
    import fcntl

    cli("gc")  # (makes the lock file)
    fd = os.open(os.path.join(cli.runtime, ".lock"), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        start = time.monotonic()
        env = dict(cli.env, BPFMAN_LOCK_TIMEOUT="1")
        one_line(cli("doctor", rc=None, env=env), 1, "holds the lock")
        assert time.monotonic() - start >= 1.0
    finally:
        os.close(fd)
    assert cli("doctor").out.startswith("ok:")


def test_list_and_get_while_a_writer_removes(cli, bpf_obj) -> None:
    """list/get never fail because a concurrent writer removed what they were reading."""
    import threading

    obj = bpf_obj("basic")
    done = threading.Event()
    errors: list[str] = []

    def writer() -> None:
        try:
            for _ in range(6):
                prog = cli(
                    "load", "file", "-p", obj, "--programs", "tracepoint:count_kill", "-o", "json"
                ).json()[0]["kernel_info"]["id"]
                cli("attach", str(prog), "tracepoint", "-t", "syscalls/sys_enter_kill")
                cli("unload", str(prog))
        except AssertionError as e:
            errors.append(str(e))
        finally:
            done.set()

    t = threading.Thread(target=writer)
    t.start()
    reads = 0
    while not done.is_set() or reads < 3:
        for args in (("list", "programs"), ("list", "programs", "-o", "json"), ("list", "links")):
            r = cli(*args, rc=None)
            assert r.rc == 0, (args, r.err)
            reads += 1
        for item in cli("list", "programs", "-o", "json").json():
            r = cli("get", "program", str(item["kernel_info"]["id"]), rc=None)
            assert r.rc == 0 or "no program with id" in r.err or "not in the kernel" in r.err, r.err
    t.join()
    assert errors == []


def test_crash_during_tc_attach_in_another_netns(cli, bpf_obj, veth) -> None:
    """Killed between the kernel change and the DB record of `attach tc --netns`: the filter
    runs in a namespace nothing recorded; the intent written before makes doctor scan it."""
    prog = cli(
        "load", "file", "-p", bpf_obj("net"), "--programs", "tc:tc_ingress", "-o", "json"
    ).json()[0]["kernel_info"]["id"]
    env = dict(cli.env, BPFMAN_CRASH_AT="attach:after-kernel")
    args = ("-d", "ingress", "-i", veth.peer, "-p", "10", "-n", veth.netns_path)
    r = cli("attach", str(prog), "tc", *args, env=env, rc=None)
    assert r.rc == 137, r.err
    from bpfman.manager.reconcile import tc_filters

    assert list(tc_filters(veth.netns_path).values()) == [prog]  # running, unrecorded
    report = cli("doctor", rc=1).out
    assert f"in {veth.netns_path}: runs bpfman program {prog}" in report, report
    assert f"an attach in {veth.netns_path} was interrupted" in report
    cli("gc")
    assert cli("doctor").out.startswith("ok:")
    assert tc_filters(veth.netns_path) == {}
    cli("unload", str(prog))


# ---------------------------------------------------------------------- one line, not a traceback


def _break_db(db: str, how: str) -> None:
    import sqlite3

    for name in (db, db + "-wal", db + "-shm"):
        if os.path.isfile(name):
            os.unlink(name)
    if how == "truncated":
        with open(db, "wb") as f:
            f.write(b"SQLite format 3\0" + b"\0" * 84)
    elif how == "garbage":
        with open(db, "wb") as f:
            f.write(os.urandom(8192))
    elif how == "missing-table":
        conn = sqlite3.connect(db)
        conn.executescript("CREATE TABLE programs (id INTEGER); PRAGMA user_version=2;")
        conn.close()
    elif how == "directory":
        os.mkdir(db)


@pytest.mark.parametrize("how", ["truncated", "garbage", "missing-table", "directory"])
def test_a_broken_database_is_one_line_and_doctor_reports_it(cli, how) -> None:
    cli("list", "programs")
    db = os.path.join(cli.runtime, "db", "bpfman.db")
    _break_db(db, how)
    one_line(cli("list", "programs", rc=None), 1, "bpfman.db")
    for cmd in ("doctor", "gc"):
        r = cli(cmd, rc=None)
        assert r.rc == 1 and "Traceback" not in r.err, r.err
        assert "bpfman.db" in r.out and "move it aside" in r.out, r.out
    if os.path.isdir(db):
        os.rmdir(db)
    else:
        os.unlink(db)
    assert cli("doctor").out.startswith("ok:")


def test_a_database_in_a_read_only_dir_is_one_line(cli, bpf_obj) -> None:
    """The database directory read-only (a bind mount): every command one line, doctor and
    gc report it; the program loaded before is untouched."""
    prog = cli.load(bpf_obj("basic"), "tracepoint:count_kill").program_ids()[0]
    db_dir = os.path.join(cli.runtime, "db")
    subprocess.run(["mount", "--bind", db_dir, db_dir], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", db_dir], check=True)
        why = "read-only filesystem"
        for args in [
            ("list", "programs"),
            ("get", "program", str(prog)),
            ("unload", str(prog)),
            ("load", "file", "-p", bpf_obj("basic"), "--programs", "tracepoint:count_kill"),
        ]:
            one_line(cli(*args, rc=None), 1, "bpfman.db", why)
        for cmd in ("doctor", "gc"):
            r = cli(cmd, rc=None)
            assert r.rc == 1 and "Traceback" not in r.err and why in r.out, (r.err, r.out)
    finally:
        subprocess.run(["umount", db_dir], check=True)
    assert cli("list", "programs", "-o", "json").program_ids() == [prog]
    assert cli("doctor").out.startswith("ok:")
    cli("unload", str(prog))


def test_unusable_runtime_dirs_are_one_line(tmp_path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    ro = tmp_path / "ro"
    ro.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,mode=0755", "tmpfs", str(ro)], check=True)
    try:
        for rt, why in [(afile, "is not a directory"), (ro / "rt", "Read-only file system")]:
            c = Cli()
            c.runtime = str(rt)
            one_line(c("list", "programs", rc=None), 1, why)
    finally:
        subprocess.run(["umount", str(ro)], check=True)
    c = Cli()
    c.runtime = ""
    one_line(c("list", "programs", rc=None), 1, "--runtime-dir is empty")


def test_bad_numbers_and_names_are_one_line(cli, bpf_obj) -> None:
    for args, why in [
        (("detach", str(1 << 64)), "give a number from 1 to"),
        (("unload", "\u0661\u0662"), "give a number from 1 to"),  # Arabic-Indic "12"
        (("get", "program", str(1 << 63)), "give a number from 1 to 4294967295"),
        (("list", "links", "--program-id", "-1"), "give a number from 1 to"),
    ]:
        r = cli(*args, rc=2)
        assert why in r.err and "Traceback" not in r.err, r.err
    one_line(cli("get", "link", str((1 << 63) - 1), rc=None), 1, "no link with id")
    env = dict(cli.env, BPFMAN_LOCK_TIMEOUT="abc")
    one_line(cli("doctor", env=env, rc=None), 1, "BPFMAN_LOCK_TIMEOUT='abc'")
    prog = cli(
        "load", "file", "-p", bpf_obj("basic"), "--programs", "tracepoint:count_kill", "-o", "json"
    ).json()[0]["kernel_info"]["id"]
    try:
        r = cli("attach", str(prog), "tracepoint", "-t", "syscalls/" + "x" * 300, rc=None)
        assert r.rc in (1, 2) and "Traceback" not in r.err, r.err
        assert len(r.err.strip().splitlines()) == 1 and len(r.err) < 600, r.err
    finally:
        cli("unload", str(prog))


def test_control_characters_are_escaped_in_tables(cli, bpf_obj, tmp_path) -> None:
    path = tmp_path / "evil\nProgram ID  99.o"
    shutil.copy(bpf_obj("basic"), path)
    prog = cli(
        "load", "file", "-p", str(path), "--programs", "tracepoint:count_kill", "-o", "json"
    ).json()[0]["kernel_info"]["id"]
    try:
        text = cli("get", "program", str(prog)).out
        assert "evil\\nProgram ID  99.o" in text and "\nProgram ID  99.o" not in text
    finally:
        cli("unload", str(prog))
